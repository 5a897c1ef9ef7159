"""The design space of a sweep (``space.yaml``): base configuration, inputs, axes, constraints.

A space file::

    name: topk-comparators              # optional; default: the file's stem
    description: the paper's top-k DSE  # optional
    base: spatten                       # a shipped preset or a YAML path (relative to this file)
    sets:                               # optional fixed overrides, applied before the axes
      memory.preset: hbm2
    traces:                             # files, globs, shipped names, or extraction recipes
      - ../../traces/minilm-sst-25.npz
      - gpt2-small                      # a shipped trace or workload (`spatten-sim presets`)
      - ${DATA}/workloads/*.csv           # ${VAR}: an environment variable
      - {extract: {model: minilm, text: sst, sample: 3, tokens: 64}}
    axes:                               # the cartesian product, in file order
      topk.comparators: [1, 2, 4, 8, 16]            # a list
      buffers.key_sram_bytes: {from: 49152, to: 196608, step: 49152}  # a range (to included)
      memory.channels: {log: {from: 1, to: 16, factor: 2}}           # a log range
    zip:                                # optional: groups of keys that advance together
      - policy.quantization.k_msb_bits: [4, 6, 8]
        policy.quantization.k_lsb_bits: [4, 4, 4]
    constraints:                        # optional: points where one is false are left out
      - policy.quantization.k_msb_bits + policy.quantization.k_lsb_bits <= buffers.word_bits

Axis keys are configuration key paths (as for ``--set``). A log range is ``{from, to, factor}``
(multiply by ``factor`` while <= ``to``) or ``{from, to, num}`` (``num`` log-spaced values; integer
end points give rounded, de-duplicated integers). Constraints are arithmetic/comparison
expressions over any key path of the resolved configuration (``and``, ``or``, ``not``, ``min``,
``max``, ``abs`` allowed); they are evaluated after the base, ``sets`` and the point's values.

Paths are resolved relative to the space file; ``${VAR}`` expands environment variables. A name
with no folder that is not a file there (``minilm-sst-25``, ``gpt2-small``) is a shipped trace or
official workload (:mod:`spatten_sim.shipped`).

Every problem is a :class:`SpattenError` with one line naming the key (``axes.topk.comparators:
...``).
"""

from __future__ import annotations

import ast
import glob
import hashlib
import itertools
import json
import math
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spatten_sim.errors import SpattenError
from spatten_sim.limits import short
from spatten_sim.yamlfile import read_yaml

#: keys a space file may have
SPACE_KEYS = (
    "name",
    "description",
    "base",
    "sets",
    "traces",
    "axes",
    "zip",
    "constraints",
    "accuracy",
)
#: keys of the optional ``accuracy`` section (the options of ``spatten-sim accuracy``)
ACCURACY_KEYS = ("model", "text", "sample", "tokens", "score", "sentences")
ACCURACY_MODELS = ("smollm2", "gemma3", "minilm", "mpnet")
#: keys a trace-extraction recipe may have (the options of ``spatten-sim trace``)
RECIPE_KEYS = ("model", "text", "sample", "tokens", "generate", "dtype")
MAX_POINTS = 100_000


class SpaceError(SpattenError):
    """A space file is invalid (the message names the key)."""


@dataclass(frozen=True)
class Axis:
    """One dimension of the product: one key, or several zipped keys advancing together."""

    keys: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]  #: one tuple (a value per key) per step

    @property
    def name(self) -> str:
        return "+".join(self.keys)


@dataclass(frozen=True)
class Recipe:
    """A trace to extract with ``spatten-sim trace`` before the sweep (cached by its options)."""

    options: tuple[tuple[str, Any], ...]

    @property
    def slug(self) -> str:
        opts = dict(self.options)
        parts = [str(opts.get("model")), Path(str(opts.get("text"))).stem]
        parts += [f"{k}{opts[k]}" for k in ("sample", "tokens", "generate") if k in opts]
        digest = hashlib.sha256(json.dumps(self.options).encode()).hexdigest()[:8]
        return re.sub(r"[^A-Za-z0-9_.+-]", "_", "-".join(parts)) + f"-{digest}"


