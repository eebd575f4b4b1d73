"""MkDocs hook: render the local backend's answers to the Venice guide's example prompts.

Each example is edited at build time by the local backend's model (the same function that
answers ``/image/edit`` and ``/image/multi-edit``), saved as a small before/after JPEG under
``img/effects/`` and listed on the page that contains ``<!-- effects-gallery -->``. The pictures
therefore always show what the current code does.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from mkdocs.structure.files import File, Files
from PIL import Image, ImageDraw, ImageFilter

import venice_nb as vnb
from venice_nb._backend._imageops import edit_image, plan

MARKER = "<!-- effects-gallery -->"
HEIGHT = 240  # each half of a before/after picture


@dataclass(frozen=True)
class Example:
    slug: str
    sample: str
    prompt: str
    mask: tuple[float, float, float, float] | None = None  # box as fractions of width/height
    note: str = ""
    torn: bool = False  # tear the top-right corner off first (for "restore")


# The guide's seed prompts, then the prompts of issue 24 (things, subjects, styles).
EXAMPLES = (
    Example("change-sky-sunrise", "rocket", "change the sky to sunrise"),
    Example("color-of-sky", "rocket", "Change the color of the sky to a sunrise"),
    Example("studio-coffee", "coffee", "replace the background with a studio backdrop"),
    Example(
        "studio-backdrop",
        "astronaut",
        "Replace the background with a modern photo studio backdrop while preserving the "
        "subject pose, facial features, and clothing.",
    ),
    Example("remove-tree", "rocket", "remove the tree", (0.0, 0.0, 0.17, 1.0),
            "The samples have no tree; the mask marks the left launch tower instead."),
    Example(
        "remove-crowd",
        "rocket",
        "Remove the tourist crowd from the square and keep the architecture intact",
        note="No crowd in the samples and no mask: the words pick the scene's subject, the rocket.",
    ),
    Example("blank-sign", "astronaut", "replace the logo with a blank sign",
            (0.25, 0.66, 0.42, 0.86), "The mask covers the mission patch."),
    Example("restore-corner", "cat", "restore the torn corner of the photo", torn=True,
            note="The input is the sample with its top-right corner torn off."),
    Example(
        "billboard-poster",
        "product",
        "Replace the blank billboard area with a glowing Venice film festival poster while "
        "preserving lighting and perspective",
        (0.05, 0.12, 0.3, 0.62),
        "Sent to /image/multi-edit with a mask over a blank area of the wall.",
    ),
    Example("snow", "cat", "make it snowy"),
    Example("watercolour", "cat", "paint it as a watercolour"),
    Example("red-hat", "cat", "a red hat"),
    Example("party-hat", "cat", "give the cat a small red party hat", (0.33, 0.0, 0.73, 0.3),
            "The tutorial's prompt, with a mask over the top of the head."),
    Example("glasses", "astronaut", "give the astronaut glasses"),
    Example("scarf", "cat", "add a blue scarf to the cat",
            note="A close-up: the neck is below the frame, so the scarf wraps under the chin "
                 "at the bottom edge."),
    Example("flower-in-cup", "coffee", "put a pink flower in the cup"),
    Example("cat-black", "cat", "make the cat black"),
    Example("cup-blue", "coffee", "make the cup blue"),
    Example("remove-background-coffee", "coffee", "remove the background"),
    Example("remove-background-astronaut", "astronaut", "remove the background"),
    Example("stormy-sky", "rocket", "make the sky stormy"),
    Example("watercolour-coffee", "coffee", "paint it as a watercolour"),
    Example("colour-splash", "coffee", "make it black and white but keep the cup in colour",
            note="Everything but the named thing: the background is greyed."),
)  # fmt: skip


def torn(img: Image.Image) -> Image.Image:
    """The image with its top-right corner torn off: white paper with a ragged edge."""
    w, h = img.size
    points = [(w * 0.55, 0.0)]
    for i in range(1, 12):
        t = i / 12
        wobble = (-1) ** i * 0.025 * (1 + (i * 7) % 3)
        points.append((w * (0.55 + 0.45 * t + wobble), h * (0.5 * t - wobble)))
    points += [(w, h * 0.5), (w, 0.0)]
    out = img.copy()
    ImageDraw.Draw(out).polygon(points, fill=(250, 250, 247))
    return out


def render(example: Example) -> Image.Image:
    """Before (with the mask outlined) beside after, each HEIGHT pixels tall."""
    base = Image.open(vnb.sample(example.sample)).convert("RGB")
    if example.torn:
        base = torn(base)
    layers = []
    before = base.copy()
    if example.mask is not None:
        x0, y0, x1, y1 = example.mask
        box = (x0 * base.width, y0 * base.height, x1 * base.width, y1 * base.height)
        mask = Image.new("L", base.size, 0)
        ImageDraw.Draw(mask).rectangle(box, fill=255)
        layers.append(mask)
        edge = mask.filter(ImageFilter.FIND_EDGES).filter(ImageFilter.MaxFilter(5))
        before.paste((255, 60, 200), mask=edge)
    after = edit_image(base, example.prompt, layers=layers)
    width = round(base.width * HEIGHT / base.height)
    pair = Image.new("RGB", (2 * width + 8, HEIGHT), (255, 255, 255))
    pair.paste(before.resize((width, HEIGHT), Image.Resampling.LANCZOS), (0, 0))
    pair.paste(after.resize((width, HEIGHT), Image.Resampling.LANCZOS), (width + 8, 0))
    return pair


def _jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=82, optimize=True)
    return buf.getvalue()


def on_files(files: Files, config: Any, **kwargs: Any) -> Files:
    for example in EXAMPLES:
        files.append(
            File.generated(
                config, f"img/effects/{example.slug}.jpg", content=_jpeg(render(example))
            )
        )
    return files


def gallery() -> str:
    parts = []
    for example in EXAMPLES:
        how = "multi-edit with a mask" if example.mask else "edit, no mask"
        how += "; simulated by the local backend"
        steps = ", ".join(f"`{name}`" for name in plan(example.prompt))
        parts.append(
            f"### {example.prompt}\n\n"
            f"*{example.sample} sample, {how}; steps: {steps}.* {example.note}\n\n"
            f"![{example.prompt} — before and after](img/effects/{example.slug}.jpg)\n"
        )
    return "\n".join(parts)


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    return markdown.replace(MARKER, gallery()) if MARKER in markdown else markdown
