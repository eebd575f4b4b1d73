"""A hostile shared recording, opened and displayed in a real JupyterLab: no script runs.

The recording is made from real local results, then tampered with as its author could: script
in a response header (the replayed image's content-type), in prompts, notes and prompt
variables, and in the model list's names. The notebook displays what a person would (the
replayed result, the model list, a ResultBrowser over the store, a contact sheet and an error
line). Every payload would set ``window.__pwned``; a control cell that deliberately renders a
raw ``onerror`` proves the page ran the same kind of handler it was given, so an unset flag
means the hostile ones never became markup.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import expect

import venice_nb as vnb
from venice_nb._backend import LocalBackend

from .conftest import UI_TIMEOUT, JupyterServer, open_notebook

pytestmark = pytest.mark.browser

PWN = [
    "<img src=x onerror=\"window.__pwned='img'\">",
    "' onerror='window.__pwned=\"attr\"' x='",
    "<script>window.__pwned='script'</script>",
    "<svg onload=\"window.__pwned='svg'\"></svg>",
    "\"><iframe srcdoc=\"<script>parent.__pwned='iframe'</script>\"></iframe>",
]
TEXT = " ".join(PWN)


def _hostile_recording(folder: Path) -> None:
    """A real recording, then every text field an author controls set to the payloads."""
    store = vnb.ResultStore(folder.parent / "origin-store")
    with LocalBackend() as backend, vnb.Client(base_url=backend.url, store=store) as client:
        client.edit(vnb.sample("cat"), "make it snowy", model="qwen-image-2-edit")
        client.edit(vnb.sample("rocket"), "add a rainbow", model="firered-image-edit")
        client.models()
    vnb.save_recording(store, folder)
    entries = [json.loads(x) for x in (folder / "results.jsonl").read_text().splitlines()]
    buf = io.BytesIO()
    Image.new("RGB", (96, 64), (30, 90, 160)).save(buf, "PNG")  # small: shown as it is
    small = buf.getvalue()
    digest = hashlib.sha256(small).hexdigest()
    (folder / "images" / f"{digest}.png").write_bytes(small)
    entries[0].update(output_sha256=digest, image=f"images/{digest}.png")
    for entry in entries:
        entry["headers"]["content-type"] = "image/png" + PWN[1]
        entry["headers"]["x-venice-model-name"] = TEXT
        entry.update(prompt=TEXT, note=PWN[0], variables={"color": PWN[2]})
    (folder / "results.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    models = json.loads((folder / "models.json").read_text())
    for model in models["inpaint"]["data"]:
        model["model_spec"]["name"] = TEXT
    (folder / "models.json").write_text(json.dumps(models))


CELLS = [
    """
import venice_nb as vnb
from IPython.display import HTML, display
from venice_nb.widgets import ResultBrowser
from venice_nb.widgets._util import friendly_error
store = vnb.open_recording({folder!r}, mode="replay")
first = next(r for r in store.history() if r.width == 96)  # the small one: shown as it is
result = store.result(first.fingerprint)
result
""",
    """
client = vnb.Client(base_url="http://127.0.0.1:9/api/v1", store=store)
display(*client.models()[:2])
display(HTML(friendly_error(vnb.ValidationError({text!r}, action={text!r}))))
""",
    "ResultBrowser(store)",
    # The control: a raw handler this test itself renders, unescaped on purpose.
    "display(HTML('<img class=\"venice-control\" src=x onerror=\"window.__control=1\">'))",
]


def test_a_hostile_recording_runs_no_script_in_jupyterlab(lab: tuple[Any, JupyterServer]
                                                          ) -> None:
    page, server = lab
    folder = server.root / "hostile-recording"
    _hostile_recording(folder)
    cells = [c.format(folder=str(folder), text=TEXT) for c in CELLS]
    nb = open_notebook(page, server, "hostile", cells)
    expect(page.locator(".venice-browser-count")).to_have_text("2 results")
    expect(page.locator(".venice-browser-card img")).to_have_count(2)
    page.wait_for_function("() => window.__control === 1", timeout=UI_TIMEOUT)
    page.wait_for_function(
        "() => [...document.querySelectorAll('img')].every(i => i.complete)",
        timeout=UI_TIMEOUT)
    # The payloads are on the page as text, where a person reads them.
    expect(page.locator(".jp-OutputArea-output", has_text="onerror=").first).to_be_visible()
    nb.assert_widgets_healthy()
    page.locator(".jp-OutputArea-output figcaption").first.scroll_into_view_if_needed()
    nb.shot("result-and-models")
    page.locator(".venice-browser-count").scroll_into_view_if_needed()
    nb.shot("browser")
    pwned = page.evaluate("() => window.__pwned === undefined ? null : String(window.__pwned)")
    assert pwned is None, f"a payload ran: {pwned}"
    frames = [f for f in page.frames if f != page.main_frame]
    assert not [f for f in frames if f.evaluate("() => window.parent.__pwned")]
