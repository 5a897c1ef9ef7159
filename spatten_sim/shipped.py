"""The data that ships with spatten-sim, found by name from any working directory.

Three kinds of files ship beside the code:

* **presets** -- hardware configurations (``spatten``, ``dense``, ``spatten_rtl``, the ablation
  steps ``ablation/1_dedicated`` ...) and the example sweep spaces (``sweeps/kv_sram``);
* **traces** -- small real attention traces (``minilm-sst-25`` ...; ``docs/trace-format.md``);
* **official workloads** -- the two workload CSVs of the official SpAtten release (MIT, licence
  file beside them; ``docs/spatten.md`` §6): ``gpt2-small`` and ``gpt2-medium``.

In a git checkout they are the folders ``hw_configs/``, ``traces/`` and ``traces/official/`` at
the top of the repository; in an installed wheel the same trees live under
``spatten_sim/data/hw_configs`` and ``spatten_sim/data/traces`` (``pyproject.toml`` maps the
folders into the package), so relative paths between them (a sweep space's
``../../traces/x.npz``) resolve the same way in both. The installed copy is looked up first.

Everything here is a pure function of the file system; nothing is cached.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spatten_sim.errors import SpattenError

_PKG = Path(__file__).resolve().parent

#: short names of the official workload CSVs (``traces/official/``)
OFFICIAL_WORKLOADS: dict[str, str] = {
    "gpt2-small": "summary-gpt2-small-wikitext2-per8.csv",
    "gpt2-medium": (
        "summary-gpt2-medium-wikitext2-per0-hp-step5+dedic+glob_p+local_p+hp+topk+quant.csv"
    ),
}
OFFICIAL_LICENSE = "LICENSE-official-workloads.txt"


def _roots() -> tuple[Path, ...]:
    """Folders that may hold ``hw_configs/`` and ``traces/``: the wheel's, then the checkout's."""
    roots = [_PKG / "data"]
    checkout = _PKG.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "spatten_sim").is_dir():
        roots.append(checkout)
    return tuple(roots)


def _first_dir(name: str) -> Path | None:
    for r in _roots():
        d = r / name
        if d.is_dir():
            return d
    return None


def presets_dir() -> Path | None:
    """The shipped ``hw_configs/`` folder, or None (a broken install)."""
    return _first_dir("hw_configs")


def traces_dir() -> Path | None:
    """The shipped ``traces/`` folder, or None."""
    return _first_dir("traces")


def official_dir() -> Path | None:
    """The folder of the official workload CSVs (``traces/official/``), or None."""
    d = traces_dir()
    return d / "official" if d is not None and (d / "official").is_dir() else None


@dataclass(frozen=True)
class Shipped:
    """One shipped file: its kind, the name it is found by and its path."""

    kind: str  #: "preset" | "sweep" | "trace" | "workload"
    name: str
    path: Path
    description: str = ""


def _yaml_title(p: Path) -> str:
    """The first comment line of a YAML file (its one-line description), or ''."""
    try:
        with p.open(encoding="utf-8") as f:
            for line in f:
                s = line.strip()
                if s.startswith("#"):
                    return s.lstrip("#").strip()
                if s:
                    return ""
    except OSError:
        return ""
    return ""


def list_shipped() -> list[Shipped]:
    """Every shipped preset, sweep space, trace and official workload, sorted within a kind."""
    out: list[Shipped] = []
    pd = presets_dir()
    if pd is not None:
        for p in sorted(pd.rglob("*.yaml")):
            rel = p.relative_to(pd).with_suffix("").as_posix()
            kind = "sweep" if rel.startswith("sweeps/") else "preset"
            out.append(Shipped(kind, rel, p, _yaml_title(p)))
    td = traces_dir()
    if td is not None:
        for p in sorted(td.glob("*.npz")):
            out.append(Shipped("trace", p.stem, p))
    od = official_dir()
    if od is not None:
        for short, fname in OFFICIAL_WORKLOADS.items():
            if (od / fname).is_file():
                out.append(Shipped("workload", short, od / fname, fname))
    out.sort(key=lambda s: ("preset", "sweep", "trace", "workload").index(s.kind))
    return out


def find_preset(name: str) -> Path | None:
    """A shipped preset by name (``spatten``, ``spatten.yaml``, ``ablation/1_dedicated``)."""
    d = presets_dir()
    if d is None or not name or Path(name).is_absolute() or ".." in Path(name).parts:
        return None
    fname = name if name.endswith((".yaml", ".yml")) else f"{name}.yaml"
    p = d / fname
    return p if p.is_file() else None


def find_sweep(name: str) -> Path | None:
    """A shipped sweep space by name (``kv_sram`` or ``sweeps/kv_sram``)."""
    base = name.removeprefix("sweeps/")
    return find_preset(f"sweeps/{base}") if base else None


def find_input(name: str) -> Path | None:
    """A shipped trace or official workload by name, or None.

    Accepted: a trace's stem (``minilm-sst-25``) or file name (``minilm-sst-25.npz``), an official
    workload's short name (``gpt2-small``, ``gpt2-medium``) or its CSV file name.
    """
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        return None
    td = traces_dir()
    if td is not None:
        stem = name.removesuffix(".npz")
        p = td / f"{stem}.npz"
        if p.is_file():
            return p
    od = official_dir()
    if od is not None:
        fname = OFFICIAL_WORKLOADS.get(name, name)
        p = od / fname
        if fname.endswith(".csv") and p.is_file():
            return p
    return None


def official_workload(short: str) -> Path | None:
    """An official workload CSV by short name (``gpt2-small``) or file name, or None."""
    od = official_dir()
    if od is None:
        return None
    p = od / OFFICIAL_WORKLOADS.get(short, short)
    return p if p.is_file() else None


def resolve_input(path: str | Path) -> Path:
    """``path`` if it exists, else the shipped trace or workload of that name.

    Raises :class:`SpattenError` (one line) when it is neither, or when ``path`` exists but is
    not a regular file (a folder; a FIFO or a device, which reading would block on).
    """
    p = Path(path)
    if p.exists():
        if not p.is_file():  # a folder, or a FIFO or device that reading would block on
            raise SpattenError(f"{path}: not a regular file (expected a trace or a workload CSV)")
        return p
    found = find_input(str(path))
    if found is not None:
        return found
    raise SpattenError(
        f"{path}: no such file or shipped trace/workload (`spatten-sim presets` lists them)"
    )
