"""``KeyGuard``: the one way a venice_nb widget keeps the keys typed in it.

Notebook 7 (and JupyterLab) match keyboard shortcuts before a widget sees the key, so
Shift+Enter typed in a widget's text box re-ran the widget's cell, and A, B, D,D, X... in a box
could insert, cut or delete cells. Lumino fires no shortcut for a key whose target sits inside
an element carrying ``data-lm-suppress-shortcuts``; ipywidgets has no API to set a DOM attribute,
so this invisible anywidget sets it on the widget it is part of (``_keys.js``). EditControls,
EditStudio, MaskPainter and ResultBrowser each carry one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import traitlets

__all__ = ["KeyGuard"]


class KeyGuard(anywidget.AnyWidget):
    """Marks the outermost ancestor matching ``root`` as keeping its keys.

    No key typed in it fires a notebook shortcut (Shift/Ctrl/Alt+Enter included); with
    ``on_run``, Shift/Ctrl/Alt+Enter in a text input calls it (the edit controls' Run), and
    focus dropped by a button that got disabled returns to the prompt.

    Args:
        root: CSS selector of the widget to mark (its outermost match is marked).
        on_run: Called on Shift/Ctrl/Alt+Enter in a text input; None: the keys do nothing.
    """

    _esm = Path(__file__).with_name("_keys.js")
    root = traitlets.Unicode().tag(sync=True)
    run = traitlets.Bool(False).tag(sync=True)

    def __init__(self, root: str, on_run: Callable[[], object] | None = None) -> None:
        super().__init__(root=root, run=on_run is not None)
        self._on_run = on_run
        if on_run is not None:
            self.on_msg(self._message)

    def _message(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        if content.get("event") == "run" and self._on_run is not None:
            self._on_run()
