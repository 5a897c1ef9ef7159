"""``spatten-sim trace-info``: print a trace's metadata and sizes (for people or as JSON)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HELP = "print a trace's metadata and sizes (human-readable, or JSON with --json)"

DESCRIPTION = """\
Load and validate a v1 trace (docs/trace-format.md) and print its metadata and array sizes.
A bad file gives a one-line error on stderr and exit status 2.

JSON keys: format_version, model, synthetic, causal, n_layers, n_heads, n_kv_heads, head_dim,
tokens, prompt_tokens, generated_tokens, softmax_scale, bias, dtype, model_package,
model_package_version, text_source, sample, tool_version, file_bytes, array_bytes, arrays
({name: {shape, dtype}}), extra.

examples:
  spatten-sim trace-info traces/minilm-sst-25.npz
  spatten-sim trace-info traces/smollm2-wiki-96+16.npz --json -
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE", help="trace file (.npz)")
    parser.add_argument(
        "--json",
        metavar="OUT",
        default=None,
        help="write the information as JSON to OUT ('-' for stdout) instead of the text summary",
    )


def info(path: Path) -> dict[str, Any]:
    """The trace's metadata and sizes as a JSON-ready dict (validates the file)."""
    from dataclasses import asdict

    from spatten_sim.trace import load_trace

    trace = load_trace(path)
    d: dict[str, Any] = asdict(trace.meta)
    arrays = {
        n: a
        for n, a in (("q", trace.q), ("k", trace.k), ("v", trace.v), ("bias", trace.bias),
                     ("token_ids", trace.token_ids))
        if a is not None
    }  # fmt: skip
    d["dtype"] = str(trace.q.dtype)
    d["file_bytes"] = path.stat().st_size
    d["array_bytes"] = trace.nbytes()
    d["arrays"] = {n: {"shape": list(a.shape), "dtype": str(a.dtype)} for n, a in arrays.items()}
    return d


def _human(d: dict[str, Any], path: Path) -> str:
    kind = "synthetic" if d["synthetic"] else "real"
    lines = [
        f"{path}: spatten-sim trace v{d['format_version']} ({kind})",
        f"  model        {d['model']}",
    ]
    if d["model_package"]:
        lines.append(f"  package      {d['model_package']} {d['model_package_version']}")
    lines += [
        f"  text         {d['text_source'] or '-'} (sample {d['sample']})",
        f"  shape        {d['n_layers']} layers x {d['n_heads']} heads "
        f"({d['n_kv_heads']} K/V heads), head_dim {d['head_dim']}",
        f"  tokens       {d['tokens']} = {d['prompt_tokens']} prompt + "
        f"{d['generated_tokens']} generated ({'causal' if d['causal'] else 'bidirectional'})",
        f"  softmax      scale {d['softmax_scale']:.6g}, bias {d['bias']}",
        f"  size         {d['file_bytes']:,} bytes on disk, {d['array_bytes']:,} bytes of arrays",
    ]
    for n, a in d["arrays"].items():
        lines.append(f"    {n:<10} {a['dtype']:<8} {a['shape']}")
    if d["tool_version"]:
        lines.append(f"  made by      spatten-sim {d['tool_version']}")
    if d["extra"].get("command"):
        lines.append(f"  command      {d['extra']['command']}")
    if d["extra"].get("generated_text"):
        lines.append(f"  generated    {d['extra']['generated_text']!r}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from spatten_sim.errors import SpattenError

    d = info(args.file)
    if args.json is None:
        print(_human(d, args.file))
    elif args.json == "-":
        json.dump(d, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        from spatten_sim.files import atomic_write

        try:
            atomic_write(args.json, json.dumps(d, indent=2, sort_keys=True) + "\n", "--json")
        except OSError as exc:
            raise SpattenError(f"cannot write {args.json}: {exc.strerror or exc}") from None
    return 0
