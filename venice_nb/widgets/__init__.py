"""Notebook widgets: paint masks, set up edits, compare and browse results.

``MaskPainter`` paints a full-resolution mask; ``EditControls`` sends edits without blocking the
kernel; ``CompareView`` and ``ResultGrid`` show results; ``EditStudio`` ties them together with
a history for chained edits; ``ResultBrowser`` pages through every stored result. Modules load
on first use (ipycanvas is not needed before).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "MaskPainter": "_painter",
    "EditControls": "_controls",
    "CompareView": "_viewers",
    "ResultGrid": "_viewers",
    "EditStudio": "_studio",
    "ResultBrowser": "_browser",
}

__all__ = ["CompareView", "EditControls", "EditStudio", "MaskPainter", "ResultBrowser",
           "ResultGrid"]

if TYPE_CHECKING:
    from ._browser import ResultBrowser
    from ._controls import EditControls
    from ._painter import MaskPainter
    from ._studio import EditStudio
    from ._viewers import CompareView, ResultGrid


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'venice_nb.widgets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
