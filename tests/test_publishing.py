"""Widgets leave pictures, and experiments leave a report: what a saved notebook or a mail shows.

Real widgets (no front end needed for their bundles), real results from the local backend.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import venice_nb as vnb
from venice_nb import masks
from venice_nb._backend import LocalBackend
from venice_nb.widgets import CompareView, EditStudio, MaskPainter, ResultGrid
from venice_nb.widgets._fallback import MAX_OUTPUT_BYTES, ProgressView, _drawable, jpeg_b64

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
TIMING = re.compile(r"\d+\.\d+ ?s\b")


@pytest.fixture
def client(backend: LocalBackend) -> Iterator[vnb.Client]:
    with vnb.Client("k", base_url=backend.url) as c:
        yield c


def _picture(widget: Any) -> tuple[Image.Image, str]:
    bundle = widget._repr_mimebundle_()
    assert set(bundle) == {WIDGET_VIEW, "image/jpeg", "text/plain"}
    assert bundle[WIDGET_VIEW]["model_id"] == widget.model_id  # the live widget is still there
    assert len(bundle["image/jpeg"]) <= MAX_OUTPUT_BYTES
    assert not TIMING.search(bundle["text/plain"]), bundle["text/plain"]
    return Image.open(io.BytesIO(base64.b64decode(bundle["image/jpeg"]))), bundle["text/plain"]


def test_compare_view_and_grid_bundles_hold_captioned_pictures(client: vnb.Client) -> None:
    photo = vnb.sample("rocket")
    result = client.edit(photo, "change the sky to a sunrise", model="qwen-image-2-edit")
    picture, text = _picture(CompareView(photo, result))
    assert picture.width > 2 * 300 and text.startswith("CompareView: Before 640×427")
    picture, text = _picture(ResultGrid([(photo, "the original"), result], columns=2))
    assert "1. the original\n2. change the sky to a sunrise" in text
    one, _ = _picture(ResultGrid([result], columns=2))
    assert picture.width > 1.8 * one.width  # two cards side by side


def test_painter_picture_shows_the_mask() -> None:
    photo = np.full((300, 400, 3), 200, np.uint8)
    mask = masks.rect((300, 400), (0, 0, 200, 300))  # the left half
    picture, text = _picture(MaskPainter(photo, mask=mask))
    assert "selects 50.0%" in text
    left = np.asarray(picture.convert("RGB"))[150, 100].astype(int)
    right = np.asarray(picture.convert("RGB"))[150, 300].astype(int)
    assert left[0] - left[1] > 60 and abs(right[0] - right[1]) < 10  # tinted red only where masked


def test_studio_picture_names_the_latest_result(client: vnb.Client) -> None:
    studio = EditStudio(vnb.sample("cat"), client=client, prompt="make it snowy",
                        model="qwen-image-2-edit")
    picture, text = _picture(studio)
    assert "latest result" not in text
    # its controls and state, not the photo twice: painter + controls panel, one row
    assert "prompt: 'make it snowy'; model: Qwen Image 2" in text
    assert "$0.05 at Venice · $0 here" in text and "selects 0.0%" in text
    painter, _ = _picture(studio.painter)
    assert painter.width < picture.width < painter.width + 400
    assert picture.height < painter.height + 60
    panel = np.asarray(picture.convert("RGB"))[:, painter.width + 20:]
    run_blue = (panel[..., 2].astype(int) - panel[..., 0] > 150).sum()
    assert run_blue > 1500  # the Run button is drawn
    studio.controls.run()  # no running loop here: runs to the end
    _, text = _picture(studio)
    assert "latest result: make it snowy" in text


def test_a_huge_picture_stays_within_the_budget() -> None:
    noise = np.random.default_rng(1).integers(0, 256, (3000, 4000, 3), np.uint8)
    encoded = jpeg_b64(Image.fromarray(noise))
    assert len(encoded) <= MAX_OUTPUT_BYTES
    assert max(Image.open(io.BytesIO(base64.b64decode(encoded))).size) <= 960


def test_captions_are_drawn_in_characters_the_font_has() -> None:
    assert _drawable("café — 3×4 → “ok” 日本") == 'cafe - 3x4 -> "ok" ??'


def _decoded(bundle: dict[str, Any]) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(bundle["image/jpeg"]))).convert("RGB")


def test_a_sheet_is_saved_as_a_numbered_picture_and_its_captions_as_text(
        client: vnb.Client) -> None:
    """Phones: captions drawn into a 960 px picture were 3 px tall at 390 px. The picture
    carries big numbers; the captions follow as an HTML list and plain text, same numbers."""
    results = vnb.experiment({"cat": vnb.sample("cat")},
                             ["make it snowy", "make it <b>explicit</b>"],
                             ["firered-image-edit", "qwen-image-2-edit"], client=client,
                             progress=False)
    picture, legend = results.contact_sheet().output_bundles()
    assert set(picture) == {"image/jpeg", "text/plain"}  # no widget view: nothing to wait for
    assert set(legend) == {"text/html", "text/plain"}
    lines = legend["text/plain"].splitlines()
    assert [line.split(". ", 1)[0] for line in lines] == ["1", "2", "3", "4"]
    assert lines[0].startswith("1. cat · firered-image-edit — make it snowy · FireRed Edit")
    assert "$0.04 at Venice · $0 here" in lines[0] and "FAILED" in lines[2]
    assert not TIMING.search(legend["text/plain"])
    page = legend["text/html"]
    assert page.count("<li>") == 4 and "make it &lt;b&gt;explicit&lt;/b&gt;" in page
    assert "<b>explicit</b>" not in page  # a prompt is text, never markup
    sheet = np.asarray(_decoded(picture)).astype(int)
    card = 240 + 8  # card side + gap: each card's top-left corner holds its number's badge
    for row in range(2):
        for column in range(2):
            badge = sheet[8 + row * card + 10:8 + row * card + 40,
                          8 + column * card + 8:8 + column * card + 14]
            red = row == 1  # the failed ones
            assert (badge[..., 0] - badge[..., 2] > 100).mean() > 0.8 if red else (
                badge.max(axis=-1) < 60).mean() > 0.8, (row, column)
    saved = results.contact_sheet()
    grid_with_buttons = ResultGrid([(vnb.sample("cat"), "a")])
    grid_with_buttons.on_select(lambda i, item: None)
    assert WIDGET_VIEW in grid_with_buttons.output_bundles()[0]  # its buttons need the kernel
    assert WIDGET_VIEW in CompareView(vnb.sample("cat"), vnb.sample("cat")).output_bundles()[0]
    assert len(saved.output_bundles()) == 2


def test_a_widget_picture_is_followed_by_its_words_as_text(client: vnb.Client) -> None:
    """Phones: the words drawn into a studio's, painter's or compare view's picture are a few
    pixels tall at 390 px, so they follow it as text (escaped, without timings)."""
    result = client.edit(vnb.sample("cat"), "a <b>hat</b>", model="firered-image-edit")
    studio = EditStudio(vnb.sample("cat"), client=client, prompt="a <i>scarf</i>")
    studio.painter.set_mask(masks.rect((300, 451), (10, 10, 100, 100)))
    views = {"compare": CompareView(vnb.sample("cat"), result), "studio": studio,
             "painter": studio.painter}
    said = {name: view.output_bundles() for name, view in views.items()}
    for name, (picture, words) in said.items():
        assert WIDGET_VIEW in picture and "image/jpeg" in picture, name
        assert set(words) == {"text/html", "text/plain"}, name
        assert "<b>" not in words["text/html"] and "<i>" not in words["text/html"]
        assert not TIMING.search(words["text/plain"]), name
    compare = said["compare"][1]["text/plain"].splitlines()
    assert compare[0].startswith("Before 451×300 → After ")
    assert compare[1] == "After: a <b>hat</b> · FireRed Edit (venice_nb local) · " \
        "$0.04 at Venice · $0 here"
    assert "a &lt;b&gt;hat&lt;/b&gt;" in said["compare"][1]["text/html"]
    lines = said["studio"][1]["text/plain"].splitlines()
    assert lines[1].startswith("Mask over 451x300 image, selects ")
    assert "Prompt: 'a <i>scarf</i>'" in lines and "Operation: multi-edit" in lines
    assert any(line.startswith("Cost per run: $") for line in lines)
    assert said["painter"][1]["text/plain"] == lines[1]


def test_a_sheet_with_marks_stays_live(backend: LocalBackend, tmp_path: Path) -> None:
    store = vnb.ResultStore(tmp_path / "store")
    with vnb.Client("k", base_url=backend.url, store=store) as c:
        results = vnb.experiment(vnb.sample("cat"), ["make it snowy"], ["firered-image-edit"],
                                 client=c, progress=False)
        live, legend = results.contact_sheet().output_bundles()
    assert set(live) == {WIDGET_VIEW, "image/jpeg", "text/plain"}
    assert legend["text/plain"].startswith("1. cat · firered-image-edit — make it snowy")


def test_contact_sheet_png_and_html_report(client: vnb.Client, tmp_path: Path) -> None:
    results = vnb.experiment({"cat": vnb.sample("cat")}, ["make it snowy", "make it explicit"],
                             ["firered-image-edit"], client=client, progress=False)
    sheet = results.contact_sheet().save_png(tmp_path / "sheet.png")
    shown = _decoded(results.contact_sheet().output_bundles()[0])
    with Image.open(sheet) as img:  # a file read on its own: captions drawn under the cards
        assert img.format == "PNG" and img.width == shown.width and img.height > shown.height
    page = results.to_html(tmp_path / "report.html").read_text()
    assert page.startswith("<!doctype html>") and "make it explicit" in page
    assert page.count("<img src='data:image/jpeg;base64,") == 1  # the failure has no picture
    assert "content policy" in page and "1 done" in page and "1 failed" in page
    assert not re.search(r"(src|href)=['\"]https?:", page), "the report must open offline"


def test_progress_picture_shows_the_counts() -> None:
    view = ProgressView("experiment")
    view.bar.max, view.bar.value = 9, 3
    view.label.value = "3 done, 0 cached, 0 failed, 0 skipped, $0.15 at Venice"
    picture, text = _picture(view)
    assert text.startswith("experiment: 3/9 jobs · 3 done")
    row = np.asarray(picture.convert("RGB"))[14]  # through the bar
    blue = (row[:, 2].astype(int) - row[:, 0] > 100).sum()
    assert 140 < blue < 180  # a third of the 480 px bar
    view.refresh_saved()  # never displayed: nothing to refresh, no error


def test_re_recording_unchanged_results_changes_no_byte(tmp_path: Path) -> None:
    """A refresh sends every request again (new date, elapsed, remaining rate limit); the
    answers are the same images, so the recording's files are the same bytes."""
    folder = tmp_path / "rec"
    photo = vnb.sample("cat")
    for mode in ("use", "refresh"):
        store = vnb.open_recording(folder, mode=mode)
        client = vnb.Client(store=store)
        first = client.edit(photo, "make it snowy", model="qwen-image-2-edit")
        client.edit(photo, "a red hat", model="firered-image-edit")
        assert not first.from_store  # sent both times: refresh asks again
        vnb.save_recording(store, folder)
        if mode == "use":
            recorded = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*")
                        if p.is_file() and ".store" not in p.parts}
            line = (folder / "results.jsonl").read_text().splitlines()[0]
            for moment in ('"elapsed"', '"date"', "x-ratelimit-remaining", "x-ratelimit-reset"):
                assert moment not in line
    again = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*")
             if p.is_file() and ".store" not in p.parts}
    assert again == recorded and len(recorded) == 4  # index, models, two images


