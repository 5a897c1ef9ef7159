"""Expanding a space into points, each keyed by a content hash.

A point is one (resolved configuration, input) pair. Its id is a hash of the resolved
configuration, the input file's content hash (SHA-256) and a fingerprint of the simulator's code:
the same configuration on the same data with the same simulator always has the same id, wherever
the files live and whatever the order of the axes, so a re-run recognises work already done, and
never mistakes the results of an older simulator for current ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spatten_sim.errors import SpattenError
from spatten_sim.provenance import (
    FINGERPRINT_LENGTH,
    canonical_json,
    code_fingerprint,
    file_sha256,
)
from spatten_sim.sweep.space import Recipe, Space, SpaceError, eval_constraint, parse_constraint

ID_LENGTH = FINGERPRINT_LENGTH


@dataclass(frozen=True)
class Point:
    """One simulation of the sweep, in expansion order (``index``)."""

    index: int
    point_id: str
    input_path: str  #: absolute path of the trace / workload
    input_sha256: str
    values: tuple[tuple[str, Any], ...]  #: the axis values of this point, in axis order
    config: dict | None  #: the resolved configuration (``HwConfig.to_dict()``), None if invalid
    error: str | None = None  #: why the configuration is invalid

    @property
    def input_name(self) -> str:
        return Path(self.input_path).name


@dataclass(frozen=True)
class Expansion:
    """All points of a space, plus how many combinations the constraints left out."""

    points: tuple[Point, ...]
    excluded: int


# the hashes live in spatten_sim.provenance (one implementation for the sweep and the reports)
simulator_fingerprint = code_fingerprint


def point_id(
    config: dict,
    input_sha256: str,
    simulator: str | None = None,
    accuracy: tuple[tuple[str, Any], ...] | None = None,
) -> str:
    """The id of a point: hash of the resolved configuration, the input's content and the
    simulator (:func:`simulator_fingerprint`: another simulator never reuses old results), and
    the space's accuracy request when it has one."""
    sim = simulator if simulator is not None else simulator_fingerprint()
    doc: dict[str, Any] = {"config": config, "input_sha256": input_sha256, "simulator": sim}
    if accuracy is not None:
        doc["accuracy"] = dict(accuracy)
    return hashlib.sha256(canonical_json(doc).encode()).hexdigest()[:ID_LENGTH]


def _base_data(space: Space) -> dict:
    from spatten_sim.config import _read_yaml, find_preset

    p = Path(space.base)
    if not p.is_file():
        preset = find_preset(space.base)
        if preset is None:  # parse_space checked it; the preset folder changed since
            raise SpaceError(f"base: {space.base!r}: no such file or shipped preset")
        p = preset
    return _read_yaml(p.resolve())


def resolve_inputs(space: Space, materialize: Callable[[Recipe], Path] | None) -> list[Path]:
    """The input files of the space; recipes are turned into files by ``materialize``."""
    out: list[Path] = []
    for item in space.inputs:
        if isinstance(item, Recipe):
            if materialize is None:
                raise SpaceError("traces: an extract recipe needs an output folder to cache it in")
            out.append(materialize(item))
        else:
            out.append(item)
    return out


def check_key_exists(key: str, defaults: dict, where: str) -> None:
    """Refuse an axis or ``sets`` key that names no configuration field, before any point
    runs. ``memory.*`` keys are checked against every memory model's fields (the preset may
    change along an axis)."""
    import difflib

    parts = key.split(".")
    if parts[0] == "memory":
        from spatten_sim.hw.dram.config import DramConfig
        from spatten_sim.hw.memory import IdealMemoryConfig

        known = {"preset"} | set(DramConfig.__dataclass_fields__)
        known |= set(IdealMemoryConfig.__dataclass_fields__)
        if len(parts) == 2 and parts[1] in known:
            return
        near = difflib.get_close_matches(parts[-1], sorted(known), n=1)
        hint = f" (did you mean memory.{near[0]}?)" if near else ""
        raise SpaceError(f"{where}: {key}: no such memory model field{hint}")
    node: Any = defaults
    for i, part in enumerate(parts):
        if not isinstance(node, dict) or part not in node:
            options = sorted(node) if isinstance(node, dict) else []
            near = difflib.get_close_matches(part, options, n=1)
            stem = ".".join(parts[:i])
            hint = f" (did you mean {stem + '.' if stem else ''}{near[0]}?)" if near else ""
            raise SpaceError(f"{where}: {key}: no such configuration key{hint}")
        node = node[part]
    if isinstance(node, dict) and parts[0] != "memory":
        raise SpaceError(f"{where}: {key}: a section, not a field (name one of its keys)")


def expand(space: Space, inputs: list[Path], hashes: dict[Path, str] | None = None) -> Expansion:
    """Every (axis combination, input) point of ``space`` that passes the constraints.

    Order: inputs outermost, then the axis product in file order (the last axis varies fastest).
    A combination whose configuration is invalid becomes a point carrying its error (recorded as
    a failure, so the sweep shows it rather than silently dropping it).
    """
    from spatten_sim.config import HwConfig, _deep_merge, apply_sets, config_from_dict

    base = apply_sets(_base_data(space), dict(space.sets))
    defaults = HwConfig().to_dict()
    for key in space.axis_keys:
        check_key_exists(key, defaults, "axes")
    for key, _ in space.sets:
        check_key_exists(key, defaults, "sets")
    trees = [
        (parse_constraint(c, f"constraints[{i}]"), f"constraints[{i}]")
        for i, c in enumerate(space.constraints)
    ]
    hashes = dict(hashes or {})
    combos: list[tuple[tuple[tuple[str, Any], ...], dict | None, str | None, dict]] = []
    excluded = 0
    for values in space.combinations():
        data = apply_sets(base, values)
        try:
            cfg = config_from_dict(data).to_dict()
            err = None
            view = cfg
        except SpattenError as exc:
            cfg, err = None, f"{type(exc).__name__}: {exc}"
            view = _deep_merge(defaults, data)
        if not all(eval_constraint(t, view, where) for t, where in trees):
            excluded += 1
            continue
        combos.append((tuple(values.items()), cfg, err, data))
    if not combos:
        n = space.n_combinations
        raise SpaceError(
            f"constraints: they exclude every one of the {n} combination{'s' if n != 1 else ''} "
            "(nothing would run)"
        )
    errors = [err for _, _, err, _ in combos]
    if all(errors):
        n = len(errors)
        raise SpaceError(
            f"every point is invalid ({n} of {n}; nothing would run), the first: {errors[0]}"
        )
    points: list[Point] = []
    for path in inputs:
        sha = hashes.get(path) or file_sha256(path)
        hashes[path] = sha
        for point_values, cfg, err, data in combos:
            pid = point_id(
                cfg if cfg is not None else {"invalid": data}, sha, accuracy=space.accuracy
            )
            points.append(Point(len(points), pid, str(path), sha, point_values, cfg, err))
    return Expansion(tuple(points), excluded * len(inputs))
