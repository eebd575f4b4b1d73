"""Viewers: ``CompareView`` (side by side, wipe, difference) and ``ResultGrid`` (contact sheet).

Images go to the browser once, as ``ipywidgets.Image`` models; moving the wipe slider only sends a
few canvas commands that redraw from those models, so it stays smooth for large results.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
import traitlets
from ipycanvas import Canvas, hold_canvas
from PIL import Image

from ._fallback import StaticPicture, contact_sheet, side_by_side
from ._util import DEFAULT_MAX_DISPLAY, as_rgb, fit_size, resize_rgb

__all__ = ["CompareView", "ResultGrid", "caption_of"]

MODES = ("side by side", "wipe", "difference")
_THUMB_SIDE = 320


def _image_widget(rgb: np.ndarray, **layout: Any) -> widgets.Image:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG" if rgb.size <= 400_000 else "JPEG", quality=90)
    fmt = "png" if rgb.size <= 400_000 else "jpeg"
    return widgets.Image(value=buf.getvalue(), format=fmt, layout=widgets.Layout(**layout))


def difference(before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, float]:
    """An amplified |after - before| heat image and the fraction of visibly changed pixels."""
    delta = np.abs(after.astype(np.int16) - before.astype(np.int16)).max(axis=2)
    changed = float((delta > 12).mean())
    peak = max(int(delta.max()), 1)
    scaled = (delta.astype(np.float32) * (255.0 / peak)).astype(np.uint8)
    heat = np.zeros((*delta.shape, 3), np.uint8)
    heat[..., 0] = scaled
    heat[..., 1] = (scaled.astype(np.uint16) * 3 // 4).astype(np.uint8)
    heat[..., 2] = (before.mean(axis=2) // 4).astype(np.uint8)  # faint context
    return heat, changed


class CompareView(StaticPicture, widgets.VBox):
    """Before/after viewer: side by side, a wipe slider over one image, or a difference map.

    ``after`` is shown at ``before``'s display size; a result with another aspect ratio is
    stretched in the wipe and difference views, and the caption says so.
    """

    mode = traitlets.Enum(MODES, default_value="side by side")
    split = traitlets.Float(0.5)

    def __init__(
        self,
        before: Any,
        after: Any,
        *,
        labels: tuple[str, str] = ("Before", "After"),
        max_size: tuple[int, int] = DEFAULT_MAX_DISPLAY,
        **traits: Any,
    ) -> None:
        self._max_size = max_size
        self.labels = labels
        self.canvas = Canvas(
            width=1, height=1, layout=widgets.Layout(max_width="100%", height="auto")
        )
        self.canvas.add_class("venice-compare-canvas")
        self._modes = widgets.ToggleButtons(options=MODES, style={"button_width": "110px"})
        self._slider = widgets.FloatSlider(
            min=0.0, max=1.0, step=0.01, readout=False, description="Wipe",
            layout=widgets.Layout(width="400px"),
        )
        self._side = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self._diff = widgets.VBox()
        self._caption = widgets.HTML()
        self._body = widgets.VBox()
        super().__init__(**traits)
        self.add_class("venice-compare-view")
        self._modes.value, self._slider.value = self.mode, self.split
        traitlets.link((self._modes, "value"), (self, "mode"))
        traitlets.link((self._slider, "value"), (self, "split"))
        self.children = (self._modes, self._body, self._caption)
        self.observe(lambda _c: self._show(), names="mode")
        self.observe(lambda _c: self._draw_wipe(), names="split")
        self.canvas.on_client_ready(self._draw_wipe)
        self.set_images(before, after)

    def set_images(self, before: Any, after: Any, labels: tuple[str, str] | None = None) -> None:
        """Show a new pair (the studio calls this after each edit)."""
        if labels is not None:
            self.labels = labels
        b = as_rgb(before)
        a = as_rgb(after)
        size = fit_size(b.shape[1], b.shape[0], *self._max_size)
        half = fit_size(b.shape[1], b.shape[0], self._max_size[0] // 2, self._max_size[1])
        self._before = resize_rgb(b, size)
        self._after = resize_rgb(a, size)
        same_aspect = abs(a.shape[1] / a.shape[0] - b.shape[1] / b.shape[0]) < 0.01
        self._before_img = _image_widget(self._before)
        self._after_img = _image_widget(self._after)
        after_half = resize_rgb(a, fit_size(a.shape[1], a.shape[0], *half))
        before_half = resize_rgb(b, half)
        self._side.children = (
            _captioned(_image_widget(before_half), self.labels[0], f"{b.shape[1]}×{b.shape[0]}"),
            _captioned(_image_widget(after_half), self.labels[1], f"{a.shape[1]}×{a.shape[0]}"),
        )
        self._halves = (before_half, after_half)
        heat, changed = difference(self._before, self._after)
        self.changed_fraction = changed
        self._diff.children = (_image_widget(heat),)
        note = "" if same_aspect else " · the result's aspect ratio differs: stretched to compare"
        self._summary = (
            f"{self.labels[0]} {b.shape[1]}×{b.shape[0]} → {self.labels[1]} "
            f"{a.shape[1]}×{a.shape[0]} · {changed:.1%} of pixels visibly changed{note}"
        )
        self._result_caption = _plain_caption(after) if hasattr(type(after), "image") else ""
        self._caption.value = f"<small>{html.escape(self._summary)}</small>"
        self.canvas.width, self.canvas.height = size
        self.canvas.layout.width = f"{size[0]}px"  # a flex column would stretch it otherwise
        self._draw_wipe()
        self._show()

    def static_picture(self) -> tuple[Image.Image, str]:
        """Before and after side by side, whatever the mode (the other modes need a pointer)."""
        after = f"{self.labels[1]}\n{self._result_caption}".strip()
        height = self._halves[0].shape[0]
        picture = side_by_side(self._halves, (self.labels[0], after), height=height)
        return picture, f"CompareView: {self._summary}"

    def _show(self) -> None:
        if self.mode == "side by side":
            self._body.children = (self._side,)
        elif self.mode == "wipe":
            self._body.children = (self.canvas, self._slider)
        else:
            self._body.children = (self._diff,)

    def _draw_wipe(self) -> None:
        w, h = self.canvas.width, self.canvas.height
        x = round(w * self.split)
        with hold_canvas():
            self.canvas.clear()
            self.canvas.draw_image(self._after_img, 0, 0, w, h)
            if x > 0:
                self.canvas.save()
                self.canvas.begin_path()
                self.canvas.rect(0, 0, x, h)
                self.canvas.clip()
                self.canvas.draw_image(self._before_img, 0, 0, w, h)
                self.canvas.restore()
            self.canvas.stroke_style = "white"
            self.canvas.line_width = 2
            self.canvas.stroke_line(x, 0, x, h)


def _captioned(image: widgets.Widget, title: str, detail: str) -> widgets.VBox:
    label = widgets.HTML(f"<b>{html.escape(title)}</b> <small>{html.escape(detail)}</small>")
    return widgets.VBox([image, label], layout=widgets.Layout(margin="0 8px 0 0"))


def _plain_caption(result: Any) -> str:
    """Prompt, model and cost of a result as plain text, without timings (for saved pictures)."""
    model = result.model_name or result.model_id or "server default model"
    cost = "$0 (local)" if result.is_local else (
        f"~${result.estimated_cost:.3f}" if result.estimated_cost is not None else "")
    store = "from store" if result.from_store else ""
    tail = " · ".join(p for p in (model, cost, store) if p)
    return f"{result.prompt or ''}\n{tail}".strip()


def caption_of(item: Any) -> str:
    """HTML caption: the prompt, then the result's own caption (model, time, cost, store)."""
    if isinstance(item, str):
        return html.escape(item)
    prompt = getattr(item, "prompt", None) or ""
    short = prompt if len(prompt) <= 80 else prompt[:77] + "…"
    badge = " · <b class='venice-local'>LOCAL backend</b>" if item.is_local else ""
    return (
        f"<div title='{html.escape(prompt)}'><i>{html.escape(short)}</i></div>"
        f"<small>{html.escape(item.caption())}{badge}</small>"
    )


