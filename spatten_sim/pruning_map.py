"""Which tokens and heads survive SpAtten's cascade pruning at each layer: ``pruning.npz``.

SpAtten prunes tokens and heads in a cascade (docs/spatten.md §2): the token top-k before a layer
keeps the most important surviving tokens, the head top-k after it the most important heads, and
a pruned token or head never comes back in later layers or generation iterations. The functional
phase (:mod:`spatten_sim.algo.functional`) makes these decisions from the trace's data; the
:class:`~spatten_sim.workload.Workload` it returns holds them as the layer jobs' surviving heads
(one :class:`~spatten_sim.workload.HeadJob` per kept head) and their K fetch lists (the first head
of every K/V group fetches the K rows of exactly the tokens kept at that layer). A
:class:`PruningMap` is that, as masks: ``spatten-sim run -o DIR`` writes it as ``pruning.npz``
and ``spatten-sim plot DIR --pruning`` draws it (:func:`spatten_sim.plots.inside.pruning_heatmap`).

Official SpAtten workload CSVs (:mod:`spatten_sim.workload_csv`) give *counts* of kept tokens,
not which tokens (the importer invents the ids), so for them only the counts and the kept heads
(the CSV's head ids are real) are stored: ``token_mask`` is absent.

File format (``.npz``, no pickles; ``P`` passes = the summarization stage and each generation
iteration, in processing order; ``L`` layers; ``H`` query heads; ``T`` the longest context):

* ``format_version`` (int, 1), ``input_kind`` (str: ``trace`` or ``official-csv``);
* ``stages`` (str ``[P]``: ``summarization`` or ``generation``), ``iterations`` (int32 ``[P]``:
  0 = summarization, 1.. = generation iterations);
* ``present`` (bool ``[P, L]``: the pass has a job for that layer);
* ``tokens_total`` (int32 ``[P, L]``: the context length of the pass), ``tokens_kept`` and
  ``heads_kept`` (int32 ``[P, L]``);
* ``head_mask`` (bool ``[P, L, H]``: head ``h`` is kept at that layer);
* ``token_mask`` (bool ``[P, L, T]``, traces only: token position ``t`` is kept at that layer;
  positions at or past the pass's context length are False);
* ``token_text`` (str ``[T]``, optional: the tokens' text; traces store vocabulary ids, not text,
  so spatten-sim does not write it today; a file that has it gets the tokens on the plot's axis).
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spatten_sim.errors import SpattenError
from spatten_sim.workload import Workload

FORMAT_VERSION = 1
FILE_NAME = "pruning.npz"


@dataclass(frozen=True, eq=False)
class PruningMap:
    """Kept tokens and heads per pass and layer (see the module docstring for the arrays)."""

    input_kind: str
    stages: tuple[str, ...]
    iterations: np.ndarray  #: int32 [P]
    present: np.ndarray  #: bool [P, L]
    tokens_total: np.ndarray  #: int32 [P, L]
    tokens_kept: np.ndarray  #: int32 [P, L]
    heads_kept: np.ndarray  #: int32 [P, L]
    head_mask: np.ndarray  #: bool [P, L, H]
    token_mask: np.ndarray | None = None  #: bool [P, L, T]; None when only counts are known
    token_text: tuple[str, ...] | None = None  #: the tokens' text, when known

    @property
    def n_passes(self) -> int:
        return int(self.iterations.size)

    @property
    def n_layers(self) -> int:
        return int(self.present.shape[1])

    @property
    def n_heads(self) -> int:
        return int(self.head_mask.shape[2])

    def pass_label(self, p: int) -> str:
        """``summarization`` or ``generation 3``."""
        if self.stages[p] == "summarization":
            return "summarization"
        return f"generation {int(self.iterations[p])}"

    def save(self, path: str | Path) -> Path:
        """Write the ``.npz`` (atomically: a temporary file renamed)."""
        from spatten_sim.files import atomic_output

        arrays: dict[str, np.ndarray] = {
            "format_version": np.array(FORMAT_VERSION),
            "input_kind": np.array(self.input_kind),
            "stages": np.array(self.stages, dtype=str),
            "iterations": self.iterations.astype(np.int32),
            "present": self.present,
            "tokens_total": self.tokens_total.astype(np.int32),
            "tokens_kept": self.tokens_kept.astype(np.int32),
            "heads_kept": self.heads_kept.astype(np.int32),
            "head_mask": self.head_mask,
        }
        if self.token_mask is not None:
            arrays["token_mask"] = self.token_mask
        if self.token_text is not None:
            arrays["token_text"] = np.array(self.token_text, dtype=str)
        with atomic_output(path) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)  # type: ignore[arg-type]
        return Path(path)


def load_pruning(path: str | Path) -> PruningMap:
    """Read a ``pruning.npz`` (a run folder, or the file itself); one-line errors."""
    p = Path(path)
    if p.is_dir():
        p = p / FILE_NAME
    if not p.is_file():
        raise SpattenError(
            f"{p}: no pruning map (written by `spatten-sim run HW INPUT -o DIR`; "
            "run folders of older versions have none)"
        )
    try:
        with np.load(p, allow_pickle=False) as z:
            version = int(z["format_version"])
            if version != FORMAT_VERSION:
                raise SpattenError(f"{p}: pruning map format {version}, expected {FORMAT_VERSION}")
            pm = PruningMap(
                input_kind=str(z["input_kind"]),
                stages=tuple(str(s) for s in z["stages"]),
                iterations=z["iterations"].astype(np.int32),
                present=z["present"].astype(bool),
                tokens_total=z["tokens_total"].astype(np.int32),
                tokens_kept=z["tokens_kept"].astype(np.int32),
                heads_kept=z["heads_kept"].astype(np.int32),
                head_mask=z["head_mask"].astype(bool),
                token_mask=z["token_mask"].astype(bool) if "token_mask" in z else None,
                token_text=tuple(str(s) for s in z["token_text"]) if "token_text" in z else None,
            )
    except SpattenError:
        raise
    except (
        OSError, KeyError, ValueError, TypeError, EOFError, RuntimeError, NotImplementedError,
        zipfile.BadZipFile, zlib.error,
    ) as exc:  # fmt: skip
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SpattenError(f"{p}: not a pruning map ({msg})") from None
    if pm.present.ndim != 2:
        raise SpattenError(f"{p}: the arrays of the pruning map disagree in shape")
    n_p, n_l = pm.present.shape
    shapes_ok = (
        len(pm.stages) == n_p == pm.iterations.size
        and pm.tokens_total.shape == pm.tokens_kept.shape == pm.heads_kept.shape == (n_p, n_l)
        and pm.head_mask.ndim == 3
        and pm.head_mask.shape[:2] == (n_p, n_l)
        and (
            pm.token_mask is None
            or (pm.token_mask.ndim == 3 and pm.token_mask.shape[:2] == (n_p, n_l))
        )
    )
    if not shapes_ok:
        raise SpattenError(f"{p}: the arrays of the pruning map disagree in shape")
    return pm


def pruning_map(workload: Workload, input_kind: str) -> PruningMap:
    """The kept tokens and heads of every layer job of ``workload``.

    ``input_kind`` ``official-csv`` (or any workload whose kept-token count disagrees with its
    fetch lists) stores counts only; a trace workload also gets the token masks, the union of
    the layer job's K fetch lists (and, in summarization, its query ids), which the functional
    phase fills with exactly the tokens it kept.
    """
    passes: list[tuple[str, int]] = []
    for lj in workload.layers:
        key = (lj.stage, lj.iteration)
        if key not in passes:
            passes.append(key)
    index = {k: i for i, k in enumerate(passes)}
    n_p, n_l, n_h = len(passes), workload.n_layers, workload.n_heads
    t_max = max([lj.tokens_total for lj in workload.layers] + [1])
    present = np.zeros((n_p, n_l), bool)
    total = np.zeros((n_p, n_l), np.int32)
    kept = np.zeros((n_p, n_l), np.int32)
    heads = np.zeros((n_p, n_l), np.int32)
    head_mask = np.zeros((n_p, n_l, n_h), bool)
    tok_mask = np.zeros((n_p, n_l, t_max), bool)
    indices_ok = input_kind == "trace"
    for lj in workload.layers:
        p, li = index[(lj.stage, lj.iteration)], lj.layer
        present[p, li] = True
        total[p, li] = lj.tokens_total
        kept[p, li] = lj.tokens_kept
        heads[p, li] = lj.heads_kept
        for hj in lj.heads:
            head_mask[p, li, hj.head] = True
        if not indices_ok:
            continue
        row = tok_mask[p, li]
        for hj in lj.heads:
            ids = hj.k_msb_fetch
            if ids.size and int(ids.max()) >= t_max:
                indices_ok = False
                break
            row[ids] = True
            if lj.stage == "summarization":
                row[hj.query_ids] = True
        if int(row.sum()) != lj.tokens_kept:
            indices_ok = False
    return PruningMap(
        input_kind=input_kind,
        stages=tuple(s for s, _ in passes),
        iterations=np.array([i for _, i in passes], np.int32),
        present=present,
        tokens_total=total,
        tokens_kept=kept,
        heads_kept=heads,
        head_mask=head_mask,
        token_mask=tok_mask if indices_ok else None,
    )
