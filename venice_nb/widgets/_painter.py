"""``MaskPainter``: paint an edit mask over an image in the notebook.

The mask lives at the image's full resolution in numpy. The browser draws the live stroke, the
brush cursor and shape previews itself (``_painter.js``, an anywidget), keeps painter keys away
from the notebook's shortcuts and handles wheel / pinch / drag gestures; it sends the stroke's
points batched once per animation frame. The kernel paints them into the full-resolution mask,
keeps undo, and renders the visible part of the image, at the canvas's size, into an ipycanvas
canvas: zoomed in, the canvas shows real image pixels, and it is never the image's full size.
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import ipywidgets as widgets
import numpy as np
import traitlets
from ipycanvas import MultiCanvas, hold_canvas
from PIL import Image

from .. import masks
from .._exceptions import ValidationError
from .._segmenter import Segmenter, check_segmenter
from ._fallback import StaticPicture, mask_picture
from ._history import Box, MaskHistory, clip, union
from ._keys import KeyGuard
from ._lifetime import close_tree, release_on_rerun
from ._protocol import (
    KEY_HELP,
    PAINTER_MODULES,
    TOOL_NAMES,
    TOOLS,
    ZOOM_STEP,
    MaskFile,
    ToKernel,
    bundle,
    key_for,
    parse,
)
from ._selecting import SELECT_TOOLS, SelectTools
from ._util import DEFAULT_MAX_DISPLAY, as_rgb, fit_size, hex_to_rgb
from ._viewport import Renderer, View, overlay

__all__ = ["KEY_HELP", "TOOLS", "MaskPainter"]

_SIZE_STEP = 1.25  # [ and ] scale the brush like image editors do
_HARDNESS_STEP = 10
_MAX_BRUSH = 300
_KEEP_PICTURES = 4
# Load mask: one websocket message carries the file (Jupyter's default limit is 10 MiB).
_MAX_MASK_BYTES = 8 * 2**20
# A compact toolbar: tools and edit buttons show their icon only (the name stays in the button
# as its accessible name, and the tooltip gives name, what it does and its key), so the tools,
# undo and zoom take one or two rows over the image instead of eight in a narrow column.
# Theme variables keep the pressed tool visible in Light and Dark.
_STYLE = """<style>
.venice-mask-painter .widget-box { min-width: 0; overflow: visible; }
.venice-painter-bar { flex-flow: row wrap; align-items: center; gap: 2px 0; }
.venice-painter-bar .widget-toggle-buttons { width: auto; }
.venice-painter-bar .widget-toggle-buttons .btn-group { display: flex; flex-flow: row wrap; }
.venice-icon-only button, .venice-icon-only.widget-button {
  font-size: 0 !important; width: 28px !important; min-width: 28px; padding: 0 !important;
  margin: 1px !important; }
.venice-icon-only button .fa, .venice-icon-only.widget-button .fa {
  font-size: var(--jp-widgets-font-size, 13px); margin: 0 !important; }
