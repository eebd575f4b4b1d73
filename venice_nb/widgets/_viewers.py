"""Viewers: ``CompareView`` (side by side, wipe, difference) and ``ResultGrid`` (contact sheet).

Images go to the browser once, at up to twice their CSS size (sharp on HiDPI screens, bounded),
with alt text. The wipe is a small anywidget: dragging on the image (or the arrow keys) moves the
divider in the browser, with no kernel round trip per move; Tab and Escape leave it.
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import anywidget
import ipywidgets as widgets
import numpy as np
import traitlets
from PIL import Image, ImageChops

from .._html import escape
from ._fallback import StaticPicture, contact_sheet, side_by_side
from ._util import DEFAULT_MAX_DISPLAY, as_pil, as_rgb, fit_size, resize_rgb

__all__ = ["CompareView", "ResultGrid", "caption_of"]

MODES = ("side by side", "wipe", "difference")
_THUMB_SIDE = 400  # twice a ~200 px card: sharp on HiDPI
_TAGS = re.compile(r"<[^>]+>")
_DENSITY = 2  # image pixels per CSS pixel: sharp on HiDPI, at most 4x the 1x bytes
_MIN_CARD = 200  # CSS px: side-by-side cards narrower than this wrap, one per row


def _encode(rgb: np.ndarray, fmt: str | None = None) -> tuple[bytes, str]:
    """``fmt`` None: PNG for small images (exact), JPEG for large ones."""
    buf = io.BytesIO()
    fmt = fmt or ("png" if rgb.size <= 400_000 else "jpeg")
    Image.fromarray(rgb).save(buf, fmt.upper(), quality=90)
    return buf.getvalue(), fmt


def _img(rgb: np.ndarray, alt: str, css_width: int | None = None,
         fmt: str | None = None) -> widgets.HTML:
    """An ``<img>`` with alt text, shown ``css_width`` px wide (its pixels may be denser)."""
    data, fmt = _encode(rgb, fmt)
    width = f"width:{css_width}px;" if css_width else "width:100%;"
    return widgets.HTML(
        f"<img class='venice-image' alt='{escape(alt)}' style='{width}"
        f"max-width:100%;height:auto;display:block' "
        f"src='data:image/{fmt};base64,{base64.b64encode(data).decode()}'>"
    )


_WIPE_ESM = Path(__file__).with_name("_wipe.js")


class _Wipe(anywidget.AnyWidget):
    """Before over after, split by a divider dragged on the image (a keyboard slider too)."""

    _esm = _WIPE_ESM
    before = traitlets.Bytes(b"").tag(sync=True)
    after = traitlets.Bytes(b"").tag(sync=True)
    format = traitlets.Unicode("png").tag(sync=True)
    labels = traitlets.List(traitlets.Unicode(), ["Before", "After"]).tag(sync=True)
    css_width = traitlets.Int(0).tag(sync=True)
    split = traitlets.Float(0.5).tag(sync=True)


def _delta(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """The largest per-channel |after - before| (uint8): Pillow's difference runs in C, so a
    display-size pair takes milliseconds where int16 arithmetic in numpy took a tenth of a
    second on a busy machine (on the way to showing every result)."""
    d = np.asarray(ImageChops.difference(Image.fromarray(before), Image.fromarray(after)))
    out: np.ndarray = np.maximum(np.maximum(d[..., 0], d[..., 1]), d[..., 2])
    return out


def _changed(delta: np.ndarray) -> float:
    """The fraction of visibly changed pixels."""
    return float(np.count_nonzero(delta > 12)) / delta.size


def difference(before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, float]:
    """An amplified |after - before| heat image and the fraction of visibly changed pixels."""
    delta = _delta(before, after)
    return _heat(before, delta), _changed(delta)


def _heat(before: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """The difference mode's picture: ``delta`` amplified, over a faint copy of ``before``."""
    peak = max(int(delta.max()), 1)
    scaled = (delta.astype(np.float32) * (255.0 / peak)).astype(np.uint8)
    heat = np.zeros((*delta.shape, 3), np.uint8)
    heat[..., 0] = scaled
    heat[..., 1] = (scaled.astype(np.uint16) * 3 // 4).astype(np.uint8)
    heat[..., 2] = (before.mean(axis=2) // 4).astype(np.uint8)  # faint context
    return heat


class CompareView(StaticPicture, widgets.VBox):
    """Before/after viewer: side by side, a wipe over one image, or a difference map.

    All modes share one display size (``before``'s, fitted into ``max_size``); ``after`` is
    stretched to it when its aspect ratio differs, and the caption says so. Only the shown mode's
    images are encoded.

    Args:
        before: The image before (any image input or `EditResult`).
        after: The image after.
        labels: The two captions.
        max_size: The largest `(width, height)` shown.
        before_display: `before`'s display copy, made ahead; None: made here.
        changed_box: `(x0, y0, x1, y1)` where `after` differs from `before`; None: anywhere.
        **traits: Initial trait values (`mode`: side by side, wipe, difference).
    """

    caption_words = True  # saved copies: its words as text under its picture
    mode = traitlets.Enum(MODES, default_value="side by side")
    split = traitlets.Float(0.5)

    def __init__(
        self,
        before: Any,
        after: Any,
        *,
        labels: tuple[str, str] = ("Before", "After"),
        max_size: tuple[int, int] = DEFAULT_MAX_DISPLAY,
        before_display: np.ndarray | None = None,
        changed_box: tuple[int, int, int, int] | None = None,
        **traits: Any,
    ) -> None:
        self._max_size = max_size
        self.labels = labels
        self._modes = widgets.ToggleButtons(options=MODES, style={"button_width": "auto"})
        self._wipe = _Wipe()
        self._wipe.add_class("venice-compare-wipe")
        self._caption = widgets.HTML()
        self._body = widgets.VBox()
        self._built: dict[str, tuple[widgets.Widget, ...]] = {}
        self._before_key: tuple[int, ...] | None = None
        self._before_src: Any = None  # kept alive, so its memory (the cache key) is not reused
        super().__init__(**traits)
        self.add_class("venice-compare-view")
        self._modes.value, self._wipe.split = self.mode, self.split
        traitlets.link((self._modes, "value"), (self, "mode"))
        traitlets.link((self._wipe, "split"), (self, "split"))
        self.children = (self._modes, self._body, self._caption)
        self.observe(lambda _c: self._show(), names="mode")
        self.set_images(before, after, before_display=before_display, changed_box=changed_box)

    def set_images(
        self, before: Any, after: Any, labels: tuple[str, str] | None = None, *,
        before_display: np.ndarray | None = None,
        changed_box: tuple[int, int, int, int] | None = None,
    ) -> None:
        """Show a new pair (the studio calls this after each edit).

        ``before_display``: ``display_copy(before, max_size)`` made ahead (e.g. while the
        request ran), so a 33 Mpx base is not shrunk again now. ``changed_box``: where
        ``after`` (of ``before``'s size) differs from it, in image pixels: only that part of
        ``after`` is shrunk, the rest is ``before``'s display copy (a region edit's promise).

        Args:
            before: The new image before.
            after: The new image after.
            labels: New captions; None: unchanged.
            before_display: ``before``'s display copy, made ahead; None: made now.
            changed_box: ``(x0, y0, x1, y1)`` where ``after`` differs from ``before``; None:
                anywhere.
        """
        if labels is not None:
            self.labels = labels
        b, a = _source(before), _source(after)
        (bw, bh), (aw, ah) = _size_of(b), _size_of(a)
        self._css = fit_size(bw, bh, *self._max_size)
        self._picture_height = fit_size(bw, bh, self._max_size[0] // 2, self._max_size[1])[1]
        # Up to _DENSITY image pixels per CSS pixel, counted on the larger of the two: an
        # upscale's extra detail reaches a HiDPI screen (the base is enlarged to match it).
        k = self._k = max(1.0, aw / bw)
        dense = fit_size(round(bw * k), round(bh * k), *(_DENSITY * m for m in self._css))
        key = _identity(b, dense)
        if key is None or self._before_key != key:  # the studio's base stays between runs
            ready = before_display is not None and _size_of(before_display) == dense
            small = before_display if ready and before_display is not None else _shrink(b, dense)
            self._before, self._before_key, self._before_src = small, key, b
        if changed_box is not None and (aw, ah) == (bw, bh):
            self._after = _patched(self._before, a, changed_box)
        else:
            self._after = _shrink(a, dense)  # stretched onto before's size to compare
        same_aspect = abs(aw / ah - bw / bh) < 0.01
        self._sizes = (f"{bw}×{bh}", f"{aw}×{ah}")
        own = fit_size(aw, ah, *dense)
        self._halves = (self._before, self._after if own == dense else _shrink(a, own))
        self._delta = _delta(self._before, self._after)  # the heat image: when shown
        changed = self.changed_fraction = _changed(self._delta)
        note = "" if same_aspect else " · the result's aspect ratio differs: stretched to compare"
        self._summary = (
            f"{self.labels[0]} {self._sizes[0]} → {self.labels[1]} {self._sizes[1]} · "
            f"{changed:.1%} of pixels visibly changed{note}"
        )
        self._result_caption = _plain_caption(after) if hasattr(type(after), "image") else ""
        self._caption.value = f"<small>{escape(self._summary)}</small>"
        self._built.clear()
        self._show()

    @property
    def after_preview(self) -> np.ndarray:
        """The shown result at display density, in its own aspect ratio (thumbnails start here)."""
        return self._halves[1]

    def static_picture(self) -> tuple[Image.Image, str]:
        """Before and after side by side, whatever the mode (the other modes need a pointer)."""
        after = f"{self.labels[1]}\n{self._result_caption}".strip()
        picture = side_by_side(self._halves, (self.labels[0], after),
                               height=self._picture_height)
        said = " · ".join(self._result_caption.splitlines())
        return picture, f"CompareView: {self._summary}" + (
            f"; {self.labels[1]}: {said}" if said else "")

    def _show(self) -> None:
        if self.mode not in self._built:
            self._built[self.mode] = self._build(self.mode)
        self._body.children = self._built[self.mode]

    def _build(self, mode: str) -> tuple[widgets.Widget, ...]:
        width = self._css[0]
        if mode == "wipe":
            before, fmt = _encode(self._before)
            after, _ = _encode(self._after)
            self._wipe.set_trait("labels", list(self.labels))
            with self._wipe.hold_sync():
                self._wipe.before, self._wipe.after, self._wipe.format = before, after, fmt
                self._wipe.css_width = width
            return (self._wipe,)
        if mode == "difference":
            heat = _heat(self._before, self._delta)
            return (_img(heat, f"Difference between {self.labels[0]} and {self.labels[1]}: "
                               "brighter is more changed", width),)
        # Two cards side by side, or, in a column too narrow for two of _MIN_CARD (the studio
        # beside its controls at 1,000 px), one above the other at the column's width: only
        # the browser knows the column's width, so the cards wrap, and each picture is dense
        # enough for the whole width on a HiDPI screen.
        side = round(_DENSITY * width * self._k)
        cards = [
            widgets.VBox([_img(_fit(rgb, side), f"{title}, {size}"), widgets.HTML(
                f"<b>{escape(title)}</b> <small>{escape(size)}</small>")],
                layout=widgets.Layout(flex=f"1 1 {width // 2 - 6}px",
                                      min_width=f"min({_MIN_CARD}px, 100%)"))
            for rgb, title, size in zip(self._halves, self.labels, self._sizes, strict=True)
        ]
        return (widgets.Box(cards, layout=widgets.Layout(
            grid_gap="12px", max_width=f"{width}px", flex_flow="row wrap")),)


def _plain_caption(result: Any) -> str:
    """Prompt, model and cost of a result as plain text, without timings (for saved pictures)."""
    model = result.model_name or result.model_id or "server default model"
    cost = result.cost_text if result.estimated_cost is not None else ""  # one money wording
    tail = " · ".join(p for p in (model, cost) if p)  # no "from store": replays store the same
    return f"{result.prompt or ''}\n{tail}".strip()


def caption_of(item: Any) -> str:
    """HTML caption: the prompt, then the result's own caption (model, time, cost, store)."""
    if isinstance(item, str):
        return escape(item)
    prompt = getattr(item, "prompt", None) or ""
    short = prompt if len(prompt) <= 80 else prompt[:77] + "…"
    badge = " · <b class='venice-local'>LOCAL backend</b>" if item.is_local else ""
    return (
        f"<div title='{escape(prompt)}'><i>{escape(short)}</i></div>"
        f"<small>{escape(item.caption())}{badge}</small>"
    )


class ResultGrid(StaticPicture, widgets.VBox):
    """A captioned contact sheet of EditResult objects or ``(image, caption)`` pairs.

    ``on_select(callback)`` adds a button to each card; the callback receives ``(index, item)``.

    Args:
        results: `EditResult`s or `(image, caption)` pairs.
        columns: Cards per line.
        **kwargs: Passed to the `VBox`.
    """

    def __init__(self, results: Iterable[Any] = (), columns: int = 4, **kwargs: Any) -> None:
        self.columns = max(1, int(columns))
        self.items: list[Any] = []
        self._select: list[tuple[str, Callable[[int, Any], Any]]] = []
        self._marked: tuple[int, str] | None = None
        self._thumbs: list[widgets.HTML] = []  # one encoded thumbnail per item, reused
        # At most ``columns`` per row, fewer in narrow outputs (no card under 150 px).
        self._grid = widgets.GridBox(
            layout=widgets.Layout(
                grid_template_columns=(
                    f"repeat(auto-fill, minmax(max(150px, calc(100% / {self.columns} - 8px)),"
                    " 1fr))"
                ),
                grid_gap="8px",
            )
        )
        super().__init__([self._grid], **kwargs)
        self.add_class("venice-result-grid")
        for item in results:
            self.append(item)

    def append(self, item: Any, *, preview: np.ndarray | None = None) -> None:
        """Add one EditResult or ``(image, caption)`` pair at the end.

        ``preview``: a smaller RGB copy of the item's image already at hand, so a large result
        is not decoded again for its thumbnail.

        Args:
            item: An `EditResult` or an `(image, caption)` pair.
            preview: A smaller image to show instead of the full one.
        """
        self.items.append(item)
        image, caption = _split_item(item)
        alt = html.unescape(_TAGS.sub(" ", caption)).strip() or "history image"
        thumb = _thumbnail(image if preview is None else preview)
        # JPEG: a card-sized photo's PNG took 0.05-0.15 s, on the way to showing each result.
        self._thumbs.append(_img(thumb, " ".join(alt.split()), fmt="jpeg"))
        self._grid.children = (*self._grid.children, self._card(len(self.items) - 1, item))

    def extend(self, items: Iterable[Any]) -> None:
        """Add several cards at once.

        Args:
            items: `EditResult`s or `(image, caption)` pairs.
        """
        for item in items:
            self.append(item)

    def on_select(self, callback: Callable[[int, Any], Any], label: str = "Select") -> None:
        """Show a ``label`` button on every card that calls ``callback(index, item)``.

        Args:
            callback: Called with the card's index when its button is clicked.
            label: The button's text.
        """
        self._select.append((label, callback))
        self._grid.children = tuple(self._card(i, it) for i, it in enumerate(self.items))

    def mark(self, index: int, note: str) -> None:
        """Mark card ``index`` (e.g. the current base): outlined, its buttons read ``note``.

        Args:
            index: The card.
            note: The text shown on it.
        """
        previous, self._marked = self._marked, (index, note)
        cards = self._grid.children
        for i in {index, previous[0] if previous else index}:
            if i < len(cards):
                self._style_card(i, cards[i])

    def __len__(self) -> int:
        return len(self.items)

    @property
    def needs_kernel(self) -> bool:
        """Only Select buttons need the kernel: a plain sheet is saved as a picture and text."""
        return bool(self._select)

    def static_picture(self) -> tuple[Image.Image, str]:
        """The cards as one contact sheet, numbered like ``static_legend``'s captions."""
        cards = [_picture_card(item) for item in self.items]
        text = f"ResultGrid: {len(cards)} images" + "".join(
            f"\n{n}. {caption.splitlines()[0] if caption else ''}"
            for n, (_, caption) in enumerate(cards[:12], start=1))
        if len(cards) > 12:
            text += f"\n… and {len(cards) - 12} more"
        return contact_sheet(cards, self.columns), text

    def static_legend(self) -> list[str]:
        """Each card's caption (prompt, model, cost...), shown as text under the picture."""
        return [caption for _, caption in (_picture_card(item) for item in self.items)]

    def save_png(self, path: Any) -> Any:
        """Write the contact sheet as one PNG, each card's caption drawn under it; returns the
        path.

        Args:
            path: The PNG file to write.
        """
        from pathlib import Path

        out = Path(path)
        cards = [_picture_card(item) for item in self.items]
        contact_sheet(cards, self.columns, captions=True).save(out, "PNG", optimize=True)
        return out

    def _card(self, index: int, item: Any) -> widgets.VBox:
        _, caption = _split_item(item)
        children: list[widgets.Widget] = [self._thumbs[index], widgets.HTML(caption)]
        for label, callback in self._select:
            button = widgets.Button(description=label, layout=widgets.Layout(width="auto"))
            button.on_click(lambda _b, i=index, it=item, cb=callback: cb(i, it))
            children.append(button)
        card = widgets.VBox(children, layout=widgets.Layout(padding="4px"))
        card.add_class("venice-result-card")
        self._style_card(index, card)
        return card

    def _style_card(self, index: int, card: widgets.VBox) -> None:
        marked = self._marked is not None and self._marked[0] == index
        card.layout.border = (
            "3px solid var(--jp-brand-color1, #1976d2)" if marked
            else "1px solid var(--jp-border-color2, #ddd)"
        )
        (card.add_class if marked else card.remove_class)("venice-marked")
        buttons = [c for c in card.children if isinstance(c, widgets.Button)]
        for button, (label, _cb) in zip(buttons, self._select, strict=True):
            button.description = self._marked[1] if marked and self._marked else label
            button.disabled = marked


def _source(image: Any) -> np.ndarray | Image.Image:
    """RGB pixels as they are, or a (lazily decoded) PIL image: never a full-size round trip."""
    if isinstance(image, np.ndarray):
        if image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8:
            return image
        return as_rgb(image)
    return as_pil(image)


def display_copy(image: Any, max_size: tuple[int, int]) -> np.ndarray:
    """The copy of ``image`` a ``CompareView(image, <same size>, max_size=max_size)`` shows.

    Safe to make in a worker thread (Pillow releases the GIL while resizing): the studio makes
    it while the request runs.
    """
    src = _source(image)
    w, h = _size_of(src)
    css = fit_size(w, h, *max_size)
    return _shrink(src, fit_size(w, h, *(_DENSITY * m for m in css)))


def _patched(before: np.ndarray, after: np.ndarray | Image.Image,
             box: tuple[int, int, int, int]) -> np.ndarray:
    """``before``'s display copy with ``box`` (image pixels of ``after``) shrunk from ``after``.

    A few pixels of margin are resampled and dropped, so the patch has no seam.
    """
    w, h = _size_of(after)
    dh, dw = before.shape[:2]
    sx, sy = dw / w, dh / h
    margin = int(4 / min(sx, sy)) + 1
    x0, y0 = max(0, box[0] - margin), max(0, box[1] - margin)
    x1, y1 = min(w, box[2] + margin), min(h, box[3] + margin)
    # The patch on the display grid, whole display pixels inside the margin.
    px0, py0 = int(np.ceil(x0 * sx)), int(np.ceil(y0 * sy))
    px1, py1 = int(np.floor(x1 * sx)), int(np.floor(y1 * sy))
    if px1 <= px0 or py1 <= py0:
        return before
    img = after if isinstance(after, Image.Image) else Image.fromarray(after)
    src_box = (px0 / sx, py0 / sy, px1 / sx, py1 / sy)
    patch = img.resize((px1 - px0, py1 - py0), Image.Resampling.LANCZOS, box=src_box,
                       reducing_gap=3.0)
    out: np.ndarray = before.copy()
    out[py0:py1, px0:px1] = as_rgb(patch)
    return out


def _identity(src: np.ndarray | Image.Image, size: tuple[int, int]) -> tuple[int, ...] | None:
    """A cache key for a read-only array's display copy (views of one array share it); None for
    anything that could change in place."""
    if isinstance(src, np.ndarray) and not src.flags.writeable:
        return (src.__array_interface__["data"][0], *src.shape, *src.strides, *size)
    return None


def _size_of(src: np.ndarray | Image.Image) -> tuple[int, int]:
    return (src.shape[1], src.shape[0]) if isinstance(src, np.ndarray) else src.size


def _shrink(src: np.ndarray | Image.Image, size: tuple[int, int]) -> np.ndarray:
    """Display-size RGB; a PIL image is resized before any conversion (a 30 Mpx result is
    decoded once and never copied at full size)."""
    if isinstance(src, np.ndarray):
        return resize_rgb(src, size)
    img = src if src.mode in ("RGB", "RGBA") else src.convert("RGBA")
    if img.size != size:
        img = img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return as_rgb(img)  # transparency over white, as everywhere


def _fit(rgb: np.ndarray, width: int) -> np.ndarray:
    """``rgb`` at most ``width`` pixels wide (never enlarged)."""
    h, w = rgb.shape[:2]
    return resize_rgb(rgb, fit_size(w, h, width, h))


def _thumbnail(image: Any) -> np.ndarray:
    """A card-sized copy; a large array is thinned by striding first (30 Mpx in milliseconds)."""
    src = _source(image)
    if isinstance(src, np.ndarray):
        step = max(src.shape[:2]) // (_THUMB_SIDE * 4)
        if step > 1:
            src = np.ascontiguousarray(src[::step, ::step])
    w, h = _size_of(src)
    return _shrink(src, fit_size(w, h, _THUMB_SIDE, _THUMB_SIDE))


def _picture_card(item: Any) -> tuple[Any, str]:
    image, _ = _split_item(item)
    if isinstance(item, Sequence) and not isinstance(item, (str, bytes)):
        return image, str(item[1])
    return image, _plain_caption(item)


def _split_item(item: Any) -> tuple[Any, str]:
    if isinstance(item, Sequence) and not isinstance(item, (str, bytes)) and len(item) == 2:
        return item[0], caption_of(str(item[1]))
    if hasattr(type(item), "image"):  # on the class: an instance check would decode the result
        return item, caption_of(item)
    raise TypeError(
        f"ResultGrid takes EditResult objects or (image, caption) pairs, not {type(item).__name__}"
    )
