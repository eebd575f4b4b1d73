"""Tutorial notebooks publish: reruns store identical outputs and every widget leaves a picture.

nbval (in the test command) checks each notebook's text outputs against the stored ones and
skips images. These tests run each tutorial twice in fresh kernels (no key: the local backend on
loopback) and check what a reader of a saved notebook gets: the same bytes on every run, a
picture wherever a widget was (also after nbconvert to HTML with no widget state), small files,
and no ports, temp paths or timings in what is stored.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter

from venice_nb.widgets._fallback import MAX_OUTPUT_BYTES

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PICTURE_NOTE = "\n(picture of the "  # ends the text/plain of every widget picture
# Budgets for what is committed: a tutorial stays quick to clone, diff and render on GitHub.
MAX_NOTEBOOK_BYTES = 400_000
MAX_ALL_NOTEBOOKS_BYTES = 1_000_000
# What must never be stored: a loopback port, a temp path, a timing, widget reprs.
UNSTABLE = re.compile(
    r"127\.0\.0\.1:\d+|localhost:\d+|/tmp/|\bTemporaryDirectory\b|\belapsed=|"
    r"\b\d+\.\d+ ?s\b|\b(?:ResultGrid|CompareView|EditStudio|MaskPainter)\("
)

_spec = importlib.util.spec_from_file_location("execute_notebooks",
                                               ROOT / "scripts" / "execute_notebooks.py")
assert _spec is not None and _spec.loader is not None
execute_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(execute_notebooks)


def _run(path: Path, workdir: Path) -> Any:
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(workdir)}}).execute()
    return notebook


@pytest.fixture(scope="module", params=NOTEBOOKS, ids=lambda p: p.stem)
def runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> tuple[Path, nbformat.NotebookNode, nbformat.NotebookNode]:
    """Two fresh executions of one tutorial (each in its own scratch folder), as run."""
    path: Path = request.param
    first = _run(path, tmp_path_factory.mktemp(path.stem))
    second = _run(path, tmp_path_factory.mktemp(path.stem))
    return path, first, second


def _outputs(notebook: nbformat.NotebookNode) -> list[Any]:
    cleaned = copy.deepcopy(notebook)
    execute_notebooks.clean(cleaned)
    return [cell.get("outputs", []) for cell in cleaned.cells]


def _texts(output: dict[str, Any]) -> list[str]:
    data = output.get("data", {})
    texts = [output.get("text", "")] + [data.get(k, "") for k in ("text/plain", "text/html",
                                                                     "text/markdown")]
    texts = ["".join(t) if isinstance(t, list) else t for t in texts]  # the .ipynb splits lines
    return [re.sub(r"base64,[A-Za-z0-9+/=]+", "base64,…", t) for t in texts]


def test_there_are_five_tutorials() -> None:
    assert [p.name[:3] for p in NOTEBOOKS] == ["01_", "02_", "03_", "04_", "05_"]


def test_two_runs_store_identical_outputs(runs: Any) -> None:
    path, first, second = runs
    a, b = _outputs(first), _outputs(second)
    assert a == b, f"{path.name}: outputs differ between two runs"
    images = [k for cell in a for o in cell for k in o.get("data", {}) if k.startswith("image/")]
    if path.stem != "05_reproducible_notebooks":
        assert images, "a tutorial about images should show some"


def test_saved_outputs_match_a_fresh_run(runs: Any) -> None:
    """The committed notebook is what scripts/execute_notebooks.py stores today (re-run it)."""
    path, first, _ = runs
    stored = nbformat.read(path, as_version=4)
    assert [c.get("outputs", []) for c in stored.cells] == _outputs(first), (
        f"{path.name} is stale: run `python scripts/execute_notebooks.py`")


def test_every_widget_output_carries_a_small_picture(runs: Any) -> None:
    """Interactive widgets keep their live view beside the picture; result displays that need
    no kernel (contact sheets without buttons, finished progress bars) are plain pictures, so
    stock nbconvert shows them even when it saved widget state."""
    path, first, _ = runs
    outputs = [o for cell in first.cells for o in cell.get("outputs", [])]
    pictures = [o for o in outputs if PICTURE_NOTE in o.get("data", {}).get("text/plain", "")]
    for output in pictures:
        data = output["data"]
        assert "image/jpeg" in data, data["text/plain"]
        assert len(data["image/jpeg"]) <= MAX_OUTPUT_BYTES
        assert not UNSTABLE.search(data["text/plain"]), data["text/plain"]
    widget_outputs = [o for o in outputs if WIDGET_VIEW in o.get("data", {})]
    assert all(o in pictures for o in widget_outputs)
    live = {"01_quickstart": 2, "02_mask_painting": 3, "04_prompt_experiments": 2}
    plain = {"02_mask_painting": 1, "04_prompt_experiments": 1}  # a grid; the progress bar
    assert len(widget_outputs) == live.get(path.stem, 0)
    assert len(pictures) - len(widget_outputs) == plain.get(path.stem, 0)


def test_each_contact_sheet_is_followed_by_its_captions_as_text(runs: Any) -> None:
    """Phones: the sheet's picture carries numbers, its captions are text right under it."""
    path, first, _ = runs
    outputs = [o for cell in first.cells for o in cell.get("outputs", [])]
    sheets = [i for i, o in enumerate(outputs)
              if o.get("data", {}).get("text/plain", "").startswith("ResultGrid: ")]
    for i in sheets:
        count = int(outputs[i]["data"]["text/plain"].split()[1])
        legend = outputs[i + 1]["data"]
        assert "class='venice-sheet-legend tex2jax_ignore mathjax_ignore'" in legend["text/html"]
        assert legend["text/html"].count("<li>") == count
        lines = legend["text/plain"].splitlines()
        assert [line.split(". ")[0] for line in lines] == [str(n) for n in range(1, count + 1)]
    assert len(sheets) == {"02_mask_painting": 1, "04_prompt_experiments": 2}.get(path.stem, 0)


