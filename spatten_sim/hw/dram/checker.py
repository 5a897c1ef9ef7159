"""Command-legality checker: replays an issued command stream against the JEDEC rules.

Written independently of the controller kernel (plain Python over the command log, rules taken
from the raw JEDEC parameters of the :class:`DramConfig`, not from :mod:`.timing`): it keeps the
history of every bank, bank group, rank, pseudo-channel and command bus and reports each command
that comes too early after an earlier one, or that finds its bank in the wrong state (RD to a
closed bank or another row, ACT to an open bank, REF with a bank open, ...). With
``act_timing_adjust`` the ACT is taken to happen on its last row-bus cycle (docs/hbm2-facts.md §2).
"""

from __future__ import annotations

from collections import defaultdict, deque

import numpy as np

from spatten_sim.hw.dram import controller as K
from spatten_sim.hw.dram.config import DramConfig

_NEG = -(10**12)
_NAMES = {
    K.CMD_ACT: "ACT",
    K.CMD_PRE: "PRE",
    K.CMD_RD: "RD",
    K.CMD_WR: "WR",
    K.CMD_RDA: "RDA",
    K.CMD_WRA: "WRA",
    K.CMD_PREAB: "PREab",
    K.CMD_REF: "REFab",
}


def check_commands(cfg: DramConfig, log: np.ndarray, max_violations: int = 20) -> list[str]:
    """Violations found in ``log`` (rows: cycle, channel, command, bank or PC, row)."""
    a = (cfg.act_bus_cycles - 1) if cfg.act_timing_adjust else 0
    wr_end = cfg.nCWL + cfg.nBL + cfg.nWR
    nb = cfg.banks_per_channel
    per_pc = nb // cfg.pseudo_channels
    per_rank = cfg.bank_groups * cfg.banks_per_group
    out: list[str] = []
    bank_open: dict[tuple[int, int], int] = {}
    last: dict[tuple, int] = defaultdict(lambda: _NEG)
    faw: dict[tuple[int, int], deque[int]] = defaultdict(lambda: deque(maxlen=4))
    row_bus: dict[int, tuple[int, int]] = {}  # channel -> (cycle, command) of last row command
    col_bus: dict[int, int] = {}

    def need(t: int, what: str, since: int, dist: int, ctx: str) -> None:
        if t - since < dist and len(out) < max_violations:
            out.append(f"cycle {t} {ctx}: {what} needs {dist} cycles, got {t - since}")

    prev_t: dict[int, int] = defaultdict(lambda: _NEG)
    for t, c, cmd, x, row in (tuple(int(v) for v in r) for r in log):
        if t < prev_t[c] and len(out) < max_violations:
            out.append(f"cycle {t}: channel {c} command stream goes back in time")
        prev_t[c] = max(prev_t[c], t)
        name = _NAMES[cmd]
        ctx = f"ch{c} {name} {'pc' if cmd in (K.CMD_PREAB, K.CMD_REF) else 'bank'}{x}"
        if cmd in (K.CMD_ACT, K.CMD_PRE, K.CMD_PREAB, K.CMD_REF):
            if c in row_bus:
                pt, pc_cmd = row_bus[c]
                need(t, "row bus", pt, cfg.act_bus_cycles if pc_cmd == K.CMD_ACT else 1, ctx)
            row_bus[c] = (t, cmd)
        else:
            if c in col_bus:
                need(t, "column bus", col_bus[c], 1, ctx)
            col_bus[c] = t
        if cmd in (K.CMD_PREAB, K.CMD_REF):
            p = x
            banks = range(p * per_pc, (p + 1) * per_pc)
            for b in banks:
                need(
                    t,
                    f"ACT(bank{b})->{name}",
                    last["act", c, b],
                    cfg.nRAS + a if cmd == K.CMD_PREAB else cfg.nRC + a,
                    ctx,
                )
            if cmd == K.CMD_PREAB:
                need(t, "RD->PREab", last["rd_pc", c, p], cfg.nRTP, ctx)
                need(t, "WR->PREab", last["wr_pc", c, p], wr_end, ctx)
                for b in banks:
                    if (c, b) in bank_open:
                        del bank_open[(c, b)]
                        last["pre", c, b] = t
                last["preab", c, p] = t
            else:
                for b in banks:
                    if (c, b) in bank_open and len(out) < max_violations:
                        out.append(f"cycle {t} {ctx}: bank {b} open at refresh")
                    need(t, f"PRE(bank{b})->REFab", last["pre", c, b], cfg.nRP, ctx)
                    need(t, f"RDA(bank{b})->REFab", last["rda", c, b], cfg.nRTP + cfg.nRP, ctx)
                    need(t, f"WRA(bank{b})->REFab", last["wra", c, b], wr_end + cfg.nRP, ctx)
                last["ref", c, p] = t
            continue
        b = x
        p = b // per_pc
        r = b // per_rank
        g = b // cfg.banks_per_group
        if cmd == K.CMD_ACT:
            if (c, b) in bank_open and len(out) < max_violations:
                out.append(f"cycle {t} {ctx}: ACT to an open bank")
            need(t, "ACT->ACT (bank, nRC)", last["act", c, b], cfg.nRC, ctx)
            need(t, "PRE->ACT (nRP)", last["pre", c, b], cfg.nRP - a, ctx)
            need(t, "RDA->ACT", last["rda", c, b], cfg.nRTP + cfg.nRP - a, ctx)
            need(t, "WRA->ACT", last["wra", c, b], wr_end + cfg.nRP - a, ctx)
            need(t, "ACT->ACT (bank group, nRRDL)", last["act_bg", c, g], cfg.nRRDL, ctx)
            need(t, "ACT->ACT (rank, nRRDS)", last["act_rank", c, r], cfg.nRRDS, ctx)
            win = faw[c, r]
            if len(win) == 4:
                need(t, "four-activate window (nFAW)", win[0], cfg.nFAW, ctx)
            win.append(t)
            need(t, "REFab->ACT (nRFC)", last["ref", c, p], cfg.nRFC - a, ctx)
            need(t, "PREab->ACT (nRP)", last["preab", c, p], cfg.nRP - a, ctx)
            bank_open[(c, b)] = row
            last["act", c, b] = t
            last["act_bg", c, g] = t
            last["act_rank", c, r] = t
        elif cmd == K.CMD_PRE:
            if (c, b) not in bank_open and len(out) < max_violations:
                out.append(f"cycle {t} {ctx}: PRE to a closed bank")
            need(t, "ACT->PRE (nRAS)", last["act", c, b], cfg.nRAS + a, ctx)
            need(t, "RD->PRE (nRTP)", last["rd", c, b], cfg.nRTP, ctx)
            need(t, "WR->PRE (nCWL+nBL+nWR)", last["wr", c, b], wr_end, ctx)
            bank_open.pop((c, b), None)
            last["pre", c, b] = t
        else:
            is_rd = cmd in (K.CMD_RD, K.CMD_RDA)
            if bank_open.get((c, b)) != row and len(out) < max_violations:
                out.append(f"cycle {t} {ctx}: row {row} not open (open: {bank_open.get((c, b))})")
            if is_rd:
                need(t, "ACT->RD (nRCDRD)", last["act", c, b], cfg.nRCDRD + a, ctx)
                need(t, "RD->RD (bank group, nCCDL)", last["rd_bg", c, g], cfg.nCCDL, ctx)
                need(t, "RD->RD (rank, nCCDS)", last["rd_rank", c, r], cfg.nCCDS, ctx)
                need(t, "RD->RD (data bus, nBL)", last["rd_pc", c, p], cfg.nBL, ctx)
                need(
                    t,
                    "WR->RD (bank group)",
                    last["wr_bg", c, g],
                    cfg.nCWL + cfg.nBL + cfg.nWTRL,
                    ctx,
                )
                need(t, "WR->RD (rank)", last["wr_rank", c, r], cfg.nCWL + cfg.nBL + cfg.nWTRS, ctx)
                need(
                    t, "WR->RD (data bus)", last["wr_pc", c, p], cfg.nCWL + cfg.nBL + cfg.nWTRS, ctx
                )
                last["rd", c, b] = t
                last["rd_bg", c, g] = t
                last["rd_rank", c, r] = t
                last["rd_pc", c, p] = t
            else:
                rd_wr = cfg.nCL + cfg.nBL + 2 - cfg.nCWL
                need(t, "ACT->WR (nRCDWR)", last["act", c, b], cfg.nRCDWR + a, ctx)
                need(t, "WR->WR (bank group, nCCDL)", last["wr_bg", c, g], cfg.nCCDL, ctx)
                need(t, "WR->WR (rank, nCCDS)", last["wr_rank", c, r], cfg.nCCDS, ctx)
                need(t, "WR->WR (data bus, nBL)", last["wr_pc", c, p], cfg.nBL, ctx)
                need(t, "RD->WR (data bus)", last["rd_pc", c, p], rd_wr, ctx)
                last["wr", c, b] = t
                last["wr_bg", c, g] = t
                last["wr_rank", c, r] = t
                last["wr_pc", c, p] = t
            if cmd in (K.CMD_RDA, K.CMD_WRA):
                bank_open.pop((c, b), None)
                last["rda" if cmd == K.CMD_RDA else "wra", c, b] = t
    return out
