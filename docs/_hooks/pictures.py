"""MkDocs hook: the hero picture and every widget picture, made from the current code.

At each build the local backend answers the documented edits and each widget draws the same
picture it leaves in a saved notebook (``static_picture``), so the docs can never show what the
code no longer does. Pages refer to them as ``img/before-after.jpg`` and
``img/widgets/<name>.jpg``. The README (read on GitHub, outside the site) uses the committed
``docs/img/before-after.jpg``; ``scripts/make_readme_image.py`` writes it from ``hero()`` and
``tests/test_docs_pictures.py`` fails when it differs from what ``hero()`` makes now.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import cache
from typing import Any

from mkdocs.structure.files import File, Files
from PIL import Image, ImageDraw, ImageFont

import venice_nb as vnb

PROMPT = "change the sky to a sunrise"
HERO = "img/before-after.jpg"
_LABEL_PX = 24  # readable when GitHub shows the 1,310 px picture at ~830 px: ~15 px text


def _jpeg(img: Image.Image, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality, optimize=True)
    return buf.getvalue()


@cache
def _client() -> Any:
    return vnb.Client(api_key=None, store=False)


def hero() -> bytes:
    """The photo before and after ``PROMPT`` on the local backend, each half labelled."""
    result = _client().edit(vnb.sample("rocket"), PROMPT, model="qwen-image-2-edit")
    before = Image.open(vnb.sample("rocket")).convert("RGB")
    after = result.image.convert("RGB").resize(before.size, Image.Resampling.LANCZOS)
    w, h = before.size
    pad, band = 10, _LABEL_PX + 18
    sheet = Image.new("RGB", (2 * w + 3 * pad, h + band + pad), "white")
    sheet.paste(before, (pad, band))
    sheet.paste(after, (w + 2 * pad, band))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=_LABEL_PX)
    draw.text((pad, 8), "Before: the rocket sample", fill=(17, 24, 39), font=font)
    draw.text((w + 2 * pad, 8), f'After: "{PROMPT}" (local backend)', fill=(17, 24, 39),
              font=font)
    return _jpeg(sheet)


def _studio() -> Image.Image:
    studio = vnb.widgets.EditStudio(vnb.sample("cat"), client=_client(),
                                    prompt="give the cat a red scarf",
                                    model="qwen-image-2-edit")
    studio.painter.set_mask(vnb.masks.ellipse(studio.painter.mask.shape, (150, 150, 320, 290)))
    return studio.static_picture()[0]


def _painter() -> Image.Image:
    painter = vnb.widgets.MaskPainter(vnb.sample("cat"))
    painter.set_mask(vnb.masks.ellipse(painter.mask.shape, (150, 150, 320, 290)))
    return painter.static_picture()[0]


def _controls() -> Image.Image:
    from venice_nb.widgets._fallback import _controls_panel

    painter = vnb.widgets.MaskPainter(vnb.sample("cat"))
    controls = vnb.widgets.EditControls(painter, client=_client(), prompt="a red scarf",
                                        model="qwen-image-2-edit")
    return _controls_panel(controls, 0)[0]


def _compare() -> Image.Image:
    result = _client().edit(vnb.sample("rocket"), PROMPT, model="qwen-image-2-edit")
    return vnb.widgets.CompareView(vnb.sample("rocket"), result).static_picture()[0]


def _grid() -> Image.Image:
    client = _client()
    results = [client.edit(vnb.sample("rocket"), p, model="qwen-image-2-edit")
               for p in (PROMPT, "make it snowy", "paint it as a watercolour")]
    return vnb.widgets.ResultGrid(results, columns=3).static_picture()[0]


WIDGETS: dict[str, Callable[[], Image.Image]] = {
    "studio": _studio, "painter": _painter, "controls": _controls, "compare": _compare,
    "grid": _grid,
}


def on_files(files: Files, config: Any, **kwargs: Any) -> Files:
    stale = files.get_file_from_path(HERO)
    if stale is not None:  # the committed copy (for the README) gives way to a fresh one
        files.remove(stale)
    files.append(File.generated(config, HERO, content=hero()))
    for name, make in WIDGETS.items():
        files.append(File.generated(config, f"img/widgets/{name}.jpg", content=_jpeg(make(), 82)))
    return files
