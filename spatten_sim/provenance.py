"""Where a result came from: the ``provenance`` section of every report.

:func:`build_provenance` records which simulator (version, a fingerprint of its code, the git
commit of its checkout), which input (the SHA-256 of the file's bytes) and which configuration
(every field resolved, with its SHA-256) produced a report, plus how it was asked for (the ``--set``
overrides, the command line) and when. ``spatten_sim.pipeline.simulate`` puts it in every report;
the sweep table copies its identifying fields; ``spatten-sim diff`` reads it to tell a change of
simulator or input from a change of configuration. docs/report.md documents every key.

Like the report's ``sim`` section, ``provenance`` is *not* a deterministic function of the inputs
(``timestamp``, ``command_line``): comparisons of results leave both sections out.

This module is also the single home of the hashes the sweep keys its points by
(:func:`file_sha256`, :func:`canonical_json`, :func:`code_fingerprint`).
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import hashlib
import json
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spatten_sim.config import HwConfig

#: hex digits kept of the code fingerprint (and of sweep point ids)
FINGERPRINT_LENGTH = 16

#: package folders and modules that do not change a simulation's result (the sweep machinery,
#: figures, CLI, extraction, validation, and the provenance/diff bookkeeping itself)
NOT_MODEL = ("sweep", "plots", "cli", "extract", "validate", "provenance.py", "diff.py")

#: provenance keys naming the simulator (a change means another simulator produced the result)
SIMULATOR_KEYS = ("version", "code_fingerprint", "git_commit")
#: provenance keys naming the input
INPUT_KEYS = ("input_sha256",)
#: provenance keys that differ between two runs of the same thing (not a difference of results)
VOLATILE_KEYS = ("timestamp", "command_line", "sets", "environment")


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def canonical_json(obj: Any) -> str:
    """Key-sorted, compact JSON: the form every configuration hash is taken of."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True)


def _package_root() -> Path:
    import spatten_sim

    return Path(spatten_sim.__file__).resolve().parent


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Hash of the simulator's code and data files and its version (hex, 16 digits).

    Covers ``spatten_sim/**/*.py`` and the package's ``.yaml``/``.yml``/``.json``/``.csv`` files
    (the shipped energy tables), without the packages and modules of :data:`NOT_MODEL`: two
    simulators with the same fingerprint give the same results. Computed once per process.
    """
    import spatten_sim

    root = _package_root()
    h = hashlib.sha256(spatten_sim.__version__.encode())
    files = sorted(
        p
        for p in root.rglob("*")
        if p.suffix in (".py", ".yaml", ".yml", ".json", ".csv")
        and p.is_file()
        and p.relative_to(root).parts[0] not in NOT_MODEL
        and "__pycache__" not in p.parts
    )
    for p in files:
        h.update(p.relative_to(root).as_posix().encode() + b"\0")
        h.update(p.read_bytes())
    return h.hexdigest()[:FINGERPRINT_LENGTH]


def _git(cwd: Path, *args: str) -> str | None:
    """Output of one git command (stripped), or None when git fails or is not installed."""
    try:
        out = subprocess.run(
            ["git", "-C", str(cwd), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The commit of the git checkout the package runs from, ``+dirty`` when tracked files have
    uncommitted changes; None when the package is not in a git checkout (an installed wheel) or
    git is unavailable. Never raises, prints nothing; computed once per process."""
    root = _package_root()
    # the package must be tracked by that checkout (not an install inside someone's repository)
    if _git(root, "ls-files", "--error-unmatch", "__init__.py") is None:
        return None
    head = _git(root, "rev-parse", "HEAD")
    if not head:
        return None
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    return f"{head}+dirty" if status else head


@functools.lru_cache(maxsize=1)
def environment() -> dict[str, str | None]:
    """Versions of Python and of the packages whose arithmetic the results rest on."""
    from importlib import metadata

    env: dict[str, str | None] = {"python": ".".join(map(str, sys.version_info[:3]))}
    for name in ("numpy", "numba", "simpy"):
        version = getattr(sys.modules.get(name), "__version__", None)  # imported: cheap
        if not isinstance(version, str):
            try:
                version = metadata.version(name)
            except metadata.PackageNotFoundError:
                version = None
        env[name] = version
    return env


