"""Every piece of HTML venice_nb shows, fed hostile text: it must stay text.

Walks every ``_repr_html_``, every widget's HTML value (recursively through children) and every
saved-notebook picture (``_repr_mimebundle_``'s ``text/html``) of the objects a person displays:
``EditResult``, ``ModelInfo``, ``CostEstimate``, experiment records, contact sheets, the HTML
report, ``ResultBrowser``, ``EditStudio`` and the error lines widgets show. Hostile text comes
from where it would in real use: prompts, labels, prompt variables, notes, response headers,
model lists and error messages. Property-based (hypothesis) where building the object is cheap.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import venice_nb as vnb
from venice_nb._backend import LocalBackend
from venice_nb._models import ModelInfo
from venice_nb._result import EditResult

from .test_hostile_recordings import assert_inert

PAYLOADS = [
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1) x-pwn=1>",
    "' onerror='alert(1)' x-pwn='",
    "</textarea><svg onload=alert(1) x-pwn>",
    "<iframe srcdoc='<script>parent.__pwned=1</script>'></iframe>",
    "javascript:alert(1)//<a href=javascript:alert(1) x-pwn>x</a>",
]
# Text made of the pieces markup is made of.
_HOSTILE = st.one_of(st.sampled_from(PAYLOADS), st.lists(st.sampled_from(
    ["<", ">", "\"", "'", "&", "=", " ", "/", "`", "\n", "onerror", "x-pwn", "script", "img",
     "a"]), min_size=1, max_size=30).map("".join))


def _png(side: int = 64) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (side, side), (90, 140, 200)).save(buf, "PNG")
    return buf.getvalue()


def _html_values(item: Any, seen: set[int] | None = None) -> Iterator[str]:
    """Every HTML string a displayed object hands the page: its ``_repr_html_``, its saved
    picture, and (for widgets) every descendant's HTML value."""
    import ipywidgets as widgets

    seen = set() if seen is None else seen
    if id(item) in seen:
        return
    seen.add(id(item))
    if hasattr(item, "_repr_html_"):
        yield item._repr_html_()
    if isinstance(item, (widgets.HTML, widgets.HTMLMath)):
        yield item.value
    if isinstance(item, widgets.Widget) and hasattr(item, "_repr_mimebundle_"):
        bundle = item._repr_mimebundle_() or {}
        if "text/html" in bundle:
            yield bundle["text/html"]
    for child in getattr(item, "children", ()) or ():
        yield from _html_values(child, seen)


@settings(max_examples=80, deadline=None)
@given(text=_HOSTILE)
def test_an_edit_result_and_a_model_shown_from_hostile_text(text: str) -> None:
    headers = {"content-type": f"image/png{text}", "x-venice-model-name": text,
               "x-venice-model-deprecation-warning": text, "x-venice-deprecated": "true",
               "x-venice-deprecated-replacement": text}
    result = EditResult(data=_png(), content_type=f"image/png{text}", headers=headers,
                        elapsed=0.5, request={"prompt": text, "model": text}, fingerprint="f")
    assert_inert(result._repr_html_())
    info = ModelInfo.from_api({"id": text, "type": text, "model_spec": {
        "name": text, "constraints": {"maxInputImages": 3}}})
    assert_inert(info._repr_html_())


@settings(max_examples=40, deadline=None)
@given(text=_HOSTILE)
def test_error_lines_are_text(text: str) -> None:
    from venice_nb.widgets._util import friendly_error

    for exc in (vnb.ValidationError(text, action=text), RuntimeError(text), ValueError(text)):
        assert_inert(friendly_error(exc))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_experiments_sheets_reports_browser_and_studio_keep_hostile_text_as_text(
        payload: str, tmp_path: Path, backend: LocalBackend) -> None:
    store = vnb.ResultStore(tmp_path / "store")
    with vnb.Client(base_url=backend.url, store=store) as client:
        images = {payload: vnb.sample("cat")}
        prompt = "give the cat a {color} hat " + payload
        estimate = vnb.estimate_experiment(images, prompt, "qwen-image-2-edit",
                                           client=client, variables={"color": [payload]})
        results = vnb.experiment(images, prompt, ["qwen-image-2-edit", "firered-image-edit"],
                                 client=client, variables={"color": [payload]}, progress=False)
        done = next(r for r in results if r.ok)
        results.mark(done, picked=True, rating=3, note=payload)
        shown: list[Any] = [estimate, results.contact_sheet(), results.contact_sheet(
            columns="model"), *(r.result for r in results if r.result is not None)]
        from venice_nb.widgets import EditStudio, ResultBrowser

        shown += [ResultBrowser(store), EditStudio(done.result, client=client, prompt=payload)]
        values = [v for item in shown for v in _html_values(item)]
        values.append((tmp_path / "report.html").read_text() if results.to_html(
            tmp_path / "report.html") else "")
    assert len(values) > 10
    for value in values:
        assert_inert(value)
    assert any("x-pwn" in v or "script" in v or "onerror" in v or "javascript" in v
               for v in values), "the payload was shown somewhere (as text)"