.venice-tools button.mod-active {
  box-shadow: inset 0 0 0 2px var(--jp-brand-color1, #1976d2); }
.venice-painter-group { flex-flow: row wrap; margin-right: 10px; max-width: 100%; }
.venice-painter-bar .widget-button { margin: 1px; padding: 0 7px; }
.venice-painter-more { align-self: flex-start; }
.venice-painter-status .widget-html-content { line-height: 1.35; height: auto; }
.venice-painter-settings { flex-flow: row wrap; align-items: center; gap: 0 8px; }
.venice-painter-settings .widget-slider { width: 210px; max-width: 100%; }
.venice-tool-settings { display: grid !important; grid-template-columns: minmax(0, 1fr);
  flex: 1 1 auto; }
.venice-tool-settings > * { grid-area: 1 / 1; }
.venice-select-combine button { padding: 0 2px !important; }
</style>"""


class _Surface(anywidget.AnyWidget):
    """The browser side: wraps the ipycanvas canvas, owns keys, pointer and the live stroke."""

    _esm = bundle(PAINTER_MODULES)
    canvas = traitlets.Instance(MultiCanvas).tag(sync=True, **widgets.widget_serialization)
    view_size = traitlets.Tuple(traitlets.Int(), traitlets.Int(), default_value=(1, 1)).tag(
        sync=True)
    tool = traitlets.Unicode("brush").tag(sync=True)
    brush_size = traitlets.Int(40).tag(sync=True)
    hardness = traitlets.Int(100).tag(sync=True)
    color = traitlets.Unicode("#ff2d55").tag(sync=True)
    opacity = traitlets.Float(0.5).tag(sync=True)
    label = traitlets.Unicode().tag(sync=True)


class _MaskFile(anywidget.AnyWidget):
    """Load mask… / Save mask: a file chooser and a download need the browser."""

    _esm = bundle(("maskfile.js",))
    max_bytes = traitlets.Int(_MAX_MASK_BYTES).tag(sync=True)


class MaskPainter(StaticPicture, widgets.VBox):
    """Paint a mask (255 = change) over ``image``; ``.mask`` is always full resolution.

    ``brush_size`` is a diameter in screen pixels, so the brush feels the same at any zoom
    (zoom in to paint finer detail). ``hardness`` below 100 gives the brush a soft edge that
    lands in the mask as a 0-255 ramp. ``mask_version`` increments after every finished change.

    Args:
        image: The image to paint on (any image input).
        mask: A starting mask; None: empty.
        max_size: The largest `(width, height)` shown at fit zoom.
        segmenter: A learned segmenter (`masks.load_segmenter`) for the Object select tool;
            None: the built-in engine.
        **traits: Initial trait values (`tool`, `brush_size`, `color`, `opacity`, ...).
    """

    tool = traitlets.Enum(TOOL_NAMES, default_value="brush")
    brush_size = traitlets.Int(40).tag(min=1, max=_MAX_BRUSH)
    hardness = traitlets.Int(100, help="brush edge: 100 hard, 0 fully soft (percent)")
    tolerance = traitlets.Int(32)
    subtract = traitlets.Bool(False, help="bucket / shapes / lasso / polygon remove from the mask")
    opacity = traitlets.Float(0.5)
    color = traitlets.Unicode("#ff2d55")
    zoom = traitlets.Float(1.0, read_only=True, help="canvas pixels per image pixel")
    origin = traitlets.Tuple(traitlets.Float(), traitlets.Float(), default_value=(0.0, 0.0),
                             read_only=True, help="the image point at the canvas's top-left")
    mask_version = traitlets.Int(0, read_only=True)
    can_undo = traitlets.Bool(False, read_only=True)
    can_redo = traitlets.Bool(False, read_only=True)

    caption_words = True  # saved copies: its words as text under its picture
    _built = False  # set once the constructor has finished: close() needs every part

    def __init__(
        self,
        image: Any,
        *,
        mask: Any = None,
        max_size: tuple[int, int] = DEFAULT_MAX_DISPLAY,
        segmenter: Segmenter | None = None,
        **traits: Any,
    ) -> None:
        self._max_size = max_size
        self._stroke_id: int | None = None
        self._last: tuple[float, float, float] | None = None  # last stroke point (image px, r)
        self._stroke_box: Box | None = None
        self._erasing = False
        self._seq = 0  # the browser's last view change the kernel has applied
        self._dpr = 1.0  # the browser's device pixels per CSS pixel
        self._pictures: list[widgets.Image] = []  # the latest rendered views, in flight
        self._coverage: tuple[int, float] = (-1, 0.0)  # (mask_version, coverage)
        self._notice = ""  # a sentence for the status line (what Load mask did, or why not)
        self.canvas = MultiCanvas(2, width=1, height=1)
        self.canvas.add_class("venice-painter-canvas")
        self._surface = _Surface(canvas=self.canvas, label=f"Mask painter. {KEY_HELP}")
        self._load_image(image)
        self._controls = _Toolbar(self)
        self._select = SelectTools(self)  # colour / object / subject select, refine
        self._select.segmenter = check_segmenter(segmenter)
        super().__init__(**traits)
        self._keys = KeyGuard(".venice-mask-painter")  # keys typed in its boxes stay here
        # Above the image only what a person reaches for while painting (tools, undo, zoom, the
        # chosen tool's settings); the rest below it, so the whole image fits one screen beside
        # the studio's prompt and Run at 1,000 px.
        bar = self._controls.rows[0]
        # The selection tools' own settings join the other tools'; Refine (any mask) goes
        # under More with the mask file and the overlay.
        sel = self._select
        settings = self._controls.stack_settings(sel.layers)
        more = self._controls.more_box(sel.refine)
        self.children = (widgets.HTML(_STYLE), self._keys, bar, settings, self._surface,
                         self._controls.status, *more)
        self.add_class("venice-mask-painter")
        # The browser sets the tool itself on a key press (a click right after it must use it).
        traitlets.link((self, "tool"), (self._surface, "tool"))
        for name in ("brush_size", "hardness", "color", "opacity"):
            traitlets.dlink((self, name), (self._surface, name))
        self._surface.on_msg(self._on_message)
        self._controls.file.on_msg(self._on_message)
        self.canvas.on_client_ready(self.redraw)
        self.observe(self._on_style, names=["opacity", "color"])
        self.observe(self._on_setting, names=["tool", "brush_size", "hardness", "subtract",
                                              "tolerance"])
        if mask is not None:
            self.set_mask(mask, record=False)
        self.redraw()
        self._controls.update_status()
        release_on_rerun(self)
        self._built = True

    # ----------------------------------------------------------------- public API
    @property
    def image(self) -> np.ndarray:
        """The full-resolution RGB image being painted on (read-only view)."""
        view: np.ndarray = self._rgb.view()
        view.flags.writeable = False
        return view

    @property
    def mask(self) -> np.ndarray:
        """A copy of the HxW uint8 mask at the image's resolution (255 = change)."""
        mask: np.ndarray = self._mask.copy()
        return mask

    @property
    def image_size(self) -> tuple[int, int]:
        """(width, height) of the image in pixels."""
        return self._view.image_size

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) of the canvas in screen pixels."""
        return self._view.view_size

    @property
    def view(self) -> View:
        """What the canvas shows: zoom and the image point at its top-left corner."""
        return self._view

    @property
    def coverage(self) -> float:
        """Fraction of the image the mask selects (0..1, soft values count partly)."""
        if self._coverage[0] != self.mask_version:  # views change often, the mask less
            value = float(self._mask.sum(dtype=np.uint64)) / (255.0 * self._mask.size)
            self._coverage = (self.mask_version, value)
        return self._coverage[1]

    def set_mask(self, mask: Any, *, record: bool = True) -> None:
        """Replace the mask: an HxW array (bool, uint8, float in [0, 1]), a PIL image, or a
        grayscale PNG's path or bytes; resized if only the size differs.

        ``record=False`` makes it the new starting point instead of an undoable step.

        Args:
            mask: A mask PNG path, bytes or array, resized to the image when needed.
            record: Keep the old mask as an undo step.
        """
        self._finish_stroke()
        w, h = self.image_size
        self._mask[...] = _as_mask(mask, w, h)
        if record:
            self._commit(self._everything)
        else:
            self._history.reset(self._mask)
            self._after_change(self._everything, bump=True)

    def save_mask(self, path: str | Path) -> Path:
        """Write the mask as a grayscale PNG at the image's resolution (soft edges kept).

        Args:
            path: The PNG file to write.
        """
        path = Path(path)
        Image.fromarray(self._mask).save(path, "PNG")
        return path

    def set_image(self, image: Any, *, keep_mask: bool = False) -> None:
        """Paint on a new image (e.g. an edit result); the mask is kept if sizes match.

        Undo history starts over: it belongs to the previous image.

        Args:
            image: The new image (any image input).
            keep_mask: Keep the painted mask (resized) instead of clearing it.
        """
        self._finish_stroke()
        old = self._mask
        self._load_image(image)
        self._select.set_image(self._rgb)
        if keep_mask and old.shape == self._mask.shape:
            self._mask[...] = old
            self._history.reset(self._mask)
        # The browser drops what it drew or has pending for the old image, and takes the new
        # canvas size (``view_size``): from here on its canvas points map onto the new image.
        self._seq = 0
        self._surface.send({"t": "reset"})
        self.redraw()
        self._after_change(None, bump=True)

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

    def zoom_to(self, zoom: float | str, at: tuple[float, float] | None = None) -> None:
        """Zoom to ``zoom`` canvas px per image px (1 = 100 %, ``"fit"`` = whole image),
        keeping the image point under canvas point ``at`` (default: the centre) in place.

        Args:
            zoom: A factor (1.0 = 100 %) or `"fit"`.
            at: The image point to keep under the same screen point; None: the centre.
        """
        if zoom == "fit":
            self._set_view(View.fitted(*self._sizes()))
            return
        if not isinstance(zoom, (int, float)) or not zoom > 0:
            raise ValidationError(f"zoom must be a positive number or 'fit'; got {zoom!r}",
                                  action="pass e.g. 1 for 100 %, 4 for 400 % or 'fit'")
        vw, vh = self.display_size
        x, y = at if at is not None else (vw / 2, vh / 2)
        self._set_view(self._view.zoom_at(float(zoom), x, y))

    def pan(self, dx: float, dy: float) -> None:
        """Move the image by (dx, dy) canvas pixels, as a drag would.

        Args:
            dx: Screen pixels to move right.
            dy: Screen pixels to move down.
        """
        self._set_view(self._view.panned(dx, dy))

    def close(self) -> None:
        """Close the painter and everything it shows, and let go of its image and mask.

        Runs by itself when the cell that made the painter runs again: the kernel keeps every
        widget until it is closed, and the cell's output history keeps the painter object, so
        closing is what frees a 33 Mpx photo's ~300 MB (image, pyramid, mask, undo).
        """
        if not self._built:  # from __del__ after a constructor that raised (a bad image)
            super().close()
            return
        self._select.close()
        close_tree(self, self._surface, self._keys, self._controls.file, self._controls.status,
                   self.canvas, *self.canvas._canvases)
        for picture in self._pictures:
            picture.close()
        self._pictures.clear()
        empty_rgb, empty_mask = np.zeros((1, 1, 3), np.uint8), np.zeros((1, 1), np.uint8)
        self._rgb, self._mask = empty_rgb, empty_mask
        self._renderer = Renderer(empty_rgb, empty_mask)
        self._history = MaskHistory(empty_mask)
        self._view = View.fitted((1, 1), (1, 1))
        super().close()

    def redraw(self) -> None:
        """Repaint the canvas from the kernel's state (also runs when a new view connects)."""
        self._surface.send({"t": "rendered", "seq": self._seq})  # first: the browser waits
        device = self._device_view()
        shown = self._renderer.image(device, (0, 0, *device.view_size))
        # A fresh Image widget per render: ipycanvas waits for a new model to arrive, whereas a
        # changed value could be drawn before its update lands. JPEG at quality 95 without
        # chroma subsampling encodes ~50x faster than PNG and its loss is not visible.
        buf = io.BytesIO()
        Image.fromarray(shown).save(buf, "JPEG", quality=95, subsampling=0)
        picture = widgets.Image(value=buf.getvalue(), format="jpeg")
        with hold_canvas():
            self.canvas[0].draw_image(picture, 0, 0)
            self._draw(None)
        self._pictures.append(picture)
        while len(self._pictures) > _KEEP_PICTURES:  # old ones are drawn: free them
            self._pictures.pop(0).close()

    # ---------------------------------------------------------------- internals
    def _sizes(self) -> tuple[tuple[int, int], tuple[int, int]]:
        return self._view.image_size, self._view.view_size

    def _load_image(self, image: Any) -> None:
        rgb = as_rgb(image)
        self._rgb = rgb
        h, w = rgb.shape[:2]
        view_size = fit_size(w, h, *self._max_size)
        self._view = View.fitted((w, h), view_size)
        self.set_trait("zoom", self._view.zoom)
        self.set_trait("origin", self._view.origin)
        self._mask = np.zeros((h, w), np.uint8)
        self._renderer = Renderer(rgb, self._mask)
        self._history = MaskHistory(self._mask)
        self._stroke_id, self._last, self._stroke_box = None, None, None
        self._surface.view_size = view_size
        self._size_canvas()

    def _device_view(self) -> View:
        """The view in device pixels: on a 2x screen the canvas holds 2x2 pixels per CSS px."""
        (vw, vh), d = self._view.view_size, self._dpr
        return View(self._view.image_size, (round(vw * d), round(vh * d)), self._view.zoom * d,
                    self._view.origin)

    def _size_canvas(self) -> None:
        self.canvas.width, self.canvas.height = self._device_view().view_size

    def _set_dpr(self, dpr: float) -> None:
        """The browser's device pixel ratio (at most 2: beyond that 4x the pixels buy little)."""
        dpr = min(2.0, max(1.0, round(dpr * 4) / 4))
        if dpr != self._dpr:
            self._dpr = dpr
            self._size_canvas()
            self.redraw()

    def _set_view(self, view: View, seq: int | None = None) -> None:
        self._finish_stroke()
        if seq is not None:
            self._seq = seq
        self._view = view
        self.set_trait("zoom", view.zoom)
        self.set_trait("origin", view.origin)
        self.redraw()
        self._controls.update_status()

    @property
    def _everything(self) -> Box:
        w, h = self.image_size
        return (0, 0, w, h)

    def _draw(self, box: Box | None) -> None:
        """Redraw the mask overlay over image rectangle ``box`` (None: the whole canvas) as
        RGBA, which ipycanvas sends as a PNG (lossless)."""
        device = self._device_view()
        vbox = device.view_box(box) if box is not None else (0, 0, *device.view_size)
        if vbox is None:  # out of view
            return
        x0, y0, x1, y1 = vbox
        small = self._renderer.mask(device, vbox)
        layer = self.canvas[1]
        with hold_canvas():
            layer.clear_rect(x0, y0, x1 - x0, y1 - y0)
            layer.put_image_data(overlay(small, hex_to_rgb(self.color), self.opacity), x0, y0)

    def _whole(self, op: str) -> None:
        """A whole-mask action, recorded as the action (cheap to undo) rather than pixels."""
        self._finish_stroke()
        changed = self._history.apply(op)
        self._after_change(self._everything, bump=changed)

    def _commit(self, box: Box | None) -> None:
        changed = self._history.commit(box)
        self._after_change(box, bump=changed)

    def _after_change(self, box: Box | None, *, bump: bool) -> None:
        if box is not None:
            self._renderer.mask_changed(box)
            self._draw(box)
        self.set_trait("can_undo", self._history.can_undo)
        self.set_trait("can_redo", self._history.can_redo)
        if bump:
            self.set_trait("mask_version", self.mask_version + 1)
            self._notice = ""
        self._controls.update_status()

    # Strokes: the browser sends canvas points; each segment goes into the full mask at once.
    def _stroke(self, stroke_id: int, points: list[list[float]], end: bool) -> None:
        if stroke_id != self._stroke_id:
            self._finish_stroke()
            self._stroke_id = stroke_id
            self._erasing = self.tool == "eraser"
        pts = [(*self._view.to_image(x, y), self.brush_size * p / 2 / self._view.zoom)
               for x, y, p in points]
        if pts and self.hardness >= 100 and len({p[2] for p in pts}) == 1:
            self._polyline([self._last or pts[0], *pts])  # one pass for the whole batch
        else:
            for point in pts:
                self._segment(self._last or point, point)
                self._last = point
        if pts:
            self._last = pts[-1]
        if end:
            self._finish_stroke()

    def _polyline(self, pts: list[tuple[float, float, float]]) -> None:
        r = pts[-1][2]
        ends = [(x, y) for x, y, _ in pts]
        masks.brush(None, ends, r, out=self._mask, value=0 if self._erasing else 255)
        box = masks.stroke_box(self._mask, ends, r)
        if box is not None:
            self._stroke_box = union(self._stroke_box, box)

    def _segment(self, a: tuple[float, float, float], b: tuple[float, float, float]) -> None:
        r = (a[2] + b[2]) / 2
        ends = [(a[0], a[1]), (b[0], b[1])]
        value = 0 if self._erasing else 255
        if self.hardness >= 100:
            masks.brush(None, ends, r, out=self._mask, value=value)
        else:
            soft_segment(self._mask, ends, r, self.hardness / 100, value=value)
        box = masks.stroke_box(self._mask, ends, r)
        if box is not None:
            self._stroke_box = union(self._stroke_box, box)

    def _finish_stroke(self) -> None:
        """Record the stroke painted so far as one undo step and show it."""
        sid, box = self._stroke_id, self._stroke_box
        self._stroke_id, self._last, self._stroke_box = None, None, None
        if sid is None:
            return
        self._surface.send({"t": "committed", "id": sid})  # first: the browser then waits
        self._commit(box)  # for the overlay drawn here before it drops its live stroke

    def _shape(self, kind: str, points: list[list[float]]) -> None:
        if not points:
            return
        self._finish_stroke()
        pts = [self._view.to_image(x, y) for x, y in points]
        value = 0 if self.subtract else 255
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        if kind == "polygon":
            masks.polygon(None, pts, out=self._mask, value=value)
        else:
            box = (min(xs), min(ys), max(xs), max(ys))
            draw = masks.rect if kind == "rect" else masks.ellipse
            draw(None, box, out=self._mask, value=value)
        w, h = self.image_size
        self._commit(clip((math.floor(min(xs)), math.floor(min(ys)),
                           math.ceil(max(xs)) + 1, math.ceil(max(ys)) + 1), w, h))

    def _bucket(self, x: float, y: float) -> None:
        self._finish_stroke()
        region = masks.from_color(self._rgb, None, self.tolerance, seed=self._view.to_image(x, y))
        box = masks.bbox(region)
        if box is None:
            return
        sl = (slice(box[1], box[3]), slice(box[0], box[2]))
        combine = masks.subtract if self.subtract else masks.union
        self._mask[sl] = combine(self._mask[sl], region[sl])
        self._commit(box)

    # ------------------------------------------------------------ browser messages
    def _on_message(self, _widget: Any, content: Any, buffers: list[bytes]) -> None:
        try:
            msg = parse(content)
        except ValidationError as exc:
            self._say(str(exc), error=True)
            return
        self._handle(msg, buffers)

    def _handle(self, msg: ToKernel, buffers: list[bytes]) -> None:
        if msg["t"] == "stroke":
            self._stroke(msg["id"], msg["pts"], msg["end"])
        elif msg["t"] == "shape" and msg["tool"] in self._shape_tools:
            self._shape(self._shape_tools[msg["tool"]], msg["pts"])
        elif msg["t"] == "click" and msg["tool"] in self._click_tools:
            self._click_tools[msg["tool"]](msg["x"], msg["y"])
        elif msg["t"] == "select" and msg["tool"] in SELECT_TOOLS:
            self._select.click(msg["tool"], msg["x"], msg["y"], msg["exclude"])
        elif msg["t"] == "zoom":
            view = self._view.zoom_at(self._view.zoom * msg["f"], msg["x"], msg["y"])
            self._set_view(view, msg["seq"])
        elif msg["t"] == "zoomto":
            view = (View.fitted(*self._sizes()) if msg["to"] <= 0
                    else self._view.zoom_at(msg["to"], msg["x"], msg["y"]))
            self._set_view(view, msg["seq"])
        elif msg["t"] == "pan":
            self._set_view(self._view.panned(msg["dx"], msg["dy"]), msg["seq"])
        elif msg["t"] == "hello":
            self._set_dpr(msg["dpr"])
        elif msg["t"] == "action" and msg["name"] in self._actions:
            self._actions[msg["name"]]()
        elif msg["t"] == "mask_file":
            self._load_mask_file(msg, buffers)
        elif msg["t"] == "save_mask":
            self._send_mask_png()

    # The kernel's side of the tool and key tables in _protocol.py (a test checks that it
    # covers every tool and key action there).
    @property
    def _shape_tools(self) -> dict[str, str]:
        """Tools whose outline becomes a shape in the mask: tool -> shape kind."""
        return {"rect": "rect", "ellipse": "ellipse", "lasso": "polygon", "polygon": "polygon"}

    @property
    def _click_tools(self) -> dict[str, Callable[[float, float], None]]:
        return {"bucket": self._bucket}

    @property
    def _actions(self) -> dict[str, Callable[[], object]]:
        return {
            "smaller": lambda: self._resize_brush(1 / _SIZE_STEP),
            "bigger": lambda: self._resize_brush(_SIZE_STEP),
            "softer": lambda: setattr(self, "hardness", self.hardness - _HARDNESS_STEP),
            "harder": lambda: setattr(self, "hardness", self.hardness + _HARDNESS_STEP),
            "subtract": lambda: setattr(self, "subtract", not self.subtract),
            "invert": self.invert,
            "fill": self.fill,
            "clear": self.clear,
            "undo": self.undo,
            "redo": self.redo,
        }

    def _load_mask_file(self, msg: MaskFile, buffers: list[bytes]) -> None:
        """Load mask…: the chosen PNG becomes the mask (undoable), or the status says why not."""
        name = msg["name"]
        if msg["size"] > _MAX_MASK_BYTES or not buffers:
            self._say(f"Load mask: {name} is {msg['size'] / 2**20:.1f} MB; the painter takes "
                      f"files up to {_MAX_MASK_BYTES // 2**20} MB. For a bigger one call "
                      "painter.set_mask(path) in code.", error=True)
            return
        try:
            self.set_mask(io.BytesIO(bytes(buffers[0])))
        except (ValidationError, OSError, ValueError) as exc:
            self._say(f"Load mask: {name} was not loaded. {exc}", error=True)
            return
        self._say(f"Loaded {name} as the mask ({self.coverage:.1%} selected; Undo takes it "
                  "back).")

    def _send_mask_png(self) -> None:
        buf = io.BytesIO()
        Image.fromarray(self._mask).save(buf, "PNG")
        w, h = self.image_size
        name = f"mask-{w}x{h}.png"
        self._controls.file.send({"t": "mask_png", "name": name}, [buf.getvalue()])
        self._say(f"Saved the mask as {name} (your browser's downloads): grayscale, "
                  "255 = change.")

    def _say(self, text: str, *, error: bool = False) -> None:
        """A sentence under the status line until the next change of the mask or a setting."""
        style = "color:var(--jp-error-color1,#c62828)" if error else ""
        role = "alert" if error else "status"
        self._notice = (f"<div role='{role}' class='venice-painter-notice' style='{style}'>"
                        f"<small>{html.escape(text)}</small></div>")
        self._controls.update_status()

    def _resize_brush(self, factor: float) -> None:
        new = round(self.brush_size * factor)
        if new == self.brush_size:
            new += 1 if factor > 1 else -1
        self.brush_size = max(1, min(_MAX_BRUSH, new))

    def _on_style(self, _change: dict[str, Any]) -> None:
        self._draw(None)

    def _on_setting(self, _change: dict[str, Any]) -> None:
        self._finish_stroke()
        if _change["name"] == "tool":
            self._select.tool_changed(self.tool)
            self._controls.show_for(self.tool)
        self._notice = ""
        self._controls.update_status()

    @traitlets.validate("brush_size")
    def _valid_size(self, proposal: dict[str, Any]) -> int:
        return max(1, min(_MAX_BRUSH, int(proposal["value"])))

    @traitlets.validate("hardness")
    def _valid_hardness(self, proposal: dict[str, Any]) -> int:
        return max(0, min(100, int(proposal["value"])))

    @traitlets.validate("opacity")
    def _valid_opacity(self, proposal: dict[str, Any]) -> float:
        return max(0.0, min(1.0, float(proposal["value"])))

    @traitlets.validate("color")
    def _valid_color(self, proposal: dict[str, Any]) -> str:
        color: str = proposal["value"]
        hex_to_rgb(color)  # a bad colour fails here, not in the middle of a stroke
        return color

    @traitlets.validate("tolerance")
    def _valid_tolerance(self, proposal: dict[str, Any]) -> int:
        return max(0, min(255, int(proposal["value"])))

    # Publishing (issue 13): the picture a saved notebook shows in place of the live widget.
    def static_picture(self) -> tuple[Image.Image, str]:
        return mask_picture(self.image, self.mask, self.color, self.opacity)

    def __repr__(self) -> str:
        (w, h), (dw, dh) = self._sizes()
        return (
            f"MaskPainter({w}x{h}, shown {dw}x{dh} at {self.zoom:.0%}, "
            f"tool={self.tool!r}, coverage={self.coverage:.1%})"
        )


class _Toolbar:
    """The painter's buttons and sliders, linked to its traits (buttons do all that keys do)."""

    def __init__(self, painter: MaskPainter) -> None:
        self.painter = painter
        tools = widgets.ToggleButtons(
            # Icon only on screen (_STYLE); the label stays as the button's accessible name.
            options=[(t.label, t.name) for t in TOOLS],
            icons=[t.icon for t in TOOLS],
            tooltips=[f"{t.label}: {t.tip} ({key_for('tool:' + t.name)})" for t in TOOLS],
            style={"button_width": "28px"},
        )
        tools.add_class("venice-tools")
        tools.add_class("venice-icon-only")
        # One label width: the tracks line up, and "Hardness" fits its label.
        labels = {"description_width": "66px"}
        slider = {"continuous_update": False, "style": labels,
                  "layout": widgets.Layout(width="210px")}
        size = widgets.IntSlider(min=1, max=_MAX_BRUSH, description="Size", **slider)
        hardness = widgets.IntSlider(min=0, max=100, description="Hardness", **slider)
        # (each shown-or-hidden control has its own layout: a shared one hides them together)
        tolerance = widgets.IntSlider(min=0, max=255, description="Tolerance",
                                      continuous_update=False, style=labels,
                                      layout=widgets.Layout(width="210px"))
        subtract = widgets.Checkbox(description=f"Subtract ({key_for('subtract')})", indent=False,
                                    layout=widgets.Layout(width="120px"))
        opacity = widgets.FloatSlider(min=0.0, max=1.0, step=0.05, description="Opacity",
                                      continuous_update=False, style=labels,
                                      layout=widgets.Layout(width="210px"))
        color = widgets.ColorPicker(concise=True, description="Overlay",
                                    layout=widgets.Layout(width="140px"))
        for control, name in ((tools, "tool"), (size, "brush_size"), (hardness, "hardness"),
                              (tolerance, "tolerance"), (subtract, "subtract"),
                              (opacity, "opacity"), (color, "color")):
            control.value = getattr(painter, name)
            traitlets.link((control, "value"), (painter, name))
        self.buttons: dict[str, widgets.Button] = {}
        # (label, icon, tip, action, icon only): undo, redo and zoom are known by their icons;
        # Clear, Invert and Fill all say what they do in words.
        specs: tuple[tuple[str, str, str, Callable[[], Any], bool], ...] = (
            ("Undo", "undo", "Undo the last stroke", painter.undo, True),
            ("Redo", "repeat", "Redo", painter.redo, True),
            ("Clear", "", "Empty the mask", painter.clear, False),
            ("Invert", "", "Swap change and keep", painter.invert, False),
            ("Fill all", "", "Select the whole image", painter.fill, False),
            ("Zoom out", "search-minus", "Zoom out",
             lambda: painter.zoom_to(painter.zoom / ZOOM_STEP), True),
            ("Zoom in", "search-plus", "Zoom in",
             lambda: painter.zoom_to(painter.zoom * ZOOM_STEP), True),
            ("Fit", "", "Show the whole image", lambda: painter.zoom_to("fit"), False),
            ("100%", "", "One image pixel per screen pixel", lambda: painter.zoom_to(1.0),
             False),
        )
        actions = {"Undo": "undo", "Redo": "redo", "Clear": "clear", "Invert": "invert",
                   "Fill all": "fill", "Zoom out": "zoom_out", "Zoom in": "zoom_in", "Fit": "fit",
                   "100%": "actual"}
        for label, icon, tip, action, icon_only in specs:
            button = widgets.Button(description=label, icon=icon,
                                    tooltip=f"{tip} ({key_for(actions[label])})",
                                    layout=widgets.Layout(width="auto"))
            if icon_only:
                button.add_class("venice-icon-only")
            button.on_click(lambda _b, act=action: act())
            self.buttons[label] = button
        traitlets.dlink((painter, "can_undo"), (self.buttons["Undo"], "disabled"),
                        lambda v: not v)
        traitlets.dlink((painter, "can_redo"), (self.buttons["Redo"], "disabled"),
                        lambda v: not v)
        self.file = _MaskFile()
        # A click or Enter opens the keys in place (a hover-only tooltip is out of reach of
        # the keyboard and of touch).
        help_icon = widgets.HTML(
            "<details class='venice-key-help'><summary style='cursor:pointer'>⌨ keys</summary>"
            f"<small>{html.escape(KEY_HELP)}</small></details>",
            layout=widgets.Layout(margin="0 0 0 4px", max_width="520px"),
        )

        # Three groups that wrap as wholes: the tools; undo, redo and the mask-wide edits; zoom.
        tools.add_class("venice-painter-group")
        groups: list[widgets.DOMWidget] = [tools]
        for group in ((self.buttons["Undo"], self.buttons["Redo"],
                       *(self.buttons[k] for k in ("Clear", "Invert", "Fill all"))),
                      tuple(self.buttons[k] for k in ("Zoom out", "Zoom in", "Fit", "100%"))):
            box = widgets.HBox(list(group))
            box.add_class("venice-painter-group")
            groups.append(box)
        bar = widgets.HBox(groups)
        bar.add_class("venice-painter-bar")
        # The chosen tool's own settings, one layer per kind of tool (the selection tools add
        # theirs: stack_settings). Kept apart so the help link stays after all of them.
        self._help = help_icon
        paint = widgets.HBox([size, hardness])
        self.layers: dict[str, widgets.Box] = {
            "brush": paint, "eraser": paint, "bucket": widgets.HBox([tolerance, subtract]),
            **dict.fromkeys((t.name for t in TOOLS if t.shape and t.name != "bucket"),
                            widgets.HBox([subtract])),
        }
        extras = widgets.HBox([self.file, opacity, color])
        extras.add_class("venice-painter-settings")
        self.rows = (bar, extras)
        self.more = widgets.ToggleButton(
            description="More", icon="ellipsis-h", layout=widgets.Layout(width="auto"),
            tooltip="Refine the mask (grow, shrink, feather, smooth), load or save it as a PNG, "
                    "the overlay's opacity and colour")
        self.more.add_class("venice-painter-more")
        self.status = widgets.HTML(layout=widgets.Layout(margin="2px 0"))
        self.status.add_class("venice-painter-status")

    def more_box(self, refine: tuple[widgets.DOMWidget, ...]) -> tuple[widgets.Widget, ...]:
        """The More button and what it opens: ``refine`` in a row, then the file and overlay.

        Closed, it is one Tab stop between the image and the studio's prompt."""
        row = widgets.HBox(list(refine))
        row.add_class("venice-painter-settings")
        box = widgets.VBox([row, self.rows[1]], layout=widgets.Layout(display="none"))
        box.add_class("venice-painter-extras")
        traitlets.dlink((self.more, "value"), (box.layout, "display"),
                        lambda v: "" if v else "none")
        return self.more, box

    def stack_settings(self, layers: dict[str, widgets.Box]) -> widgets.Box:
        """Every tool's settings (``layers`` adds the selection tools') in ONE grid cell, all
        but the chosen tool's invisible: the cell is as tall as the tallest layer at the
        column's width, so choosing a tool (often by a key, the pointer already over the image)
        never moves the image under the pointer."""
        self.layers = {**self.layers, **layers}
        unique = list(dict.fromkeys(self.layers.values()))
        for layer in unique:
            layer.add_class("venice-painter-settings")
        stack = widgets.Box(unique)
        stack.add_class("venice-tool-settings")
        row = widgets.HBox([stack, self._help])
        row.add_class("venice-painter-settings")
        self.show_for(self.painter.tool)
        return row

    def show_for(self, tool: str) -> None:
        """Only the chosen tool's settings are seen (and reachable by Tab); a tool without
        settings (the hand) shows none."""
        chosen = self.layers.get(tool)
        for layer in dict.fromkeys(self.layers.values()):
            layer.layout.visibility = "visible" if layer is chosen else "hidden"

    def update_status(self) -> None:
        p = self.painter
        w, h = p.image_size
        shape = next(t.shape for t in TOOLS if t.name == p.tool)
        mode = " (subtract)" if p.subtract and shape else ""
        soft = f" · hardness {p.hardness}%" if p.tool in ("brush", "eraser") else ""
        hint = " · click the image to paint" if p.mask_version == 0 and not p._notice else ""
        selecting = p._select.status()
        selecting = f" · {selecting}" if selecting else ""
        self.status.value = (
            f"<small>{p.tool}{mode} · size {p.brush_size}px{soft} · mask {p.coverage:.1%} · "
            f"{w}×{h} at {p.zoom:.0%}{hint}{selecting}</small>{p._notice}"
        )


def soft_segment(out: np.ndarray, ends: list[tuple[float, float]], radius: float,
                 hardness: float, *, value: int = 255) -> None:
    """A soft-edged capsule into ``out``: full strength within ``radius * hardness`` of the
    segment, falling linearly to 0 at ``radius`` (pixel centres, as ``masks.brush``). Painting
    keeps the larger value, erasing the smaller, so a stroke's overlapping dabs do not stack."""
    (ax, ay), (bx, by) = ends
    h, w = out.shape
    x0, y0 = max(0, math.floor(min(ax, bx) - radius)), max(0, math.floor(min(ay, by) - radius))
    x1 = min(w, math.ceil(max(ax, bx) + radius) + 1)
    y1 = min(h, math.ceil(max(ay, by) + radius) + 1)
    if x1 <= x0 or y1 <= y0 or radius <= 0:
        return
    px = np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5
    py = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = np.clip(((px - ax) * dx + (py - ay) * dy) / length2, 0, 1) if length2 > 0 else 0.0
    dist = np.hypot(px - (ax + t * dx), py - (ay + t * dy))
    ramp = np.clip((radius - dist) / max(radius * (1 - hardness), 1e-6), 0, 1)
    level = np.rint(ramp * 255).astype(np.uint8)
    region = out[y0:y1, x0:x1]
    if value:
        np.maximum(region, level, out=region)
    else:
        np.minimum(region, 255 - level, out=region)


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
