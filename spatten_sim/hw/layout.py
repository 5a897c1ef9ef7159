"""Where Q, K and V live in DRAM.

Each stream (Q, K MSB, K LSB, V, ...) of each layer and head has its own region; row ``t`` (token
``t``) of a region occupies bytes ``[t * row_bytes, (t + 1) * row_bytes)`` with
``row_bytes = head_dim * bits / 8``, packed (two 6-bit D=64 rows share three 32-B transactions,
as the official design's fused 6-bit head pairs do [C]). MSBs and LSBs are separate regions
[P: progressive quantization]. Fetching a set of rows reads the union of the transactions that
cover them, so pruning scattered tokens costs whole transactions, and contiguous survivors share
them. Regions are aligned to 4 KiB; the memory model's mapping spreads consecutive 32-B
transactions over the channels (Q/K/V interleaved at 32-B granularity [C]).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from spatten_sim.hw import numba_start

numba_start.install()  # Numba's first call without SciPy's BLAS import


#: streams and which head index space they use
STREAMS = ("q", "q_lsb", "k_msb", "k_lsb", "v", "v_lsb")
_ALIGN = 4096


class AddressLayout:
    """Byte addresses of every stream's rows for one model shape and set of bit widths."""

    def __init__(
        self,
        n_layers: int,
        n_heads: int,
        n_kv_heads: int,
        tokens: int,
        head_dim: int,
        max_bits: int,
        transaction_bytes: int = 32,
    ) -> None:
        self.tx = transaction_bytes
        self.tokens = tokens
        self.head_dim = head_dim
        self._regions: dict[tuple[str, int, int], int] = {}
        addr = 0
        for layer in range(n_layers):
            for stream in STREAMS:
                nh = n_heads if stream.startswith("q") else n_kv_heads
                size = -(-tokens * head_dim * max_bits // 8)
                for h in range(nh):
                    self._regions[(stream, layer, h)] = addr
                    addr += -(-size // _ALIGN) * _ALIGN
        self.total_bytes = addr

    @classmethod
    def for_workload(cls, wl, word_bits: int, transaction_bytes: int) -> AddressLayout:
        """The layout both timing models use for a :class:`~spatten_sim.workload.Workload`:
        every stream's regions sized for the widest word (32 bits, or a wider on-chip word)."""
        return cls(
            wl.n_layers,
            wl.n_heads,
            wl.n_kv_heads,
            wl.prompt_tokens + wl.generated_tokens,
            wl.head_dim,
            max_bits=max(32, word_bits),
            transaction_bytes=transaction_bytes,
        )

    def base(self, stream: str, layer: int, head: int) -> int:
        """Byte address of the first row of a region."""
        return self._regions[(stream, layer, head)]

    def transactions(
        self, stream: str, layer: int, head: int, rows: np.ndarray, bits: int
    ) -> np.ndarray:
        """Sorted unique transaction addresses (int64) covering ``rows`` of a region whose
        words are ``bits`` wide (a region is sized for the widest word, ``max_bits``)."""
        if rows.size == 0 or bits <= 0:
            return np.zeros(0, dtype=np.int64)
        base = self._regions[(stream, layer, head)]
        row_bits = self.head_dim * bits
        rows = rows.astype(np.int64)
        if rows.size > 1 and not (rows[1:] > rows[:-1]).all():
            rows = np.unique(rows)  # fetch lists are ascending by contract; be safe
        tx_bits = 8 * self.tx
        if row_bits % tx_bits == 0:  # whole transactions per row: no two rows share one
            span = row_bits // tx_bits
            blocks = (rows * span)[:, None] + np.arange(span)[None, :]
            return base + blocks.ravel() * self.tx
        first = rows * row_bits // tx_bits
        last = ((rows + 1) * row_bits - 1) // tx_bits
        span = int((last - first).max()) + 1
        blocks = first[:, None] + np.arange(span)[None, :]
        blocks = blocks[blocks <= last[:, None]]  # ascending, since rows are
        keep = np.empty(blocks.size, dtype=bool)
        keep[0] = True
        np.not_equal(blocks[1:], blocks[:-1], out=keep[1:])
        return base + blocks[keep] * self.tx

    def row_spans(
        self, stream: str, layer: int, head: int, rows: np.ndarray, bits: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Address of the first and of the last transaction covering each row (int64)."""
        base = self._regions[(stream, layer, head)]
        row_bits = self.head_dim * bits
        r = rows.astype(np.int64)
        tx_bits = 8 * self.tx
        first = r * row_bits // tx_bits
        last = ((r + 1) * row_bits - 1) // tx_bits
        return base + first * self.tx, base + last * self.tx


@njit(cache=True)
def batch_transactions(bases, row_bits, rows, row_off, tx, out, out_off):
    """The transactions of a batch of parts (the fast form of :meth:`AddressLayout.transactions`).

    Part ``p`` reads ``rows[row_off[p]:row_off[p + 1]]`` of the region at ``bases[p]`` whose rows
    are ``row_bits[p]`` bits wide (0: nothing to read). Writes the sorted unique transaction
    addresses of every part, one after the other, into ``out`` (part ``p`` at
    ``out[out_off[p]:out_off[p + 1]]``) and returns their number, or ``-1 - p`` if part ``p``'s
    rows are not strictly ascending (the caller then takes the reference path).
    """
    tx_bits = 8 * tx
    n = 0
    for p in range(bases.shape[0]):
        out_off[p] = n
        rb = row_bits[p]
        if rb <= 0:
            continue
        last = -1
        prev = -1
        for j in range(row_off[p], row_off[p + 1]):
            r = rows[j]
            if r <= prev:
                return -1 - p
            prev = r
            f = r * rb // tx_bits
            lb = ((r + 1) * rb - 1) // tx_bits
            if f <= last:
                f = last + 1
            for blk in range(f, lb + 1):
                out[n] = bases[p] + blk * tx
                n += 1
            if lb > last:
                last = lb
    out_off[bases.shape[0]] = n
    return n
