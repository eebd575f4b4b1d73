"""The docs site's notebook pages on a phone (390 px, device scale 3, light and dark): a
contact sheet is a picture with readable numbers and its captions are real text under it.

Captions drawn into the sheet's picture used to be about 3 px tall at this width.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
SHEETS = {"04_prompt_experiments": [9, 8], "02_mask_painting": [2]}  # cards per sheet
WORDS = {"04_prompt_experiments": 0, "02_mask_painting": 3}  # studio, painter, compare view


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    out = tmp_path_factory.mktemp("site")
    build(load_config(str(ROOT / "mkdocs.yml"), site_dir=str(out), strict=True))
    return out


@pytest.fixture(params=["light", "dark"])
def phone(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 390, "height": 844},
                                  device_scale_factor=3, color_scheme=request.param)
    try:
        yield context.new_page(), request.param
    finally:
        context.close()


@pytest.mark.parametrize("notebook", sorted(SHEETS))
def test_contact_sheets_read_on_a_phone(site: Path, phone: tuple[Any, str], notebook: str,
                                        artifacts: Path) -> None:
    page, scheme = phone
    page.goto((site / "notebooks" / notebook / "index.html").as_uri())
    if scheme == "dark":  # the site's own dark palette, as its toggle sets it
        page.evaluate("document.body.setAttribute('data-md-color-scheme', 'slate')")
    legends = page.locator("ol.venice-sheet-legend")
    assert legends.count() == len(SHEETS[notebook])
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the page scrolls sideways"
    for i, cards in enumerate(SHEETS[notebook]):
        legend = legends.nth(i)
        assert legend.locator("li").count() == cards
        assert legend.is_visible()  # no live grid here: the captions show
        font = legend.locator("li").first.evaluate(
            "li => parseFloat(getComputedStyle(li).fontSize)")
        assert font >= 14, font
        cell = legend.locator("xpath=ancestor::div[contains(@class, 'jp-Cell')][1]")
        sheet = cell.locator("img[src^='data:image/jpeg']").last
        sheet.scroll_into_view_if_needed()
        box, natural = sheet.bounding_box(), sheet.evaluate("img => img.naturalWidth")
        assert box is not None and box["width"] >= 300, box  # the prompt column is gone
        # the numbers are set in a 44 px font in the picture: at least 13 px on this screen
        assert 44 * box["width"] / natural >= 13, (box, natural)
        cell.screenshot(path=str(artifacts / f"docs-phone-{notebook}-{i}-{scheme}.png"))
    # A studio's, painter's or compare view's words follow its picture as text too.
    words = page.locator(".venice-picture-caption")
    assert words.count() == WORDS[notebook]
    for i in range(words.count()):
        words.nth(i).scroll_into_view_if_needed()
        assert words.nth(i).is_visible()
        size = words.nth(i).evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
        assert size >= 14, size


LIVE = """
import venice_nb as vnb
from venice_nb.widgets import ResultGrid
client = vnb.Client(store={folder!r})
results = vnb.experiment(vnb.sample("cat"), ["make it snowy", "a red hat"], "firered-image-edit",
                         client=client, progress=False)
results.contact_sheet()
"""
PLAIN = """
ResultGrid([(vnb.sample("rocket"), "the rocket"), results[0].result])
"""
LIVE_VIEW = """
from venice_nb.widgets import CompareView
CompareView(vnb.sample("cat"), results[0].result)
"""


def test_in_jupyterlab_a_live_sheet_hides_its_caption_list_a_plain_one_shows_it(
        lab: tuple[Any, Any]) -> None:
    """A sheet with marks is live (its cards carry captions): the list under it, there for
    saved copies, is hidden. A sheet without buttons is its picture and the list."""
    from .conftest import open_notebook

    page, server = lab
    nb = open_notebook(page, server, "sheets", [LIVE.format(folder=str(server.root / "st")),
                                                 PLAIN, LIVE_VIEW])
    legends = page.locator("ol.venice-sheet-legend")
    page.wait_for_function("() => document.querySelectorAll('ol.venice-sheet-legend').length"
                           " === 2")
    live, plain = legends.nth(0), legends.nth(1)
    assert page.locator(".venice-marked-sheet .venice-result-card").count() == 2
    assert not live.is_visible()
    plain.scroll_into_view_if_needed()
    assert plain.is_visible() and plain.locator("li").count() == 2
    assert "the rocket" in plain.inner_text()
    assert "$0.04 at Venice · $0 here" in plain.inner_text()  # text, not typeset as maths
    picture = page.locator(".jp-RenderedImage img[src^='data:image/jpeg']")
    assert picture.count() == 1  # the plain sheet's; the live one shows its widget
    nb.assert_widgets_healthy()
    # The live compare view says its words itself: the text under it is for saved copies.
    page.locator(".venice-compare-view").first.wait_for(state="visible")
    words = page.locator(".venice-picture-caption")
    assert words.count() == 1 and not words.first.is_visible()
    nb.shot("live-and-plain-sheets")
