"""Prompt experiments that help decide: variables, repeats, mask-respect figures, picks and notes.

Real SQLite stores and the real local backend (which changes exactly the masked pixels).
"""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
import pytest
from PIL import Image

import venice_nb as vnb
from venice_nb._backend import LocalBackend
from venice_nb._respect import CHANGE_LEVEL, mask_respect
from venice_nb._store._records import ExperimentResults

from ._spec import SpecCheckingTransport, venice_price
from .conftest import TEST_KEY, sample_path

if TYPE_CHECKING:
    from venice_nb.widgets import ResultBrowser

FIRERED = venice_price("firered-image-edit", "inpaint")
QWEN = venice_price("qwen-image-2-edit", "inpaint")

HATS = {"color": ["red", "blue"], "hat": ["cap", "beret"]}


def _client(backend: LocalBackend, store: Path) -> vnb.Client:
    http = httpx.Client(transport=SpecCheckingTransport(), timeout=60)
    return vnb.Client(TEST_KEY, base_url=backend.url, store=store, http_client=http)


def _edits(client: vnb.Client) -> int:
    """Edits sent (POSTs): the model list and the account endpoints are GETs."""
    transport = client._http._transport
    assert isinstance(transport, SpecCheckingTransport)
    return len(transport.posts)


def _png(arr: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, mode).save(buf, "PNG")
    return buf.getvalue()


