"""Address mappers: the bit layouts of docs/hbm2-facts.md §4 and DRAMsim3's rorabgbachco."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from spatten_sim.errors import ConfigError
from spatten_sim.hw.dram import DRAM_PRESETS
from spatten_sim.hw.dram.mapping import AddressMapper

HBM2 = DRAM_PRESETS["hbm2"]


def _fields(cfg) -> dict[str, tuple[int, int]]:
    return {f: (s, b) for f, s, b in AddressMapper(cfg).fields if b}


def test_robaracoch_16_channels_layout() -> None:
    # [4:0] offset, [8:5] channel, [13:9] column, [14] PC, [16:15] BG, [18:17] bank, [34:19] row
    assert _fields(HBM2) == {
        "Ch": (5, 4), "Co": (9, 5), "Pc": (14, 1), "Bg": (15, 2), "Bk": (17, 2), "Ro": (19, 16),
    }  # fmt: skip
    assert AddressMapper(HBM2).address_bits == 35  # 32 GiB


def test_robaracoch_1_channel_layout() -> None:
    cfg = dataclasses.replace(HBM2, channels=1)
    assert _fields(cfg) == {
        "Co": (5, 5), "Pc": (10, 1), "Bg": (11, 2), "Bk": (13, 2), "Ro": (15, 16),
    }  # fmt: skip


def test_dramsim3_rorabgbachco_layout() -> None:
    cfg = DRAM_PRESETS["hbm2-legacy"]
    # from the LSB: 6 offset bits (64 B), 5 column bits, 3 channel bits, bank, bank group, rank, row
    assert _fields(cfg) == {
        "Co": (6, 5), "Ch": (11, 3), "Bk": (14, 2), "Bg": (16, 2), "Rk": (18, 2), "Ro": (20, 15),
    }  # fmt: skip


def test_decode_round_trip() -> None:
    mp = AddressMapper(HBM2)
    rng = np.random.default_rng(0)
    ch = rng.integers(0, 16, 100)
    pc, bg, bk = rng.integers(0, 2, 100), rng.integers(0, 4, 100), rng.integers(0, 4, 100)
    row = rng.integers(0, 1 << 16, 100)
    addr = (ch << 5) | (7 << 9) | (pc << 14) | (bg << 15) | (bk << 17) | (row << 19)
    c2, bank, r2 = mp.decode(addr)
    assert np.array_equal(c2, ch) and np.array_equal(r2, row)
    assert np.array_equal(bank, (pc * 4 + bg) * 4 + bk)
    # bits above the row are dropped, as in Ramulator 2.1
    _, _, r3 = mp.decode(addr | (1 << 40))
    assert np.array_equal(r3, row)


def _decode_reference(mp: AddressMapper, a: int) -> tuple[int, int, int]:
    """One address decoded field by field from ``mp.fields`` in plain Python."""
    v = {f: (a >> s) & ((1 << b) - 1) for f, s, b in mp.fields}
    ro, bg, bk, pc, rk = (v.get(f, 0) for f in ("Ro", "Bg", "Bk", "Pc", "Rk"))
    if mp.xor:
        gbits = (mp.sizes["Bg"] - 1).bit_length()
        kbits = (mp.sizes["Bk"] - 1).bit_length()
        bg ^= ro & (mp.sizes["Bg"] - 1)
        bk ^= (ro >> gbits) & (mp.sizes["Bk"] - 1)
        pc ^= (ro >> (gbits + kbits)) & (mp.sizes["Pc"] - 1)
    bank = ((pc * mp.sizes["Rk"] + rk) * mp.sizes["Bg"] + bg) * mp.sizes["Bk"] + bk
    return v.get("Ch", 0), bank, ro


@pytest.mark.parametrize(
    "cfg",
    [
        *DRAM_PRESETS.values(),
        dataclasses.replace(HBM2, mapping="RoBaRaCoCh-XOR"),
        dataclasses.replace(DRAM_PRESETS["hbm2-legacy"], mapping="RoBaRaCoCh-XOR"),
        dataclasses.replace(HBM2, channels=1),
    ],
    ids=lambda c: f"{c.name}-{c.mapping}-{c.channels}ch",
)
def test_decode_agrees_with_a_field_by_field_reference(cfg) -> None:
    mp = AddressMapper(cfg)
    rng = np.random.default_rng(1)
    addr = rng.integers(0, 1 << (mp.address_bits + 2), 2000, dtype=np.int64)
    ch, bank, row = mp.decode(addr)
    got = list(zip(ch.tolist(), bank.tolist(), row.tolist(), strict=True))
    assert got == [_decode_reference(mp, int(a)) for a in addr]


def test_stride_of_channels_times_32_lands_on_one_channel() -> None:
    ch, _, _ = AddressMapper(HBM2).decode(np.arange(1000) * 512)
    assert set(ch.tolist()) == {0}


def test_xor_mapping_spreads_a_row_stride_over_banks() -> None:
    stride = 1 << 19  # one row apart: same bank without XOR
    plain = AddressMapper(HBM2).decode(np.arange(64) * stride)[1]
    xor = AddressMapper(dataclasses.replace(HBM2, mapping="RoBaRaCoCh-XOR")).decode(
        np.arange(64) * stride
    )[1]
    assert len(set(plain.tolist())) == 1
    assert len(set(xor.tolist())) == 32


@pytest.mark.parametrize(
    ("name", "msg"),
    [
        ("RoBaRaCo", "no Ch field"),
        ("RoBaRaCoChCh", "twice"),
        ("RoBaXyCoCh", "unknown field"),
        ("robaracoch", "two-letter"),
        ("RoBaRaCoCh-ABC", "suffix"),
    ],
)
def test_bad_mapping_names(name: str, msg: str) -> None:
    with pytest.raises(ConfigError, match=msg) as exc:
        dataclasses.replace(HBM2, mapping=name).validate()
    assert str(exc.value).startswith("memory.mapping")


def test_chrabaroco_puts_the_channel_on_top() -> None:
    f = _fields(dataclasses.replace(HBM2, mapping="ChRaBaRoCo"))
    assert f["Co"] == (5, 5) and f["Ro"] == (10, 16)
    assert f["Ch"] == (35 - 4, 4)  # the top 4 of the 35 address bits
