"""Linear symmetric fixed point with a separate MSB and LSB part, and the fixed-point softmax.

Hardware modelled [P: progressive quantization, docs/spatten.md §2-3]
------------------------------------------------------------------
Q, K and V are stored in DRAM as linear symmetric fixed-point codes of ``msb + lsb`` bits. The
``msb`` high bits and the ``lsb`` low bits of every code live in separate DRAM regions, so the
accelerator can fetch the MSB part alone and, when the attention is flat, fetch the LSB part and
concatenate it (progressive quantization).

* **Scale.** One scale per tensor: ``scale = max|x| / (2**(b-1) - 1)`` with ``b = msb + lsb``
  (``scale = 1`` for an all-zero tensor). The simulator takes one tensor to be one layer and one
  head over every token of the trace: per (layer, query head) for Q, per (layer, K/V head) for K and
  V. This is a static, offline calibration (the scales are known before the run, as the paper's
  linear quantization with a fixed range); it does not depend on pruning.
* **Code.** ``code = clip(round_half_even(x / scale), -(2**(b-1) - 1), 2**(b-1) - 1)``, an integer
  of ``b`` bits in two's complement. Full value ``code * scale``: error at most half a step
  (``scale / 2``).
* **MSB-only value.** What the datapath computes with before an LSB re-fetch: the code with its low
  ``lsb`` bits dropped, i.e. the arithmetic right shift ``code >> lsb`` (floor) placed back at its
  weight ``2**lsb``: ``((code >> lsb) << lsb) * scale``. Its error against ``x`` is below one MSB
  step, ``2**lsb * scale``: the truncation drops at most ``2**lsb - 1`` code units and the code
  itself is within half a unit of ``x / scale`` (see :func:`msb_error_bound`).

Softmax [docs/spatten.md §3, softmax row; C bert.cpp]: scores are integer dot products of codes
(exact: computed in float64, exact up to 2**53); the softmax unit dequantizes them with one factor
that folds in the Q and K scales and the model's softmax scale (``1/sqrt(D)``), adds the model's
additive bias where there is one, applies the causal mask, then computes in IEEE float32: subtract
the row maximum (the unit keeps a running max), ``exp``, accumulate sequentially in float32,
divide. ``exp`` is float32 ``exp``: the hardware's 5th-order Taylor series on FP FMAs is not
modelled bit for bit. Finally the probabilities are requantized to the on-chip word
(``buffers.word_bits``) as unsigned fixed point on the grid ``1 / (2**word_bits - 1)`` (so 1.0 is
representable), round half to even.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from spatten_sim.hw import numba_start

numba_start.install()  # Numba's first call without SciPy's BLAS import


__all__ = [
    "FixedPoint",
    "QuantSpec",
    "msb_error_bound",
    "probability_code_sums",
    "quantize",
    "quantize_probabilities",
    "softmax_fixed",
]


@dataclass(frozen=True)
class QuantSpec:
    """Bits of one fixed-point tensor: ``msb`` fetched first, ``lsb`` on re-fetch (0 = none)."""

    msb_bits: int
    lsb_bits: int

    def __post_init__(self) -> None:
        if self.msb_bits < 1 or self.lsb_bits < 0 or self.total_bits > 62:
            raise ValueError(f"bad fixed-point widths msb={self.msb_bits} lsb={self.lsb_bits}")

    @property
    def total_bits(self) -> int:
        return self.msb_bits + self.lsb_bits

    @property
    def qmax(self) -> int:
        """Largest code magnitude (symmetric: the most negative code is not used)."""
        return (1 << (self.total_bits - 1)) - 1


@dataclass(frozen=True, eq=False)
class FixedPoint:
    """A quantized tensor: integer codes and the per-tensor scale(s) broadcastable to them."""

    spec: QuantSpec
    code: np.ndarray  #: int64 codes of msb+lsb bits
    scale: np.ndarray  #: float64, broadcastable against ``code`` (one value per tensor)

    def msb_code(self) -> np.ndarray:
        """The code with its low ``lsb`` bits dropped (kept at their weight): int64."""
        s = self.spec.lsb_bits
        if s == 0:
            return self.code
        return np.left_shift(np.right_shift(self.code, s), s)

    def full(self) -> np.ndarray:
        """Dequantized MSB+LSB value (float64)."""
        return self.code * self.scale

    def msb_only(self) -> np.ndarray:
        """Dequantized MSB-only value (float64): what is computed before an LSB re-fetch."""
        return self.msb_code() * self.scale


def quantize(
    x: np.ndarray,
    spec: QuantSpec,
    tensor_axes: tuple[int, ...],
    scale: np.ndarray | None = None,
) -> FixedPoint:
    """Quantize ``x`` with one scale per tensor; ``tensor_axes`` are the axes one tensor spans
    (e.g. ``(-2, -1)`` for ``[heads, tokens, head_dim]``: one scale per head).

    ``scale`` (broadcastable against ``x``) gives calibrated scales instead of ``max|x|``: values
    beyond the calibrated range saturate at the largest code, as a fixed-range datapath does."""
    xf = np.asarray(x, dtype=np.float64)
    if scale is None:
        amax = np.max(np.abs(xf), axis=tensor_axes, keepdims=True) if xf.size else np.zeros(())
        scale = np.where(amax > 0, amax / spec.qmax, 1.0)
    else:
        scale = np.asarray(scale, dtype=np.float64)
    code = np.clip(np.rint(xf / scale), -spec.qmax, spec.qmax).astype(np.int64)
    return FixedPoint(spec=spec, code=code, scale=scale)


def msb_error_bound(fp: FixedPoint) -> np.ndarray:
    """Upper bound (exclusive) of ``|msb_only - x|``: one MSB step, ``2**lsb * scale``."""
    return (1 << fp.spec.lsb_bits) * fp.scale


def quantize_probabilities(p: np.ndarray, word_bits: int) -> np.ndarray:
    """Probabilities in [0, 1] on the unsigned ``word_bits`` grid ``1/(2**word_bits - 1)``
    (float32 when exact, i.e. ``word_bits <= 24``, else float64)."""
    levels = float((1 << word_bits) - 1)
    dt = np.float32 if word_bits <= 24 else np.float64
    return (np.rint(p.astype(np.float64) * levels) / levels).astype(dt)


@njit(cache=True)
def _softmax_row(scores, factor, bias, has_bias, lengths, levels, out, rowmax, r, tmp):
    """One row of the softmax unit (see :func:`softmax_fixed`); ``tmp`` is float32 scratch."""
    n = scores.shape[1]
    ln = lengths[r]
    f = factor[r]
    m = np.float32(-np.inf)
    for j in range(ln):
        x = np.float32(scores[r, j] * f)
        if has_bias:
            x = x + bias[r, j]
        tmp[j] = x
        if x > m:
            m = x
    acc = np.float32(0.0)
    for j in range(ln):
        e = np.exp(tmp[j] - m)
        tmp[j] = e
        acc += e
    best = 0.0
    for j in range(ln):
        out[r, j] = np.rint(np.float64(tmp[j] / acc) * levels) / levels
        stored = np.float64(out[r, j])  # the value as held in the on-chip word
        if stored > best:
            best = stored
    for j in range(ln, n):
        out[r, j] = 0.0
    rowmax[r] = best


@njit(cache=True)
def _softmax_rows(scores, factor, bias, has_bias, lengths, levels, out, rowmax):
    tmp = np.empty(scores.shape[1], dtype=np.float32)
    for r in range(scores.shape[0]):
        _softmax_row(scores, factor, bias, has_bias, lengths, levels, out, rowmax, r, tmp)


@njit(cache=True, parallel=True)
def _softmax_rows_parallel(scores, factor, bias, has_bias, lengths, levels, out, rowmax):
    rows, n = scores.shape
    chunk = 64
    for c in prange((rows + chunk - 1) // chunk):
        tmp = np.empty(n, dtype=np.float32)
        for r in range(c * chunk, min(rows, (c + 1) * chunk)):
            _softmax_row(scores, factor, bias, has_bias, lengths, levels, out, rowmax, r, tmp)


#: inputs with at least this many elements use Numba's threads (rows are independent, so the
#: result is identical to the serial kernel's); smaller ones are not worth the thread start-up
PARALLEL_MIN_ELEMENTS = 1 << 20


def softmax_fixed(
    score_codes: np.ndarray,
    factor: np.ndarray,
    bias: np.ndarray | None,
    lengths: np.ndarray,
    word_bits: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The softmax unit on rows of integer QxK scores.

    Args:
        score_codes: float64 ``[rows, n]`` integer dot products of Q and K codes.
        factor: float64 ``[rows]`` dequantization factor ``q_scale * k_scale * softmax_scale``.
        bias: float32 ``[rows, n]`` additive bias (MPNet's relative position bias) or None.
        lengths: int ``[rows]``: row ``r`` sees keys ``0 .. lengths[r]-1`` (the causal prefix of
            the surviving keys, or all of them); the rest get probability 0.
        word_bits: the on-chip word the probabilities are requantized to.

    Per row, in float32 as the FP unit: ``x = float32(code * factor) + bias``, running max,
    ``exp(x - max)``, sequential accumulation, divide; then the requantization of
    :func:`quantize_probabilities`. Returns ``(probs [rows, n], row_max [rows] float64)``: the
    row maximum is what the progressive-quantization decision compares with the threshold.
    """
    rows, n = score_codes.shape
    dt = np.float32 if word_bits <= 24 else np.float64
    out = np.empty((rows, n), dtype=dt)
    rowmax = np.empty(rows, dtype=np.float64)
    has_bias = bias is not None
    b = (
        np.ascontiguousarray(bias, dtype=np.float32)
        if has_bias
        else np.zeros((1, 1), dtype=np.float32)
    )
    kernel = _softmax_rows_parallel if rows * n >= PARALLEL_MIN_ELEMENTS else _softmax_rows
    kernel(
        np.ascontiguousarray(score_codes, dtype=np.float64),
        np.ascontiguousarray(factor, dtype=np.float64),
        b,
        has_bias,
        np.ascontiguousarray(lengths, dtype=np.int64),
        float((1 << word_bits) - 1),
        out,
        rowmax,
    )
    return out, rowmax


@njit(cache=True)
def _code_sums(probs, lengths, levels, out):
    for r in range(probs.shape[0]):
        for j in range(lengths[r]):
            out[j] += np.rint(np.float64(probs[r, j]) * levels)


def probability_code_sums(probs: np.ndarray, lengths: np.ndarray, word_bits: int) -> np.ndarray:
    """Per key, the sum of the probabilities' integer codes on the ``word_bits`` grid over the
    rows of ``probs`` ``[rows, keys]`` (row ``r`` holds probabilities up to ``lengths[r]``, 0
    after): what the token-importance accumulator adds, float64. Every term and partial sum
    is an integer below 2**53, so the sum is exact in any order: equal to
    ``np.rint(probs * levels).sum(axis=0)``."""
    out = np.zeros(probs.shape[1], dtype=np.float64)
    _code_sums(
        np.ascontiguousarray(probs),
        np.ascontiguousarray(lengths, dtype=np.int64),
        float((1 << word_bits) - 1),
        out,
    )
    return out
