"""docs/limits.md lists every limit of spatten_sim.limits with its values."""

from __future__ import annotations

from pathlib import Path

import pytest

from spatten_sim.errors import SpattenError
from spatten_sim.limits import LIMITS, cap_message, check_count, check_index

DOC = Path(__file__).resolve().parents[1] / "docs" / "limits.md"


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_every_limit_is_documented(name: str) -> None:
    lim = LIMITS[name]
    row = f"| `{lim.name}` | {lim.lo:,} | {lim.hi:,} | {lim.unit} |"
    assert row in DOC.read_text(), f"docs/limits.md lacks {row}"


def test_check_count_messages() -> None:
    assert check_count("heads", 12, "n_heads") == 12
    assert check_count("heads", 12.0, "n_heads") == 12
    with pytest.raises(SpattenError, match=r"^head_id 1000000000: at most 4,096 heads"):
        check_index("heads", 1_000_000_000, "head_id")
    with pytest.raises(SpattenError, match=r"^x: expected an integer, got 1\.5"):
        check_count("heads", 1.5, "x")
    with pytest.raises(SpattenError, match=r"^x: expected an integer, got inf"):
        check_count("heads", float("inf"), "x")
    with pytest.raises(SpattenError, match=r"^x 0: at least 1 heads"):
        check_count("heads", 0, "x")
    with pytest.raises(SpattenError, match=r"\.\.\."):
        check_count("heads", 10**100, "x")  # the value is cut, the line stays short


def test_cap_message() -> None:
    long = "a" * 1000 + "\n" + "b" * 1000
    out = cap_message(long, 100)
    assert len(out) <= 100 and "\n" not in out and out.startswith("a") and out.endswith("b")
    assert cap_message("short") == "short"
