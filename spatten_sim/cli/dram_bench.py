"""``spatten-sim dram-bench``: run an address pattern or trace through the HBM2 model."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from spatten_sim.cli.options import count, finite_float

HELP = "benchmark the DRAM model: bandwidth, latency and row-buffer statistics of a pattern"

DESCRIPTION = """\
Benchmark the bank-level DRAM model on an address pattern or a trace.

HW is a memory preset (hbm2, hbm2-spatten-rtl, hbm2-legacy), a hardware YAML (its memory:
section is used) or the name of a shipped hardware preset. Requests leave in order from cycle 0,
as many per memory cycle as the controllers accept, with at most --outstanding sent and not
completed in the whole memory. Latency runs from the cycle a controller accepts a request to its
last data beat; bandwidth is all bytes over the cycles until the last completion.

examples:
  spatten-sim dram-bench hbm2 --pattern random --requests 1000000
  spatten-sim dram-bench hbm2 --pattern seq --channels 8 --issue-per-cycle 16 --json -
  spatten-sim dram-bench hw_configs/spatten.yaml --pattern trace.txt --set memory.mapping=RoBaRaCoCh-XOR

JSON output: see docs/dram.md (keys bandwidth_gbps, avg_latency_ns, p50_latency_ns,
p99_latency_ns, row_hits, row_misses, row_conflicts, activations, cycles, requests,
wall_seconds, ...).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "hw",
        metavar="HW",
        help="memory preset (hbm2, hbm2-spatten-rtl, hbm2-legacy), hardware YAML, or hardware "
        "preset name",
    )
    parser.add_argument(
        "--pattern",
        default="seq",
        metavar="P",
        help="seq (consecutive requests), random (uniform over the device, seeded), stride:N "
        "(N bytes apart, a multiple of the request size), or FILE: a text trace with one "
        "'LD 0x<hex address>' (or 'ST 0x...') per line, or a .npy array of byte addresses "
        "(default: seq)",
    )
    parser.add_argument(
        "--requests",
        type=count("requests"),
        default=None,
        metavar="N",
        help="number of requests (default 100000 for generated patterns; for a FILE, the "
        "first N requests, default all)",
    )
    parser.add_argument(
        "--outstanding",
        type=count("requests"),
        default=0,
        metavar="N",
        help="at most N requests sent and not completed in the whole memory (default: unlimited)",
    )
    parser.add_argument(
        "--channels",
        type=count("channels"),
        default=None,
        metavar="N",
        help="number of channels (overrides memory.channels; a power of two)",
    )
    parser.add_argument(
        "--issue-per-cycle",
        type=count("requests"),
        default=0,
        metavar="N",
        help="at most N requests sent per memory cycle in all (default: unlimited; "
        "Ramulator 2.1's trace frontend: 16)",
    )
    parser.add_argument(
        "--rate-gbps",
        type=finite_float,
        default=0.0,
        metavar="X",
        help="release requests at X GB/s on average (default: as fast as accepted); "
        "gives one point of a latency-vs-bandwidth curve",
    )
    parser.add_argument(
        "--seed",
        type=count("seed"),
        default=0,
        metavar="S",
        help="seed of the random pattern (default 0)",
    )
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="memory.KEY=VALUE",
        help="override a field of the memory preset, e.g. --set memory.nCL=16 "
        "--set memory.refresh=false (repeatable; fields in docs/dram.md)",
    )
    parser.add_argument(
        "--json",
        metavar="PATH",
        default=None,
        help="write the results as JSON to PATH ('-' for stdout, replacing the text summary)",
    )


