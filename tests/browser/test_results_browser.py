"""The result browser over 5,000 stored results, and the contact sheet's marks, in JupyterLab."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import expect

import venice_nb as vnb
from venice_nb._client import _request
from venice_nb._models import ModelInfo

from ._studio_page import BrowserPage
from .conftest import UI_TIMEOUT, JupyterServer, final_shot, open_notebook

pytestmark = pytest.mark.browser

N = 5000
MODEL = ModelInfo(id="firered-image-edit", name="FireRed Edit", type="inpaint", price_usd=0.04)


def _png(arr: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def _fill(folder: Path) -> None:
    """N results, each its own image; every 10th picked. Four writer threads, as a busy
    experiment would write."""
    store = vnb.ResultStore(folder)
    base = _png(np.full((256, 256, 3), 120, np.uint8))
    headers = {"content-type": "image/png", "x-venice-model-id": MODEL.id}

    def write(i: int) -> None:
        rng = np.random.default_rng(i)
        color = ("red", "blue", "green")[i % 3]
        prepared = _request.prepare_edit(base, f"a {color} hat, take {i}", model=MODEL)
        tile = np.zeros((48, 64, 3), np.uint8)
        tile[:] = rng.integers(0, 256, 3, dtype=np.uint8)  # one flat colour per result
        store.record(prepared, headers, _png(tile), 0.1, i % 2 == 0)
        if i % 10 == 0:
            store.mark(prepared.fingerprint, picked=True, rating=4)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(N)))
    assert len(store) == N


BROWSE = """
import venice_nb as vnb
from venice_nb.widgets import ResultBrowser
browser = ResultBrowser(vnb.ResultStore({folder!r}), page_size=24)
browser
"""


def test_browsing_5000_results(lab: tuple[Any, JupyterServer]) -> None:
    page, server = lab
    folder = server.root / "browse-store"
    _fill(folder)
    nb = open_notebook(page, server, "browse", [BROWSE.format(folder=str(folder))])
    expect(page.locator(".venice-browser-count")).to_have_text(f"{N} results")
    thumbs = page.locator(".venice-browser-card img")
    expect(thumbs).to_have_count(24)
    page.wait_for_function(  # the first thumbnails are really drawn, not just present
        """() => [...document.querySelectorAll('.venice-browser-card img')].slice(0, 6)
                 .every(i => i.complete && i.naturalWidth > 0)""", timeout=UI_TIMEOUT)
    nb.shot("first-page")
    prompt = page.locator(".venice-filter-prompt input")
    prompt.fill("take 4321")
    prompt.press("Enter")
    expect(page.locator(".venice-browser-count")).to_have_text("1 result")
    expect(thumbs).to_have_count(1)
    prompt.fill("")
    prompt.press("Enter")
    page.locator(".venice-filter-picked input").check()
    expect(page.locator(".venice-browser-count")).to_have_text(f"{N // 10} results")
    cards = page.locator(".venice-browser-card")
    cards.nth(0).locator("input[type=checkbox]").check()
    cards.nth(1).locator("input[type=checkbox]").check()
    page.get_by_role("button", name="Compare 2").click()
    expect(page.locator(".venice-compare-view")).to_have_count(1)
    nb.assert_widgets_healthy()
    nb.shot("picked-and-compared")


SHEET = """
import venice_nb as vnb
client = vnb.Client(store={folder!r})
results = vnb.experiment(vnb.sample("cat"), "a {{color}} hat", "firered-image-edit",
                         variables={{"color": ["red", "blue"]}}, client=client, progress=False)
