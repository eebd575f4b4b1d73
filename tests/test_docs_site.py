"""The docs site's notebook pages stay light, and publishing.md's figures stay true."""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def _hook() -> ModuleType:
    path = ROOT / "docs/_hooks/notebook_css.py"
    spec = importlib.util.spec_from_file_location("notebook_css", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class _File:
    src_uri: str


@dataclass
class _Page:
    file: _File
    url: str


def test_notebook_pages_link_one_shared_stylesheet(tmp_path: Path) -> None:
    hook = _hook()
    big = ".jp-Cell{color:red}" * 5_000  # like JupyterLab's 575 KB stylesheet
    small = ".dataframe td{padding:2px}"
    html = (f'<style type="text/css">{big}</style><style type="text/css">{small}</style>'
            "<div>cells</div>")
    config = {"site_dir": str(tmp_path)}
    pages = [_Page(_File(f"notebooks/0{i}.ipynb"), f"notebooks/0{i}/") for i in (1, 2)]
    outputs = [hook.on_post_page(html, page=p, config=config) for p in pages]
    assert outputs[0] == outputs[1] and len(outputs[0]) < 400
    link = re.search(r'<link rel="stylesheet" href="\.\./\.\./(assets/stylesheets/nb-\w+\.css)">',
                     outputs[0])
    assert link is not None and small in outputs[0]  # small rules stay inline
    assert (tmp_path / link[1]).read_text("utf-8") == big
    assert len(list((tmp_path / "assets/stylesheets").iterdir())) == 1  # written once
    guide = _Page(_File("widgets.md"), "widgets/")
    assert hook.on_post_page(html, page=guide, config=config) == html  # other pages untouched


def test_publishing_states_the_notebooks_true_size() -> None:
    text = (ROOT / "docs/publishing.md").read_text("utf-8")
    claimed = re.search(r"today about ([\d.]+) MB in all", text)
    assert claimed is not None
    actual = sum(p.stat().st_size for p in (ROOT / "notebooks").glob("*.ipynb")) / 1e6
    assert abs(float(claimed[1]) - actual) <= 0.03, f"publishing.md: the notebooks weigh {actual}"
