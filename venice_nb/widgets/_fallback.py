"""Static pictures of widgets, for wherever a saved notebook is read without a kernel.

A display widget's output bundle holds the live view (``application/vnd.jupyter.widget-view+json``)
and, next to it, a small JPEG of what the widget shows plus a short ``text/plain``. This is how
ipympl and jupyter_rfb leave a picture behind: JupyterLab and Notebook 7 rank the widget renderer
ahead of images, so the live widget still wins there, while nbconvert (which drops widget views
when a notebook holds no widget state), mkdocs-jupyter, GitHub and nbviewer show the picture.

The picture is of the moment the widget was displayed (a re-render of the live view on every
change would cost the painter its zoom and pointer state); display the widget again, e.g. as a
cell's last line, to leave a newer picture. Pictures carry prompt, model and cost but never
timings, so that re-running a notebook stores identical bytes.

Two more rules make saved notebooks read well everywhere, phones included:

- A display that needs no kernel (``needs_kernel`` False: a contact sheet without buttons, the
  finished progress bar) is stored as a plain rich output with no widget view at all. Stock
  ``jupyter nbconvert --execute`` saves widget state, and nbconvert then renders every widget
  view it has state for through a widget manager fetched from a CDN (blank offline); a plain
  output is an ``<img>`` wherever it is read.
- A contact sheet's picture carries only a big number per card; its captions follow as a second
  output of real text (an HTML list and its plain-text twin), so they reflow and stay readable
  at 390 px, where captions drawn into a 960 px picture were 3 px tall. The text goes out as a
  separate output, not as ``text/html`` next to the picture, because renderers that rank HTML
  first (nbconvert, JupyterLab) would then drop the JPEG, and GitHub sanitises HTML outputs.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .._html import NO_MATHS, escape

__all__ = [
    "MAX_OUTPUT_BYTES", "ProgressView", "StaticPicture", "captioned", "contact_sheet",
    "jpeg_b64", "legend_bundle", "mask_picture", "side_by_side", "stack", "studio_picture",
]

MAX_OUTPUT_BYTES = 200_000  # base64 JPEG per output, as stored in the .ipynb
_MAX_SIDE = 960  # longest side of a picture in a saved notebook
_CARD = 240  # thumbnail box of a contact-sheet card
_PAD = 8
_FONT_PX = 13
_INK, _MUTED, _PAPER, _FAIL = (17, 24, 39), (75, 85, 99), (255, 255, 255), (185, 28, 28)
log = logging.getLogger("venice_nb")
# " · 0.12s" in a result caption: a timing, which must not reach a saved picture.
_TIMING = re.compile(r" · \d+(?:\.\d+)?s(?= · |$)", re.MULTILINE)


class StaticPicture:
    """Mixin for display widgets: adds ``static_picture()`` to the output bundle.

    Put it before the ipywidgets base class; subclasses implement ``static_picture`` returning
    the picture and a short plain-text description (shown where images are not), and may
    implement ``static_legend`` (captions numbered like the picture's cards, shown as text
    under it) and set ``needs_kernel`` False when the live view adds nothing to the picture.
    """

    picture_note = "(picture of the widget as it was displayed)"

    @property
    def needs_kernel(self) -> bool:
        """True when the live view does something the picture cannot (buttons, drawing...)."""
        return True

    def static_picture(self) -> tuple[Image.Image, str]:
        raise NotImplementedError

    def static_legend(self) -> list[str] | None:
        """Captions of the picture's numbered cards (None: the picture has no numbers)."""
        return None

    #: Show the picture's description as text under it: the words drawn into a widget's
    #: picture are a few pixels tall on a phone.
    caption_words = False

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        bundle: dict[str, Any] | None = super()._repr_mimebundle_(**kwargs)  # type: ignore[misc]
        if bundle is None:
            return None
        try:
            picture, text = self.static_picture()
        except Exception:  # the live widget matters more than its saved picture
            log.warning("venice_nb: no saved picture for this %s", type(self).__name__,
                        exc_info=True)
            return bundle
        bundle["image/jpeg"] = jpeg_b64(picture)
        bundle["text/plain"] = f"{text}\n{self.picture_note}"
        return bundle

    def output_bundles(self) -> list[dict[str, Any]]:
        """What displaying this object outputs: the picture bundle (with the live widget view
        only when ``needs_kernel``), then the legend, if any, as text."""
        bundle = self._repr_mimebundle_()
        if bundle is None:
            return []
        if not self.needs_kernel:
            bundle.pop(WIDGET_VIEW, None)
        legend = self.static_legend()
        if legend is not None:
            return [bundle, legend_bundle(legend)]
        said = bundle.get("text/plain", "").removesuffix(f"\n{self.picture_note}")
        if not self.caption_words or said == bundle.get("text/plain"):
            return [bundle]  # no description of ours (the picture failed): nothing to add
        words = said.split(": ", 1)[-1]  # "CompareView: …": the reader wants what, not which
        return [bundle, caption_bundle([w[:1].upper() + w[1:] for w in words.split("; ")])]

    def _ipython_display_(self) -> None:
        from IPython.display import display

        for bundle in self.output_bundles():
            display(bundle, raw=True)


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def jpeg_b64(image: Image.Image, budget: int = MAX_OUTPUT_BYTES) -> str:
    """Base64 JPEG of ``image`` downscaled to fit a notebook, within ``budget`` bytes."""
    img = image.convert("RGB")
    if max(img.size) > _MAX_SIDE:
        img = img.copy()
        img.thumbnail((_MAX_SIDE, _MAX_SIDE), Image.Resampling.LANCZOS)
    quality = 75
    while True:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=quality, optimize=True)
        text = base64.b64encode(buf.getvalue()).decode("ascii")
        if len(text) <= budget or min(img.size) <= 64:
            return text
        if quality > 50:
            quality -= 15
        else:
            img = img.resize((max(1, img.width * 3 // 4), max(1, img.height * 3 // 4)))


def _font(px: int = _FONT_PX) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font: the same glyphs on every machine, so pictures are reproducible."""
    return ImageFont.load_default(size=px)


_SUBSTITUTES = str.maketrans(
    {"—": "-", "–": "-", "×": "x", "→": "->", "’": "'", "“": '"', "”": '"'})


def _drawable(text: str) -> str:
    """``text`` in the characters the bundled font has (ASCII, · and …); others become ?.

    Accents are dropped (é -> e); the exact text is in the output's text/plain.
    """
    text = unicodedata.normalize("NFKD", text.translate(_SUBSTITUTES))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return "".join(ch if " " <= ch <= "~" or ch in "·…\n" else "?" for ch in text)


def _wrap(text: str, width: int, font: Any, max_lines: int = 3) -> list[str]:
    """Lines of ``text`` no wider than ``width`` pixels; the last one ends in … if cut."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split(" "):
            trial = f"{line} {word}".strip()
            if line and font.getlength(trial) > width:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.append(line)
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], lines[max_lines - 1] + " …"]
    out = []
    for line in lines:  # a single long word can still be too wide
        while line and font.getlength(line) > width:
            line = line[:-2] + "…"
        out.append(line)
    return out


def _text_block(lines: Sequence[tuple[str, tuple[int, int, int]]], width: int) -> Image.Image:
    font = _font()
    wrapped = [(part, color) for text, color in lines
               for part in _wrap(_drawable(text), width, font)]
    step = _FONT_PX + 4
    block = Image.new("RGB", (width, step * len(wrapped) + 2), _PAPER)
    draw = ImageDraw.Draw(block)
    for i, (text, color) in enumerate(wrapped):
        draw.text((0, i * step), text, fill=color, font=font)
    return block


def captioned(image: Image.Image, caption: str) -> Image.Image:
    """``image`` on white with ``caption`` (first line dark, the rest muted) underneath."""
    img = image.convert("RGB")
    lines = caption.splitlines() or [""]
    text = _text_block([(lines[0], _INK), *((line, _MUTED) for line in lines[1:])], img.width)
    out = Image.new("RGB", (img.width + 2 * _PAD, img.height + text.height + 3 * _PAD), _PAPER)
    out.paste(img, (_PAD, _PAD))
    out.paste(text, (_PAD, img.height + 2 * _PAD))
    return out


_BADGE_PX = 44  # a card's number: about 15 CSS px once a 4-column sheet fits a 390 px phone
_BADGE_INK, _BADGE_FAIL = (17, 24, 39), (185, 28, 28)


def _failed(caption: str) -> bool:
    return any(line.startswith(("FAILED", "skipped")) for line in caption.splitlines())


def contact_sheet(
    cards: Sequence[tuple[Any, str]], columns: int, *, card_side: int = _CARD,
    captions: bool = False,
) -> Image.Image:
    """One picture of thumbnails, each with its number (1, 2, ...) in a badge big enough to
    read on a phone; ``cards`` are ``(image, caption)`` pairs.

    A saved notebook shows the captions as text under the picture (``legend_bundle``, same
    numbers); ``captions`` also draws them under each card, for a picture read on its own
    (``ResultGrid.save_png``). Captions lose timings (see module docstring); a failed or skipped
    card has a red badge and, drawn, its ``FAILED`` line in red.
    """
    from ._util import as_rgb, fit_size, resize_rgb

    columns = max(1, min(columns, len(cards) or 1))
    thumbs = []
    for image, _ in cards:
        rgb = as_rgb(image)
        thumbs.append(resize_rgb(rgb, fit_size(rgb.shape[1], rgb.shape[0], card_side, card_side)))
    box_h = max((t.shape[0] for t in thumbs), default=card_side)  # no empty bands on wide images
    badge_font = _font(_BADGE_PX)
    tiles = []
    for number, (rgb, (_, caption)) in enumerate(zip(thumbs, cards, strict=True), start=1):
        thumb = Image.new("RGB", (card_side, box_h), (243, 244, 246))
        thumb.paste(Image.fromarray(rgb), ((card_side - rgb.shape[1]) // 2,
                                           (box_h - rgb.shape[0]) // 2))
        draw = ImageDraw.Draw(thumb)
        label = str(number)
        width = round(badge_font.getlength(label))
        draw.rounded_rectangle((4, 4, 4 + width + 16, 4 + _BADGE_PX + 8), radius=8,
                               fill=_BADGE_FAIL if _failed(caption) else _BADGE_INK)
        draw.text((4 + 8, 4 + 4), label, fill=_PAPER, font=badge_font)
        if not captions:
            tiles.append(thumb)
            continue
        lines = _TIMING.sub("", caption).splitlines() or [""]
        colored = [(line, _FAIL if line.startswith("FAILED") else (_INK if i == 0 else _MUTED))
                   for i, line in enumerate(lines)]
        text = _text_block(colored, card_side)
        tile = Image.new("RGB", (card_side, box_h + _PAD + text.height), _PAPER)
        tile.paste(thumb, (0, 0))
        tile.paste(text, (0, box_h + _PAD))
        tiles.append(tile)
    rows = [tiles[i:i + columns] for i in range(0, len(tiles), columns)]
    heights = [max(t.height for t in row) for row in rows]
    width = columns * (card_side + _PAD) + _PAD
    sheet = Image.new("RGB", (width, sum(heights) + _PAD * (len(rows) + 1)), _PAPER)
    y = _PAD
    for row, height in zip(rows, heights, strict=True):
        for i, tile in enumerate(row):
            sheet.paste(tile, (_PAD + i * (card_side + _PAD), y))
        y += height + _PAD
    return sheet


# In a live notebook the grid's cards carry their own captions: the legend that follows a live
# grid's output (there for saved copies) is hidden. Stripped where HTML is sanitised; it only
# ever hides a legend.
_LEGEND_STYLE = ("<style>.jp-OutputArea-child:has(.venice-result-grid) + "
                 ".jp-OutputArea-child:has(.venice-sheet-legend){display:none}</style>")


def legend_bundle(captions: Sequence[str]) -> dict[str, str]:
    """The captions of a numbered sheet as real text: an HTML list (it reflows on a phone) and
    the same list as plain text, numbered like the picture's badges, without timings."""
    items, lines = [], []
    for number, caption in enumerate(captions, start=1):
        parts = [" ".join(line.split()) for line in _TIMING.sub("", caption).splitlines()]
        parts = [part for part in parts if part] or ["(no job here)"]
        head, rest = parts[0], parts[1:]
        tail = "".join(
            f"<br><span style='opacity:.8'>{'<b>' if p.startswith('FAILED') else ''}"
            f"{escape(p)}{'</b>' if p.startswith('FAILED') else ''}</span>" for p in rest)
        items.append(f"<li><b>{escape(head)}</b>{tail}</li>")
        lines.append(f"{number}. " + " · ".join(parts))
    html_list = (f"<ol class='venice-sheet-legend {NO_MATHS}' style='margin:0;"
                 "padding-left:2.4em;"
                 "line-height:1.4;overflow-wrap:anywhere'>" + "".join(items) + "</ol>")
    return {"text/html": _LEGEND_STYLE + html_list, "text/plain": "\n".join(lines)}


# Under a live widget (JupyterLab, Notebook 7) its own controls say it all: the caption output
# that follows, there for saved copies (GitHub, nbviewer, the docs, a phone), is hidden.
_CAPTION_STYLE = ("<style>.jp-OutputArea-child:has(.venice-compare-view, .venice-mask-painter, "
                  ".venice-edit-studio) + .jp-OutputArea-child:has(.venice-picture-caption)"
                  "{display:none}</style>")


def caption_bundle(lines: Sequence[str]) -> dict[str, str]:
    """A widget picture's words as real text (it reflows and stays readable on a phone): one
    HTML line each and the same as plain text, without timings."""
    kept = [" ".join(line.split()) for line in (_TIMING.sub("", x) for x in lines)]
    kept = [line for line in kept if line]
    html_lines = "".join(f"<div>{escape(line)}</div>" for line in kept)
    return {"text/html": f"{_CAPTION_STYLE}<div class='venice-picture-caption {NO_MATHS}' "
                         f"style='line-height:1.4;overflow-wrap:anywhere'>{html_lines}</div>",
            "text/plain": "\n".join(kept)}


def side_by_side(images: Sequence[np.ndarray], captions: Sequence[str], height: int) -> Image.Image:
    """Images scaled to one ``height``, in a row, each captioned."""
    tiles = []
    for rgb, caption in zip(images, captions, strict=True):
        img = Image.fromarray(rgb)
        width = max(1, round(img.width * height / img.height))
        tiles.append(captioned(img.resize((width, height), Image.Resampling.LANCZOS), caption))
    out = Image.new("RGB", (sum(t.width for t in tiles), max(t.height for t in tiles)), _PAPER)
    x = 0
    for tile in tiles:
        out.paste(tile, (x, 0))
        x += tile.width
    return out


def mask_picture(image: np.ndarray, mask: np.ndarray, color: str, opacity: float
                 ) -> tuple[Image.Image, str]:
    """The image with the mask tinted over it, downscaled first so big images stay quick."""
    from .. import masks

    base = Image.fromarray(image)
    base.thumbnail((_MAX_SIDE, _MAX_SIDE), Image.Resampling.LANCZOS)
    small = Image.fromarray(mask, "L").resize(base.size, Image.Resampling.BILINEAR)
    share = float(mask.mean()) / 255.0
    text = f"mask over {image.shape[1]}x{image.shape[0]} image, selects {share:.1%}"
    picture = masks.overlay(base, np.asarray(small), color=color, opacity=opacity)
    return captioned(picture, text), f"MaskPainter: {text}"


def stack(pictures: Sequence[Image.Image], *, vertical: bool) -> Image.Image:
    """Pictures in a row (or a column), top/left aligned on white."""
    if vertical:
        size = (max(p.width for p in pictures), sum(p.height for p in pictures))
    else:
        size = (sum(p.width for p in pictures), max(p.height for p in pictures))
    out = Image.new("RGB", size, _PAPER)
    offset = 0
    for p in pictures:
        out.paste(p, (0, offset) if vertical else (offset, 0))
        offset += p.height if vertical else p.width
    return out


def studio_picture(painter: Any, result: Any, strip: Any, base_index: int,
                   controls: Any = None) -> tuple[Image.Image, str]:
    """What the studio shows: the painted base, its controls (operation, prompt, model, price,
    Run) and, once there is one, the latest result and the history strip below.

    Before a first run the base appears once (the history strip would only repeat it).
    """
    from ._util import as_rgb
    from ._viewers import _plain_caption

    painted, painted_text = painter.static_picture()
    share = painted_text.split(": ", 1)[1]
    text = f"EditStudio: base is history #{base_index}; {share}"
    top = [painted]
    if controls is not None:
        panel, said = _controls_panel(controls, painted.height)
        top.append(panel)
        text += f"; {said}"
    rows = [stack(top, vertical=False)]
    if result is not None:
        img = Image.fromarray(as_rgb(result))
        img.thumbnail((painted.width, painted.height - 40), Image.Resampling.LANCZOS)
        latest = captioned(img, "latest result\n" + _plain_caption(result))
        text += f"; latest result: {_plain_caption(result).splitlines()[0]}"
        sheet, _ = strip.static_picture()
        history = captioned(sheet, f"history: {len(strip)} state{'s' if len(strip) > 1 else ''}")
        rows.append(stack([latest, history], vertical=False))
    return stack(rows, vertical=True), text


_PANEL_WIDTH = 300
_RUN_BLUE = (37, 99, 235)


def _controls_panel(controls: Any, height: int) -> tuple[Image.Image, str]:
    """The controls as a reader would see them: labelled values and a Run button."""
    from .. import _money

    model = controls.model
    name = model.name if model is not None else (controls.selected_model or "server default")
    try:
        price = controls.estimate()
    except Exception:  # a half-configured source: the picture still shows the rest
        price = None
    cost = (_money.cost(price, 0.0 if controls.is_local else price) if price is not None
            else "price: n/a")
    prompt = controls.prompt.strip() or "(no prompt yet)"
    fields = [("Operation", controls.operation), ("Prompt", prompt), ("Model", name),
              ("Cost per run", cost)]
    font, bold = _font(), _font(_FONT_PX + 1)
    width = _PANEL_WIDTH - 2 * _PAD
    lines: list[tuple[str, tuple[int, int, int], Any]] = []
    for label, value in fields:
        lines.append((label, _MUTED, font))
        lines += [(part, _INK, bold) for part in _wrap(_drawable(value), width, bold)]
    step = _FONT_PX + 6
    button_h = 30
    panel_h = max(height, _PAD * 4 + step * len(lines) + button_h)
    panel = Image.new("RGB", (_PANEL_WIDTH, panel_h), (249, 250, 251))
    draw = ImageDraw.Draw(panel)
    y = _PAD
    for line, color, face in lines:
        if face is font and y > _PAD:
            y += 4  # a little air before each label
        draw.text((_PAD, y), line, fill=color, font=face)
        y += step
    y += _PAD
    draw.rounded_rectangle((_PAD, y, _PAD + 84, y + button_h), radius=4, fill=_RUN_BLUE)
    draw.text((_PAD + 20, y + 7), "> Run", fill=_PAPER, font=bold)
    said = (f"operation: {controls.operation}; prompt: {prompt!r}; model: {name}; "
            f"cost per run: {cost}")
    return panel, said


class ProgressView(StaticPicture, widgets.HBox):
    """A progress bar whose saved picture shows the final counts, not the empty bar.

    ``show()`` displays it with a display id; ``refresh_saved()``, called from the cell's own
    thread once the work is done, replaces the output with the finished state as a plain
    picture: a finished bar needs no kernel, and with no widget view left, stock nbconvert
    shows the picture even when it saved widget state.
    """

    picture_note = "(picture of the progress bar when the work ended)"

    def __init__(self, description: str = "experiment") -> None:
        self.bar = widgets.IntProgress(value=0, min=0, max=1, description=description)
        self.label = widgets.HTML()
        super().__init__([self.bar, self.label])
        self._handle: Any = None

    def show(self) -> None:
        from IPython.display import display

        self._handle = display(self._repr_mimebundle_(), raw=True, display_id=True)

    def refresh_saved(self) -> None:
        if self._handle is not None:
            bundle = self._repr_mimebundle_() or {}
            bundle.pop(WIDGET_VIEW, None)
            self._handle.update(bundle, raw=True)

    def static_picture(self) -> tuple[Image.Image, str]:
        done, total = self.bar.value, self.bar.max
        text = f"{self.bar.description}: {done}/{total} jobs · {html.unescape(self.label.value)}"
        width, height = 480, 14
        bar = Image.new("RGB", (width, height), (229, 231, 235))
        filled = round(width * done / max(total, 1))
        if filled:
            ImageDraw.Draw(bar).rectangle((0, 0, filled - 1, height - 1), fill=(37, 99, 235))
        return captioned(bar, text), text
