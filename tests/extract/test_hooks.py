"""The decoder hooks' reading of attention masks (synthetic masks, no model)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.trace_extra


def _additive(allowed: np.ndarray) -> Any:
    import torch

    a = torch.tensor(allowed)[None, None]
    return torch.where(a, 0.0, torch.finfo(torch.float32).min)


def test_window_start_of_causal_and_sliding_masks() -> None:
    import torch

    from spatten_sim.extract.hooks import window_start

    n, w = 9, 4
    i, j = np.arange(n)[:, None], np.arange(n)[None, :]
    causal = j <= i
    sliding = causal & (j > i - w)

    def starts(mask: object) -> list[int]:
        got = window_start(mask)
        assert got is not None
        return got.tolist()

    assert window_start(None) is None
    assert starts(_additive(causal)) == [0] * n
    assert starts(_additive(sliding)) == [max(0, k - w + 1) for k in range(n)]
    assert starts(torch.tensor(sliding)[None, None]) == [max(0, k - w + 1) for k in range(n)]


@pytest.mark.parametrize("what", ["hole", "future", "bias"])
def test_window_start_refuses_other_masks(what: str) -> None:
    from spatten_sim.extract.hooks import window_start

    n = 6
    i, j = np.arange(n)[:, None], np.arange(n)[None, :]
    allowed = j <= i
    if what == "hole":
        allowed[4, 2] = False
    elif what == "future":
        allowed[1, 3] = True
    mask = _additive(allowed)
    if what == "bias":
        mask[0, 0, 3, 1] = -2.0
    with pytest.raises(RuntimeError):
        window_start(mask)
