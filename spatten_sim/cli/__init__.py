"""The ``spatten-sim`` command line.

Each subcommand lives in its own module of this package and exposes three names:

* ``HELP`` -- one line shown in ``spatten-sim --help``;
* ``add_arguments(parser)`` -- declares its options (with help text for every one);
* ``run(args) -> int`` -- does the work and returns the exit status.

Modules must import only light things at module level (argparse, pathlib): heavy imports (numba,
torch, simpy) go inside ``run`` so that ``spatten-sim --help`` stays instant.

User errors (:class:`spatten_sim.errors.SpattenError`) are printed as one line to stderr and exit
with status 2; nothing a user can cause ends in a traceback. Set ``SPATTEN_SIM_DEBUG=1`` to see the
traceback of an internal error.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from typing import NoReturn

from spatten_sim.errors import SpattenError

#: subcommand name -> module (relative to this package) that implements it
COMMANDS: dict[str, str] = {
    "run": "run",
    "trace": "trace",
    "trace-info": "trace_info",
    "accuracy": "accuracy",
    "dram-bench": "dram_bench",
    "validate": "validate",
    "sweep": "sweep",
    "plot": "plot",
    "report": "report",
    "bench": "bench",
    "presets": "presets",
    "diff": "diff",
}


def _available_commands() -> dict[str, object]:
    mods: dict[str, object] = {}
    for name, modname in COMMANDS.items():
        try:
            mods[name] = importlib.import_module(f"{__name__}.{modname}")
        except ModuleNotFoundError as exc:
            # A subcommand whose module is not written yet is simply not offered.
            if exc.name == f"{__name__}.{modname}":
                continue
            raise
    return mods


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit status 2, like every
    other user error (argparse's own prints the usage block first)."""

    def error(self, message: str) -> NoReturn:
        from spatten_sim.limits import cap_message

        line = cap_message(f"{self.prog}: error: {message} (see {self.prog} --help)")
        self.exit(2, line + "\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with ``command`` (a subcommand about to run) only that
    subcommand declares its options (the others are listed, as in ``--help``, but their
    ``add_arguments`` -- which may import things, e.g. ``bench``'s case list -- is skipped)."""
    from spatten_sim import __version__

    parser = _Parser(
        prog="spatten-sim",
        description=(
            "Cycle-level simulator of the SpAtten attention accelerator (HPCA 2021): cascade "
            "token/head pruning, a parallel top-k engine, progressive MSB/LSB quantization and "
            "HBM2, driven by attention traces from real models."
        ),
    )
    parser.add_argument("--version", action="version", version=f"spatten-sim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, mod in _available_commands().items():
        p = sub.add_parser(
            name,
            help=mod.HELP,  # type: ignore[attr-defined]
            description=getattr(mod, "DESCRIPTION", mod.HELP),  # type: ignore[attr-defined]
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if command is None or name == command:
            mod.add_arguments(p)  # type: ignore[attr-defined]
        p.set_defaults(_run=mod.run)  # type: ignore[attr-defined]
    return parser


def _command_word(argv: list[str] | None) -> str | None:
    """The subcommand the command line names (its first word, if that is one), else None."""
    words = sys.argv[1:] if argv is None else argv
    return words[0] if words and words[0] in COMMANDS else None


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the command in this process; return its exit status. SIGTERM and
    SIGHUP end it like Ctrl-C does (clean-up, one line on stderr, ``128 + signal``) from the
    moment it is called, argument parsing included."""
    from spatten_sim.limits import cap_message
    from spatten_sim.signals import Terminated, handling_termination

    command = _command_word(argv)
    prog = f"spatten-sim {command}" if command else "spatten-sim"

    def say(text: str) -> None:
        print(cap_message(f"{prog}: {text}"), file=sys.stderr)

    try:
        with handling_termination():
            parser = build_parser(command)
            args = parser.parse_args(argv)
            if not getattr(args, "_run", None):
                parser.print_help()
                return 2
            return int(args._run(args) or 0)
    except SpattenError as exc:
        say(f"error: {exc}")
        return exc.exit_status
    except Terminated as exc:
        say(f"terminated ({exc.name})")
        return exc.exit_status
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        if exc.errno is None:  # not from the system: a bug
            return _internal(say, exc)
        # the system refused (disk full, permission, read-only folder): the user's to fix
        where = f": {exc.filename}" if exc.filename else ""
        say(f"error: {exc.strerror or exc}{where}")
        return 2
    except MemoryError:
        say("error: out of memory (the input or the configuration is too large for this machine)")
        return 2
    except Exception as exc:  # an internal error: a bug in spatten-sim, not in the input
        return _internal(say, exc)


def console(argv: list[str] | None = None) -> int:
    """The ``spatten-sim`` process (the console script and ``python -m spatten_sim``): run
    :func:`main`, then let a signal that arrives during the interpreter's shut-down end the
    process at once with ``128 + signal`` (the command's outputs are already complete)."""
    from spatten_sim.limits import cap_message
    from spatten_sim.signals import exit_at_once_on_signal

    command = _command_word(argv)
    prog = f"spatten-sim {command}" if command else "spatten-sim"
    # installed first, so no moment is left uncovered: main() puts its own handlers in place
    # for the command and restores these when it returns
    exit_at_once_on_signal(lambda text: print(cap_message(f"{prog}: {text}"), file=sys.stderr))
    return main(argv)


def _internal(say, exc: BaseException) -> int:
    if os.environ.get("SPATTEN_SIM_DEBUG"):
        traceback.print_exc()
    say(
        f"internal error: {type(exc).__name__}: {exc} "
        "(this is a bug in spatten-sim; set SPATTEN_SIM_DEBUG=1 for the traceback)"
    )
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(console())