def utc_timestamp() -> str:
    """Now, in UTC, ISO 8601 to the second: ``2026-12-01T09:30:00Z``."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def resolved_memory(section: Mapping[str, Any]) -> dict[str, Any]:
    """The ``memory`` section with every field of its model resolved from the preset.

    ``{"preset": "hbm2", "nCL": 16}`` becomes ``{"preset": "hbm2", "name": ..., "channels": 16,
    ..., "nCL": 16, ...}``: every organisation, timing, controller and mapping field the model
    runs with. Loading the result again gives the same memory (the function is idempotent).
    Raises :class:`~spatten_sim.errors.ConfigError` for a section the memory model refuses.
    """
    from spatten_sim.errors import ConfigError
    from spatten_sim.hw.memory import (
        DEFAULT_MEMORY_PRESET,
        MEMORY_PRESETS,
        IdealMemoryConfig,
        make_memory,
    )

    sec = dict(section)
    preset = sec.pop("preset", DEFAULT_MEMORY_PRESET)
    if preset == "ideal":
        make_memory({"preset": preset, **sec})  # validates (names memory.<key>)
        return {"preset": preset, **dataclasses.asdict(IdealMemoryConfig(**sec))}
    from spatten_sim.hw.dram import DRAM_PRESETS, config_with_overrides

    if preset not in DRAM_PRESETS:
        raise ConfigError(
            f"memory.preset: unknown memory model {preset!r} (known: {', '.join(MEMORY_PRESETS)})"
        )
    dram = config_with_overrides(DRAM_PRESETS[preset], sec)  # validates (names memory.<key>)
    return {"preset": preset, **dataclasses.asdict(dram)}


def resolved_config(cfg: HwConfig) -> dict[str, Any]:
    """Every field of ``cfg`` as plain data, the ``memory`` section resolved
    (:func:`resolved_memory`): what ``config.yaml`` of a run folder and ``provenance.config``
    hold, loadable again as a hardware configuration."""
    data = cfg.to_dict()
    data["memory"] = resolved_memory(data.get("memory") or {})
    return data


def resolved_yaml(cfg: HwConfig) -> str:
    """:func:`resolved_config` as YAML (the ``config.yaml`` of a run folder)."""
    import yaml

    return yaml.safe_dump(resolved_config(cfg), sort_keys=False)


def config_sha256(resolved: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON (:func:`canonical_json`) of a resolved configuration."""
    return hashlib.sha256(canonical_json(resolved).encode()).hexdigest()


def sets_list(sets: Iterable[str] | Mapping[str, Any]) -> list[str]:
    """``--set`` overrides as ``KEY.PATH=VALUE`` strings (a mapping's values as JSON, which
    ``--set`` reads back as YAML)."""
    if isinstance(sets, Mapping):
        return [f"{k}={json.dumps(v)}" for k, v in sets.items()]
    return [str(s) for s in sets]


def _input_sha256(input_path: str | Path) -> str | None:
    p = Path(input_path)
    try:
        if not p.is_file():
            from spatten_sim.shipped import resolve_input

            p = resolve_input(input_path)
        return file_sha256(p)
    except Exception:  # not a readable file (a workload handed in without one): unknown
        return None


def build_provenance(
    cfg: HwConfig,
    input_path: str | Path,
    *,
    sets: Iterable[str] | Mapping[str, Any] = (),
    extra: Mapping[str, Any] | None = None,
    timestamp: str | None = None,
) -> dict[str, Any]:
    """The ``provenance`` section of a report of ``cfg`` on ``input_path``.

    ``extra`` entries are added last and replace computed ones of the same name: a caller that
    already knows ``input_sha256`` (a sweep) saves hashing the file again; the CLI passes
    ``sets`` and ``command_line``. Keys (docs/report.md): ``version``, ``code_fingerprint``,
    ``git_commit``, ``input_sha256``, ``config``, ``config_sha256``, ``seed``, ``sets``,
    ``command_line``, ``timestamp``, ``environment``.
    """
    import spatten_sim

    extra = dict(extra or {})
    resolved = resolved_config(cfg)
    sha = extra["input_sha256"] if "input_sha256" in extra else _input_sha256(input_path)
    prov: dict[str, Any] = {
        "version": spatten_sim.__version__,
        "code_fingerprint": code_fingerprint(),
        "git_commit": git_commit(),
        "input_sha256": sha,
        "config": resolved,
        "config_sha256": config_sha256(resolved),
        "seed": cfg.policy.topk_seed,
        "sets": sets_list(sets),
        "command_line": list(sys.argv),
        "timestamp": timestamp or utc_timestamp(),
        "environment": dict(environment()),
    }
    for k, v in extra.items():
        if k == "sets":
            v = sets_list(v)
        elif k == "command_line":
            v = [str(a) for a in v]
        prov[k] = v
    return prov