@dataclass(frozen=True)
class Space:
    """A parsed space file (not yet expanded into points)."""

    name: str
    description: str
    source: Path  #: the space file
    base: str  #: preset name or absolute YAML path
    sets: tuple[tuple[str, Any], ...]
    inputs: tuple[Path | Recipe, ...]  #: resolved files (globs expanded) and recipes, in order
    axes: tuple[Axis, ...]
    constraints: tuple[str, ...] = field(default=())
    #: the ``accuracy`` section as sorted (key, value) pairs, or None: every point is also
    #: measured with ``spatten-sim accuracy`` (its ``accuracy.*`` columns)
    accuracy: tuple[tuple[str, Any], ...] | None = None

    @property
    def axis_keys(self) -> tuple[str, ...]:
        return tuple(k for a in self.axes for k in a.keys)

    def combinations(self) -> Iterator[dict[str, Any]]:
        """Every axis combination (``{key path: value}``), in deterministic product order."""
        for combo in itertools.product(*(a.values for a in self.axes)):
            point: dict[str, Any] = {}
            for axis, vals in zip(self.axes, combo, strict=True):
                point.update(zip(axis.keys, vals, strict=True))
            yield point

    @property
    def n_combinations(self) -> int:
        return math.prod(len(a.values) for a in self.axes)


# ---------------------------------------------------------------------------------------------
# paths
def expand_path(raw: str, base_dir: Path, key: str) -> str:
    """Expand ``${VAR}`` (environment variables) and ``~``; relative to ``base_dir``."""
    env = dict(os.environ)

    def sub(m: re.Match[str]) -> str:
        var = m.group(1) or m.group(2)
        if var not in env:
            raise SpaceError(f"{key}: {raw!r}: environment variable {var} is not set")
        return env[var]

    text = re.sub(r"\$\{(\w+)\}|\$(\w+)", sub, raw)
    p = Path(text).expanduser()
    return str(p if p.is_absolute() else base_dir / p)


# ---------------------------------------------------------------------------------------------
# axes
def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _num(spec: dict, name: str, key: str) -> int | float:
    if name not in spec:
        raise SpaceError(f"{key}: missing '{name}'")
    v = spec[name]
    if not _is_num(v) or not math.isfinite(v):
        raise SpaceError(f"{key}.{name}: expected a number, got {v!r}")
    return v


def _linear_range(spec: dict, key: str) -> list[Any]:
    extra = set(spec) - {"from", "to", "step"}
    if extra:
        raise SpaceError(f"{key}: unknown range key {sorted(extra)[0]!r} (known: from, to, step)")
    lo, hi = _num(spec, "from", key), _num(spec, "to", key)
    step = _num(spec, "step", key) if "step" in spec else 1
    if step <= 0:
        raise SpaceError(f"{key}.step: must be > 0, got {step}")
    if hi < lo:
        raise SpaceError(f"{key}: 'to' ({hi}) is below 'from' ({lo})")
    n = math.floor((hi - lo) / step + 1e-9) + 1
    if n > MAX_POINTS:
        raise SpaceError(f"{key}: {n} values (more than {MAX_POINTS})")
    if all(isinstance(v, int) for v in (lo, step)):
        return [lo + i * step for i in range(n)]
    return [float(round(lo + i * step, 12)) for i in range(n)]


