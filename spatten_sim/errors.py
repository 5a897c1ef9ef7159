"""User-facing errors.

Every problem a user can cause (a bad file, a bad key, an impossible value) is raised as a
:class:`SpattenError` with a one-line message; the CLI prints it to stderr and exits with status 2.
Anything else reaching the CLI is a bug in spatten-sim and is reported as such.
"""

from __future__ import annotations


class SpattenError(Exception):
    """An error caused by the user's input; its message is one line that names the problem."""

    exit_status = 2


class ConfigError(SpattenError):
    """A hardware/algorithm configuration is invalid (the message names the key path)."""


class TraceError(SpattenError):
    """An attention trace file is missing, malformed or inconsistent."""


class WorkloadError(SpattenError):
    """A workload (e.g. an official SpAtten CSV) is malformed."""


class MissingDependencyError(SpattenError, ImportError):
    """An optional package a feature needs is not installed (the message says what to install).

    It is an :class:`ImportError` too, so ``except ImportError`` catches it.
    """
