"""The report, the store, the browser and captions state money and marks the same, true way.

Real experiments on the local backend, a real SQLite store; the report's phone layout is
measured in headless Chromium.
"""

from __future__ import annotations

import dataclasses
import html
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import venice_nb as vnb
from venice_nb._backend import LocalBackend
from venice_nb.widgets import ResultBrowser

FIRERED = 0.04  # firered-image-edit's price per edit at Venice
CHROMIUM = os.environ.get("VENICE_NB_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture
def stored(backend: LocalBackend, tmp_path: Path) -> Iterator[vnb.Client]:
    with vnb.Client("k", base_url=backend.url, store=tmp_path / "store") as c:
        yield c


@pytest.fixture
def results(stored: vnb.Client) -> vnb.ExperimentResults:
    return vnb.experiment({"cat": vnb.sample("cat")}, ["make it snowy", "a red hat"],
                          ["firered-image-edit"], client=stored, progress=False)


def test_a_mark_through_the_store_shows_in_the_results_it_came_from(
    results: vnb.ExperimentResults, stored: vnb.Client
) -> None:
    assert results.picked() == []
    first = results[1].result
    assert first is not None and stored.store is not None
    stored.store.mark(first, picked=True, rating=4, note="keeps the <whiskers>")
    assert [r.index for r in results.picked()] == [1]
    assert results[1].rating == 4 and results[1].note == "keeps the <whiskers>"
    assert results.to_dicts()[1]["picked"] is True


def test_the_report_shows_picks_ratings_and_notes(results: vnb.ExperimentResults,
                                                  tmp_path: Path) -> None:
    results.mark(0, picked=True, rating=5, note="the <only> one")
    page = results.to_html(tmp_path / "r.html").read_text("utf-8")
    marks = "★ picked · 5/5 · " + html.escape("the <only> one")
    assert page.count(marks) == 2  # on the card and in the table
    assert "<only>" not in page  # the note is text, never markup
    assert page.count("class='card done picked'") == 1


def test_money_is_stated_one_way_everywhere(results: vnb.ExperimentResults,
                                            stored: vnb.Client, tmp_path: Path) -> None:
    """Local: the Venice price of what ran, and nothing charged here, in the same words."""
    one, both = "$0.04 at Venice · $0 here", "$0.08 at Venice · $0 here"
    assert stored.store is not None
    result = results[0].result
    assert result is not None
    assert one in result.caption() and one in results[0].caption
    assert both in results.summary()
    page = results.to_html(tmp_path / "r.html").read_text("utf-8")
    assert both in page and page.count(one) == 4  # two cards, two table rows
    stats = stored.store.stats()
    assert (stats["cost_at_venice_usd"], stats["cost_here_usd"]) == (2 * FIRERED, 0)
    assert both in ResultBrowser(stored.store)._header.value
    for stale in ("(local)", "~$", "at Venice prices", "0.0000", "spent $"):
        assert stale not in page and stale not in result.caption(), stale


def test_a_venice_answer_costs_the_same_here(client: vnb.Client) -> None:
    local = client.edit(vnb.sample("cat"), "make it snowy", model="firered-image-edit")
    venice = dataclasses.replace(local, is_local=False)  # the same answer, as Venice's
    assert "$0.04 at Venice · $0.04 here" in venice.caption()


def test_a_replayed_report_differs_only_where_the_store_answered(
    results: vnb.ExperimentResults, stored: vnb.Client, tmp_path: Path
) -> None:
    """No timings and no "from store" in a report: a re-run answered by the store differs only
    in the words that say so (status "cached" and the summary's counts)."""
    first = results.to_html(tmp_path / "a.html").read_text("utf-8")
    again = vnb.experiment({"cat": vnb.sample("cat")}, ["make it snowy", "a red hat"],
                           ["firered-image-edit"], client=stored, progress=False)
    assert again.counts["cached"] == 2  # answered by the store this time
    second = again.to_html(tmp_path / "b.html").read_text("utf-8")
    summary = re.compile(r"<p class='summary'>.*?</p>")
    assert summary.search(second)[0] != summary.search(first)[0]  # type: ignore[index]
    assert summary.sub("", second).replace("cached", "done") == summary.sub("", first)


@pytest.mark.browser
def test_the_report_fits_a_phone(results: vnb.ExperimentResults, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    results.mark(1, picked=True, rating=3, note="a long note " * 6)
    path = results.to_html(tmp_path / "r.html")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = chromium.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
        page.goto(path.as_uri())
        width = page.evaluate("document.documentElement.scrollWidth")
        table = page.evaluate("document.querySelector('table').getBoundingClientRect().right")
        artifacts = Path(os.environ.get("VENICE_NB_ARTIFACTS", "test-artifacts"))
        artifacts.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(artifacts / "report-390.png"), full_page=True)
        chromium.close()
    assert width <= 390 and table <= 390, (width, table)
