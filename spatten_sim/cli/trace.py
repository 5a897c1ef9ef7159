"""``spatten-sim trace``: extract an attention trace from a real model on real text."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from spatten_sim.cli.options import count, integer

HELP = "extract an attention trace (Q/K/V per layer) from a real model on real text"

DESCRIPTION = """\
Run a real pretrained model (CPU, offline) on real text and write a v1 trace (docs/trace-format.md):
per layer Q, K, V (Q/K after rotary embeddings), MPNet's relative-position bias or Gemma 3's
sliding window (as a bias), the token ids and the metadata. Decoders first generate --generate
tokens greedily after a --tokens-token prompt; the trace then holds the prompt (summarization) and
every generated token (generation iterations).

Needs the [trace] extra: `bash .ci/install-trace-extra.sh` (torch 2.13.0 CPU, transformers, and the
model packages installed with --no-deps). Corpora and de-quantized weights are cached in
$SPATTEN_SIM_CACHE (default ~/.cache/spatten-sim); only the first run fetches or converts them.

models:
  minilm   all-MiniLM-L6-v2 (BERT encoder, 6 layers x 12 heads, head size 32)
  mpnet    all-mpnet-base-v2 (MPNet encoder, 12 x 12, head size 64, relative-position bias)
  smollm2  SmolLM2-135M-Instruct (Llama decoder, 30 layers, 9 query / 3 K/V heads, RoPE)
  gemma3   Gemma 3 270M (Gemma 3 decoder, 18 layers, 4 query / 1 K/V head, head size 256,
           RoPE, 512-token sliding window in 15 layers; Gemma terms of use)
texts:
  sst      Rotten Tomatoes snippets (SST's source), one sentence per sample
  wiki     English Wikipedia paragraphs (gensim test data)
  reviews  full movie reviews (Pang & Lee), ~800 tokens each
  ptb      Penn Treebank WSJ sentences (read at run time only; never commit PTB traces' text)
  FILE     a UTF-8 text file, one sample per blank-line separated paragraph

examples:
  spatten-sim trace --model minilm --text sst --sample 0 -o minilm-sst.npz
  spatten-sim trace --model mpnet --text wiki --sample 3 --tokens 128 -o mpnet-wiki-128.npz
  spatten-sim trace --model smollm2 --text wiki --sample 0 --tokens 992 --generate 32 -o gen.npz
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        required=True,
        choices=["minilm", "mpnet", "smollm2", "gemma3"],
        help="model to run",
    )
    parser.add_argument(
        "--text",
        required=True,
        metavar="sst|wiki|reviews|ptb|FILE",
        help="text source: a corpus name or a path to a UTF-8 text file",
    )
    parser.add_argument(
        "--sample",
        type=integer,
        default=0,
        metavar="N",
        help="index of the sample (sentence, paragraph, review) to start from (default 0)",
    )
    parser.add_argument(
        "--tokens",
        type=count("tokens"),
        default=None,
        metavar="T",
        help="cut the input to exactly T tokens, appending the following samples if the sample "
        "is shorter (encoders: T includes the special tokens; decoders: T is the prompt); "
        "default: the whole sample",
    )
    parser.add_argument(
        "--generate",
        type=count("iterations"),
        default=0,
        metavar="G",
        help="decoders: tokens to generate greedily after the prompt (default 0)",
    )
    parser.add_argument(
        "--dtype",
        choices=["float16", "float32"],
        default="float16",
        help="precision of the stored arrays (default float16)",
    )
    parser.add_argument(
        "-o", "--output", required=True, type=Path, metavar="OUT.npz", help="trace file to write"
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="do not draw progress bars on stderr"
    )


def run(args: argparse.Namespace) -> int:
    from spatten_sim.errors import SpattenError
    from spatten_sim.extract.models import require_extra

    require_extra()  # one line naming the install command, before any heavy import
    from spatten_sim.cli.outputs import ensure_writable_file

    ensure_writable_file(args.output, f"-o {args.output}")  # before the model runs

    from spatten_sim.extract.cache import cache_root
    from spatten_sim.extract.extractor import ExtractRequest, extract
    from spatten_sim.trace import save_trace

    command = "spatten-sim trace " + " ".join(
        shlex.quote(a)
        for a in [
            "--model", args.model, "--text", args.text, "--sample", str(args.sample),
            *(["--tokens", str(args.tokens)] if args.tokens is not None else []),
            *(["--generate", str(args.generate)] if args.generate else []),
            "--dtype", args.dtype, "-o", args.output.name,
        ]
    )  # fmt: skip
    req = ExtractRequest(
        model=args.model,
        text=args.text,
        sample=args.sample,
        tokens=args.tokens,
        generate=args.generate,
        dtype=args.dtype,
        command=command,
    )
    result = extract(req, cache_root(), progress=not args.no_progress)
    try:
        path = save_trace(result.trace, args.output)
    except OSError as exc:
        raise SpattenError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    m = result.trace.meta
    secs = ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items())
    print(
        f"wrote {path}: {m.model}, {m.tokens} tokens ({m.prompt_tokens} prompt + "
        f"{m.generated_tokens} generated), {path.stat().st_size / 1e6:.2f} MB ({secs})",
        file=sys.stderr,
    )
    return 0