def _half_mask(size: tuple[int, int]) -> bytes:
    w, h = size
    mask = np.zeros((h, w), np.uint8)
    mask[:, : w // 2] = 255
    return _png(mask, "L")


# 1. Prompt variables.
def test_variables_fill_the_template_and_become_columns(
    backend: LocalBackend, tmp_path: Path
) -> None:
    with _client(backend, tmp_path / "s") as client:
        estimate = vnb.estimate_experiment(sample_path(), "give the cat a {color} {hat}",
                                           ["firered-image-edit", "qwen-image-2-edit"],
                                           variables=HATS, client=client)
        assert estimate.jobs == 8 and estimate.total_usd == pytest.approx(4 * FIRERED + 4 * QWEN)
        results = vnb.experiment(sample_path(), "give the cat a {color} {hat}",
                                 ["firered-image-edit", "qwen-image-2-edit"], variables=HATS,
                                 client=client, progress=False)
        store = client.store
    assert results.counts["done"] == 8 and _edits(client) == 8
    prompts = {(r.variables["color"], r.variables["hat"]): r.prompt for r in results}
    assert prompts[("blue", "beret")] == "give the cat a blue beret" and len(prompts) == 4
    frame = results.to_dataframe()
    assert {"color", "hat"} <= set(frame.columns)
    assert sorted(frame.loc[frame.model == "qwen-image-2-edit", "color"]) == [
        "blue", "blue", "red", "red"]
    red = store.history(variables={"color": "red"})
    assert len(red) == 4 and all(r.variables["color"] == "red" for r in red)
    assert {r.prompt for r in store.history(variables={"color": "red", "hat": "cap"})} == {
        "give the cat a red cap"}


def test_the_contact_sheet_lays_out_any_two_dimensions(
    backend: LocalBackend, tmp_path: Path
) -> None:
    with _client(backend, tmp_path / "s") as client:
        results = vnb.experiment(sample_path(), "give the cat a {color} {hat}",
                                 ["firered-image-edit", "qwen-image-2-edit"], variables=HATS,
                                 client=client, progress=False)
    lines = results.layout(rows="color", columns="model")
    assert len(lines) == 4 and all(len(line) == 2 for line in lines)  # 2 colors x 2 hats
    assert [line[0].variables["color"] for line in lines] == ["red", "red", "blue", "blue"]
    assert all([c.model for c in line] == ["firered-image-edit", "qwen-image-2-edit"]
               for line in lines)
    by_hat = results.layout(rows="model", columns="hat")
    assert all([c.variables["hat"] for c in line] == ["cap", "beret"] for line in by_hat)
    with pytest.raises(vnb.ValidationError, match="no dimension 'colour'"):
        results.layout(columns="colour")
    sheet = results.contact_sheet(columns="color", rows="hat")
    assert sheet.columns == 2 and len(sheet.items) == 8


@pytest.mark.parametrize(("prompts", "variables", "match"), [
    ("a {color} hat", {"colour": ["red"]}, "uses color, not in variables"),
    ("a red hat", {"color": ["red"]}, "variables color appear in no prompt"),
    ("a {model} hat", {"model": ["x"]}, "cannot name a variable"),
    ("a {color} hat", {"color": []}, "non-empty list"),
    ("a {color hat", {"color": ["red"]}, "literal braces"),
    ("a {color} hat", ["red"], "dict of lists"),
])
def test_bad_variables_fail_before_any_request(
    backend: LocalBackend, tmp_path: Path, prompts: str, variables: object, match: str
) -> None:
    with _client(backend, tmp_path / "s") as client, \
            pytest.raises(vnb.ValidationError, match=match) as info:
        vnb.experiment(sample_path(), prompts, "firered-image-edit", variables=variables,
                       client=client, progress=False)
    assert info.value.action and backend.stats.requests <= 1  # the model list at most


# 2. Repeats.
def test_repeats_are_distinct_stored_requests_paid_once(
    backend: LocalBackend, tmp_path: Path
) -> None:
    with _client(backend, tmp_path / "s") as client:
        first = vnb.experiment(sample_path(), ["snow", "rain"], "firered-image-edit",
                               repeats=2, client=client, progress=False)
        assert first.counts["done"] == 4 and _edits(client) == 4
        assert [(r.prompt, r.repeat) for r in first] == [
            ("snow", 0), ("snow", 1), ("rain", 0), ("rain", 1)]
        assert len({r.result.fingerprint for r in first}) == 4 and len(client.store) == 4
        again = vnb.estimate_experiment(sample_path(), ["snow", "rain"], "firered-image-edit",
                                        repeats=2, client=client)
        assert again.to_send == 0 and again.to_spend_usd == 0
        more = vnb.estimate_experiment(sample_path(), ["snow", "rain"], "firered-image-edit",
                                       repeats=3, client=client)
        assert more.to_send == 2 and more.to_spend_usd == pytest.approx(2 * FIRERED)
        third = vnb.experiment(sample_path(), ["snow", "rain"], "firered-image-edit",
                               repeats=3, client=client, progress=False)
        assert third.counts == {"done": 2, "cached": 4, "failed": 0, "skipped": 0}
        assert third.spent_usd == pytest.approx(2 * FIRERED)
        assert _edits(client) == 6 and len(client.store) == 6
        single = vnb.experiment(sample_path(), "snow", "firered-image-edit", client=client,
                                progress=False)  # repeat 0 is the plain request
        assert single.counts["cached"] == 1 and _edits(client) == 6
    assert sorted(r.repeat for r in client.store.history()) == [0, 0, 1, 1, 2, 2]
    assert "run 3" in third[2].caption and third.to_dataframe()["repeat"].tolist() == [
        0, 1, 2, 0, 1, 2]


def test_repeats_keep_a_column_per_model(backend: LocalBackend, tmp_path: Path) -> None:
    with _client(backend, tmp_path / "s") as client:
        results = vnb.experiment(sample_path(), "snow", ["firered-image-edit",
                                 "qwen-image-2-edit"], repeats=2, client=client, progress=False)
    assert [(r.model, r.repeat) for r in results] == [
        ("firered-image-edit", 0), ("qwen-image-2-edit", 0),
        ("firered-image-edit", 1), ("qwen-image-2-edit", 1)]
    assert results.columns == 2 and [[c.model for c in line] for line in results.layout()] == [
        ["firered-image-edit", "qwen-image-2-edit"]] * 2


@pytest.mark.parametrize("repeats", [0, -1, 1.5, True, "2"])
def test_bad_repeats_are_refused(backend: LocalBackend, repeats: object) -> None:
    with _client(backend, None) as client, \
            pytest.raises(vnb.ValidationError, match="repeats=") as info:
        vnb.estimate_experiment(sample_path(), "snow", "firered-image-edit", repeats=repeats,
                                client=client)
    assert info.value.field == "repeats"


# 3. Mask-respect figures.
def test_mask_respect_of_a_known_leak() -> None:
    rng = np.random.default_rng(3)
    base = rng.integers(0, 256, (100, 200, 3), dtype=np.uint8)
    mask = np.zeros((100, 200), np.uint8)
    mask[:, :50] = 255  # the left quarter
    edited = base.copy()
    edited[:, :50] = 255 - edited[:, :50]  # inverted inside
    edited[:, 150:] = (edited[:, 150:].astype(int) + 100) % 256  # a leak: the right quarter
    expected_inside = float((np.abs(255 - 2 * base[:, :50].astype(int)).max(axis=2)
                             > CHANGE_LEVEL).mean())
    respect = mask_respect(_png(base), _png(mask, "L"), _png(edited))
    assert respect.inside == pytest.approx(expected_inside, abs=1e-4)
    outside_pixels = 100 * (200 - 52)  # the mask grows by 2 px (1 % of 100, at least 2)
    assert respect.outside == pytest.approx(100 * 50 / outside_pixels, abs=1e-4)
    assert mask_respect(_png(base), _png(np.zeros((100, 200), np.uint8), "L"), _png(edited)) \
        is None


def test_mask_respect_compares_at_the_inputs_size() -> None:
    base = np.full((60, 80, 3), 90, np.uint8)
    mask = np.zeros((30, 40), np.uint8)  # a smaller mask: stretched to the image
    mask[:, :20] = 255
    bigger = np.full((120, 160, 3), 90, np.uint8)  # returned at twice the size, unchanged
    respect = mask_respect(_png(base), _png(mask, "L"), _png(bigger))
    assert (respect.inside, respect.outside) == (0.0, 0.0)


def test_local_edits_keep_to_the_mask_and_the_figures_say_so(
    backend: LocalBackend, tmp_path: Path
) -> None:
    cat = Image.open(sample_path()).convert("RGB")
    mask = _half_mask(cat.size)
    with _client(backend, tmp_path / "s") as client:
        results = vnb.experiment(sample_path(), "invert the colors", "firered-image-edit",
                                 masks={"left": mask, "none": None}, client=client,
                                 progress=False)
    masked, plain = results
    left = np.asarray(cat)[:, : cat.size[0] // 2].astype(int)
    expected = float((np.abs(255 - 2 * left).max(axis=2) > CHANGE_LEVEL).mean())
    assert masked.respect.outside == 0.0  # the local backend changes exactly the masked pixels
    assert masked.respect.inside == pytest.approx(expected, abs=0.01) and expected > 0.5
    assert plain.respect is None
    row = results.to_dicts()[0]
    assert row["changed_outside_mask"] == 0.0 and row["changed_inside_mask"] > 0.5
    assert "changed inside" in masked.caption and results.to_dicts()[1][
        "changed_inside_mask"] is None


# 4. Picks and notes.
_NEW_PROCESS = r"""
import sys, venice_nb as vnb
store = vnb.ResultStore(sys.argv[1])
for r in store.history(picked=True):
    print(r.prompt, r.rating, r.note, r.variables["color"], sep="|")
print(len(store.history(min_rating=4)), len(store.history(picked=False)))
"""


def test_picks_and_notes_live_in_the_store(backend: LocalBackend, tmp_path: Path) -> None:
    folder = tmp_path / "s"
    with _client(backend, folder) as client:
        results = vnb.experiment(sample_path(), "a {color} hat", "firered-image-edit",
                                 variables={"color": ["red", "blue", "green"]}, client=client,
                                 progress=False)
        assert results.picked() == []
        results.mark(1, picked=True, rating=5, note="the blue one fits")
        results.mark(results[2], rating=2)
        assert [r.variables["color"] for r in results.picked()] == ["blue"]
        assert "★ picked" in results[1].caption and "5/5" in results[1].caption
        again = vnb.experiment(sample_path(), "a {color} hat", "firered-image-edit",
                               variables={"color": ["red", "blue", "green"]}, client=client,
                               progress=False)  # answered from the store: marks come back
        assert again.counts["cached"] == 3
        assert [(r.picked, r.rating, r.note) for r in again] == [
            (False, None, None), (True, 5, "the blue one fits"), (False, 2, None)]
        frame = again.to_dataframe()
        assert frame["picked"].tolist() == [False, True, False]
        again.mark(1, note="")  # clears the note, keeps the pick
        assert (again[1].picked, again[1].note) == (True, None)
        again.mark(1, note="blue, on reflection")
    out = subprocess.run([sys.executable, "-c", _NEW_PROCESS, str(folder)], capture_output=True,
                         text=True, timeout=120)  # a kernel restart: a new process
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["a blue hat|5|blue, on reflection|blue", "1 2"]
    store = vnb.ResultStore(folder)
    for suffix in ("csv", "json"):
        path = store.export(tmp_path / f"picked.{suffix}", picked=True)
        (back,) = vnb.ResultStore.read_export(path)
        assert (back.picked, back.rating, back.note, back.variables) == (
            True, 5, "blue, on reflection", {"color": "blue"})


def test_bad_marks_are_refused(backend: LocalBackend, tmp_path: Path) -> None:
    with _client(backend, tmp_path / "s") as client:
        results = vnb.experiment(sample_path(), ["snow", "rain"], "firered-image-edit",
                                 client=client, budget=FIRERED * 1.5, progress=False)
    assert results[1].status == "skipped"
    with pytest.raises(vnb.ValidationError, match="no result to mark") as info:
        results.mark(1, picked=True)
    assert info.value.action
    for bad in ({"rating": 6}, {"rating": True}, {"picked": "yes"}, {"note": "x" * 501}):
        with pytest.raises(vnb.ValidationError):
            results.mark(0, **bad)
    for where in (2, "0", None, True):
        with pytest.raises(vnb.ValidationError, match="record="):
            results.mark(where, picked=True)
    assert results.store.get(results[0].result).picked is False  # nothing half-applied
    unstored = ExperimentResults(results, estimate=results.estimate, columns=1, wall_time=0.0)
    with pytest.raises(vnb.ValidationError, match="without one"):
        unstored.mark(0, picked=True)


def test_repr_is_safe_on_half_built_results() -> None:
    half = ExperimentResults.__new__(ExperimentResults)
    assert repr(half) == "ExperimentResults(0 records)"


def _controls(sheet: Any) -> list[tuple[Any, Any, Any, Any]]:
    """(pick, rating, note, status) of every card that has marks."""
    out = []
    for card in sheet._grid.children:
        marks = [c for c in card.children if "venice-marks" in c._dom_classes]
        if marks:
            (pick, rating), (note, status) = marks[0].children[0].children, marks[0].children[1:]
            out.append((pick, rating, note, status))
    return out


def test_the_contact_sheet_cards_save_marks_to_the_store(
    backend: LocalBackend, tmp_path: Path
) -> None:
    with _client(backend, tmp_path / "s") as client:
        results = vnb.experiment(sample_path(), ["snow", "rain"], "firered-image-edit",
                                 client=client, progress=False)
        sheet = results.contact_sheet()
        assert isinstance(sheet, vnb.widgets.ResultGrid)
        cards = _controls(sheet)
        assert len(cards) == 2
        pick, rating, note, status = cards[1]
        pick.value = True  # what a click on the toggle does
        rating.value = 4
        note.value = "the rain reads well"
        assert "saved: picked · 4/5 · the rain reads well" in status.value
        again = vnb.experiment(sample_path(), ["snow", "rain"], "firered-image-edit",
                               client=client, progress=False)
    assert [(r.picked, r.rating, r.note) for r in again] == [
        (False, None, None), (True, 4, "the rain reads well")]
    (_, _, _, _), (pick2, rating2, note2, _) = _controls(again.contact_sheet())
    assert (pick2.value, rating2.value, note2.value) == (True, 4, "the rain reads well")
    (stored,) = client.store.history(picked=True)
    assert stored.prompt == "rain"


def test_a_sheet_without_a_store_has_no_marks(backend: LocalBackend) -> None:
    with _client(backend, None) as client:
        results = vnb.experiment(sample_path(), "snow", "firered-image-edit", client=client,
                                 progress=False)
    assert results.store is None and _controls(results.contact_sheet()) == []


# 5. The browser of every stored result.
def _filled(folder: Path, n: int = 60) -> vnb.ResultStore:
    """``n`` stored results (half local, half "Venice"), labelled by colour; every 10th picked."""
    from venice_nb._client import _request
    from venice_nb._models import ModelInfo

    store = vnb.ResultStore(folder)
    model = ModelInfo(id="firered-image-edit", name="FireRed Edit", type="inpaint",
                      price_usd=0.04)
    base = _png(np.full((256, 256, 3), 120, np.uint8))
    rng = np.random.default_rng(0)
    for i in range(n):
        color = ("red", "blue", "green")[i % 3]
        prepared = _request.prepare_edit(base, f"a {color} hat, take {i}", model=model)
        out = _png(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8))
        store.record(prepared, {"content-type": "image/png",
                                "x-venice-model-id": "firered-image-edit"}, out, 0.1, i % 2 == 0)
        store._label([(prepared.fingerprint, i % 2 == 0, {"color": color})])
        if i % 10 == 0:
            store.mark(prepared.fingerprint, picked=True, rating=5)
    return store


def _count(browser: ResultBrowser) -> str:
    import re

    return re.search(r"(\d+) results?", browser._header.value).group(1)


def test_the_browser_pages_filters_and_totals(tmp_path: Path) -> None:
    from venice_nb.widgets import ResultBrowser

    store = _filled(tmp_path / "s")
    browser = ResultBrowser(store, page_size=24)
    assert _count(browser) == "60" and len(browser._grid.children) == 24
    # 60 answers x $0.04 at Venice; the 30 local ones cost nothing here
    assert "$2.40 at Venice · $1.20 here" in browser._header.value
    assert browser.records[0].prompt == "a green hat, take 59"  # newest first
    browser._next.click()
    browser._next.click()
    assert len(browser._grid.children) == 12 and browser._next.disabled
    browser._prompt.value = "green"
    assert _count(browser) == "20" and browser.page == 0
    browser._prompt.value = ""
    browser._vars.value = "color=red"
    assert _count(browser) == "20" and all(r.variables == {"color": "red"}
                                           for r in browser.records)
    browser._vars.value = ""
    browser._picked.value = True
    assert _count(browser) == "6" and all(r.picked for r in browser.records)
    browser._backend.value = "Venice"
    assert _count(browser) == "0" and browser._grid.children == ()
    browser._picked.value = False
    assert _count(browser) == "30" and all(not r.is_local for r in browser.records)
    browser._since.value = date.today() + timedelta(days=1)
    assert _count(browser) == "0"
    browser._since.value = date.today() - timedelta(days=1)
    assert _count(browser) == "30"
    browser._vars.value = "color red"
    assert "name=value" in browser._header.value  # a bad filter says what to write


def test_the_browser_compares_opens_and_exports_ticked_results(
    tmp_path: Path, client: vnb.Client
) -> None:
    from venice_nb.widgets import CompareView, EditStudio, ResultBrowser

    store = _filled(tmp_path / "s", 12)
    browser = ResultBrowser(store, client=client, page_size=8)
    ticks = [card.children[2] for card in browser._grid.children]
    assert browser._compare_button.disabled and browser._export.disabled
    ticks[0].value = ticks[3].value = True
    assert not browser._compare_button.disabled and browser._studio.disabled
    view = browser.compare()
    assert isinstance(view, CompareView)
    browser._path.value = str(tmp_path / "ticked.json")
    browser._export.click()
    back = vnb.ResultStore.read_export(tmp_path / "ticked.json")
    assert sorted(str(r.prompt) for r in back) == sorted(
        [str(browser.records[0].prompt), str(browser.records[3].prompt)])
    assert "exported 2" in browser._status.value
    browser._studio.click()  # two ticked: the studio needs one
    assert "tick exactly 1" in browser._status.value
    ticks[3].value = False
    studio = browser.open_in_studio()
    assert isinstance(studio, EditStudio)
    browser._next.click()  # ticks survive paging
    assert len(browser.selected) == 1


def test_the_browser_has_a_plain_repr(tmp_path: Path) -> None:
    from venice_nb.widgets import ResultBrowser

    assert repr(ResultBrowser(vnb.ResultStore(tmp_path / "s"))).startswith("ResultBrowser(")


def test_the_browser_leaves_a_picture_for_saved_notebooks(tmp_path: Path) -> None:
    from venice_nb.widgets import ResultBrowser

    browser = ResultBrowser(_filled(tmp_path / "s", 8), page_size=5)
    bundle = browser._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    page = bundle["text/html"]
    assert page.count("<img") == 5 and "8 results" in page
    assert "a blue hat, take 7" in page  # the newest first, as on screen


def test_browsing_a_clients_store_opens_the_studio_with_that_client(
    backend: LocalBackend, tmp_path: Path
) -> None:
    from venice_nb.widgets import ResultBrowser

    with _client(backend, tmp_path / "s") as client:
        vnb.experiment(sample_path(), "snow", "firered-image-edit", client=client,
                       progress=False)
        browser = ResultBrowser(client)
        assert browser.store is client.store and browser.client is client
        browser.select(browser.records[0])
        assert browser.open_in_studio().client is client
    with pytest.raises(vnb.ValidationError, match="cannot browse a int"):
        ResultBrowser(3)
