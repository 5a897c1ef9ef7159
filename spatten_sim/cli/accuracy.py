"""``spatten-sim accuracy HW --model M``: what a configuration's decisions cost a real model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spatten_sim.cli.options import count, integer

HELP = "measure a real model's accuracy with the simulator's decisions inside it, and their cost"

DESCRIPTION = """\
Run a real model (CPU, offline) on real text with the simulator's decisions applied inside it,
layer by layer, exactly as the functional phase makes them: token pruning by the configured
policy, head pruning, local V pruning and the MSB/LSB fixed-point Q/K/V with LSB re-fetch. The
next layer computes with the pruned and quantized layer's output, so the accuracy is the pruned
model's. The same decisions are then simulated: cycles, DRAM bytes and energy (docs/accuracy.md).

Decoders (smollm2, gemma3), teacher forced: the text is cut to --tokens prompt tokens plus
--score scored tokens (plus the last target); the prompt is the summarization stage, each scored
token one generation iteration. Reported: perplexity in the loop and of the dense model (its own
forward pass) on the same tokens, with 95 % intervals, and their paired ratio.

Encoders (minilm, mpnet): --sentences labelled sentences (Pang & Lee sentence polarity), each one
summarization pass. Reported: cosine similarity of the pruned and dense sentence embeddings, and
a linear sentiment probe trained on dense embeddings (first 60 %), tested on the rest with dense
and with pruned embeddings. Hardware figures are summed over the sentences.

Needs the [trace] extra (`bash .ci/install-trace-extra.sh`). Models, corpora and results are
cached in $SPATTEN_SIM_CACHE (default ~/.cache/spatten-sim).

examples:
  spatten-sim accuracy spatten --model smollm2 --text wiki --tokens 992 --score 128
  spatten-sim accuracy spatten_llm --model gemma3 --tokens 992 --score 128 --json g.json
  spatten-sim accuracy spatten --model minilm --sentences 400
  spatten-sim accuracy spatten --model smollm2 --set policy.token_pruning.kind=streaming
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("hw", metavar="HW", help="hardware YAML file or shipped preset name")
    p.add_argument(
        "--model",
        required=True,
        choices=["smollm2", "gemma3", "minilm", "mpnet"],
        help="model to run (decoders: smollm2, gemma3; encoders: minilm, mpnet)",
    )
    p.add_argument(
        "--text",
        default="wiki",
        metavar="sst|wiki|reviews|ptb|FILE",
        help="decoders: text source, as for `spatten-sim trace` (default wiki); encoders always "
        "read the labelled sentences",
    )
    p.add_argument(
        "--sample",
        type=integer,
        default=0,
        metavar="N",
        help="first sample of the text (decoders) or first sentence pair (encoders); default 0",
    )
    p.add_argument(
        "--tokens",
        type=count("tokens"),
        default=992,
        metavar="T",
        help="decoders: prompt tokens, the summarization stage (default 992, SpAtten's GPT-2 "
        "setting)",
    )
    p.add_argument(
        "--score",
        type=count("iterations"),
        default=128,
        metavar="S",
        help="decoders: scored continuation tokens, one generation iteration each (default 128)",
    )
    p.add_argument(
        "--sentences",
        type=count("tokens"),
        default=200,
        metavar="N",
        help="encoders: labelled sentences, half positive, half negative (default 200)",
    )
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="override one configuration field (repeatable), e.g. "
        "--set policy.token_pruning.end_keep_ratio=0.5",
    )
    p.add_argument(
        "--json",
        metavar="PATH",
        help="write the result document (accuracy, hardware, request) as JSON ('-' for stdout)",
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="DIR",
        help="also write a run folder: accuracy.json, and for decoders the simulation's "
        "report.json, config.yaml, layers.csv and the loop's trace (trace.npz: the pruned "
        "model's Q/K/V)",
    )
    p.add_argument("--no-cache", action="store_true", help="measure again even if cached")
    p.add_argument("-q", "--quiet", action="store_true", help="print no summary or progress")


def run(args: argparse.Namespace) -> int:
    from spatten_sim.extract.models import require_extra

    require_extra()  # one line naming the install command, before any heavy import
    from spatten_sim.accuracy.measure import cached_accuracy, measure_accuracy
    from spatten_sim.accuracy.run import AccuracyRequest
    from spatten_sim.cli.outputs import ensure_writable_dir, ensure_writable_file
    from spatten_sim.config import load_config
    from spatten_sim.extract.cache import cache_root
    from spatten_sim.files import atomic_write

    cfg = load_config(args.hw, args.sets)
    if args.output:
        ensure_writable_dir(args.output, f"-o {args.output}")
    if args.json and args.json != "-":
        ensure_writable_file(args.json, f"--json {args.json}")
    to_stdout = args.json == "-"

    def progress(msg: str) -> None:
        if not args.quiet:
            print(f"[spatten-sim] {msg}", file=sys.stderr, flush=True)

    req = AccuracyRequest(
        model=args.model,
        text=args.text,
        sample=args.sample,
        prompt_tokens=args.tokens,
        scored_tokens=args.score,
        sentences=args.sentences,
    )
    cache = cache_root()
    if args.output:
        result, run_, report = measure_accuracy(
            cfg, req, cache=cache, progress=progress, keep_run=True
        )
        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write(out / "accuracy.json", result.to_json() + "\n")
        if report is not None:
            from spatten_sim.provenance import resolved_yaml
            from spatten_sim.trace import save_trace

            report.write_dir(out, resolved_yaml(cfg))
            save_trace(run_.trace, out / "trace.npz")  # type: ignore[union-attr]
        progress(f"wrote {out}")
    elif args.no_cache:
        result = measure_accuracy(cfg, req, cache=cache, progress=progress)[0]
    else:
        result = cached_accuracy(cfg, req, cache=cache, progress=progress)
    if args.json and not to_stdout:
        atomic_write(args.json, result.to_json() + "\n")
    if not args.quiet:
        print(result.summary(), file=sys.stderr if to_stdout else sys.stdout)
    if to_stdout:
        sys.stdout.write(result.to_json() + "\n")
    return 0
