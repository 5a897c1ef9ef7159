"""Writing result files so that a failure, a kill or a signal never leaves a partial one behind.

Every file spatten-sim writes goes through :func:`atomic_write` or :func:`atomic_output`:

* the data goes to a temporary file beside the target (``.NAME.PID.tmp``) and is renamed into
  place, so a reader sees the old file or the whole new one, never a part;
* the temporary file is removed when the write fails or is interrupted (an exception, Ctrl-C, or
  SIGTERM, which the CLI turns into an exception); one left by a process that was SIGKILLed is
  removed by the next write to the same target, once its PID is gone;
* an output path that is a symbolic link is written *through*: the link stays, its target is
  replaced (atomically, beside the target);
* a FIFO, a device, a socket or a folder is refused with a one-line
  :class:`~spatten_sim.errors.SpattenError` (``-`` is how a command writes to stdout).
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from spatten_sim.errors import SpattenError

_TMP_SUFFIX = ".tmp"


def output_target(path: str | Path, option: str | None = None) -> Path:
    """The regular file a write to ``path`` replaces: ``path`` itself, or the end of its chain
    of symbolic links. Raises :class:`SpattenError` for a FIFO, device, socket or folder."""
    p = Path(path)
    label = option or str(p)
    if p.is_symlink():
        try:
            p = Path(os.path.realpath(p))
        except (OSError, RuntimeError) as exc:  # a link loop
            raise SpattenError(f"{label}: cannot follow the symbolic link ({exc})") from None
    try:
        st = p.stat()
    except FileNotFoundError:
        return p
    except OSError as exc:
        raise SpattenError(f"{label}: cannot write to {p} ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise SpattenError(f"{label}: {p} is a folder, expected a file name")
    if not stat.S_ISREG(st.st_mode):
        kind = (
            "a FIFO"
            if stat.S_ISFIFO(st.st_mode)
            else "a socket"
            if stat.S_ISSOCK(st.st_mode)
            else "a device"
        )
        raise SpattenError(
            f"{label}: {p} is {kind}, not a regular file (use '-' to write to stdout, or leave "
            "the option out to write nothing)"
        )
    return p


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(target: Path) -> None:
    """Remove ``.NAME.PID.tmp`` files beside ``target`` whose process no longer exists."""
    prefix = f".{target.name}."
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return
    for e in entries:
        n = e.name
        if not (n.startswith(prefix) and n.endswith(_TMP_SUFFIX)):
            continue
        pid = n[len(prefix) : -len(_TMP_SUFFIX)]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            with contextlib.suppress(OSError):
                e.unlink()


def temporary_path(target: Path) -> Path:
    """The temporary name a write to ``target`` uses (beside it, named for this process)."""
    return target.with_name(f".{target.name}.{os.getpid()}{_TMP_SUFFIX}")


@contextlib.contextmanager
def atomic_output(path: str | Path, option: str | None = None) -> Iterator[Path]:
    """A temporary path to write ``path``'s content to; renamed into place when the block ends
    normally, removed when it raises (including KeyboardInterrupt and SystemExit).

    The target's folder is created here, when there is something to write (commands check
    their outputs before the work and create nothing until it is done).
    """
    target = output_target(path, option)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SpattenError(
            f"{option or path}: cannot write to {target.parent} ({exc.strerror or exc})"
        ) from None
    remove_stale_temporaries(target)
    tmp = temporary_path(target)
    try:
        yield tmp
        if not tmp.exists():
            raise SpattenError(f"{option or path}: nothing was written")  # pragma: no cover
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write(path: str | Path, data: str | bytes, option: str | None = None) -> Path:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` atomically (see the module doc).

    Returns the path given (a symbolic link stays a link; its target holds the data).
    """
    with atomic_output(path, option) as tmp:
        mode = "wb" if isinstance(data, bytes) else "w"
        kw = {} if isinstance(data, bytes) else {"encoding": "utf-8", "newline": ""}
        with open(tmp, mode, **kw) as f:  # type: ignore[call-overload]
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    return Path(path)
