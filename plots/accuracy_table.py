"""Measure the policy table of docs/accuracy.md (needs the [trace] extra).

    python plots/accuracy_table.py               # every row (about 30 min on 2 cores)
    python plots/accuracy_table.py --model minilm   # one model's rows

Each row is one ``spatten-sim accuracy`` run (the command is printed beside it): a model, a text,
a preset (the token-pruning policies at matched kept-token budgets, plus dense and the paper's
cascade). Results are written to ``plots/data/accuracy/<model>-<row>.json`` (the command's
``--json`` document) and the Markdown table to ``plots/data/accuracy/table.md``. Measurements are
cached in the user cache folder (by configuration, model, text and code), so a re-run after a
change elsewhere re-measures only what the change touched.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "data" / "accuracy"

DECODER_ARGS = ["--text", "wiki", "--sample", "0", "--tokens", "992", "--score", "128"]
ENCODER_ARGS = ["--sentences", "200"]
#: the rows: (label, preset, --set overrides); encoders run the KV-cache kinds in summarization
DECODER_ROWS = [
    ("dense", "dense", []),
    ("cascade (spatten)", "spatten", []),
    ("spatten_llm", "spatten_llm", []),
    ("h2o", "h2o", []),
    ("streaming", "streaming", []),
]
ENCODER_ROWS = [
    ("dense", "dense", []),
    ("cascade (spatten)", "spatten", []),
    ("spatten_llm", "spatten_llm", ["policy.token_pruning.in_summarization=true"]),
    ("streaming", "streaming", ["policy.token_pruning.in_summarization=true"]),
]
MODELS = {"smollm2": "decoder", "gemma3": "decoder", "minilm": "encoder"}


def command(model: str, preset: str, sets: list[str]) -> list[str]:
    args = DECODER_ARGS if MODELS[model] == "decoder" else ENCODER_ARGS
    return [
        "spatten-sim", "accuracy", preset, "--model", model, *args,
        *[a for s in sets for a in ("--set", s)],
    ]  # fmt: skip


def measure(model: str, preset: str, sets: list[str]) -> dict:
    from spatten_sim.cli import main

    OUT.mkdir(parents=True, exist_ok=True)
    tag = preset + "".join(f"+{s.split('.')[-1]}" for s in sets)
    path = OUT / f"{model}-{tag}.json"
    argv = [*command(model, preset, sets)[1:], "--json", str(path), "-q"]
    if main(argv) != 0:
        raise SystemExit(f"failed: {shlex.join(command(model, preset, sets))}")
    return json.loads(path.read_text())


def row_text(label: str, doc: dict, dense: dict | None) -> str:
    a, h = doc["accuracy"], doc["hardware"]
    if a["metric"] == "perplexity":
        lo, hi = a["perplexity_ratio_ci95"]
        acc = f"{a['perplexity']:.2f} | {a['perplexity_ratio']:.3f} ({lo:.3f} .. {hi:.3f})"
    else:
        lo, hi = a["embedding_cosine_ci95"]
        acc = (
            f"{a['embedding_cosine']:.4f} ({lo:.4f} .. {hi:.4f}) | "
            f"{a['probe_pruned_accuracy'] * 100:.1f} %"
        )
    rel = ""
    if dense is not None:
        d = dense["hardware"]
        rel = f" | {d['seconds'] / h['seconds']:.2f}x | {d['energy_pj'] / h['energy_pj']:.2f}x"
    return (
        f"| {label} | {acc} | {h['tokens_kept_fraction'] * 100:.1f} % | "
        f"{h['dram_bytes_read'] / 1e6:,.1f} | {h['cycles']:,} | {h['energy_pj'] / 1e6:,.1f}{rel} |"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", action="append", choices=sorted(MODELS), default=[])
    args = ap.parse_args(argv)
    models = args.model or list(MODELS)
    lines: list[str] = []
    for model in models:
        rows = DECODER_ROWS if MODELS[model] == "decoder" else ENCODER_ROWS
        docs = []
        for label, preset, sets in rows:
            t0 = time.monotonic()
            doc = measure(model, preset, sets)
            print(f"[accuracy_table] {model} {label}: {time.monotonic() - t0:.0f} s",
                  file=sys.stderr, flush=True)  # fmt: skip
            docs.append((label, preset, sets, doc))
        first = docs[0][3]
        if MODELS[model] == "decoder":
            r = first["request"]
            lines += [
                f"**{first['model']}**, {r['prompt_tokens']} prompt + {r['scored_tokens']} scored "
                f"tokens of {first['text_source'].split(':')[0]} sample {r['sample']}; dense "
                f"perplexity {first['accuracy']['dense_perplexity']:.2f}",
                "",
                "| policy | perplexity | ratio to dense (95 % CI) | tokens kept | DRAM read (MB) "
                "| cycles | energy (µJ) | speed-up | energy saving |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            ]
        else:
            lines += [
                f"**{first['model']}**, {first['accuracy']['sentences']} labelled sentences "
                f"({first['accuracy']['mean_tokens']:.1f} tokens on average); probe dense "
                f"accuracy {first['accuracy']['probe_dense_accuracy'] * 100:.1f} %",
                "",
                "| policy | embedding cosine (95 % CI) | probe accuracy | tokens kept | DRAM read "
                "(MB) | cycles | energy (µJ) | speed-up | energy saving |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            ]
        dense = next((d for lab, _, _, d in docs if lab == "dense"), None)
        lines += [row_text(label, doc, dense) for label, _, _, doc in docs]
        lines += ["", "Commands:", "", "```bash"]
        lines += [shlex.join(command(model, p, s)) for _, p, s, _ in docs]
        lines += ["```", ""]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "table.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
