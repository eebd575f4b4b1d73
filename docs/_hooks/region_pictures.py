"""MkDocs hook: the same masked edit sent as a plain multi-edit and as a region edit.

Both run at build time against a local backend with ``realism="venice"`` (regenerated frames,
the mask read as a hint), through the real client over loopback HTTP, so the pictures and the
spill figures on "Editing part of a photo" always show what the current code does. The page
holds ``<!-- region-pictures -->`` where the pictures and figures go.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
from mkdocs.structure.files import File, Files
from PIL import Image, ImageDraw, ImageFilter, ImageFont

import venice_nb as vnb
from venice_nb import _region, masks
from venice_nb._backend import BackendConfig, LocalBackend

MARKER = "<!-- region-pictures -->"
SLUG = "img/region/plain-vs-region.jpg"
DIFF_SLUG = "img/region/changed-pixels.jpg"
MODEL = "qwen-image-2-edit"
PROMPT = "make the cup blue"  # the local model reads "blue" as a colour grade in the mask
HEIGHT = 360
BAR = 34  # the caption bar under each panel
GAP = (32, 32, 32)  # between panels: reads as a frame in light and dark themes


@dataclass(frozen=True)
class Shown:
    pictures: bytes
    changed: bytes
    size: tuple[int, int]
    plain_size: tuple[int, int]
    plain_spill: float
    region_spill: float
    kept_outside: float


def _photo() -> tuple[Image.Image, bytes, np.ndarray]:
    """The coffee sample at 3x (1800x1200, a JPEG as a camera would give) and a mask on it."""
    small = Image.open(vnb.sample("coffee")).convert("RGB")
    photo = small.resize((small.width * 3, small.height * 3), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=92)
    data = buf.getvalue()
    decoded = Image.open(io.BytesIO(data)).convert("RGB")
    w, h = decoded.size
    mask = masks.ellipse((h, w), (0.36 * w, 0.30 * h, 0.62 * w, 0.72 * h))
    return decoded, data, mask


def _changed(a: Image.Image, b: Image.Image) -> np.ndarray:
    """Pixels visibly changed (> 8 levels in a channel), comparing at ``a``'s size."""
    if b.size != a.size:
        b = b.resize(a.size, Image.Resampling.LANCZOS)
    diff = np.abs(np.asarray(a, np.int16) - np.asarray(b.convert("RGB"), np.int16)).max(-1)
    return diff > _region.SPILL_LEVEL


def _panel(img: Image.Image, label: str) -> Image.Image:
    width = round(img.width * HEIGHT / img.height)
    out = img.convert("RGB").resize((width, HEIGHT), Image.Resampling.LANCZOS)
    draw = ImageDraw.Draw(out)
    draw.rectangle((0, HEIGHT - BAR, width, HEIGHT), fill=GAP)
    font = ImageFont.load_default(size=20)
    draw.text((10, HEIGHT - BAR + 6), label, fill=(255, 255, 255), font=font)
    return out


def _row(panels: list[Image.Image]) -> bytes:
    width = sum(p.width for p in panels) + 8 * (len(panels) - 1)
    row = Image.new("RGB", (width, HEIGHT), GAP)
    x = 0
    for p in panels:
        row.paste(p, (x, 0))
        x += p.width + 8
    buf = io.BytesIO()
    row.save(buf, "JPEG", quality=85, optimize=True)
    return buf.getvalue()


def render() -> Shown:
    photo, data, mask = _photo()
    config = BackendConfig(realism="venice", rate_limit=10**6)
    with LocalBackend(config) as backend, vnb.Client(base_url=backend.url, store=False) as client:
        plain = client.multi_edit([data, masks.to_image(mask)], PROMPT, model=MODEL)
        region = client.edit_region(data, mask, PROMPT, model=MODEL)
    outside = mask == 0
    plain_changed = _changed(photo, plain.image)
    region_changed = _changed(photo, region.image)
    before = photo.copy()
    edge = Image.fromarray(mask).filter(ImageFilter.FIND_EDGES).filter(ImageFilter.MaxFilter(7))
    before.paste((255, 60, 200), mask=edge)
    pw, ph = plain.size
    plain_spill = float(plain_changed[outside].mean())
    pictures = _row([
        _panel(before, f"photo {photo.width}x{photo.height} + painted mask"),
        _panel(plain.image, f"multi-edit: {pw}x{ph}, spill {plain_spill:.0%}"),
        _panel(region.image, f"edit_region: {region.size[0]}x{region.size[1]}"),
    ])  # fmt: skip
    red = np.zeros((*mask.shape, 3), np.uint8)
    changed = _row([
        _panel(Image.fromarray(np.where(plain_changed[..., None], [230, 40, 40], red)
                               .astype(np.uint8)), "changed by the multi-edit"),
        _panel(Image.fromarray(np.where(region_changed[..., None], [230, 40, 40], red)
                               .astype(np.uint8)), "changed by edit_region"),
    ])  # fmt: skip
    return Shown(
        pictures, changed, region.size, (pw, ph), plain_spill,
        float(region.spill or 0.0), float((~region_changed[outside]).mean()),
    )


_shown: Shown | None = None


def on_files(files: Files, config: Any, **kwargs: Any) -> Files:
    global _shown
    _shown = render()
    files.append(File.generated(config, SLUG, content=_shown.pictures))
    files.append(File.generated(config, DIFF_SLUG, content=_shown.changed))
    return files


def figures(shown: Shown) -> str:
    w, h = shown.size
    pw, ph = shown.plain_size
    return (
        f"![The same masked edit as a multi-edit and as a region edit]({SLUG})\n\n"
        f"*Built by the docs from the local backend with `realism=\"venice\"`, prompt "
        f"“{PROMPT}”, model `{MODEL}`.* The multi-edit comes back at the tier, {pw}x{ph} "
        f"instead of {w}x{h}, and the model changed **{shown.plain_spill:.0%}** of the pixels "
        f"outside the mask. `edit_region` sent only the crop around the mask; the model's raw "
        f"answer for it spilled too (`result.spill` = **{shown.region_spill:.0%}**), yet the "
        f"result keeps **{shown.kept_outside:.2%}** of the pixels outside the mask exactly, at "
        f"{w}x{h}.\n\n"
        f"![Pixels changed by each (red)]({DIFF_SLUG})\n"
    )


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, figures(_shown if _shown is not None else render()))
