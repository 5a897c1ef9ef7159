"""Replay: import the official SpAtten workload CSVs (docs/spatten.md §6) into a :class:`Workload`.

The official release (github.com/mit-han-lab/spatten, MIT licence) drives its RTL with CSV files of
one row per (generation iteration, layer, head). Its driver (``sim/TestSpAtten.scala``) maps each
row to one accelerator request as follows [C], and so does this importer:

* key bits -1 (unquantized), 10 or 12 become 8 MSB bits with a *forced* LSB re-fetch
  (``if_requant`` set); value bits -1, 10, 12 become 8 bits; 6-bit K/V are fused pairs (two heads
  share a 12-bit slot: same bytes per row, 48 B at D = 64, which our DRAM layout packs the same way);
* ``key_fetch_num`` and ``value_fetch_num`` are rounded up to multiples of 8 (the hardware fetches
  and computes on the rounded counts);
* ``if_requant`` True: the LSBs of the keys are fetched and QxK + softmax redone. The LSB width is
  ``auto_requant_incre`` (4 in both shipped files), 4 when it is -1 (the forced re-fetch);
* the local-V top-k latency of a request is the official latency model
  ``topKLatency(key_fetch_num, value_fetch_num, parallelism)`` on the *unrounded* counts
  (:func:`spatten_sim.algo.topk.official_topk_latency`, draws from one ``Generator`` seeded with
  ``policy.topk_seed``, in file order); for 6-bit fused pairs only the first request of a pair
  carries it (the pair shares one top-k), as in the driver.

What the CSV does not give, and what we choose (all deterministic, recorded in ``Workload.notes``):

* **Token ids.** Only counts are given. Each token gets one fixed priority (a seeded random
  permutation); a request keeps its current token (the query, id ``L - 1``) plus the
  ``n - 1`` highest-priority earlier tokens. So survivors are scattered over the context (plausible
  DRAM row locality for pruned tokens), nested across layers, and pruned tokens never come back
  across iterations. Rounded-up counts above ``L`` add the ids after ``L - 1`` (rows the hardware
  fetches past the context) while they exist in the trace's token range; ``n_keys`` and ``v_kept``
  are always the rounded counts (the work the hardware does). V ids: ``value_fetch_num`` (rounded) of the request's keys, a draw
  from one generator seeded with ``policy.topk_seed``, in file order.
* **Q.** The official driver sends the query with the request; here the query row is fetched from
  DRAM at ``quant_query_bit`` bits (16), 32 B per head and iteration.
* **Token top-k calls.** A row with ``if_topk`` True ends a layer whose importance decides the
  next layer's keys (``topk`` kept): its call is the next layer job's ``token_topk``, on
  ``n = key_fetch_num`` (``sentence_length_L`` when ``if_rescale_previous_importance``: the
  iteration boundary reconsiders the whole context) with cycles from the same official latency
  model. The driver itself does not simulate these calls.
* **Head top-k.** The files show only the surviving heads (GPT-2-Medium: 16, 13, 10); no head
  top-k call is recorded.
* **Stage.** Every row is a generation iteration (``iteration = iteration_id + 1``); the prompt
  is ``L - 1`` tokens of iteration 0; ``dense_ops`` counts the generation iterations only.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spatten_sim.algo.topk import official_topk_latencies
from spatten_sim.config import HwConfig
from spatten_sim.errors import SpattenError, WorkloadError
from spatten_sim.limits import LIMITS, check_count, check_index
from spatten_sim.workload import Bits, HeadJob, LayerJob, TopkCall, Workload, dense_attention_ops

__all__ = ["COLUMNS", "OfficialRow", "load_official_csv", "read_official_rows"]

COLUMNS = (
    "iteration_id",
    "layer_id",
    "head_id",
    "embedding_length_D",
    "sentence_length_L",
    "key_fetch_num",
    "quant_key_bit",
    "quant_query_bit",
    "auto_requant_thres",
    "if_requant",
    "auto_requant_incre",
    "value_fetch_num",
    "quant_value_bit",
    "if_accumulate_importance",
    "if_rescale_previous_importance",
    "if_topk",
    "topk",
)
_INT = (
    "iteration_id",
    "layer_id",
    "head_id",
    "sentence_length_L",
    "key_fetch_num",
    "quant_key_bit",
    "quant_query_bit",
    "auto_requant_incre",
    "value_fetch_num",
    "quant_value_bit",
    "topk",
)
_BOOL = ("if_requant", "if_accumulate_importance", "if_rescale_previous_importance", "if_topk")
#: DRAM widths the official bitwidth converter accepts, after the driver's mapping [C]
_FETCH_BITS = (4, 6, 8)
#: LSB width of the forced re-fetch of 10/12-bit/unquantized keys [C: 8 MSB + 4 LSB]
_FORCED_LSB_BITS = 4


@dataclass(frozen=True)
class OfficialRow:
    """One CSV row as read (before the driver's mappings)."""

    line: int
    iteration_id: int
    layer_id: int
    head_id: int
    head_dim: int
    sentence_length: int
    key_fetch_num: int
    quant_key_bit: int
    quant_query_bit: int
    auto_requant_thres: float
    if_requant: bool
    auto_requant_incre: int
    value_fetch_num: int
    quant_value_bit: int
    if_accumulate_importance: bool
    if_rescale_previous_importance: bool
    if_topk: bool
    topk: int


def _fail(path: Path, msg: str) -> WorkloadError:
    return WorkloadError(f"{path}: {msg}")


def _parse_int(path: Path, line: int, col: str, raw: str) -> int:
    try:
        f = float(raw)
    except ValueError:
        raise _fail(path, f"line {line}: {col}: not a number: {raw!r}") from None
    if not math.isfinite(f) or f != int(f):
        raise _fail(path, f"line {line}: {col}: not an integer: {raw!r}")
    return int(f)


#: how each column is read, in COLUMNS order (= OfficialRow's fields after ``line``):
#: 0 an integer, 1 a boolean, 2 a real number
_KINDS = tuple(
    (col, 0 if col in _INT or col == "embedding_length_D" else 1 if col in _BOOL else 2)
    for col in COLUMNS
)
_BOOL_TEXT = frozenset(("True", "False", "true", "false", "1", "0"))
_TRUE_TEXT = frozenset(("True", "true", "1"))


def _parse_row(path: Path, line: int, rec: dict[str, str]) -> OfficialRow:
    vals: list[object] = []
    for col, kind in _KINDS:
        raw = rec.get(col)
        raw = raw.strip() if raw else ""
        if raw == "":
            raise _fail(path, f"line {line}: {col}: empty value")
        if kind == 0:
            # plain integer text first (int() accepts a subset of what float() does, with the
            # same value below 2**53); anything else, "64.0" say, goes through float()
            if len(raw) <= 15:
                try:
                    vals.append(int(raw))
                    continue
                except ValueError:
                    pass
            vals.append(_parse_int(path, line, col, raw))
        elif kind == 1:
            if raw not in _BOOL_TEXT:
                raise _fail(path, f"line {line}: {col}: expected True or False, got {raw!r}")
            vals.append(raw in _TRUE_TEXT)
        else:
            try:
                vals.append(float(raw))
            except ValueError:
                raise _fail(path, f"line {line}: {col}: not a number: {raw!r}") from None
    row = OfficialRow(line, *vals)  # type: ignore[arg-type]
    _check_row(path, row)
    return row


#: limit (spatten_sim.limits) of every count column, checked before anything is built from it
_COUNT_LIMITS = (
    ("iteration_id", "iterations", True),
    ("layer_id", "layers", True),
    ("head_id", "heads", True),
    ("head_dim", "head_dim", False),
    ("sentence_length", "tokens", False),
)
#: the official files are ~1 MB; a CSV past this is refused before it is read
MAX_CSV_BYTES = 1 << 30


def _check_row(path: Path, r: OfficialRow) -> None:
    where = f"line {r.line}"
    for name in ("iteration_id", "layer_id", "head_id"):
        if getattr(r, name) < 0:
            raise _fail(path, f"{where}: {name} must be >= 0, got {getattr(r, name)}")
    if r.head_dim < 1:
        raise _fail(path, f"{where}: embedding_length_D must be >= 1, got {r.head_dim}")
    if r.sentence_length < 1:
        raise _fail(path, f"{where}: sentence_length_L must be >= 1, got {r.sentence_length}")
    for attr, lim, is_index in _COUNT_LIMITS:
        col = {"head_dim": "embedding_length_D", "sentence_length": "sentence_length_L"}.get(
            attr, attr
        )
        try:
            (check_index if is_index else check_count)(lim, getattr(r, attr), col)
        except SpattenError as exc:
            raise _fail(path, f"{where}: {exc}") from None
    if not 1 <= r.key_fetch_num <= r.sentence_length:
        raise _fail(
            path,
            f"{where}: key_fetch_num {r.key_fetch_num} outside [1, sentence_length_L "
            f"{r.sentence_length}]",
        )
    if not 0 <= r.value_fetch_num <= r.key_fetch_num:
        raise _fail(
            path,
            f"{where}: value_fetch_num {r.value_fetch_num} outside [0, key_fetch_num "
            f"{r.key_fetch_num}]",
        )
    for name in ("quant_key_bit", "quant_value_bit"):
        b = getattr(r, name)
        if b not in (-1, 10, 12, *_FETCH_BITS):
            raise _fail(path, f"{where}: {name} {b} is not one of -1, 4, 6, 8, 10, 12")
    if r.quant_query_bit != -1 and not 1 <= r.quant_query_bit <= 32:
        raise _fail(path, f"{where}: quant_query_bit {r.quant_query_bit} outside 1..32 (or -1)")
    if r.auto_requant_incre not in (-1,) and not 1 <= r.auto_requant_incre <= 16:
        raise _fail(path, f"{where}: auto_requant_incre {r.auto_requant_incre} outside 1..16")
    if r.if_topk and r.topk < 1:
        raise _fail(path, f"{where}: if_topk is True but topk is {r.topk}")
    if r.if_topk and r.topk > r.sentence_length:
        raise _fail(
            path,
            f"{where}: topk {r.topk} keeps more tokens than sentence_length_L {r.sentence_length}",
        )


def read_official_rows(path: str | Path) -> tuple[list[OfficialRow], str]:
    """Parse and validate the rows; returns them and the trailing provenance line (the official
    files end with one line naming the algorithm config they came from), or ``""``."""
    p = Path(path)
    if not p.is_file():
        raise _fail(p, "no such file")
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise _fail(p, f"cannot read the file ({exc.strerror or exc})") from None
    if size > MAX_CSV_BYTES:
        raise _fail(p, f"{size:,} B: at most {MAX_CSV_BYTES:,} B for a workload CSV")
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(p, f"cannot read the file ({exc})") from None
    if not text.strip() or not text.splitlines()[0].strip():
        raise _fail(p, "empty file (expected the official CSV header)")
    # read as one stream: a quoted value may hold a line break (and is then refused as a value)
    reader = csv.DictReader(io.StringIO(text))
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise _fail(p, f"line 1: not a CSV header ({exc})") from None
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise _fail(p, f"missing column {missing[0]!r} (not an official SpAtten workload CSV?)")
    reader.fieldnames = header
    rows: list[OfficialRow] = []
    provenance = ""
    for rec in _records(p, reader):
        line = reader.line_num
        if provenance:
            raise _fail(p, f"line {line}: data after the trailing provenance line")
        first = (rec.get("iteration_id") or "").strip()
        rest = [(rec.get(c) or "").strip() for c in COLUMNS[1:]]
        if first and not any(rest):
            try:
                float(first)
            except ValueError:
                provenance = first
                continue
        if len(rows) >= LIMITS["rows"].hi:
            raise _fail(p, f"line {line}: more than {LIMITS['rows'].hi:,} rows")
        row = _parse_row(p, line, rec)
        if rows:
            _check_order(p, rows[-1], row)
        rows.append(row)
    if not rows:
        raise _fail(p, "no workload rows after the header")
    return rows, provenance


def _records(path: Path, reader: csv.DictReader) -> Iterator[dict[str, str]]:
    """The reader's records; a line the csv module refuses (a NUL byte, a value longer than its
    field limit, a stray quote) is a one-line :class:`WorkloadError` naming the line."""
    while True:
        try:
            rec = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _fail(path, f"line {reader.line_num}: not a CSV row ({exc})") from None
        yield rec


def _check_order(path: Path, prev: OfficialRow, r: OfficialRow) -> None:
    """Rows come in the official order: by iteration, then layer, then head, each increasing
    (the driver replays them in file order, so another order would be another workload)."""
    a = (prev.iteration_id, prev.layer_id, prev.head_id)
    b = (r.iteration_id, r.layer_id, r.head_id)
    if b <= a:
        what = "repeats" if b == a else "comes before"
        raise _fail(
            path,
            f"line {r.line}: (iteration_id, layer_id, head_id) {b} {what} line {prev.line}'s "
            f"{a}: rows must be sorted by iteration, layer, head",
        )


def _ceil8(n: int) -> int:
    return (n + 7) // 8 * 8


class _Ids:
    """Deterministic token ids for the counts of the CSV (see the module docstring)."""

    def __init__(self, total: int, seed: int) -> None:
        rng = np.random.default_rng([seed, 0x5EA7])
        self.total = total
        self.order = rng.permutation(total)  # tokens by descending priority
        self._vrng = np.random.default_rng([seed, 0x7A1])
        self._cache: dict[tuple[int, int], np.ndarray] = {}

    def keys(self, length: int, n: int) -> np.ndarray:
        """``n`` key ids for a context of ``length`` tokens whose current token is ``length-1``."""
        key = (length, n)
        got = self._cache.get(key)
        if got is not None:
            return got
        cur = length - 1
        inside = min(n, length)
        earlier = self.order[self.order < cur][: inside - 1]
        extra = np.arange(length, min(n, self.total), dtype=np.int64)  # rounding past L
        ids = np.sort(np.concatenate([earlier, [cur], extra])).astype(np.int32)
        self._cache[key] = ids
        return ids

    def values(self, keys: np.ndarray, n: int) -> np.ndarray:
        """``n`` of ``keys`` (a seeded draw; the generator advances in file order)."""
        if n >= keys.size:
            return keys
        return np.sort(self._vrng.choice(keys, size=n, replace=False)).astype(np.int32)


def load_official_csv(path: str | Path, cfg: HwConfig) -> Workload:
    """Import an official SpAtten workload CSV with the official driver's mappings.

    Raises :class:`~spatten_sim.errors.WorkloadError` (one line) for a missing file, an empty
    file, a missing column, a bad value, or rows of a layer that are not contiguous.
    """
    p = Path(path)
    rows, provenance = read_official_rows(p)
    dims = {r.head_dim for r in rows}
    if len(dims) != 1:
        raise _fail(p, f"embedding_length_D varies between rows ({sorted(dims)})")
    head_dim = dims.pop()
    n_layers = max(r.layer_id for r in rows) + 1
    n_heads = max(r.head_id for r in rows) + 1
    try:
        check_count("layer_heads", n_layers * n_heads, f"{n_layers} layers x {n_heads} heads")
    except SpattenError as exc:
        raise _fail(p, str(exc)) from None
    iterations = sorted({r.iteration_id for r in rows})
    if iterations != list(range(len(iterations))):
        raise _fail(p, f"iteration_id must run 0..N-1 without gaps, got {iterations[:5]}...")
    first_len = {r.sentence_length for r in rows if r.iteration_id == 0}
    prompt = min(first_len) - 1
    generated = len(iterations)
    for r in rows:
        if r.sentence_length != prompt + r.iteration_id + 1:
            raise _fail(
                p,
                f"line {r.line}: sentence_length_L {r.sentence_length} should be "
                f"{prompt + r.iteration_id + 1} (one more token per iteration)",
            )
    total_tokens = prompt + generated
    ids = _Ids(total_tokens, cfg.policy.topk_seed)
    gen = np.random.default_rng(cfg.policy.topk_seed)
    p_cmp, ovh = cfg.topk.comparators, cfg.topk.round_overhead_cycles

    # group consecutive rows into layer jobs, in file order
    groups: list[list[OfficialRow]] = []
    seen: set[tuple[int, int]] = set()
    for r in rows:
        key = (r.iteration_id, r.layer_id)
        if groups and (groups[-1][0].iteration_id, groups[-1][0].layer_id) == key:
            groups[-1].append(r)
            continue
        if key in seen:
            raise _fail(
                p, f"line {r.line}: rows of iteration {key[0]} layer {key[1]} are not contiguous"
            )
        seen.add(key)
        groups.append([r])

    # the official latency model's calls in the driver's order (one Generator, file order): the
    # local-V top-k of every request (of the first of a fused 6-bit pair only), then the token
    # top-k of an if_topk row; all drawn in one call, then handed out in the same order
    ns: list[int] = []
    ks: list[int] = []
    batch_part = 0
    for r in rows:
        fused = r.quant_key_bit == 6  # bits -1/10/12 map to 8: never a fused pair
        if not fused or batch_part % 2 == 0:
            ns.append(r.key_fetch_num)
            ks.append(r.value_fetch_num)
        batch_part = batch_part + 1 if fused else 0
        if r.if_topk:
            n = r.sentence_length if r.if_rescale_previous_importance else r.key_fetch_num
            ns.append(max(n, r.topk))
            ks.append(r.topk)
    drawn = iter(official_topk_latencies(np.array(ns, np.int64), np.array(ks, np.int64), p_cmp,
                                         ovh, gen)[0].tolist())  # fmt: skip

    batch_part = 0
    n_forced = 0
    pending: TopkCall | None = None
    layers: list[LayerJob] = []
    for grp in groups:
        heads: list[HeadJob] = []
        head_ids: set[int] = set()
        call_after: TopkCall | None = None
        for r in grp:
            if r.head_id in head_ids:
                raise _fail(p, f"line {r.line}: head {r.head_id} appears twice in its layer")
            head_ids.add(r.head_id)
            kb, vb, req = r.quant_key_bit, r.quant_value_bit, r.if_requant
            if kb in (-1, 10, 12):
                kb, req = 8, True
                n_forced += 1
            if vb in (-1, 10, 12):
                vb = 8
            lsb = r.auto_requant_incre if r.auto_requant_incre > 0 else _FORCED_LSB_BITS
            qb = r.quant_query_bit if r.quant_query_bit > 0 else 16
            # local-V top-k latency, with the driver's fused 6-bit pairs
            if kb == 6:
                cyc = next(drawn) if batch_part % 2 == 0 else 0
                batch_part += 1
            else:
                cyc = next(drawn)
                batch_part = 0
            n_keys = _ceil8(r.key_fetch_num)
            n_vals = _ceil8(r.value_fetch_num)
            it = r.iteration_id + 1
            t = r.sentence_length - 1
            key_ids = ids.keys(r.sentence_length, n_keys)
            v_ids = ids.values(key_ids, n_vals)
            q = np.array([t], dtype=np.int32)
            heads.append(
                HeadJob(
                    stage="generation",
                    iteration=it,
                    layer=r.layer_id,
                    head=r.head_id,
                    kv_head=r.head_id,
                    head_dim=head_dim,
                    bits=Bits(qb, 0, kb, lsb, vb, 0),
                    query_ids=q,
                    n_keys=n_keys,
                    keys_per_query=np.array([n_keys], dtype=np.int32),
                    requant=np.array([req]),
                    v_kept=np.array([n_vals], dtype=np.int32),
                    local_topk_cycles=np.array([cyc], dtype=np.int64),
                    q_fetch=q,
                    k_msb_fetch=key_ids,
                    k_lsb_fetch=key_ids if req else np.zeros(0, np.int32),
                    v_fetch=v_ids,
                )
            )
            if r.if_topk:
                n = r.sentence_length if r.if_rescale_previous_importance else r.key_fetch_num
                n = max(n, r.topk)
                call_after = TopkCall(int(n), int(r.topk), next(drawn))
        r0 = grp[0]
        layers.append(
            LayerJob(
                stage="generation",
                iteration=r0.iteration_id + 1,
                layer=r0.layer_id,
                heads=tuple(heads),
                tokens_kept=max(r.key_fetch_num for r in grp),
                tokens_total=r0.sentence_length,
                heads_kept=len(grp),
                token_topk=pending,
            )
        )
        pending = call_after
    n_req = sum(int(h.requant[0]) for lj in layers for h in lj.heads)
    dense = dense_attention_ops(
        n_heads, head_dim, n_layers, prompt, generated, True
    ) - dense_attention_ops(n_heads, head_dim, n_layers, prompt, 0, True)
    notes = {
        "replay": "official SpAtten workload CSV, official driver mappings (TestSpAtten.scala)",
        "bit_mapping": "key bits -1/10/12 -> 8 MSB + forced 4-bit LSB re-fetch; value bits "
        "-1/10/12 -> 8; 6-bit K/V as fused pairs (same bytes per row); counts rounded up to 8",
        "token_ids": "seeded fixed priority per token (policy.topk_seed): current token + the "
        "highest-priority earlier tokens; nested across layers and iterations; V ids a seeded "
        "draw among the request's keys",
        "local_topk_cycles": "official latency model topKLatency(key_fetch_num, value_fetch_num, "
        "topk.comparators), first request of a fused 6-bit pair only",
        "token_topk": "if_topk rows: official latency model, attached to the next layer job",
        "head_topk": "not in the CSV (surviving heads only)",
        "q": "query row fetched at quant_query_bit bits (the official driver sends it with the "
        "request)",
        "forced_requant_rows": n_forced,
        "requant_fraction": n_req / max(1, sum(len(lj.heads) for lj in layers)),
        "official_config": provenance,
        "dense_ops": "generation iterations only",
    }
    return Workload(
        source=str(p),
        model=f"official:{p.stem}",
        n_layers=n_layers,
        n_heads=n_heads,
        n_kv_heads=n_heads,
        head_dim=head_dim,
        causal=True,
        prompt_tokens=prompt,
        generated_tokens=generated,
        layers=tuple(layers),
        dense_ops=int(dense),
        fidelity=None,
        notes=notes,
    )
