"""``MaskPainter``: paint an edit mask over an image in the notebook.

The mask lives at the image's full resolution in numpy; the canvas only shows a downscaled
copy. Per mouse move the kernel stamps the segment only into the display-size mask and sends one
small batch of draw commands for the dab, so the cost per move depends on neither the image size
nor (at full resolution) the brush. The stroke's points are kept; when it ends, the whole stroke
is drawn into the full-resolution mask once (``venice_nb.masks.brush``), and the overlay is
rebuilt from it, downscaled and limited to the changed rectangle.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import numpy as np
import traitlets
from ipycanvas import MultiCanvas, hold_canvas
from PIL import Image

from .. import masks
from .._errors import ValidationError
from ._fallback import StaticPicture, mask_picture
from ._history import Box, MaskHistory, clip
from ._util import DEFAULT_MAX_DISPLAY, as_rgb, fit_size, hex_to_rgb, resize_rgb

__all__ = ["TOOLS", "MaskPainter"]

TOOLS = ("brush", "eraser", "bucket", "rect", "ellipse")
_TOOL_LABELS = {
    "brush": ("Brush", "paint-brush", "Paint the area to change (B)"),
    "eraser": ("Eraser", "eraser", "Erase from the mask (E)"),
    "bucket": ("Bucket", "tint", "Fill the contiguous area of similar colour (G)"),
    "rect": ("Rect", "square-o", "Drag a rectangle (R)"),
    "ellipse": ("Ellipse", "circle-o", "Drag an ellipse (O)"),
}
_TOOL_KEYS = {"b": "brush", "e": "eraser", "g": "bucket", "r": "rect", "o": "ellipse"}
_SIZE_STEP = 1.25  # [ and ] scale the brush like image editors do
_MAX_BRUSH = 300
# Overlay layers: 0 image, 1 mask overlay, 2 cursor / shape preview (receives the events).
_IMAGE, _OVERLAY, _CURSOR = range(3)

KEY_HELP = (
    "Keys (click the image first): B brush · E eraser · G bucket · R rectangle · O ellipse · "
    "[ ] brush size · X add/subtract · I invert · F fill all · Delete clear · "
    "Ctrl+Z undo · Ctrl+Shift+Z / Ctrl+Y redo"
)


class MaskPainter(StaticPicture, widgets.VBox):
    """Paint a mask (255 = change) over ``image``; ``.mask`` is always full resolution.

    ``brush_size`` is a diameter in screen pixels, so the brush feels the same on any image.
    ``mask_version`` increments after every finished change: observe it to react to edits.
    """

    tool = traitlets.Enum(TOOLS, default_value="brush")
    brush_size = traitlets.Int(40).tag(min=1, max=_MAX_BRUSH)
    tolerance = traitlets.Int(32)
    subtract = traitlets.Bool(False, help="bucket / rect / ellipse remove from the mask")
    opacity = traitlets.Float(0.5)
    color = traitlets.Unicode("#ff2d55")
    mask_version = traitlets.Int(0, read_only=True)
    can_undo = traitlets.Bool(False, read_only=True)
    can_redo = traitlets.Bool(False, read_only=True)

    def __init__(
        self,
        image: Any,
        *,
        mask: Any = None,
        max_size: tuple[int, int] = DEFAULT_MAX_DISPLAY,
        **traits: Any,
    ) -> None:
        self._max_size = max_size
        self._points: list[tuple[float, float]] = []  # the stroke so far (full-res px)
        self._last: tuple[float, float] | None = None  # last point of the stroke (display px)
        self._erasing = False
        self._drag_start: tuple[float, float] | None = None
        self._dab_style = "black"
        self._pointer = (0.0, 0.0)  # last known pointer position (display px)
        self.canvas = MultiCanvas(3, width=1, height=1)
        self.canvas.add_class("venice-painter-canvas")
        self.canvas.layout.max_width = "100%"  # CSS may shrink it; ipycanvas rescales events
        self.canvas.layout.height = "auto"
        self._load_image(image)
        self._controls = _Toolbar(self)
        super().__init__(**traits)
        self.children = (*self._controls.rows, self.canvas, self._controls.status)
        self.add_class("venice-mask-painter")
        self.canvas.on_mouse_down(self._on_mouse_down)
        self.canvas.on_mouse_move(self._on_mouse_move)
        self.canvas.on_mouse_up(self._on_mouse_up)
        self.canvas.on_mouse_out(self._on_mouse_out)
        self.canvas.on_touch_start(_first_touch(self._on_mouse_down))
        self.canvas.on_touch_move(_first_touch(self._on_mouse_move))
        # A lifted finger has no position: finish where it last was.
        self.canvas.on_touch_end(lambda touches: self._on_mouse_up(*self._pointer))
        self.canvas.on_key_down(self._on_key_down)
        self.canvas.on_client_ready(self.redraw)
        self.observe(self._on_style, names=["opacity", "color"])
        self.observe(self._on_setting, names=["tool", "brush_size", "subtract", "tolerance"])
        if mask is not None:
            self.set_mask(mask, record=False)
        self.redraw()

    # ----------------------------------------------------------------- public API
    @property
    def image(self) -> np.ndarray:
        """The full-resolution RGB image being painted on (read-only view)."""
        view = self._rgb.view()
        view.flags.writeable = False
        return view

    @property
    def mask(self) -> np.ndarray:
        """A copy of the HxW uint8 mask at the image's resolution (255 = change)."""
        return self._mask.copy()

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) of the canvas in screen pixels."""
        return self._dw, self._dh

    @property
    def coverage(self) -> float:
        """Fraction of the image the mask selects (0..1, soft values count partly)."""
        return float(self._small.mean()) / 255.0

    def set_mask(self, mask: Any, *, record: bool = True) -> None:
        """Replace the mask (HxW; bool, uint8 or float in [0, 1]); resized if the size differs.

        ``record=False`` makes it the new starting point instead of an undoable step.
        """
        self._finish_stroke()
        self._mask[...] = _as_mask(mask, self._width, self._height)
        if record:
            self._commit(self._everything)
        else:
            self._history.reset(self._mask)
            self._after_change(self._everything, bump=True)

    def set_image(self, image: Any, *, keep_mask: bool = False) -> None:
        """Paint on a new image (e.g. an edit result); the mask is kept if sizes match.

        Undo history starts over: it belongs to the previous image.
        """
        self._finish_stroke()
        old = self._mask
        self._load_image(image)
        if keep_mask and old.shape == self._mask.shape:
            self._mask[...] = old
            self._history.reset(self._mask)
        with hold_canvas():
            self.redraw()
            self._after_change(self._everything, bump=True)

    def undo(self) -> None:
        """Take back the last stroke or action (Ctrl+Z on the canvas)."""
        self._finish_stroke()
        box = self._history.undo()
        self._after_change(box, bump=box is not None)

    def redo(self) -> None:
        self._finish_stroke()
        box = self._history.redo()
        self._after_change(box, bump=box is not None)

    def clear(self) -> None:
        """Empty the mask (undoable)."""
        self._whole("clear")

    def fill(self) -> None:
        """Select the whole image (undoable)."""
        self._whole("fill")

    def invert(self) -> None:
        """Swap change and keep (undoable)."""
        self._whole("invert")

    def redraw(self) -> None:
        """Repaint every layer from the kernel's state (also runs when a new view connects)."""
        with hold_canvas():
            self.canvas.clear()
            self.canvas[_IMAGE].put_image_data(self._display_rgba, 0, 0)
        self._draw_overlay(None, resample=False)

    # ---------------------------------------------------------------- internals
    def _load_image(self, image: Any) -> None:
        rgb = as_rgb(image)
        self._rgb = rgb
        self._height, self._width = rgb.shape[:2]
        self._dw, self._dh = fit_size(self._width, self._height, *self._max_size)
        self._sx, self._sy = self._dw / self._width, self._dh / self._height
        shown = resize_rgb(rgb, (self._dw, self._dh))
        # RGBA goes over the wire as PNG (lossless); RGB would be JPEG at quality 75.
        self._display_rgba = np.dstack([shown, np.full(shown.shape[:2], 255, np.uint8)])
        self._mask = np.zeros((self._height, self._width), np.uint8)
        self._small = np.zeros((self._dh, self._dw), np.uint8)
        self._history = MaskHistory(self._mask)
        self._points = []
        self._last = self._drag_start = None
        self.canvas.width, self.canvas.height = self._dw, self._dh
        self.canvas.layout.width = f"{self._dw}px"  # a flex column would stretch it otherwise

    def _full(self, x: float, y: float) -> tuple[float, float]:
        """Display coordinates -> full-resolution pixel coordinates."""
        return x / self._sx, y / self._sy

    @property
    def _radius(self) -> float:
        """Brush radius in full-resolution pixels."""
        return self.brush_size / (self._sx + self._sy)  # radius / mean scale

    @property
    def _everything(self) -> Box:
        return (0, 0, self._width, self._height)

    def _whole(self, op: str) -> None:
        """A whole-mask action, recorded as the action (cheap to undo) rather than pixels."""
        self._finish_stroke()
        changed = self._history.apply(op)
        self._after_change(self._everything, bump=changed)

    def _commit(self, box: Box | None) -> None:
        """Record a change in ``box``; the overlay there is redrawn from the mask either way
        (a stroke that changed nothing still left its dab drawing on the canvas)."""
        changed = self._history.commit(box)
        self._after_change(box, bump=changed)

    def _after_change(self, box: Box | None, *, bump: bool) -> None:
        if box is not None:
            self._draw_overlay(box)
        self.set_trait("can_undo", self._history.can_undo)
        self.set_trait("can_redo", self._history.can_redo)
        if bump:
            self.set_trait("mask_version", self.mask_version + 1)
        self._controls.update_status()

    # Overlay: display-resolution copy of the mask, coloured, with opacity baked into alpha.
    def _display_box(self, box: Box | None) -> Box:
        if box is None:
            return (0, 0, self._dw, self._dh)
        x0, y0, x1, y1 = box
        return (
            max(0, math.floor(x0 * self._sx)),
            max(0, math.floor(y0 * self._sy)),
            min(self._dw, math.ceil(x1 * self._sx)),
            min(self._dh, math.ceil(y1 * self._sy)),
        )

    def _downscale(self, dbox: Box) -> np.ndarray:
        """The mask averaged over the display pixels in ``dbox`` (touches only that region)."""
        x0, y0, x1, y1 = dbox
        if (self._dw, self._dh) == (self._width, self._height):
            return self._mask[y0:y1, x0:x1].copy()
        fx0, fy0 = x0 / self._sx, y0 / self._sy
        fx1, fy1 = min(self._width, x1 / self._sx), min(self._height, y1 / self._sy)
        cx0, cy0 = int(fx0), int(fy0)
        crop = self._mask[cy0 : math.ceil(fy1), cx0 : math.ceil(fx1)]
        small = Image.fromarray(np.ascontiguousarray(crop)).resize(
            (x1 - x0, y1 - y0),
            Image.Resampling.BOX,
            box=(fx0 - cx0, fy0 - cy0, fx1 - cx0, fy1 - cy0),
        )
        return np.asarray(small)

    def _overlay_rgba(self, small: np.ndarray) -> np.ndarray:
        rgba = np.empty((*small.shape, 4), np.uint8)
        rgba[..., :3] = hex_to_rgb(self.color)
        rgba[..., 3] = (small.astype(np.float32) * self.opacity).astype(np.uint8)
        return rgba

    def _draw_overlay(self, box: Box | None, *, resample: bool = True) -> None:
        """Redraw the overlay in ``box`` (None: all); ``resample`` re-reads the full mask."""
        x0, y0, x1, y1 = dbox = self._display_box(box)
        if x1 <= x0 or y1 <= y0:
            return
        if resample:
            self._small[y0:y1, x0:x1] = self._downscale(dbox)
        layer = self.canvas[_OVERLAY]
        with hold_canvas():
            layer.global_composite_operation = "source-over"
            layer.clear_rect(x0, y0, x1 - x0, y1 - y0)
            layer.put_image_data(self._overlay_rgba(self._small[y0:y1, x0:x1]), x0, y0)

    # Strokes: per move, stamp the display-size mask and draw the dab; full resolution at the end.
    def _stamp(self, x: float, y: float) -> None:
        value = 0 if self._erasing else 255
        self._points.append(self._full(x, y))
        px, py = self._last if self._last is not None else (x, y)
        masks.brush(None, [(px, py), (x, y)], self.brush_size / 2, out=self._small, value=value)
        self._last = (x, y)
        layer = self.canvas[_OVERLAY]
        # Erase then repaint the dab so overlapping dabs do not stack their transparency.
        layer.global_composite_operation = "destination-out"
        layer.stroke_style = "black"
        layer.stroke_line(px, py, x, y)
        if value:
            layer.global_composite_operation = "source-over"
            layer.stroke_style = self._dab_style
            layer.stroke_line(px, py, x, y)

    def _start_stroke(self, x: float, y: float) -> None:
        self._finish_stroke()
        layer = self.canvas[_OVERLAY]
        layer.line_width = self.brush_size
        layer.line_cap = "round"
        r, g, b = hex_to_rgb(self.color)
        self._dab_style = f"rgba({r},{g},{b},{self.opacity:.3f})"
        self._erasing = self.tool == "eraser"
        self._stamp(x, y)

    def _finish_stroke(self) -> None:
        """Draw the whole stroke into the full-resolution mask, once, and record it."""
        points, self._points = self._points, []
        self._last = None
        if not points:
            return
        r = self._radius
        masks.brush(None, points, r, out=self._mask, value=0 if self._erasing else 255)
        box = masks.stroke_box(self._mask, points, r)
        # The preview stamped _small; the commit resamples it from the mask in the stroke's box.
        self._commit(box if box is not None else self._everything)

    def _apply_shape(self, x: float, y: float) -> None:
        (x0, y0), (x1, y1) = self._full(*self._drag_start), self._full(x, y)  # type: ignore[misc]
        self._drag_start = None
        box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        draw = masks.rect if self.tool == "rect" else masks.ellipse
        draw(None, box, out=self._mask, value=0 if self.subtract else 255)
        self._commit(clip(
            (math.floor(box[0]), math.floor(box[1]), math.ceil(box[2]) + 1, math.ceil(box[3]) + 1),
            self._width, self._height,
        ))

    def _bucket(self, x: float, y: float) -> None:
        region = masks.from_color(self._rgb, None, self.tolerance, seed=self._full(x, y))
        box = masks.bbox(region)
        if box is None:
            return
        sl = (slice(box[1], box[3]), slice(box[0], box[2]))
        combine = masks.subtract if self.subtract else masks.union
        self._mask[sl] = combine(self._mask[sl], region[sl])
        self._commit(box)

    # ------------------------------------------------------------ event handlers
    def _on_mouse_down(self, x: float, y: float) -> None:
        with hold_canvas():
            if self.tool in ("brush", "eraser"):
                self._start_stroke(x, y)
            elif self.tool == "bucket":
                self._bucket(x, y)
            else:
                self._drag_start = (x, y)
            self._draw_cursor(x, y)

    def _on_mouse_move(self, x: float, y: float) -> None:
        self._pointer = (x, y)
        with hold_canvas():
            if self._last is not None:
                self._stamp(x, y)
            self._draw_cursor(x, y)

    def _on_mouse_up(self, x: float, y: float) -> None:
        with hold_canvas():
            if self._last is not None:
                self._finish_stroke()
            elif self._drag_start is not None:
                self._apply_shape(x, y)
            self._draw_cursor(x, y)

    def _on_mouse_out(self, x: float, y: float) -> None:
        with hold_canvas():
            self._finish_stroke()
            if self._drag_start is not None:
                self._apply_shape(x, y)
            self.canvas[_CURSOR].clear()

    def _draw_cursor(self, x: float, y: float) -> None:
        layer = self.canvas[_CURSOR]
        layer.clear()
        for color, width in (("black", 3), ("white", 1)):
            layer.stroke_style = color
            layer.line_width = width
            if self._drag_start is not None:
                sx, sy = self._drag_start
                if self.tool == "rect":
                    layer.stroke_rect(min(sx, x), min(sy, y), abs(x - sx), abs(y - sy))
                else:
                    layer.begin_path()
                    layer.ellipse(
                        (sx + x) / 2, (sy + y) / 2, abs(x - sx) / 2, abs(y - sy) / 2, 0, 0,
                        2 * math.pi,
                    )
                    layer.stroke()
            if self.tool in ("brush", "eraser"):
                layer.stroke_circle(x, y, max(1.0, self.brush_size / 2))
            else:
                layer.stroke_line(x - 8, y, x + 8, y)
                layer.stroke_line(x, y - 8, x, y + 8)

    def _on_key_down(self, key: str, shift: bool, ctrl: bool, meta: bool) -> None:
        action = self._key_action(key, shift, ctrl or meta)
        if action is not None:
            action()

    def _key_action(self, key: str, shift: bool, ctrl: bool) -> Callable[[], Any] | None:
        k = key.lower()
        if ctrl:
            if k == "z":
                return self.redo if shift else self.undo
            return self.redo if k == "y" else None
        if k in _TOOL_KEYS:
            return lambda: setattr(self, "tool", _TOOL_KEYS[k])
        simple: dict[str, Callable[[], Any]] = {
            "[": lambda: self._resize_brush(1 / _SIZE_STEP),
            "]": lambda: self._resize_brush(_SIZE_STEP),
            "x": lambda: setattr(self, "subtract", not self.subtract),
            "i": self.invert,
            "f": self.fill,
            "delete": self.clear,
            "backspace": self.clear,
        }
        return simple.get(k)

    def _resize_brush(self, factor: float) -> None:
        new = round(self.brush_size * factor)
        if new == self.brush_size:
            new += 1 if factor > 1 else -1
        self.brush_size = max(1, min(_MAX_BRUSH, new))

    def _on_style(self, _change: dict[str, Any]) -> None:
        self._draw_overlay(None, resample=False)

    def _on_setting(self, _change: dict[str, Any]) -> None:
        self._finish_stroke()
        self._drag_start = None
        self._controls.update_status()

    @traitlets.validate("brush_size")
    def _valid_size(self, proposal: dict[str, Any]) -> int:
        return max(1, min(_MAX_BRUSH, int(proposal["value"])))

    @traitlets.validate("opacity")
    def _valid_opacity(self, proposal: dict[str, Any]) -> float:
        return max(0.0, min(1.0, float(proposal["value"])))

    @traitlets.validate("color")
    def _valid_color(self, proposal: dict[str, Any]) -> str:
        hex_to_rgb(proposal["value"])  # a bad colour fails here, not in the middle of a stroke
        return proposal["value"]

    @traitlets.validate("tolerance")
    def _valid_tolerance(self, proposal: dict[str, Any]) -> int:
        return max(0, min(255, int(proposal["value"])))

    # Publishing (issue 13): the picture a saved notebook shows in place of the live widget.
    def static_picture(self) -> tuple[Image.Image, str]:
        return mask_picture(self.image, self.mask, self.color, self.opacity)

    def __repr__(self) -> str:
        return (
            f"MaskPainter({self._width}x{self._height}, shown {self._dw}x{self._dh}, "
            f"tool={self.tool!r}, coverage={self.coverage:.1%})"
        )


