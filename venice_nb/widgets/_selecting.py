"""The painter's selection tools: colour, object and subject select, and refining the mask.

``MaskPainter`` owns one ``SelectTools``; this module keeps the selection logic out of the
painter. The engine is ``venice_nb._selection.Selector``: prepared once per image in a
background thread (when a selection tool is first chosen), then each click answers in a few
hundred ms on a large photo.

How a selection lands in the mask, and why:

- A click first draws a screen-size preview (the engine's ``size=`` answer, made from its
  working level) so something shows at once, then the full-resolution selection is combined
  with the mask (replace, add or subtract) and recorded as ONE undo step. Both come from one
  solve: the engine keeps the last object / subject solve and only refines its edge at full
  resolution for the second call.
- Object select keeps its include / exclude points while the tool stays chosen and nothing else
  changed the mask: each further click re-solves from all points, combines that with the same
  base and records the difference as a new step (so undo takes back the last click).
- A tolerance drag re-thresholds the last colour selection: a preview on every move, and the
  full-resolution step (amending that click's step) once the slider rests for a moment, so a
  drag is one undo step and never waits for 33 Mpx work per move.
- Grow / shrink / feather / smooth act on the whole mask: while the amount slider moves only the
  overlay changes (the visible part, worked at screen resolution); Apply does it at full
  resolution as one undo step, Cancel drops the preview.
"""

from __future__ import annotations

import asyncio
import html
import math
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import ipywidgets as widgets
import numpy as np
from ipycanvas import hold_canvas
from PIL import Image

from .._selection import Selector
from ._history import Box, union
from ._util import hex_to_rgb
from ._viewport import View, overlay

if TYPE_CHECKING:
    from .._segmenter import Segmenter
    from ._painter import MaskPainter

__all__ = ["SELECT_TOOLS", "SelectTools"]

SELECT_TOOLS = ("color", "object", "subject")
Combine = Literal["replace", "add", "subtract"]
Kind = Literal["color", "object", "subject"]

_SETTLE_S = 0.25  # a tolerance drag becomes full resolution once the slider rests this long
_PREVIEW_PIXELS = 4_000_000  # a preview larger than this is not quicker than the real thing
_MAX_REFINE = 100  # image px for grow / shrink / feather / smooth


@dataclass
class _Session:
    """The selection being built: the mask before it (``base``) and how it was asked for."""

    kind: Kind
    base: np.ndarray
    version: int  # the painter's mask_version right after this session's last step
    combine: Combine
    include: list[tuple[float, float]] = field(default_factory=list)
    exclude: list[tuple[float, float]] = field(default_factory=list)
    point: tuple[float, float] = (0.0, 0.0)  # colour select's click
    # The base as the canvas showed it at the start (for previews; None once the view moved).
    base_view: np.ndarray | None = None
    view: View | None = None
    stepped: bool = False  # this session's latest result is the top undo step


def combined(base: np.ndarray, selection: np.ndarray, how: Combine) -> np.ndarray:
    """``selection`` put into ``base``: replacing it, added to it (max) or taken out of it."""
    if how == "replace":
        return selection
    out: np.ndarray = (np.maximum(base, selection) if how == "add"
                       else np.minimum(base, 255 - selection))
    return out


def changed_box(a: np.ndarray, b: np.ndarray) -> Box | None:
    """The smallest box holding every pixel where ``a`` and ``b`` differ (None: equal)."""
    diff = a != b
    rows, cols = np.flatnonzero(diff.any(1)), np.flatnonzero(diff.any(0))
    if not rows.size:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


