"""Re-execute the tutorial notebooks in place so that their saved outputs are reproducible.

    .venv/bin/python scripts/execute_notebooks.py [notebooks/NAME.ipynb ...]

Runs each notebook in a fresh kernel with no API key (the offline local backend), in a scratch
working directory, then stores only what a reader needs: no widget state, no execution timings,
and no references to widget models (they die with the kernel; each widget output keeps its
picture and text instead). Running it twice gives byte-identical files, so `git diff` after a
re-run shows only real changes.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def clean(notebook: nbformat.NotebookNode) -> None:
    """Drop what changes from run to run without telling the reader anything."""
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = _coalesce_streams(cell.outputs)
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            data.pop(WIDGET_VIEW, None)
            if "image/jpeg" in data:  # PIL images come as PNG and JPEG: one copy is enough
                data.pop("image/png", None)
            output.get("metadata", {}).pop(WIDGET_VIEW, None)


def _coalesce_streams(outputs: list) -> list:
    """One output per run of stdout (or stderr) text: how prints are split depends on timing."""
    merged: list = []
    for output in outputs:
        prev = merged[-1] if merged else None
        if (output.output_type == "stream" and prev is not None
                and prev.output_type == "stream" and prev.name == output.name):
            prev.text += output.text
        else:
            merged.append(output)
    return merged


def execute(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="venice_nb-run-") as workdir:
        NotebookClient(notebook, timeout=600, kernel_name="python3", record_timing=False,
                       resources={"metadata": {"path": workdir}}).execute()
    clean(notebook)
    nbformat.write(notebook, path)


def main(argv: list[str]) -> int:
    for name in ("VENICE_API_KEY", "VENICE_BASE_URL", "VENICE_NB_STORE"):
        os.environ.pop(name, None)
    paths = [Path(a) for a in argv] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in paths:
        print(f"executing {path.name}", flush=True)
        execute(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