def _log_range(spec: Any, key: str) -> list[Any]:
    if not isinstance(spec, dict):
        raise SpaceError(f"{key}: expected a mapping {{from, to, factor|num}}")
    extra = set(spec) - {"from", "to", "factor", "num"}
    if extra:
        raise SpaceError(
            f"{key}: unknown log-range key {sorted(extra)[0]!r} (known: from, to, factor, num)"
        )
    lo, hi = _num(spec, "from", key), _num(spec, "to", key)
    if lo <= 0 or hi <= 0:
        raise SpaceError(f"{key}: a log range needs from > 0 and to > 0")
    if hi < lo:
        raise SpaceError(f"{key}: 'to' ({hi}) is below 'from' ({lo})")
    if ("factor" in spec) == ("num" in spec):
        raise SpaceError(f"{key}: give exactly one of 'factor' or 'num'")
    ints = isinstance(lo, int) and isinstance(hi, int)
    if "factor" in spec:
        f = _num(spec, "factor", key)
        if f <= 1:
            raise SpaceError(f"{key}.factor: must be > 1, got {f}")
        out: list[Any] = []
        v: float = lo
        while v <= hi * (1 + 1e-12):
            out.append(v)
            v = v * f
            if len(out) > MAX_POINTS:
                raise SpaceError(f"{key}: more than {MAX_POINTS} values")
        if ints and isinstance(f, int):
            return out
        return [float(round(x, 12)) for x in out]
    num = spec["num"]
    if not isinstance(num, int) or isinstance(num, bool) or num < 1 or num > MAX_POINTS:
        raise SpaceError(f"{key}.num: expected an integer 1..{MAX_POINTS}, got {num!r}")
    if num == 1:
        return [lo]
    vals = [
        math.exp(math.log(lo) + i * (math.log(hi) - math.log(lo)) / (num - 1)) for i in range(num)
    ]
    if ints:
        return list(dict.fromkeys(round(v) for v in vals))
    return [float(round(v, 12)) for v in vals]


def parse_axis_values(spec: Any, key: str) -> list[Any]:
    """The values of one axis: a list, ``{from, to, step}`` or ``{log: {from, to, factor|num}}``."""
    if isinstance(spec, list):
        if not spec:
            raise SpaceError(f"{key}: empty list of values")
        return list(spec)
    if isinstance(spec, dict):
        if "log" in spec:
            if len(spec) != 1:
                raise SpaceError(f"{key}: 'log' must be the only key of a log range")
            return _log_range(spec["log"], f"{key}.log")
        if "range" in spec:
            if len(spec) != 1 or not isinstance(spec["range"], dict):
                raise SpaceError(f"{key}: expected range: {{from, to, step}}")
            return _linear_range(spec["range"], f"{key}.range")
        return _linear_range(spec, key)
    raise SpaceError(
        f"{key}: expected a list of values, {{from, to, step}} or {{log: {{from, to, factor}}}}, "
        f"got {spec!r}"
    )


_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def _check_key(k: Any, where: str) -> str:
    if not isinstance(k, str) or not _KEY_RE.match(k):
        raise SpaceError(f"{where}: {k!r} is not a configuration key path (like topk.comparators)")
    return k


# ---------------------------------------------------------------------------------------------
# constraints
_ALLOWED_FUNCS: dict[str, Callable[..., Any]] = {"min": min, "max": max, "abs": abs}
#: the largest integer a constraint may compute (every intermediate value): no ``9 ** 9 ** 9``
MAX_CONSTRAINT_INT_BITS = 256
#: the longest constraint text
MAX_CONSTRAINT_CHARS = 1000