def test_a_replayed_result_captions_like_the_recorded_one(tmp_path: Path) -> None:
    folder = tmp_path / "rec"
    store = vnb.open_recording(folder)
    recorded = vnb.Client(store=store).edit(vnb.sample("cat"), "make it snowy",
                                            model="qwen-image-2-edit")
    vnb.save_recording(store, folder)
    replay = vnb.open_recording(tmp_path / "copy", mode="replay")  # empty: nothing recorded
    with pytest.raises(vnb.ReplayMissError):
        vnb.Client(store=replay).edit(vnb.sample("cat"), "make it snowy", model="qwen-image-2-edit")
    import shutil

    shutil.copytree(folder, tmp_path / "ci", ignore=shutil.ignore_patterns(".store"))
    replayed = vnb.Client(store=vnb.open_recording(tmp_path / "ci", mode="replay")).edit(
        vnb.sample("cat"), "make it snowy", model="qwen-image-2-edit")
    assert replayed.from_store and replayed.data == recorded.data
    assert replayed._repr_html_() == recorded._repr_html_()
    _, text = _picture(CompareView(vnb.sample("cat"), replayed))
    assert text == _picture(CompareView(vnb.sample("cat"), recorded))[1]


WIDGET_CELLS = [
    "import venice_nb as vnb\nclient = vnb.Client()\n"
    "res = client.edit(vnb.sample('rocket'), 'change the sky to a sunrise')",
    "vnb.widgets.CompareView(vnb.sample('rocket'), res)",
    "vnb.widgets.ResultGrid([res], columns=2)",
    "vnb.widgets.MaskPainter(vnb.sample('cat'))",
    "vnb.widgets.EditStudio(vnb.sample('cat'), client=client)",
]
OFFLINE_PICTURE = re.compile(r'<img [^>]*src="data:image/jpeg;base64,')
# nbconvert's own template links MathJax and require.js from a CDN (for maths, not pictures);
# the widget manager it would fetch for a widget view is what must be absent.
WIDGET_MANAGER = re.compile(r"unpkg\.com|html-manager|application/vnd\.jupyter\.widget-view")