def test_each_live_widget_picture_is_followed_by_its_words_as_text(runs: Any) -> None:
    """Phones: a studio's, painter's or compare view's words drawn into its picture are ~5 px
    tall at 390 px; the same words follow as text (hidden under the live widget)."""
    path, first, _ = runs
    outputs = [o for cell in first.cells for o in cell.get("outputs", [])]
    live = [i for i, o in enumerate(outputs) if WIDGET_VIEW in o.get("data", {})
            and not o["data"]["text/plain"].startswith("ResultGrid: ")]
    for i in live:
        said = outputs[i]["data"]["text/plain"].split(": ", 1)[1].split("\n")[0]
        words = outputs[i + 1]["data"]
        assert "class='venice-picture-caption tex2jax_ignore mathjax_ignore'" in words["text/html"]
        first_line = words["text/plain"].splitlines()[0]
        assert first_line.lower() == said.split("; ")[0].lower()
    assert len(live) == {"01_quickstart": 2, "02_mask_painting": 3}.get(path.stem, 0)


def test_nbconvert_html_shows_the_pictures_where_widgets_were(runs: Any) -> None:
    """No widget state and no network: each widget output becomes its <img>, never a repr."""
    _, first, _ = runs
    notebook = copy.deepcopy(first)
    notebook.metadata.pop("widgets", None)
    pictures = [o["data"]["image/jpeg"] for c in notebook.cells for o in c.get("outputs", [])
                if WIDGET_VIEW in o.get("data", {}) and "image/jpeg" in o["data"]]
    body, _ = HTMLExporter().from_notebook_node(notebook)
    for picture in pictures:
        assert f'src="data:image/jpeg;base64,{picture}"' in body
    assert "Error displaying widget" not in body
    assert not re.search(r"(?:ResultGrid|CompareView|EditStudio|MaskPainter)\(children=", body)


def test_saved_notebooks_are_small_and_stable() -> None:
    sizes = {p.name: p.stat().st_size for p in NOTEBOOKS}
    assert max(sizes.values()) <= MAX_NOTEBOOK_BYTES, sizes
    assert sum(sizes.values()) <= MAX_ALL_NOTEBOOKS_BYTES, sizes
    for path in NOTEBOOKS:
        raw = nbformat.read(path, as_version=4)
        assert "widgets" not in raw["metadata"], f"{path.name} stores widget state"
        for cell in raw["cells"]:
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                assert WIDGET_VIEW not in data, f"{path.name}: a dead widget reference"
                assert output.get("name") != "stderr", f"{path.name}: {output['text']}"
                assert output.output_type != "error", f"{path.name}: {output['evalue']}"
                assert all(len("".join(v)) <= MAX_OUTPUT_BYTES
                           for k, v in data.items() if k.startswith("image/"))
                for text in _texts(output):
                    match = UNSTABLE.search(text)
                    assert match is None, f"{path.name}: {match and match.group()!r} in {text!r}"


def test_docs_pages_show_the_widget_pictures(tmp_path: Path) -> None:
    """Build the site as the test command does and find every widget picture on its page."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    site = tmp_path / "site"
    build(load_config(str(ROOT / "mkdocs.yml"), site_dir=str(site), strict=True))
    for path in NOTEBOOKS:
        page = (site / "notebooks" / path.stem / "index.html").read_text()
        assert "appears here when the notebook runs" not in page
        raw = json.loads(path.read_text())
        pictures = [o["data"]["image/jpeg"] for c in raw["cells"] for o in c.get("outputs", [])
                    if PICTURE_NOTE in "".join(o.get("data", {}).get("text/plain", ""))]
        for picture in pictures:
            data = "".join(picture).replace("\n", "")
            assert f"data:image/jpeg;base64,{data}" in page, f"{path.stem}: a widget picture"
        if path.stem in ("02_mask_painting", "04_prompt_experiments"):
            assert pictures, path.stem