def resolve_memory_section(hw: str, sets: list[str]) -> tuple[dict[str, Any], float]:
    """The memory section (and accelerator clock) named by HW plus ``memory.*`` overrides."""
    import yaml

    from spatten_sim.errors import ConfigError, SpattenError
    from spatten_sim.hw.memory import MEMORY_PRESETS
    from spatten_sim.yamlfile import parse_yaml, read_yaml

    clock_ghz = 1.0
    if hw in MEMORY_PRESETS:
        section: dict[str, Any] = {"preset": hw}
    else:
        path = Path(hw)
        section = {}
        loaded = False
        first_error: SpattenError | None = None
        try:
            from spatten_sim.config import load_config

            cfg = load_config(hw)
            section = dict(cfg.memory)
            clock_ghz = float(cfg.clock_ghz)
            loaded = True
        except ImportError:
            pass
        except SpattenError as exc:
            first_error = exc
        if not loaded:
            if not path.is_file():
                if first_error is not None:
                    raise first_error
                raise SpattenError(
                    f"{hw}: not a memory preset ({', '.join(MEMORY_PRESETS)}) nor a YAML file"
                )
            data = read_yaml(path)
            if not isinstance(data, dict) or not isinstance(data.get("memory"), dict):
                if first_error is not None:
                    raise first_error
                raise ConfigError(f"{hw}: no 'memory:' mapping at the top level")
            section = dict(data["memory"])
            if isinstance(data.get("clock_ghz"), (int, float)):
                clock_ghz = float(data["clock_ghz"])
    for item in sets:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key.startswith("memory.") or len(key) <= len("memory."):
            raise ConfigError(f"--set {item}: expected memory.KEY=VALUE")
        name = key[len("memory.") :]
        try:
            value = parse_yaml(text) if text.strip() else text
        except (yaml.YAMLError, ValueError):
            value = text
        if name == "preset" and value != section.get("preset"):
            section = {}
        section[name] = value
    return section, clock_ghz


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from spatten_sim.errors import SpattenError
    from spatten_sim.hw.memory import make_memory

    if args.json is not None and args.json != "-":  # refused before the benchmark, not after
        from spatten_sim.cli.outputs import ensure_writable_file

        ensure_writable_file(args.json, f"--json {args.json}")
    section, clock_ghz = resolve_memory_section(args.hw, list(args.sets))
    if args.channels is not None:
        section["channels"] = args.channels
    if section.get("preset", "hbm2") == "ideal":
        raise SpattenError(
            "dram-bench benchmarks the bank-level presets (hbm2, hbm2-spatten-rtl, hbm2-legacy); "
            "'ideal' has no controller to measure"
        )
    for opt in ("requests", "outstanding", "issue_per_cycle"):
        v = getattr(args, opt)
        if v is not None and v < 0:
            raise SpattenError(f"--{opt.replace('_', '-')}: must be >= 0 (got {v})")
    if not args.rate_gbps >= 0:
        raise SpattenError(f"--rate-gbps: must be >= 0 (got {args.rate_gbps})")
    if args.seed < 0:
        raise SpattenError(f"--seed: must be >= 0 (got {args.seed})")
    mem = make_memory(section, clock_ghz)  # validates the section (ConfigError names the key)
    cfg = mem.cfg  # type: ignore[attr-defined]

    from spatten_sim.hw.dram.bench import pattern_addresses, run_bench

    generated = args.pattern in ("seq", "random") or args.pattern.startswith("stride:")
    n = args.requests if args.requests is not None else (100_000 if generated else 0)
    if generated and n == 0:
        raise SpattenError("--requests: must be >= 1 for a generated pattern")
    addrs, writes = pattern_addresses(args.pattern, n, cfg, seed=args.seed)
    res = run_bench(
        cfg,
        addrs,
        writes,
        outstanding=args.outstanding,
        issue_per_cycle=args.issue_per_cycle,
        rate_gbps=args.rate_gbps,
        pattern=args.pattern,
    )
    out = res.to_dict()
    out["memory_description"] = mem.description
    out["issue_per_cycle"] = args.issue_per_cycle
    out["rate_gbps"] = args.rate_gbps
    import dataclasses

    out["memory_config"] = dataclasses.asdict(cfg)
    if args.json is not None:
        text = json.dumps(out, indent=2, sort_keys=True) + "\n"
        if args.json == "-":
            sys.stdout.write(text)
            return 0
        from spatten_sim.files import atomic_write

        try:
            atomic_write(args.json, text, f"--json {args.json}")
        except OSError as exc:
            raise SpattenError(f"--json {args.json}: cannot write ({exc.strerror})") from None
    total = res.row_hits + res.row_misses + res.row_conflicts
    print(f"memory      {mem.description}")
    print(
        f"pattern     {args.pattern}: {res.requests} requests of {res.request_bytes} B, "
        f"outstanding {'unlimited' if not args.outstanding else args.outstanding}"
    )
    print(
        f"bandwidth   {res.bandwidth_gbps:.2f} GB/s ({100 * res.bandwidth_gbps / res.peak_bandwidth_gbps:.1f}% "
        f"of {res.peak_bandwidth_gbps:g} GB/s) in {res.cycles} cycles"
    )
    print(
        f"latency     mean {res.avg_latency_ns:.1f} ns, p50 {res.p50_latency_ns:.1f} ns, "
        f"p99 {res.p99_latency_ns:.1f} ns, max {res.max_latency_ns:.1f} ns"
    )
    if total:
        print(
            f"row buffer  {res.row_hits} hits ({100 * res.row_hits / total:.1f}%), "
            f"{res.row_misses} misses, {res.row_conflicts} conflicts; {res.activations} ACT, "
            f"{res.precharges} PRE, {res.refreshes} REF"
        )
    print(
        f"speed       {res.requests_per_second:,.0f} requests/s ({res.wall_seconds:.3f} s wall, "
        f"{res.cpu_seconds:.3f} s CPU)"
    )
    return 0