class _Toolbar:
    """The painter's buttons and sliders, linked to its traits (buttons do all that keys do)."""

    def __init__(self, painter: MaskPainter) -> None:
        self.painter = painter
        tools = widgets.ToggleButtons(
            options=[(_TOOL_LABELS[t][0], t) for t in TOOLS],
            icons=[_TOOL_LABELS[t][1] for t in TOOLS],
            tooltips=[_TOOL_LABELS[t][2] for t in TOOLS],
            style={"button_width": "92px"},
        )
        tools.add_class("venice-tools")
        size = widgets.IntSlider(
            min=1, max=_MAX_BRUSH, description="Size", continuous_update=False,
            layout=widgets.Layout(width="260px"),
        )
        tolerance = widgets.IntSlider(
            min=0, max=255, description="Tolerance", continuous_update=False,
            layout=widgets.Layout(width="260px"),
        )
        subtract = widgets.Checkbox(description="Subtract (X)", indent=False,
                                    layout=widgets.Layout(width="120px"))
        opacity = widgets.FloatSlider(
            min=0.0, max=1.0, step=0.05, description="Opacity", continuous_update=False,
            layout=widgets.Layout(width="260px"),
        )
        color = widgets.ColorPicker(concise=True, description="Overlay",
                                    layout=widgets.Layout(width="140px"))
        for control, name in ((tools, "tool"), (size, "brush_size"), (tolerance, "tolerance"),
                              (subtract, "subtract"), (opacity, "opacity"), (color, "color")):
            control.value = getattr(painter, name)
            traitlets.link((control, "value"), (painter, name))
        self.buttons: dict[str, widgets.Button] = {}
        specs = (
            ("Undo", "undo", "Undo the last stroke (Ctrl+Z)", painter.undo),
            ("Redo", "repeat", "Redo (Ctrl+Shift+Z)", painter.redo),
            ("Clear", "trash", "Empty the mask (Delete)", painter.clear),
            ("Invert", "adjust", "Swap change and keep (I)", painter.invert),
            ("Fill all", "square", "Select the whole image (F)", painter.fill),
        )
        for label, icon, tip, action in specs:
            button = widgets.Button(description=label, icon=icon, tooltip=tip,
                                    layout=widgets.Layout(width="auto"))
            button.on_click(lambda _b, act=action: act())
            self.buttons[label] = button
        traitlets.dlink((painter, "can_undo"), (self.buttons["Undo"], "disabled"),
                        lambda v: not v)
        traitlets.dlink((painter, "can_redo"), (self.buttons["Redo"], "disabled"),
                        lambda v: not v)
        help_icon = widgets.HTML(
            f"<span title='{KEY_HELP}' style='cursor:help' class='venice-key-help'>⌨ keys</span>",
            layout=widgets.Layout(margin="0 0 0 8px"),
        )
        self.rows = (
            widgets.HBox([tools, subtract]),
            widgets.HBox([size, tolerance, help_icon], layout=widgets.Layout(flex_flow="row wrap")),
            widgets.HBox([*self.buttons.values(), opacity, color],
                         layout=widgets.Layout(flex_flow="row wrap")),
        )
        self.status = widgets.HTML(layout=widgets.Layout(margin="2px 0"))
        self.status.add_class("venice-painter-status")

    def update_status(self) -> None:
        p = self.painter
        shown = f"{p._width}×{p._height}"
        if p.display_size != (p._width, p._height):
            shown += f" shown at {p.display_size[0] / p._width:.0%}"
        mode = " (subtract)" if p.subtract and p.tool in ("bucket", "rect", "ellipse") else ""
        self.status.value = (
            f"<small>{p.tool}{mode} · size {p.brush_size}px · mask {p.coverage:.1%} · "
            f"{shown}</small>"
        )


def _first_touch(handler: Callable[[float, float], None]) -> Callable[[list], None]:
    """Touch events carry a list of points: paint with the first finger."""

    def on_touch(touches: list[tuple[float, float]]) -> None:
        if touches:
            handler(*touches[0])

    return on_touch


def _as_mask(mask: Any, width: int, height: int) -> np.ndarray:
    """Any mask-like input -> HxW uint8 at (width, height), resized if the aspect matches."""
    arr = masks.as_mask(mask)
    h, w = arr.shape
    if not h or not w:
        raise ValidationError(
            f"mask is empty ({w}x{h}); the image is {width}x{height}",
            action="pass an HxW mask at the image size, e.g. masks.rect(painter.image, box)",
        )
    if (w, h) != (width, height):
        if abs(w / h - width / height) > 0.01 * (width / height):
            raise ValidationError(
                f"mask is {w}x{h} but the image is {width}x{height}",
                action="build it at the image size, e.g. masks.rect(painter.image, box)",
            )
        arr = masks.resize_to(arr, (height, width))
    return arr