class SelectTools:
    """Colour / object / subject select and refine for one ``MaskPainter`` (its controls too)."""

    def __init__(self, painter: MaskPainter) -> None:
        self.painter = painter
        self.selector = Selector(painter.image)
        # The learned plug-in (masks.load_segmenter), when the painter was given one, answers
        # object clicks; colour and subject stay with the built-in engine.
        self.segmenter: Segmenter | None = None
        self.session: _Session | None = None
        self._preparing: threading.Thread | None = None
        self._settle: asyncio.TimerHandle | None = None
        self._previewing = False  # the overlay shows a refine preview, not the mask
        # One wrapping row: sliders long enough to drag finely, labels that fit.
        label = {"description_width": "initial"}
        self.combine = widgets.ToggleButtons(
            options=[("Replace", "replace"), ("Add", "add"), ("Subtract", "subtract")],
            value="add", tooltips=["The selection becomes the mask", "Add it to the mask",
                                   "Take it out of the mask"],
            style={"button_width": "72px"})
        self.combine.add_class("venice-select-combine")
        self.exclude = widgets.ToggleButton(
            description="Exclude", icon="minus-circle", layout=widgets.Layout(width="auto"),
            tooltip="Exclude: object select's clicks mark what is NOT the object (Alt- or "
                    "Shift-click does this too)")
        self.exclude.add_class("venice-select-exclude")
        # Live while dragged: a preview per move, the full-resolution step when it rests.
        self.tolerance = widgets.FloatSlider(
            value=10.0, min=0.0, max=60.0, step=0.5, description="Colour tol.",
            continuous_update=True, readout_format=".1f", style=label,
            layout=widgets.Layout(width="270px"))
        # Refine: one operation at a time, each Apply one undo step.
        self.refine_op = widgets.Dropdown(
            options=[("Grow", "grow"), ("Shrink", "shrink"), ("Feather", "feather"),
                     ("Smooth", "smooth")], value="grow", description="Refine", style=label,
            layout=widgets.Layout(width="140px"))
        self.amount = widgets.IntSlider(
            value=0, min=0, max=_MAX_REFINE, description="Amount", continuous_update=True,
            style=label, layout=widgets.Layout(width="250px"))
        self.apply = widgets.Button(description="Apply", icon="check", disabled=True,
                                    tooltip="Grow / shrink / feather / smooth the mask",
                                    layout=widgets.Layout(width="auto"))
        self.cancel = widgets.Button(description="Cancel", icon="times", disabled=True,
                                     tooltip="Drop the refine preview",
                                     layout=widgets.Layout(width="auto"))
        self.new = widgets.Button(description="New object", icon="refresh",
                                  layout=widgets.Layout(width="32px"),
                                  tooltip="New object: forget the object's points (the next "
                                          "click starts another object)")
        self.new.add_class("venice-select-new")
        self.new.add_class("venice-icon-only")
        # Each selection tool's settings (the painter stacks them with the other tools'): the
        # same controls may sit in several layers, each layer seen only with its tool.
        self.layers: dict[str, widgets.Box] = {
            "color": widgets.HBox([self.combine, self.new, self.tolerance]),
            "object": widgets.HBox([self.combine, self.exclude, self.new]),
            "subject": widgets.HBox([self.combine]),
        }
        self.refine = (self.refine_op, self.amount, self.apply, self.cancel)
        self.tolerance.observe(self._on_tolerance, names="value")
        self.amount.observe(self._on_refine, names="value")
        self.refine_op.observe(self._on_refine, names="value")
        self.apply.on_click(lambda _b: self.apply_refine())
        self.cancel.on_click(lambda _b: self.cancel_refine())
        self.new.on_click(lambda _b: self.forget())
        self.combine.observe(lambda _c: self.forget(), names="value")

    # ------------------------------------------------------------------ lifecycle
    def set_image(self, image: np.ndarray) -> None:
        """A new image: a new selector, prepared at once in the background if the selection
        tools have been used on this painter (a person who selected will select again)."""
        self._flush()
        self.session = None
        self._previewing = False
        used = self._preparing is not None or self.painter.tool in SELECT_TOOLS
        self.selector = Selector(image)
        self._preparing = None
        if used:
            self.prepare()

    def prepare(self) -> None:
        """Start the one-time preparation in the background (once per image); the status line
        says "preparing…" until it is done."""
        if self.selector.ready or self._preparing is not None:
            return
        selector, segmenter, image = self.selector, self.segmenter, self.painter.image

        def run() -> None:
            selector.prepare()
            if segmenter is not None:  # its encoder: the slow, once-per-image step
                segmenter.prepare(image)
            if selector is self.selector:  # not replaced by a newer image meanwhile
                self.painter._controls.update_status()

        self._preparing = threading.Thread(target=run, daemon=True, name="venice-painter-select")
        self._preparing.start()
        self.painter._controls.update_status()

    def tool_changed(self, tool: str) -> None:
        self._flush()
        self.session = None
        if tool in SELECT_TOOLS:
            self.prepare()

    def forget(self) -> None:
        """The next click starts a new selection (the mask stays as it is)."""
        self._flush()
        self.session = None

    def close(self) -> None:
        """Let go of the image (a preparation still running finishes into a dropped selector)."""
        self._cancel_settle()
        self.session = None
        self.selector = Selector(np.zeros((1, 1, 3), np.uint8))
        for w in (self.combine, self.exclude, self.tolerance, self.refine_op, self.amount,
                  self.apply, self.cancel, self.new, *self.layers.values()):
            w.close()

    def status(self) -> str:
        """The selection's part of the status line (HTML-safe text)."""
        p = self.painter
        parts = []
        if p.tool in SELECT_TOOLS:
            parts.append(self.combine.value)
            if p.tool == "color":
                parts.append(f"tolerance {self.tolerance.value:g}")
            if p.tool == "object":
                s = self.session
                if s is not None and s.kind == "object":
                    parts.append(f"{len(s.include)} in, {len(s.exclude)} out")
                parts.append("Alt/Shift-click excludes")
            if not self.selector.ready:
                parts.append("preparing…")
        if self._previewing:
            parts.append("refine preview: Apply or Cancel")
        return html.escape(" · ".join(parts))

    # --------------------------------------------------------------------- clicks
    def click(self, tool: str, x: float, y: float, exclude: bool) -> None:
        """A click of a selection tool at canvas point (x, y)."""
        p = self.painter
        self._flush()
        self.cancel_refine()
        p._finish_stroke()
        w, h = p.image_size
        ix, iy = p.view.to_image(x, y)
        if not (0 <= ix < w and 0 <= iy < h):
            return
        s = self.session
        fresh = (s is None or s.kind != tool or s.version != p.mask_version
                 or s.combine != self.combine.value or tool != "object")
        if fresh:
            device = p._device_view()
            s = _Session(kind=tool, base=p._mask.copy(),  # type: ignore[arg-type]
                         version=p.mask_version, combine=self.combine.value,
                         base_view=p._renderer.mask(device, (0, 0, *device.view_size)),
                         view=device)
        assert s is not None
        self.session = s
        if tool == "object":
            (s.exclude if exclude or self.exclude.value else s.include).append((ix, iy))
            if not s.include:  # only "not this" so far: nothing to select yet
                p._controls.update_status()
                return
        elif tool == "color":
            s.point = (ix, iy)
        self._run(s, preview=True)

    def _select(self, s: _Session, size: tuple[int, int] | None) -> np.ndarray:
        sel = self.selector
        if s.kind == "color":
            return sel.color(s.point, self.tolerance.value, size=size)
        if s.kind == "object":
            if self.segmenter is not None:
                return self.segmenter.select(self.painter.image, s.include, s.exclude, size=size)
            return sel.object(s.include, s.exclude, size=size)
        return sel.subject(size=size)

    def _run(self, s: _Session, *, preview: bool) -> None:
        """Show the session's selection: a screen-size preview first (when it is quicker),
        then the full-resolution step."""
        if preview:
            size = self._preview_size()
            if size is not None:
                self._show(self._view_of(self._select(s, size)), s)
        full = self._select(s, None)
        self._step(s, combined(s.base, full, s.combine), amend=False)

    def _step(self, s: _Session, result: np.ndarray, *, amend: bool) -> None:
        """Make ``result`` the mask as one undo step; ``amend`` replaces this session's last
        step instead (a tolerance drag re-thresholds its click)."""
        p = self.painter
        undone: Box | None = None
        if amend and changed_box(result, p._mask) is None:
            return  # e.g. a tolerance drag that ended where it started: no new version
        if amend and s.stepped and s.version == p.mask_version:
            undone = p._history.undo()  # back to the base; the new step goes on top of it
            if undone is not None:
                p._renderer.mask_changed(undone)
        box = changed_box(result, p._mask)
        if box is not None:
            sl = (slice(box[1], box[3]), slice(box[0], box[2]))
            p._mask[sl] = result[sl]
        whole = union(undone, box) if box is not None else undone
        self._record(whole)
        s.version, s.stepped = p.mask_version, True

    # --------------------------------------------------------------- tolerance drag
    def _on_tolerance(self, _change: object) -> None:
        s = self.session
        p = self.painter
        if s is None or s.kind != "color" or s.version != p.mask_version:
            p._controls.update_status()
            return
        size = self._preview_size() or self._capped(self._view_pixels())
        self._show(self._view_of(self._select(s, size)), s)
        self._cancel_settle()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (plain Python): full resolution at once
            self._flush_tolerance(s)
            return
        self._settle = loop.call_later(_SETTLE_S, self._flush_tolerance, s)

    def _flush_tolerance(self, s: _Session) -> None:
        self._settle = None
        if self.session is s and s.version == self.painter.mask_version:
            self._step(s, combined(s.base, self._select(s, None), s.combine), amend=True)

    def _cancel_settle(self) -> bool:
        """Drop a tolerance drag's pending full-resolution step; True if one was waiting."""
        pending, self._settle = self._settle, None
        if pending is not None:
            pending.cancel()
        return pending is not None

    def _flush(self) -> None:
        """Land a tolerance drag that is still waiting for its full-resolution step."""
        if self._cancel_settle() and self.session is not None:
            self._flush_tolerance(self.session)

    # --------------------------------------------------------------------- refine
    def _amounts(self) -> dict[str, float]:
        """The refine operation's amount by name (the others 0), in image px."""
        out = dict.fromkeys(("grow", "shrink", "feather", "smooth"), 0.0)
        out[self.refine_op.value] = float(self.amount.value)
        return out

    @staticmethod
    def _refined(mask: np.ndarray, amounts: dict[str, float], scale: float = 1.0) -> np.ndarray:
        """``mask`` refined by ``amounts`` (image px) times ``scale`` (the mask's px per
        image px)."""
        a = {k: v * scale for k, v in amounts.items()}
        return Selector.refine(mask, grow=a["grow"], shrink=a["shrink"], feather=a["feather"],
                               smooth=a["smooth"])

    def _on_refine(self, _change: object) -> None:
        p = self.painter
        amounts = self._amounts()
        active = any(amounts.values())
        self.apply.disabled = self.cancel.disabled = not active
        if not active:
            self._previewing = False
            p._draw(None)
            p._controls.update_status()
            return
        self._flush()
        p._finish_stroke()
        device = p._device_view()
        shown = p._renderer.mask(device, (0, 0, *device.view_size))
        # The visible part at screen resolution, distances scaled to it: quick at any zoom.
        self._previewing = True
        self._draw(self._refined(shown, amounts, device.zoom))
        p._controls.update_status()

    def apply_refine(self) -> None:
        """Grow / shrink / feather / smooth the full-resolution mask: one undo step."""
        p = self.painter
        amounts = self._amounts()
        if not any(amounts.values()):
            return
        self._flush()
        p._finish_stroke()
        refined = self._refined(p._mask, amounts)
        box = changed_box(refined, p._mask)
        if box is not None:
            sl = (slice(box[1], box[3]), slice(box[0], box[2]))
            p._mask[sl] = refined[sl]
        self._reset_refiners()
        self._record(box)

    def _record(self, box: Box | None) -> None:
        """One undo step for ``box``, and the whole view drawn once (a preview may have drawn
        outside the changed box)."""
        p = self.painter
        changed = p._history.commit(box)
        if box is not None:
            p._renderer.mask_changed(box)
        p._after_change(None, bump=changed)
        p._draw(None)

    def cancel_refine(self) -> None:
        if self._previewing or any(self._amounts().values()):
            self._reset_refiners()
            self.painter._draw(None)

    def _reset_refiners(self) -> None:
        self._previewing = False
        self.amount.unobserve(self._on_refine, names="value")
        self.amount.value = 0
        self.amount.observe(self._on_refine, names="value")
        self.apply.disabled = self.cancel.disabled = True

    # ------------------------------------------------------------------ drawing
    def _view_pixels(self) -> tuple[int, int]:
        """(height, width) of the whole image at the canvas's device scale."""
        p = self.painter
        w, h = p.image_size
        z = p._device_view().zoom
        return max(1, round(h * z)), max(1, round(w * z))

    @staticmethod
    def _capped(size: tuple[int, int]) -> tuple[int, int]:
        """``size`` scaled down to at most ``_PREVIEW_PIXELS`` (a drag's preview when zoomed
        in: coarse for a moment, the full-resolution step follows when the slider rests)."""
        h, w = size
        f = min(1.0, math.sqrt(_PREVIEW_PIXELS / (h * w)))
        return max(1, round(h * f)), max(1, round(w * f))

    def _preview_size(self) -> tuple[int, int] | None:
        """The size for a quick whole-image preview, or None when zoomed in so far that the
        full-resolution answer is what the screen needs anyway."""
        ph, pw = self._view_pixels()
        w, h = self.painter.image_size
        if ph * pw > _PREVIEW_PIXELS or ph * pw * 4 > w * h:
            return None
        return ph, pw

    def _view_of(self, small: np.ndarray) -> np.ndarray:
        """A whole-image mask of any size, cropped and scaled to what the canvas shows."""
        p = self.painter
        device = p._device_view()
        vw, vh = device.view_size
        w, h = p.image_size
        sy, sx = small.shape[0] / h, small.shape[1] / w
        ax, ay, bx, by = device.image_box((0, 0, vw, vh))
        box = (max(0.0, ax * sx), max(0.0, ay * sy), min(small.shape[1], bx * sx),
               min(small.shape[0], by * sy))
        if small.shape == (h, w):  # full resolution: crop first, 33 Mpx is not resized whole
            x0, y0 = max(0, math.floor(box[0])), max(0, math.floor(box[1]))
            x1, y1 = math.ceil(box[2]), math.ceil(box[3])
            img = Image.fromarray(np.ascontiguousarray(small[y0:y1, x0:x1]))
            box = (box[0] - x0, box[1] - y0, box[2] - x0, box[3] - y0)
        else:
            img = Image.fromarray(small)
        resample = Image.Resampling.NEAREST if device.zoom >= 1 else Image.Resampling.BILINEAR
        return np.asarray(img.resize((vw, vh), resample, box=box))

    def _show(self, selection_view: np.ndarray, s: _Session) -> None:
        """Draw the mask as it will be with ``selection_view`` (canvas-size) combined into the
        session's base (an exclude click's preview must not keep what it takes away)."""
        p = self.painter
        device = p._device_view()
        base = s.base_view
        if base is None or s.view != device:  # the view moved: the mask as shown now
            base = p._renderer.mask(device, (0, 0, *device.view_size))
        self._draw(combined(base, selection_view, s.combine))

    def _draw(self, view_mask: np.ndarray) -> None:
        p = self.painter
        layer = p.canvas[1]
        vw, vh = p._device_view().view_size
        with hold_canvas():
            layer.clear_rect(0, 0, vw, vh)
            layer.put_image_data(overlay(view_mask, hex_to_rgb(p.color), p.opacity), 0, 0)