def _operand(v: Any, op: str) -> int | float:
    """An arithmetic operand: a number (never a string or a list: no ``'a' * 10**9``)."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise SpaceError(f"{op}: arithmetic needs numbers, got {type(v).__name__}")
    return v


def _bounded(v: int | float) -> int | float:
    if isinstance(v, int) and v.bit_length() > MAX_CONSTRAINT_INT_BITS:
        raise SpaceError(f"a value has more than {MAX_CONSTRAINT_INT_BITS} bits")
    return v


def _pow(a: Any, b: Any) -> int | float:
    a, b = _operand(a, "**"), _operand(b, "**")
    if isinstance(a, int) and isinstance(b, int) and b > 0:
        bits = max(a.bit_length(), 1) * b  # an upper bound on the result's size
        if bits > MAX_CONSTRAINT_INT_BITS and abs(a) > 1:
            raise SpaceError(f"{a} ** {b} has more than {MAX_CONSTRAINT_INT_BITS} bits")
    elif abs(b) > 1e4:
        raise SpaceError(f"exponent {b} is too large")
    try:
        return a**b
    except OverflowError:
        raise SpaceError(f"{a} ** {b} overflows") from None


def _mul(a: Any, b: Any) -> int | float:
    a, b = _operand(a, "*"), _operand(b, "*")
    if isinstance(a, int) and isinstance(b, int):
        if a.bit_length() + b.bit_length() > MAX_CONSTRAINT_INT_BITS + 1:
            raise SpaceError(f"a product has more than {MAX_CONSTRAINT_INT_BITS} bits")
    return a * b


_BINOPS = {
    ast.Add: lambda a, b: _bounded(_operand(a, "+") + _operand(b, "+")),
    ast.Sub: lambda a, b: _bounded(_operand(a, "-") - _operand(b, "-")),
    ast.Mult: lambda a, b: _bounded(_mul(a, b)),
    ast.Div: lambda a, b: _operand(a, "/") / _operand(b, "/"),
    ast.FloorDiv: lambda a, b: _operand(a, "//") // _operand(b, "//"),
    ast.Mod: lambda a, b: _operand(a, "%") % _operand(b, "%"),
    ast.Pow: lambda a, b: _bounded(_pow(a, b)),
}
_CMPOPS = {
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
}


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else None
    return None


def parse_constraint(text: Any, where: str) -> ast.Expression:
    """Parse a constraint, refusing anything but arithmetic, comparisons and key paths."""
    if not isinstance(text, str) or not text.strip():
        raise SpaceError(f"{where}: expected an expression string, got {short(text)}")
    if len(text) > MAX_CONSTRAINT_CHARS:
        raise SpaceError(f"{where}: longer than {MAX_CONSTRAINT_CHARS} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError):
        raise SpaceError(f"{where}: {short(text)} is not a valid expression") from None
    except (RecursionError, MemoryError):
        raise SpaceError(f"{where}: the expression is nested too deeply") from None
    ok = (
        ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
        ast.BinOp, ast.Compare, ast.Constant, ast.Name, ast.Attribute, ast.Load, ast.Call,
        *_BINOPS, *_CMPOPS,
    )  # fmt: skip
    for node in ast.walk(tree):
        if not isinstance(node, ok):
            raise SpaceError(f"{where}: {text!r}: {type(node).__name__} is not allowed")
        if isinstance(node, ast.Call) and (
            not isinstance(node.func, ast.Name) or node.func.id not in _ALLOWED_FUNCS
        ):
            raise SpaceError(f"{where}: {text!r}: only min, max, abs may be called")
    return tree


def eval_constraint(tree: ast.Expression, config: dict, where: str) -> bool:
    """Evaluate a parsed constraint against a resolved configuration mapping."""

    def lookup(path: str) -> Any:
        node: Any = config
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                raise SpaceError(f"{where}: {path}: no such configuration key")
            node = node[part]
        return node

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.Name, ast.Attribute)):
            path = _dotted(node)
            if path is None:
                raise SpaceError(f"{where}: unsupported name")
            return lookup(path)
        if isinstance(node, ast.BoolOp):
            vals = (ev(v) for v in node.values)
            return all(vals) if isinstance(node.op, ast.And) else any(vals)
        if isinstance(node, ast.UnaryOp):
            v = ev(node.operand)
            if isinstance(node.op, ast.Not):
                return not v
            v = _operand(v, "unary -" if isinstance(node.op, ast.USub) else "unary +")
            return -v if isinstance(node.op, ast.USub) else +v
        if isinstance(node, ast.BinOp):
            return _BINOPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.Compare):
            left = ev(node.left)
            for op, comp in zip(node.ops, node.comparators, strict=True):
                right = ev(comp)
                if not _CMPOPS[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            if node.keywords or not node.args:
                raise SpaceError(f"{where}: {node.func.id}() takes numbers only")
            args = [_operand(ev(a), f"{node.func.id}()") for a in node.args]
            return _ALLOWED_FUNCS[node.func.id](*args)
        raise SpaceError(f"{where}: unsupported expression")  # pragma: no cover

    try:
        return bool(ev(tree))
    except SpaceError as exc:
        msg = str(exc)
        raise SpaceError(msg if msg.startswith(where) else f"{where}: {msg}") from None
    except RecursionError:
        raise SpaceError(f"{where}: the expression is nested too deeply") from None
    except Exception as exc:  # TypeError, ZeroDivisionError ...
        raise SpaceError(f"{where}: {type(exc).__name__}: {exc}") from None


# ---------------------------------------------------------------------------------------------
# inputs
def _parse_inputs(items: Any, base_dir: Path) -> tuple[Path | Recipe, ...]:
    if isinstance(items, str):
        items = [items]
    if not isinstance(items, list) or not items:
        raise SpaceError("traces: expected a non-empty list of files, globs or {extract: ...}")
    out: list[Path | Recipe] = []
    for i, item in enumerate(items):
        where = f"traces[{i}]"
        if isinstance(item, dict):
            if set(item) != {"extract"} or not isinstance(item["extract"], dict):
                raise SpaceError(f"{where}: expected a path or {{extract: {{model: ..., ...}}}}")
            opts = item["extract"]
            for k in opts:
                if k not in RECIPE_KEYS:
                    raise SpaceError(
                        f"{where}.extract.{k}: unknown option (known: {', '.join(RECIPE_KEYS)})"
                    )
            for k in ("model", "text"):
                if k not in opts:
                    raise SpaceError(f"{where}.extract: missing '{k}'")
            out.append(Recipe(tuple(sorted(opts.items()))))
            continue
        if not isinstance(item, str):
            raise SpaceError(f"{where}: expected a path string, got {item!r}")
        pattern = expand_path(item, base_dir, where)
        if glob.has_magic(pattern):
            hits = sorted(glob.glob(pattern))
            if not hits:
                raise SpaceError(f"{where}: {item!r} matches no file")
            paths = [Path(h) for h in hits]
        else:
            paths = [Path(pattern)]
            if not paths[0].exists():
                from spatten_sim.shipped import find_input

                shipped = find_input(item)  # a shipped trace or workload by name
                if shipped is not None:
                    paths = [shipped]
        for p in paths:
            if not p.is_file():
                raise SpaceError(f"{where}: {item!r}: no such file ({p})")
            if p.suffix not in (".npz", ".csv"):
                raise SpaceError(f"{where}: {p.name}: expected a trace (.npz) or workload (.csv)")
            out.append(p.resolve())
    return tuple(dict.fromkeys(out))


def _parse_accuracy(raw: Any) -> tuple[tuple[str, Any], ...]:
    """The ``accuracy`` section: ``{model: smollm2, text: wiki, tokens: 992, score: 128}`` or
    ``{model: minilm, sentences: 200}`` (defaults as ``spatten-sim accuracy``)."""
    if not isinstance(raw, dict):
        raise SpaceError("accuracy: expected a mapping such as {model: smollm2, tokens: 992}")
    for k in raw:
        if k not in ACCURACY_KEYS:
            raise SpaceError(f"accuracy.{k}: unknown option (known: {', '.join(ACCURACY_KEYS)})")
    model = raw.get("model")
    if model not in ACCURACY_MODELS:
        raise SpaceError(
            f"accuracy.model: expected one of {', '.join(ACCURACY_MODELS)}, got {model!r}"
        )
    for k in ("sample", "tokens", "score", "sentences"):
        if k in raw:
            v = raw[k]
            lo = 0 if k == "sample" else 1
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= 1 << 20:
                raise SpaceError(f"accuracy.{k}: expected an integer in {lo}..{1 << 20}, got {v!r}")
    if "text" in raw and not isinstance(raw["text"], str):
        raise SpaceError(f"accuracy.text: expected a text source name or file, got {raw['text']!r}")
    return tuple(sorted(raw.items()))


# ---------------------------------------------------------------------------------------------
def parse_space(data: Any, source: Path) -> Space:
    """Validate a space mapping (from ``source``, used for relative paths and the default name)."""
    if not isinstance(data, dict):
        raise SpaceError(f"{source}: the top level must be a mapping")
    for k in data:
        if k not in SPACE_KEYS:
            raise SpaceError(f"{k}: unknown key (known: {', '.join(SPACE_KEYS)})")
    base_dir = source.parent
    name = data.get("name", source.stem)
    if not isinstance(name, str) or not name:
        raise SpaceError(f"name: expected a string, got {name!r}")
    desc = data.get("description", "")
    if not isinstance(desc, str):
        raise SpaceError("description: expected a string")
    base = data.get("base")
    if not isinstance(base, str) or not base:
        raise SpaceError("base: expected a preset name or a configuration file")
    if base.endswith((".yaml", ".yml")) or "/" in base:
        cand = Path(expand_path(base, base_dir, "base"))
        if cand.is_file():
            base = str(cand.resolve())
    from spatten_sim.config import find_preset

    if not Path(base).is_file() and find_preset(base) is None:
        raise SpaceError(f"base: {data['base']!r}: no such file or shipped preset")

    sets_raw = data.get("sets") or {}
    if not isinstance(sets_raw, dict):
        raise SpaceError("sets: expected a mapping of key paths to values")
    sets = tuple((_check_key(k, "sets"), v) for k, v in sets_raw.items())

    axes: list[Axis] = []
    seen: set[str] = set()

    def add_key(k: str, where: str) -> None:
        if k in seen:
            raise SpaceError(f"{where}: {k} appears twice among the axes")
        seen.add(k)

    axes_raw = data.get("axes") or {}
    if not isinstance(axes_raw, dict):
        raise SpaceError("axes: expected a mapping of key paths to values")
    for k, spec in axes_raw.items():
        _check_key(k, "axes")
        add_key(k, "axes")
        vals = parse_axis_values(spec, f"axes.{k}")
        axes.append(Axis((k,), tuple((v,) for v in vals)))
    zip_raw = data.get("zip") or []
    if not isinstance(zip_raw, list):
        raise SpaceError("zip: expected a list of {key path: [values]} groups")
    for i, group in enumerate(zip_raw):
        where = f"zip[{i}]"
        if not isinstance(group, dict) or len(group) < 1:
            raise SpaceError(f"{where}: expected a mapping of key paths to value lists")
        cols: list[list[Any]] = []
        for k, spec in group.items():
            _check_key(k, where)
            add_key(k, where)
            cols.append(parse_axis_values(spec, f"{where}.{k}"))
        lens = {len(c) for c in cols}
        if len(lens) != 1:
            raise SpaceError(
                f"{where}: zipped keys need the same number of values, got "
                + ", ".join(f"{k}: {len(c)}" for k, c in zip(group, cols, strict=True))
            )
        axes.append(Axis(tuple(group), tuple(zip(*cols, strict=True))))
    for k, _ in sets:
        if k in seen:
            raise SpaceError(f"sets: {k} is also an axis")

    cons_raw = data.get("constraints") or []
    if isinstance(cons_raw, str):
        cons_raw = [cons_raw]
    if not isinstance(cons_raw, list):
        raise SpaceError("constraints: expected a list of expressions")
    cons = []
    for i, c in enumerate(cons_raw):
        parse_constraint(c, f"constraints[{i}]")
        cons.append(c.strip())

    if "traces" not in data:
        raise SpaceError("traces: missing (a list of trace files, globs or {extract: ...})")
    inputs = _parse_inputs(data["traces"], base_dir)
    accuracy = _parse_accuracy(data["accuracy"]) if data.get("accuracy") is not None else None
    space = Space(
        name=name,
        description=desc,
        source=source,
        base=base,
        sets=sets,
        inputs=inputs,
        axes=tuple(axes),
        constraints=tuple(cons),
        accuracy=accuracy,
    )
    if space.n_combinations * len(inputs) > MAX_POINTS:
        raise SpaceError(
            f"axes: {space.n_combinations * len(inputs)} points (more than {MAX_POINTS})"
        )
    return space


def load_space(path: str | Path) -> Space:
    """Read and validate a space file."""
    p = Path(path)
    return parse_space(read_yaml(p, SpaceError), p.resolve())
