"""The painter in Notebook 7 (its own server, shared by this module): keys stay in the widget.

Notebook 7 handles shortcuts in the capture phase, before a widget sees the key: without the
painter's ``data-lm-suppress-shortcuts`` surface, R made the cell raw, X cut it, O collapsed
its output and B inserted a cell.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .conftest import (
    JupyterServer,
    KernelLog,
    canvas_box,
    drag,
    final_shot,
    open_notebook,
)

pytestmark = pytest.mark.browser

SURFACE = ".venice-painter-surface"

SETUP = """
import numpy as np
from venice_nb.widgets import MaskPainter
painter = MaskPainter(np.full((480, 640, 3), 90, np.uint8), brush_size=20)
painter.observe(lambda ch: log("mask", version=ch.new, area=int((painter.mask > 0).sum())),
                names="mask_version")
painter.observe(lambda ch: log("setting", name=ch.name, value=ch.new),
                names=["tool", "brush_size", "hardness", "subtract", "zoom"])
painter
"""

# Each painter key and what the kernel must see; notebook commands on the same keys in
# command mode: B insert below, E (none), G (none), R raw, O collapse output, L line numbers,
# P command palette, H help, X cut, I interrupt (I,I), F find, [ ] (none), Delete / D,D delete,
# Ctrl+Z undo cell operation, Z undo, 0 / 1 restart (0,0) / heading.
KEYS: list[tuple[str, str, object]] = [
    ("r", "tool", "rect"), ("o", "tool", "ellipse"), ("l", "tool", "lasso"),
    ("p", "tool", "polygon"), ("h", "tool", "hand"), ("g", "tool", "bucket"),
    ("e", "tool", "eraser"), ("b", "tool", "brush"), ("x", "subtract", True),
    ("x", "subtract", False), ("]", "brush_size", 25), ("[", "brush_size", 20),
    ("Shift+BracketLeft", "hardness", 90), ("Shift+BracketRight", "hardness", 100),
    ("+", "zoom", 1.25), ("1", "zoom", 1.0), ("+", "zoom", 1.25), ("-", "zoom", 1.0),
    ("=", "zoom", 1.25), ("0", "zoom", 1.0),
]


def _more_than(log: KernelLog, n: int) -> Callable[[dict[str, Any]], bool]:
    """True once the log holds more than ``n`` setting changes."""
    return lambda _e: len(log.events("setting")) > n


def _cells(page: Any) -> list[str]:
    """Every cell's type as the notebook shows it, and whether its output is collapsed."""
    cells: list[str] = page.evaluate(
        """() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')].map(c =>
            (c.classList.contains('jp-CodeCell') ? 'code'
             : c.classList.contains('jp-MarkdownCell') ? 'markdown' : 'raw')
            + (c.querySelector('.jp-OutputArea-output') ? '+out' : '')
            + (c.classList.contains('jp-mod-outputsScrolled') ? '+scrolled' : '')
            + (c.querySelector('.jp-Cell-outputCollapser .jp-Collapser') &&
               c.classList.contains('jp-mod-outputs-collapsed') ? '+collapsed' : ''))"""
    )
    return cells


def test_every_painter_key_stays_in_the_widget(
    nb7_server: JupyterServer, page: Any, request: pytest.FixtureRequest
) -> None:
    try:
        nb = open_notebook(page, nb7_server, "nb7_keys", [SETUP])
        assert "/notebooks/" in page.url
        nb.assert_widgets_healthy()
        box = canvas_box(page, SURFACE)
        x, y = box["x"] + 100, box["y"] + 100
        drag(page, [(x, y), (x + 100, y)])  # focuses the surface, as a person's first stroke
        nb.log.wait_for(lambda e: e["version"] == 1, kind="mask", what="a stroke")
        before = _cells(page)
        assert before == ["code", "code+out", "code"], before
        focused = page.evaluate("() => document.activeElement.className")
        assert "venice-painter-surface" in focused
        seen = 0
        for key, name, value in KEYS:
            page.keyboard.press(key)
            nb.log.wait_for(_more_than(nb.log, seen), kind="setting",
                            what=f"{key} to reach the painter")
            events = nb.log.events("setting")
            seen = len(events)
            assert (events[-1]["name"], events[-1]["value"]) == (name, value), (key, events[-1])
        # Undo and redo in the widget; Delete clears; the notebook's own keys did nothing.
        page.keyboard.press("Control+z")
        nb.log.wait_for(lambda e: e["version"] == 2 and e["area"] == 0, kind="mask", what="undo")
        page.keyboard.press("Control+Shift+Z")
        nb.log.wait_for(lambda e: e["version"] == 3 and e["area"] > 0, kind="mask", what="redo")
        page.keyboard.press("Delete")
        nb.log.wait_for(lambda e: e["version"] == 4 and e["area"] == 0, kind="mask", what="clear")
        # Notebook command keys that are no painter key, then I, I (interrupt the kernel in
        # command mode) which invert twice here, and F (fill).
        for key in ("a", "m", "y", "c", "v", "z", "d", "d", "Shift+Enter", "Enter"):
            page.keyboard.press(key)
        page.keyboard.press("i")
        nb.log.wait_for(lambda e: e["version"] == 5 and e["area"] == 640 * 480, kind="mask",
                        what="invert")
        page.keyboard.press("i")
        nb.log.wait_for(lambda e: e["version"] == 6 and e["area"] == 0, kind="mask",
                        what="invert back")
        page.keyboard.press("f")
        nb.log.wait_for(lambda e: e["version"] == 7 and e["area"] == 640 * 480, kind="mask",
                        what="fill")
        assert len(nb.log.events("mask")) == 7  # none of the other keys changed the mask
        assert _cells(page) == before
        assert page.locator(".jp-Dialog").count() == 0  # no palette, help or restart dialog
        assert page.locator(".lm-CommandPalette:visible").count() == 0
        # Tab leaves the painter: no keyboard trap.
        page.keyboard.press("Tab")
        assert "venice-painter-surface" not in page.evaluate(
            "() => document.activeElement.className || ''")
        page.locator(SURFACE).focus()  # and Escape leaves it too
        page.keyboard.press("Escape")
        assert "venice-painter-surface" not in page.evaluate(
            "() => document.activeElement.className || ''")
        nb.shot("keys")
    finally:
        final_shot(page, request)
        nb7_server.shutdown_kernels()
