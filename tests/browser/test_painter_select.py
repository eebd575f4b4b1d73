"""The painter's selection tools in JupyterLab 4 and Notebook 7 (issue 20, part 2): a real mouse
on the canvas and on the sliders; the kernel's full-resolution mask is what is checked.

The scene has answers by construction: on a textured green background, a red block A and,
touching it, an orange block B. At colour tolerance 10 a click on A selects A alone; at 26 it
takes B too (but never the background)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ._select_page import SelectPage
from .conftest import ARTIFACTS, JupyterServer, open_notebook

pytestmark = pytest.mark.browser

SETUP = """
import numpy as np
from venice_nb.widgets import MaskPainter
rng = np.random.default_rng(1)
img = (np.array([30, 90, 60]) + rng.integers(-10, 11, (600, 800, 1))).astype(np.uint8)
img[150:450, 100:400] = (220, 30, 40)    # A
img[150:450, 400:600] = (230, 150, 40)   # B, touching A
painter = MaskPainter(img, color="#00e5ff")  # cyan: visible over red, orange and green

def report(change=None):
    m = painter.mask > 127
    ys, xs = np.nonzero(m)
    box = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1] if len(xs) else None
    a, b = int(m[150:450, 100:400].sum()), int(m[150:450, 400:600].sum())
    log("mask", version=painter.mask_version, shape=list(m.shape), a=a, b=b,
        rest=int(m.sum()) - a - b, bbox=box, soft=int(((painter.mask > 0) & ~m).sum()))

