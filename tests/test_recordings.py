"""Tutorial recordings end to end: record with a key, replay in "CI" with none, byte for byte.

`venice-nb serve` in its own process stands in for Venice (a real HTTP server on loopback that
requires a key); the notebook runs in a real kernel both times, as a tutorial would.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

import venice_nb as vnb
from venice_nb._backend import LocalBackend

from ._serve import serve

FAKE_KEY = "fake-recording-key-5b1e0c"
CELLS = [
    "import hashlib\nimport venice_nb as vnb\n"
    'store = vnb.open_recording("recording")\nclient = vnb.Client(store=store)\n'
    'print("mode:", store.mode, "| local:", client.is_local)',
    'cat = vnb.sample("cat")\n'
    'snowy = client.edit(cat, "make it snowy", model="qwen-image-2-edit")\n'
    'sunset = client.multi_edit([cat], "add warm sunset light", model="firered-image-edit",\n'
    '                           output_format="jpeg")\n'
    'print([m.id for m in client.models()][:2])\n'
    'print(snowy.from_store, sunset.from_store, hashlib.sha256(snowy.data + sunset.data)'
    '.hexdigest())',
    "snowy.image",
    'if store.mode != "replay":\n    vnb.save_recording(store, "recording")',
]


def _run(folder: Path) -> Any:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(folder)}}).execute()
    return notebook


def _shown(notebook: nbformat.NotebookNode) -> tuple[str, str, bytes]:
    """What the reader sees: the printed lines of cells 1-2 and the image of cell 3."""
    texts = ["".join(o.get("text", "") for o in c.outputs) for c in notebook.cells[:2]]
    image = base64.b64decode(notebook.cells[2].outputs[0]["data"]["image/png"])
    return texts[0], texts[1], image


def test_record_with_a_key_then_replay_with_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                 ) -> None:
    for name in ("VENICE_API_KEY", "VENICE_NB_STORE", "VENICE_NB_STORE_MODE"):
        monkeypatch.delenv(name, raising=False)
    with serve("--require-auth") as url:
        monkeypatch.setenv("VENICE_BASE_URL", url)
        monkeypatch.setenv("VENICE_API_KEY", FAKE_KEY)
        recorded = _run(tmp_path)
    setup, printed, image = _shown(recorded)
    assert "mode: use" in setup and "False False" in printed  # both really sent
    folder = tmp_path / "recording"

    # What gets committed: text index, content-addressed images, model list; no key, no SQLite.
    lines = (folder / "results.jsonl").read_text().splitlines()
    assert len(lines) == 2 and lines == sorted(lines)
    entries = [json.loads(line) for line in lines]
    assert sorted(e["prompt"] for e in entries) == ["add warm sunset light", "make it snowy"]
    images = sorted(p.name for p in (folder / "images").iterdir())
    assert images == sorted(Path(e["image"]).name for e in entries)
    assert any(name.endswith(".jpg") for name in images)
    committed = [p for p in folder.rglob("*") if p.is_file() and ".store" not in p.parts]
    assert {p.name for p in committed} >= {"results.jsonl", "models.json"}
    assert not any(p.suffix.startswith(".sqlite") for p in committed)
    assert all(FAKE_KEY.encode() not in p.read_bytes() for p in folder.rglob("*") if p.is_file())
    assert (folder / ".store" / ".gitignore").read_text() == "*\n"
    before = {p.relative_to(folder): p.read_bytes() for p in committed}

    # CI: a fresh checkout (no working store), no key, no server, replay only.
    shutil.rmtree(folder / ".store")
    monkeypatch.delenv("VENICE_API_KEY")
    monkeypatch.setenv("VENICE_NB_STORE_MODE", "replay")
    replayed = _run(tmp_path)
    r_setup, r_printed, r_image = _shown(replayed)
    assert "mode: replay" in r_setup
    assert r_printed == printed.replace("False False", "True True")
    assert r_image == image  # byte-identical pictures
    after = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*")
             if p.is_file() and ".store" not in p.parts}
    assert after == before, "replaying must not change the recording"


def test_saving_again_gives_the_same_bytes(tmp_path: Path, backend: object) -> None:
    store = vnb.ResultStore(tmp_path / "store")
    with vnb.Client("k", base_url=backend.url, store=store) as client:  # type: ignore[attr-defined]
        client.edit(vnb.sample("rocket"), "add a rainbow", model="qwen-image-2-edit")
    first = vnb.save_recording(store, tmp_path / "rec").read_bytes()
    again = vnb.save_recording(vnb.open_recording(tmp_path / "rec"), tmp_path / "rec2")
    assert again.read_bytes() == first


def test_a_damaged_image_is_refused(tmp_path: Path, backend: object) -> None:
    store = vnb.ResultStore(tmp_path / "store")
    with vnb.Client("k", base_url=backend.url, store=store) as client:  # type: ignore[attr-defined]
        client.edit(vnb.sample("rocket"), "add a rainbow", model="qwen-image-2-edit")
    vnb.save_recording(store, tmp_path / "rec")
    image = next((tmp_path / "rec" / "images").iterdir())
    image.write_bytes(image.read_bytes()[:-10])
    with pytest.raises(vnb.ValidationError, match="does not match its hash"):
        vnb.open_recording(tmp_path / "rec")


def test_a_recording_keeps_repeats_variables_and_marks(
    tmp_path: Path, backend: LocalBackend
) -> None:
    """What people decided about a result (and which repeat it was) survives save and reopen."""
    store = vnb.ResultStore(tmp_path / "store")
    with vnb.Client(base_url=backend.url, store=store) as client:
        results = vnb.experiment(vnb.sample("cat"), "give the cat a {color} hat",
                                 variables={"color": ["red", "blue"]}, repeats=2, client=client,
                                 progress=False)
    assert len(results) == 4 and all(r.ok for r in results)
    first = results[0]
    store.mark(first.result, picked=True, rating=4, note="the best hat")
    vnb.save_recording(store, tmp_path / "recording")

    reopened = vnb.open_recording(tmp_path / "recording", mode="replay")
    rows = reopened.history()
    assert sorted(r.repeat for r in rows) == [0, 0, 1, 1]
    assert sorted(r.variables["color"] for r in rows) == ["blue", "blue", "red", "red"]
    picked = reopened.history(picked=True)
    assert [(p.rating, p.note) for p in picked] == [(4, "the best hat")]
    assert picked[0].fingerprint == first.result.fingerprint
