"""The buffer manager: the request window, the key and value buffers, the head slots.

Hardware [RTL SpAttenController.scala, BufferManager.scala; P for double buffering]:

* **Request window**: every arbitrated request sits in a 16-entry request FIFO until its
  decision report; new requests are held while fewer than 8 entries are free, so at most
  ``fetcher.max_in_flight_requests`` (9) are in flight; re-quantization requests always enter.
* **Key buffer** (generation and split heads): allocated in request order (head of line) when a
  request is arbitrated, ``rows x head_dim x word_bits / 8`` bytes of ``key_sram_bytes``; released
  at the request's final decision report (``release_req`` in StageRequantizeOrRelease).
* **Value buffer**: allocated in order when the top-k engine hands on the request's first kept
  element (StageAllocValBuffer), released when probxV is done with it.
* **Head slots** (summarization): a head's K and V are loaded once into one of two halves of
  the SRAMs (``double_buffered``) and reused by all its queries; a head whose K or V do not fit
  a half is *split* and streams its keys and values per query.

All sizes in bytes; a request larger than a whole buffer takes the whole buffer.
"""

from __future__ import annotations

from spatten_sim.config import HwConfig
from spatten_sim.workload import HeadJob


class Buffers:
    unit = "buffers"

    def __init__(self, cfg: HwConfig) -> None:
        b = cfg.buffers
        self.window = cfg.fetcher.max_in_flight_requests
        self.key_capacity = b.key_sram_bytes
        self.value_capacity = b.value_sram_bytes
        self.word_bits = b.word_bits
        self.slots = 2 if b.double_buffered else 1
        self.half_k = b.key_sram_bytes // self.slots
        self.half_v = b.value_sram_bytes // self.slots

    def key_bytes(self, rows: int, head_dim: int) -> int:
        return min(self.key_capacity, rows * head_dim * self.word_bits // 8)

    def value_bytes(self, rows: int, head_dim: int) -> int:
        return min(self.value_capacity, rows * head_dim * self.word_bits // 8)

    def is_split(self, hj: HeadJob) -> bool:
        """A summarization head whose K or V does not fit its slot."""
        nbytes = hj.n_keys * hj.head_dim * self.word_bits // 8
        return nbytes > self.half_k or nbytes > self.half_v
