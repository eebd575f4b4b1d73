"""Tutorial notebooks rerun the same way: two fresh runs show byte-identical images.

nbval (in the test command) checks each notebook's text outputs against the stored ones and
skips images; this test covers the images, comparing every picture two fresh kernels produce.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
_DATA_URL = re.compile(r"data:image/[a-z]+;base64,([A-Za-z0-9+/=]+)")


def _image_digests(path: Path, workdir: Path) -> list[str]:
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=300, resources={"metadata": {"path": str(workdir)}}).execute()
    digests = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            blobs = [base64.b64decode(data[k]) for k in data if k.startswith("image/")]
            html = str(data.get("text/html", ""))
            blobs += [base64.b64decode(m) for m in _DATA_URL.findall(html)]
            digests += [hashlib.sha256(blob).hexdigest() for blob in blobs]
    return digests


def test_there_are_five_tutorials():
    assert [p.name[:3] for p in NOTEBOOKS] == ["01_", "02_", "03_", "04_", "05_"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_two_runs_show_byte_identical_images(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = _image_digests(path, tmp_path)
    second = _image_digests(path, tmp_path)
    assert first == second
    if path.stem != "05_reproducible_notebooks":
        assert first, "a tutorial about images should show some"