class ResultGrid(StaticPicture, widgets.VBox):
    """A captioned contact sheet of EditResult objects or ``(image, caption)`` pairs.

    ``on_select(callback)`` adds a button to each card; the callback receives ``(index, item)``.
    """

    def __init__(self, results: Iterable[Any] = (), columns: int = 4, **kwargs: Any) -> None:
        self.columns = max(1, int(columns))
        self.items: list[Any] = []
        self._select: list[tuple[str, Callable[[int, Any], Any]]] = []
        self._marked: tuple[int, str] | None = None
        self._thumbs: list[widgets.Image] = []  # one encoded thumbnail per item, reused
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

    def append(self, item: Any) -> None:
        """Add one EditResult or ``(image, caption)`` pair at the end."""
        self.items.append(item)
        image, _ = _split_item(item)
        self._thumbs.append(_image_widget(_thumbnail(image), width="100%", object_fit="contain"))
        self._grid.children = (*self._grid.children, self._card(len(self.items) - 1, item))

    def extend(self, items: Iterable[Any]) -> None:
        for item in items:
            self.append(item)

    def on_select(self, callback: Callable[[int, Any], Any], label: str = "Select") -> None:
        """Show a ``label`` button on every card that calls ``callback(index, item)``."""
        self._select.append((label, callback))
        self._grid.children = tuple(self._card(i, it) for i, it in enumerate(self.items))

    def mark(self, index: int, note: str) -> None:
        """Mark card ``index`` (e.g. the current base): outlined, its buttons read ``note``."""
        previous, self._marked = self._marked, (index, note)
        cards = self._grid.children
        for i in {index, previous[0] if previous else index}:
            if i < len(cards):
                self._style_card(i, cards[i])

    def __len__(self) -> int:
        return len(self.items)

    def static_picture(self) -> tuple[Image.Image, str]:
        """The cards as one contact sheet (the PNG ``save_png`` writes is the same picture)."""
        cards = [_picture_card(item) for item in self.items]
        text = f"ResultGrid: {len(cards)} images" + "".join(
            f"\n- {caption.splitlines()[0]}" for _, caption in cards[:12])
        if len(cards) > 12:
            text += f"\n… and {len(cards) - 12} more"
        return contact_sheet(cards, self.columns), text

    def save_png(self, path: Any) -> Any:
        """Write the contact sheet as one captioned PNG; returns the path."""
        from pathlib import Path

        out = Path(path)
        self.static_picture()[0].save(out, "PNG", optimize=True)
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


def _thumbnail(image: Any) -> np.ndarray:
    """A card-sized copy; a large array is thinned by striding first (30 Mpx in milliseconds)."""
    is_rgb = isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3 \
        and image.dtype == np.uint8
    rgb = image if is_rgb else as_rgb(image)
    step = max(rgb.shape[:2]) // (_THUMB_SIDE * 4)
    if step > 1:
        rgb = rgb[::step, ::step]
    return resize_rgb(np.ascontiguousarray(rgb),
                      fit_size(rgb.shape[1], rgb.shape[0], _THUMB_SIDE, _THUMB_SIDE))


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