painter.observe(report, names="mask_version")
painter._select.tolerance.observe(lambda ch: log("tol", value=ch.new), names="value")
log("display", size=list(painter.display_size))
painter
"""
A, B = 300 * 300, 200 * 300




@pytest.fixture
def hidpi(browser: Any, artifacts: Path) -> Iterator[Any]:
    """A page at device scale factor 2 (screenshots as a person on a HiDPI screen sees it);
    ``artifacts`` first: it empties the screenshot folder once per session."""
    context = browser.new_context(viewport={"width": 1400, "height": 1200},
                                  device_scale_factor=2)
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


def _dark(page: Any) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Settings$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Theme$")).hover()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^JupyterLab Dark$")).click()
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")


def test_colour_object_tolerance_refine_and_undo_in_the_full_res_mask(
    server: JupyterServer, hidpi: Any,
) -> None:
    page = hidpi
    nb = open_notebook(page, server, f"painter_select_{server.app}", [SETUP])
    assert nb.log.events("display")[0]["size"] == [800, 600]  # 100 %: canvas px = image px
    _dark(page)
    p = SelectPage(page)
    dpr = 2
    version = 0

    def mask(what: str, until: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, Any]:
        """The kernel's next mask change (or, with ``until``, the first later one it fits)."""
        nonlocal version
        event = nb.log.wait_for(
            lambda e: e["version"] == version + 1 if until is None
            else e["version"] > version and until(e), kind="mask", what=what)
        version = event["version"]
        return event

    # Colour select: the tool's button, then a click on A selects exactly A.
    p.select_tool("Colour", "color")
    p.click(250, 300)
    first = mask("colour click")
    assert first["shape"] == [600, 800]
    assert first["a"] == A and first["b"] == 0 and first["rest"] == 0, first
    p.wait_pixel(250 * dpr, 300 * dpr, "d[0] < 150 && d[2] > 120")  # A (220,30,40) tinted
    nb.shot("colour-click")

    # Tolerance drag 10 -> 26 with the button still down: the overlay already covers B ...
    p.drag_slider("Colour tol.", [18 / 60, 26 / 60], release=False)
    p.wait_pixel(500 * dpr, 300 * dpr, "d[0] < 150 && d[2] > 120")  # B (230,150,40) tinted
    nb.shot("tolerance-mid-drag")
    p.release()
    # ... then the full-res mask takes A and B, and the drag was live (several values). (A
    # pause mid-drag on a busy machine may land a step at a tolerance on the way: the same one
    # undo step, amended.)
    wide = mask("tolerance drag", until=lambda e: e["b"] > 0)
    assert wide["a"] == A and wide["b"] == B and wide["rest"] == 0, wide
    assert len(nb.log.events("tol")) >= 2
    assert 24 <= nb.log.events("tol")[-1]["value"] <= 28
    # The click and its tolerance drag are one undo step.
    p.focus()
    p.press("Control+z")
    undone = mask("undo")
    assert undone["a"] == 0 and undone["b"] == 0 and undone["rest"] == 0, undone
    p.press("Control+Shift+Z")
    assert mask("redo")["b"] == B

    # Back to tolerance 10 (the redo ended the drag's selection: the mask stays), then
    # Subtract: a colour click on B takes B alone out again.
    p.drag_slider("Colour tol.", [10 / 60])
    nb.log.wait_for(lambda e: abs(e["value"] - 10) <= 2, kind="tol", what="tolerance 10")
    p.combine("Subtract")
    p.click(500, 300)
    sub = mask("subtract B")
    assert sub["a"] == A and sub["b"] == 0, sub
    p.combine("Add")

    # Object select (key Q): click B adds it, Shift-click B excludes it again.
    p.button("Clear")
    mask("clear")
    p.focus()
    p.press("q")
    p.wait_tool("object")
    # A and B touch and both stand out from the background: together they are the photo's
    # subject, so one click on A takes the subject (the engine follows the subject estimate,
    # as a click on a cat's eye takes the cat); the kernel tests cover separate objects.
    p.click(250, 300)
    obj = mask("object include A")
    assert obj["a"] > 0.95 * A and obj["b"] > 0.95 * B and obj["rest"] < 0.02 * A, obj
    p.shift_click(500, 300)
    out = mask("object exclude B")
    assert out["a"] > 0.95 * A and out["b"] < 0.02 * B and out["rest"] < 0.02 * A, out
    p.wait_pixel(500 * dpr, 300 * dpr, "d[0] > 200 && d[1] > 140")  # B shows untinted
    p.wait_pixel(250 * dpr, 300 * dpr, "d[0] < 150 && d[2] > 120")  # A tinted
    assert "1 in, 1 out" in p.wait_status(r"1 in, 1 out")  # the object's points, in words
    nb.shot("object-exclude")
    page.locator(p.root).first.screenshot(
        path=str(ARTIFACTS / f"painter_select_{server.app}-whole-painter.png"))
    p.press("Control+z")  # each click was its own step
    assert mask("undo exclude")["b"] > 0.95 * B

    # Grow 20 px: a preview first (the overlay left of A, the mask unchanged), then Apply.
    p.drag_slider("Amount", [0.2])  # Refine: Grow is the first operation
    p.wait_pixel(90 * dpr, 300 * dpr, "d[2] > 120")  # background (~30,90,60), now tinted
    nb.shot("grow-preview")
    assert nb.log.events("mask")[-1]["version"] == version  # nothing applied yet
    p.button("Apply")
    grown = mask("grow applied")
    assert all(abs(v - e) <= 3 for v, e in zip(grown["bbox"], [80, 130, 620, 470], strict=True)), (
        grown)
    p.focus()
    p.press("Control+z")
    back = mask("undo grow")
    assert back["bbox"] == obj["bbox"], back
    nb.shot("grow-undone")

    # Subject select by its key (U), and W back to colour select: the keys stay in the painter.
    p.focus()
    p.press("Delete")
    assert mask("clear")["a"] == 0
    p.press("u")
    p.wait_tool("subject")
    p.click(700, 550)  # anywhere: the subject is the two blocks
    subject = mask("subject click")
    assert subject["a"] > 0.9 * A and subject["b"] > 0.9 * B and subject["rest"] < 0.05 * A, (
        subject)
    p.press("w")
    p.wait_tool("color")
    assert len(nb.log.events("cells_done")) == 1  # no notebook shortcut ran (no re-run)
    nb.assert_widgets_healthy()
