"""CompareView and ResultGrid render in JupyterLab and react to the browser."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbconvert import HTMLExporter
from playwright.sync_api import expect

from .conftest import ARTIFACTS, JupyterServer, open_notebook, wait_kernel_ready

pytestmark = pytest.mark.browser
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

SETUP = """
import numpy as np
import venice_nb
from PIL import Image
from venice_nb.widgets import CompareView, ResultGrid
before = np.asarray(Image.open(venice_nb.sample("cat")).convert("RGB"))
after = before.copy()
after[:, before.shape[1] // 2:] = (0, 200, 0)  # right half turns green
view = CompareView(before, after)
view.observe(lambda ch: log("compare", mode=view.mode, split=view.split), names=["mode", "split"])
view
"""

GRID = """
grid = ResultGrid([(before, "the original"), (after, "half green")], columns=2)
grid.on_select(lambda i, item: log("selected", index=i))
grid
"""


def test_compare_wipe_and_grid(lab: tuple[Any, JupyterServer]) -> None:
    page, server = lab
    nb = open_notebook(page, server, "viewers", [SETUP, GRID])
    page.get_by_role("button", name="wipe", exact=True).click()
    nb.log.wait_for(lambda e: e["mode"] == "wipe", kind="compare", what="wipe mode")
    wipe = page.locator(".venice-wipe")
    wipe.scroll_into_view_if_needed()
    expect(wipe).to_have_attribute("role", "slider")
    expect(wipe).to_have_attribute("aria-valuenow", "50")
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.venice-wipe img'))"
        ".every(i => i.complete && i.naturalWidth > 0 && i.alt)"
    )
    nb.shot("wipe-half")
    # Drag on the image itself to the right end: the 'before' image now covers almost all.
    wb = wipe.bounding_box()
    assert wb is not None
    page.mouse.move(wb["x"] + wb["width"] * 0.5, wb["y"] + wb["height"] / 2)
    page.mouse.down()
    page.mouse.move(wb["x"] + wb["width"] * 0.99, wb["y"] + wb["height"] / 2, steps=5)
    page.mouse.up()
    nb.log.wait_for(lambda e: e["split"] > 0.95, kind="compare", what="split at the end")
    clip = wipe.locator("img").nth(1).evaluate("i => i.style.clipPath")
    assert clip.startswith("inset(0px") and float(clip.split()[1].rstrip("%")) < 5, clip
    # Keyboard: arrows move the divider, Tab moves on (no trap).
    page.keyboard.press("ArrowLeft")
    nb.log.wait_for(lambda e: 0.9 < e["split"] < 0.99, kind="compare", what="arrow key")
    page.keyboard.press("Tab")
    assert not wipe.evaluate("el => el === document.activeElement")
    page.get_by_role("button", name="difference", exact=True).click()
    nb.log.wait_for(lambda e: e["mode"] == "difference", kind="compare", what="diff mode")
    page.locator(".venice-result-card").nth(1).get_by_role("button", name="Select").click()
    nb.log.wait_for(lambda e: e["index"] == 1, kind="selected", what="card 1 selected")
    expect(page.locator(".venice-result-card")).to_have_count(2)
    nb.assert_widgets_healthy()
    # Each output also carries a JPEG picture for saved notebooks; the live widget must win.
    assert page.locator(".jp-OutputArea-output.jp-RenderedImage").count() == 0
    pictures = ".jp-OutputArea-output img[src^='data:image/jpeg']:not(.venice-image)"
    assert page.locator(pictures).count() == 0
    nb.shot("difference-and-grid")


@pytest.mark.parametrize("width", [1280, 800])
def test_saved_notebook_shows_the_widget_pictures_in_a_browser(
    browser: Any, artifacts: Path, width: int
) -> None:
    """nbconvert HTML of the stored tutorial (no kernel, no widget state), as a reader sees it:
    each widget's picture loads and fits the page, at desktop and narrow widths."""
    notebook = nbformat.read(NOTEBOOKS / "04_prompt_experiments.ipynb", as_version=4)
    html_text, _ = HTMLExporter().from_notebook_node(notebook)
    page_file = artifacts / f"saved-04-{width}.html"
    page_file.write_text(html_text)
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        page.goto(page_file.as_uri())
        pictures = page.locator(".jp-RenderedImage img[src^='data:image/jpeg']")
        expect(pictures).to_have_count(3)  # the finished progress bar and two contact sheets
        for i in range(3):
            picture = pictures.nth(i)
            picture.scroll_into_view_if_needed()
            loaded = picture.evaluate("img => img.complete && img.naturalWidth")
            box = picture.bounding_box()
            assert loaded and box is not None
            # A readable picture, never stretched beyond its own pixels on the page.
            assert loaded >= 400 and loaded >= box["width"] - 1, (loaded, box)
            assert box["x"] + box["width"] <= width, "the picture overflows the page"
            page.screenshot(path=str(artifacts / f"saved-04-{width}-sheet{i}.png"))
    finally:
        context.close()


def test_a_saved_tutorial_opened_in_lab_shows_its_pictures(
    lab: tuple[Any, JupyterServer]
) -> None:
    """Opened, not run: the stored outputs hold pictures, not dead widget references."""
    page, server = lab
    shutil.copy(NOTEBOOKS / "04_prompt_experiments.ipynb", server.root / "saved04.ipynb")
    page.goto(server.page_url("saved04.ipynb"))
    wait_kernel_ready(page)
    pictures = page.locator(".jp-OutputArea-output.jp-RenderedImage img")
    expect(pictures).to_have_count(3)  # the finished progress bar and two contact sheets
    pictures.nth(1).scroll_into_view_if_needed()
    expect(pictures.nth(1)).to_be_visible()
    outputs = page.locator(".jp-OutputArea-output")
    for text in ("Error displaying widget", "Loading widget", "ResultGrid("):
        assert outputs.filter(has_text=text).count() == 0, text
    page.screenshot(path=str(ARTIFACTS / "saved04-in-lab.png"))