sheet = results.contact_sheet(columns="color")
sheet
"""


def _stored_pick(folder: Path) -> vnb.StoredRecord:
    store = vnb.ResultStore(folder)
    deadline = time.monotonic() + UI_TIMEOUT / 1000
    while not store.history(picked=True) and time.monotonic() < deadline:
        time.sleep(0.05)  # polling interval of a bounded wait on a condition
    (picked,) = store.history(picked=True)
    return picked


def test_marks_on_the_contact_sheet_reach_the_store(lab: tuple[Any, JupyterServer]) -> None:
    page, server = lab
    folder = server.root / "marks-store"
    nb = open_notebook(page, server, "marks", [SHEET.format(folder=str(folder))])
    card = page.locator(".venice-result-card").nth(1)
    card.get_by_role("button", name="Pick").click()
    card.locator(".venice-rating").get_by_role("button", name="5", exact=True).click()
    note = card.locator(".venice-note input")
    note.fill("the blue one")
    note.press("Enter")
    expect(card.locator(".venice-saved")).to_contain_text("picked · 5/5 · the blue one")
    picked = _stored_pick(folder)
    assert (picked.prompt, picked.rating, picked.note, picked.variables) == (
        "a blue hat", 5, "the blue one", {"color": "blue"})
    nb.assert_widgets_healthy()
    nb.shot("marked")
    _theme(page, "JupyterLab Dark")
    try:
        nb.shot("marked-dark")
    finally:  # the setting outlives the page: later tests on this server expect the light one
        _theme(page, "JupyterLab Light")


def _theme(page: Any, name: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Settings$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Theme$")).hover()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{name}$")).click()
    light = "true" if name.endswith("Light") else "false"
    page.wait_for_function(f"() => document.body.dataset.jpThemeLight === '{light}'")
    expect(page.locator("#jupyterlab-splash")).to_have_count(0)


def test_marks_by_keyboard_in_notebook7_at_800px(
    nb7_server: JupyterServer, page: Any, request: pytest.FixtureRequest
) -> None:
    folder = nb7_server.root / "marks-store"
    page.set_viewport_size({"width": 800, "height": 1000})
    try:
        nb = open_notebook(page, nb7_server, "nb7_marks", [SHEET.format(folder=str(folder))])
        card = page.locator(".venice-result-card").nth(0)
        card.get_by_role("button", name="Pick").focus()
        page.keyboard.press("Space")
        page.keyboard.press("Tab")  # from Pick to the first rating button ("–"), then "1", "2"
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        page.keyboard.press("Space")
        for _ in range(4):  # past "3", "4", "5" to the note
            page.keyboard.press("Tab")
        page.keyboard.type("too red")
        page.keyboard.press("Enter")
        expect(card.locator(".venice-saved")).to_contain_text("picked · 2/5 · too red")
        picked = _stored_pick(folder)
        assert (picked.prompt, picked.rating, picked.note) == ("a red hat", 2, "too red")
        nb.assert_widgets_healthy()
        nb.shot("nb7-keyboard-marks")
    finally:
        final_shot(page, request)
        nb7_server.shutdown_kernels()


LIVE = """
import venice_nb as vnb
from venice_nb.widgets import ResultBrowser
browser = ResultBrowser(vnb.ResultStore({folder!r}), page_size=12)
browser
"""

NO_STORE = """
import venice_nb as vnb
from venice_nb.widgets import ResultBrowser
keyless = vnb.Client(store=False)
ResultBrowser(keyless)
"""


def _record(folder: Path, start: int, n: int) -> None:
    """``n`` more results written by another process's connection, as another notebook would."""
    store = vnb.ResultStore(folder)
    base = _png(np.full((256, 256, 3), 120, np.uint8))
    headers = {"content-type": "image/png", "x-venice-model-id": MODEL.id}
    for i in range(start, start + n):
        prepared = _request.prepare_edit(base, f"a long prompt that names a hat, take {i}",
                                         model=MODEL)
        tile = np.full((48, 64, 3), (i * 40) % 256, np.uint8)
        store.record(prepared, headers, _png(tile), 0.1, False)


