"""Kernels compiled with numba (`deskew_cpu`, `rectify_cpu`), loaded on first use.

Each mirrors torch or numpy code that stays beside it and gives the same results. Where numba
cannot load a kernel (no build for the platform, no writable cache), that code runs instead, slower,
and a warning says why.
"""

from __future__ import annotations

import importlib
import warnings
from functools import cache
from types import ModuleType


@cache
def kernels(module: str) -> ModuleType | None:
    """plateocr.data.`module`, imported (and on a machine's first run compiled) now, or None where
    it cannot load. Processes forked after this inherit it."""
    try:
        return importlib.import_module(f"{__package__}.{module}")
    except Exception as exc:  # numba's failures take many types; any of them leaves the plain path
        message = str(exc).splitlines()[0] if str(exc) else ""
        warnings.warn(
            f"{module}: the compiled kernels did not load ({type(exc).__name__}: {message}); running without them",
            stacklevel=3,
        )
        return None
