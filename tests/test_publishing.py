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
    assert "- the original\n- change the sky to a sunrise" in text
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
    _, text = _picture(studio)
    assert "latest result" not in text
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


def test_contact_sheet_png_and_html_report(client: vnb.Client, tmp_path: Path) -> None:
    results = vnb.experiment({"cat": vnb.sample("cat")}, ["make it snowy", "make it explicit"],
                             ["firered-image-edit"], client=client, progress=False)
    sheet = results.contact_sheet().save_png(tmp_path / "sheet.png")
    with Image.open(sheet) as img:
        assert img.format == "PNG" and img.width > 400
    page = results.to_html(tmp_path / "report.html").read_text()
    assert page.startswith("<!doctype html>") and "make it explicit" in page
    assert page.count("<img src='data:image/jpeg;base64,") == 1  # the failure has no picture
    assert "content policy" in page and "1 done" in page and "1 failed" in page
    assert not re.search(r"(src|href)=['\"]https?:", page), "the report must open offline"


def test_progress_picture_shows_the_counts() -> None:
    view = ProgressView("experiment")
    view.bar.max, view.bar.value = 9, 3
    view.label.value = "3 done, 0 cached, 0 failed, 0 skipped, ~$0.150"
    picture, text = _picture(view)
    assert text.startswith("experiment: 3/9 jobs · 3 done")
    row = np.asarray(picture.convert("RGB"))[14]  # through the bar
    blue = (row[:, 2].astype(int) - row[:, 0] > 100).sum()
    assert 140 < blue < 180  # a third of the 480 px bar
    view.refresh_saved()  # never displayed: nothing to refresh, no error