@pytest.mark.parametrize("app", ["jupyterlab", "notebook"])
def test_the_browser_follows_the_store_filters_as_you_type_and_fits(
    app: str, page: Any, request: pytest.FixtureRequest
) -> None:
    server: JupyterServer = request.getfixturevalue(
        "lab_server" if app == "jupyterlab" else "nb7_server")
    folder = server.root / f"live-store-{app}"
    _record(folder, 0, 3)
    page.set_viewport_size({"width": 1000, "height": 900})
    try:
        nb = open_notebook(page, server, f"browse-live-{app}", [LIVE.format(folder=str(folder)),
                                                                NO_STORE])
        browser = BrowserPage(nb)
        expect(browser.header).to_have_text("3 results")
        _record(folder, 3, 2)  # the store grows while the browser is shown
        expect(browser.header).to_have_text("5 results", timeout=UI_TIMEOUT)
        browser.prompt_filter.fill("take 4")  # no Enter: the filter applies as you type
        expect(browser.header).to_have_text("1 result")
        browser.prompt_filter.fill("")
        expect(browser.header).to_have_text("5 results")
        assert browser.overflows() == []  # no card (or row) scrolls sideways
        # A client without a store: the default store, and the header says so.
        second = page.locator(".venice-result-browser").nth(1)
        expect(second).to_contain_text("this client keeps no store")
        # Open one in the studio: its first history entry is named for what was opened.
        browser.tick(0)
        browser.press("Open in studio")
        expect(page.locator(".venice-edit-studio .venice-result-card").first
               ).to_contain_text("opened: a long prompt that names a hat, take 4")
        expect(page.locator(".venice-studio-base")).not_to_contain_text("original")
        nb.assert_widgets_healthy()
        nb.shot("live")
    finally:
        final_shot(page, request)
        server.shutdown_kernels()


KEYS_CELL = """
import venice_nb as vnb
from venice_nb.widgets import ResultBrowser
log("browser_cell")  # once per run of this cell
browser = ResultBrowser(vnb.ResultStore({folder!r}), page_size=12)
browser
"""

_PROMPTS = """() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')].map(c =>
    (c.querySelector('.jp-InputPrompt')?.textContent || '').trim()
    + (c.querySelector('.venice-result-browser') ? '+browser' : ''))"""


@pytest.mark.parametrize("app", ["notebook", "jupyterlab"])
def test_enter_keys_in_the_filter_boxes_do_not_rerun_the_cell(
    app: str, page: Any, request: pytest.FixtureRequest
) -> None:
    """Shift/Ctrl/Alt+Enter typed in the browser's own text boxes, and notebook command keys
    on its buttons, stay in the browser: in Notebook 7 Shift+Enter there re-ran the cell (a new
    browser, its filters gone)."""
    server: JupyterServer = request.getfixturevalue(
        "lab_server" if app == "jupyterlab" else "nb7_server")
    folder = server.root / f"keys-store-{app}"
    _record(folder, 0, 3)
    try:
        nb = open_notebook(page, server, f"browse-keys-{app}",
                           [KEYS_CELL.format(folder=str(folder))])
        browser = BrowserPage(nb)
        expect(browser.header).to_have_text("3 results")
        page.wait_for_function(  # every cell shows its execution count
            "() => [...document.querySelectorAll('.jp-Notebook .jp-InputPrompt')]"
            ".every(p => /\\[\\d+\\]/.test(p.textContent))")
        cells = page.evaluate(_PROMPTS)
        assert sum(c.endswith("+browser") for c in cells) == 1, cells
        boxes = (browser.prompt_filter, browser.root.locator(".venice-filter-vars input"),
                 browser.root.locator(".venice-export-path input"))
        for box in boxes:
            for key in ("Shift+Enter", "Control+Enter", "Alt+Enter"):
                box.click()
                page.keyboard.press(key)
        # Notebook command keys on a focused button or checkbox of the browser: A / B insert a
        # cell, M makes it Markdown, Shift+Enter runs it.
        for control in (browser.root.locator(".venice-filter-backend button").first,
                        browser.root.locator(".venice-filter-picked input")):
            control.focus()
            assert page.evaluate(
                "() => !!document.activeElement.closest('.venice-result-browser')")
            for key in ("a", "b", "m", "Shift+Enter"):
                page.keyboard.press(key)
        # A kernel round trip after the keys: the kernel handles a re-run's request before it.
        browser.prompt_filter.fill("take 1")
        expect(browser.header).to_have_text("1 result")
        assert page.evaluate(_PROMPTS) == cells  # same cells, same execution counts
        assert len(nb.log.events("browser_cell")) == 1  # the cell ran once
        assert browser.prompt_filter.input_value() == "take 1"
        nb.assert_widgets_healthy()
        nb.shot("enter-keys")
    finally:
        final_shot(page, request)
        server.shutdown_kernels()
