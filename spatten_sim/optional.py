"""Optional packages (pandas, pyarrow): imported when a feature needs them, with a clear error.

>>> require("json", feature="this example", pip="nothing").__name__
'json'
"""

from __future__ import annotations

import importlib
from types import ModuleType

from spatten_sim.errors import MissingDependencyError

__all__ = ["require"]


def require(module: str, *, feature: str, pip: str) -> ModuleType:
    """Import ``module`` or raise :class:`~spatten_sim.errors.MissingDependencyError` (an
    ``ImportError``) saying that ``feature`` needs it and to ``pip install <pip>``."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(
            f"{feature} needs {module}, which is not installed: pip install {pip}"
        ) from None