def _nbconvert(*args: str, cwd: Path) -> None:
    import subprocess
    import sys

    jupyter = Path(sys.executable).parent / "jupyter"
    subprocess.run([str(jupyter), "nbconvert", *args], cwd=cwd, check=True,
                   capture_output=True, timeout=600)


@pytest.mark.parametrize("widget_state", [True, False], ids=["state-saved", "no-state"])
def test_stock_nbconvert_publishes_every_picture_offline(tmp_path: Path,
                                                         widget_state: bool) -> None:
    """The documented path (docs/publishing.md): execute with stock nbconvert, with widget
    state saved (as nbconvert does by default and JupyterLab's "Save widget state" does) or
    not, then convert with the metadata cleared: every widget shows as its picture."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in WIDGET_CELLS]
    nbformat.write(nb, tmp_path / "t.ipynb")
    _nbconvert("--execute", "--to", "notebook", "--output", "run.ipynb",
               f"--ExecutePreprocessor.store_widget_state={widget_state}", "t.ipynb",
               cwd=tmp_path)
    run = nbformat.read(tmp_path / "run.ipynb", as_version=4)
    assert ("widgets" in run.metadata) == widget_state
    _nbconvert("--to", "html", "--ClearMetadataPreprocessor.enabled=True", "--output",
               "page.html", "run.ipynb", cwd=tmp_path)
    page = (tmp_path / "page.html").read_text("utf-8")
    assert len(OFFLINE_PICTURE.findall(page)) == 4  # one per widget cell
    assert not WIDGET_MANAGER.search(page), "pictures must not wait for a CDN widget manager"
    if widget_state:  # why the metadata must go: nbconvert would render the (CDN) widget
        # views of the interactive ones; only the plain contact sheet keeps its picture
        _nbconvert("--to", "html", "--output", "plain.html", "run.ipynb", cwd=tmp_path)
        plain = (tmp_path / "plain.html").read_text("utf-8")
        assert len(OFFLINE_PICTURE.findall(plain)) == 1 and WIDGET_MANAGER.search(plain)


RESULT_CELLS = [
    "results = vnb.experiment(vnb.sample('cat'), ['make it snowy', 'a red hat'], "
    "'firered-image-edit', client=client, progress='widget')",
    "results.contact_sheet()",
]
LEGEND = re.compile(r"<ol class=[\"']venice-sheet-legend")
LIVE_VIEW = re.compile(r'<script type="application/vnd\.jupyter\.widget-view\+json">')


@pytest.mark.parametrize("route", ["execute-to-html", "saved-state", "no-state"])
def test_the_plain_nbconvert_command_shows_result_pictures_offline(tmp_path: Path,
                                                                   route: str) -> None:
    """No flags: `jupyter nbconvert --to html --execute` (which saves widget state), and plain
    `--to html` of a notebook saved with JupyterLab's "Save widget state" on or off. Result
    displays (a contact sheet, the finished progress bar) are plain outputs: their pictures
    and the sheets' captions, as text, are in the page whatever the widget state. Interactive
    widgets show their pictures when no state was saved; with state, nbconvert renders them
    as live views (a CDN widget manager): docs/publishing.md gives the flags for those."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in WIDGET_CELLS + RESULT_CELLS]
    nbformat.write(nb, tmp_path / "t.ipynb")
    if route == "execute-to-html":
        _nbconvert("--to", "html", "--execute", "t.ipynb", cwd=tmp_path)
        page = (tmp_path / "t.html").read_text("utf-8")
    else:
        _nbconvert("--execute", "--to", "notebook", "--output", "run.ipynb",
                   f"--ExecutePreprocessor.store_widget_state={route == 'saved-state'}",
                   "t.ipynb", cwd=tmp_path)
        _nbconvert("--to", "html", "run.ipynb", cwd=tmp_path)
        page = (tmp_path / "run.html").read_text("utf-8")
    state = route != "no-state"
    interactive = 3  # CompareView, MaskPainter, EditStudio
    # the grid, the progress bar and the experiment's sheet; the interactive ones without state
    assert len(OFFLINE_PICTURE.findall(page)) == 3 + (0 if state else interactive)
    assert len(LIVE_VIEW.findall(page)) == (interactive if state else 0)
    assert len(LEGEND.findall(page)) == 2
    legend = page[page.rindex("venice-sheet-legend"):]
    assert "make it snowy" in legend and "a red hat" in legend and "$0.04 at Venice" in legend
    if route != "execute-to-html":  # the bar's output is the finished one, as a plain picture
        run = nbformat.read(tmp_path / "run.ipynb", as_version=4)
        (bar,) = run.cells[len(WIDGET_CELLS)].outputs
        assert set(bar.data) == {"image/jpeg", "text/plain"}
        assert bar.data["text/plain"].startswith("experiment: 2/2 jobs · 2 done")
