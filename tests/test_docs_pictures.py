"""The docs' pictures come from the current code: the hero and every widget picture.

The docs build makes them (docs/_hooks/pictures.py); the README's committed hero must be what
that code makes now, and every widget picture a page shows must be one the build makes.
"""

from __future__ import annotations

import importlib.util
import io
import re
from pathlib import Path
from types import ModuleType

from PIL import Image

from venice_nb._backend import shared_backend

ROOT = Path(__file__).resolve().parents[1]


def _hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pictures", ROOT / "docs/_hooks/pictures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_hero_is_what_the_code_makes_now() -> None:
    # made as the docs build and scripts/make_readme_image.py make it: the local backend
    # answering like Venice (the tests' shared backend answers pixel-exact otherwise)
    config = shared_backend().config
    realism, config.realism = config.realism, "venice"
    try:
        made = _hook().hero()
    finally:
        config.realism = realism
    committed = (ROOT / "docs/img/before-after.jpg").read_bytes()
    assert committed == made, "stale hero: run .venv/bin/python scripts/make_readme_image.py"
    with Image.open(io.BytesIO(made)) as img:
        assert img.width >= 1200  # two 640 px halves, labels 24 px tall above them


def test_every_widget_picture_a_page_shows_is_made_by_the_build() -> None:
    hook = _hook()
    shown = {m for page in (ROOT / "docs").glob("*.md")
             for m in re.findall(r"img/widgets/(\w+)\.jpg", page.read_text("utf-8"))}
    assert shown == set(hook.WIDGETS)  # no page shows a picture the build does not make
    for name, make in hook.WIDGETS.items():
        picture = make()
        assert min(picture.size) >= 150, (name, picture.size)


def test_readme_and_home_show_the_hero() -> None:
    assert "](docs/img/before-after.jpg)" in (ROOT / "README.md").read_text("utf-8")
    assert "](img/before-after.jpg)" in (ROOT / "docs/index.md").read_text("utf-8")
