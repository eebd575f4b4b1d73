"""``EditStudio``: painter + controls + viewer + history, for chained edits in one widget.

Every result joins the history; any entry (the original included) can become the base for the
next edit, which is how edits chain and how an earlier state is restored. Entries keep each
result's encoded bytes and decode on use, so a long session does not hold a decoded
full-resolution array per edit.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np
import traitlets
from PIL import Image

from .._html import escape
from .._result import EditResult
from ._controls import EditControls
from ._fallback import StaticPicture, studio_picture
from ._lifetime import close_tree, release_on_rerun
from ._painter import MaskPainter
from ._util import as_rgb
from ._viewers import CompareView, ResultGrid, display_copy

if TYPE_CHECKING:
    from .._segmenter import Segmenter
    from .._types import ClientLike, ImageInput

__all__ = ["EditStudio", "HistoryEntry"]

_WORKER = ThreadPoolExecutor(1, thread_name_prefix="venice_nb-studio")

# CSS px. JupyterLab at 1,000 px with its file browser open leaves a ~570 px output: the image
# column (shrinking from the image's width to _MIN_LEFT) and the controls fit side by side there.
_MIN_LEFT = 280
_CONTROLS = 260  # the controls column's basis (prompt, Run, options); it grows to 360


@dataclass(frozen=True)
class HistoryEntry:
    """One state: the original image or an edit result (with the base it was made from)."""

    result: Any = None  # EditResult (its encoded bytes), None for the original
    parent: int | None = None  # index of the base the edit was made from
    original: np.ndarray | None = None  # only the original is kept decoded
    name: str = "original"  # what the first entry was opened from

    @property
    def image(self) -> np.ndarray:
        """The state's RGB pixels (a result is decoded from its bytes on each call)."""
        if self.original is not None:
            return self.original
        return as_rgb(self.result)

    @property
    def label(self) -> str:
        if self.result is None:
            return self.name
        scale = self.result.upscale_factor
        return f"upscale {scale}×" if scale else (self.result.prompt or "edit")


class EditStudio(StaticPicture, widgets.VBox):
    """Paint a mask, run edits, compare, and chain: ``.result``, ``.history``, ``.base``.

    One screen: the painter (or, after a run, the result) on the left, the controls with Run
    beside it; both wrap into one column in narrow outputs. ``client=None`` creates
    ``venice_nb.Client()``, which uses the local backend when no API key is set; the studio
    labels that clearly. Upscale enlarges the shown image (the result on the Result view, else
    the base) into a new history entry, which can become the base like any other.

    Args:
        image: The photo to start from (any image input).
        client: The client to send with; None: `vnb.Client()`.
        prompt: The starting prompt.
        model: The starting model id.
        max_size: The largest `(width, height)` the painter shows.
        segmenter: A learned segmenter (`masks.load_segmenter`) for the painter's Object
            select tool; None: the built-in engine.
    """

    caption_words = True  # saved copies: its words as text under its picture
    base_index = traitlets.Int(0)

    def __init__(
        self, image: ImageInput, *, client: ClientLike | None = None, prompt: str = "",
        model: str | None = None,
        max_size: tuple[int, int] = (560, 420),
        segmenter: Segmenter | None = None,
    ) -> None:
        self.painter = MaskPainter(image, max_size=max_size, segmenter=segmenter)
        original = self.painter.image  # read-only; the painter decodes/converts it once
        self._original_data = _encoded(image)  # sent as it is: a large JPEG is not re-encoded
        name = "original"
        if isinstance(image, EditResult):
            name = f"opened: {image.prompt or image.caption()}"
        self._history: list[HistoryEntry] = [HistoryEntry(original=original, name=name)]
        self.controls = EditControls(self.painter, client=client, prompt=prompt, model=model)
        self.session = self.controls.session
        self.session.upscale_source = self._upscale_target
        self.session.encoded_base = self._base_data
        self.controls.upscale_size = self._upscale_size
        self._shown = 0  # the history entry the Result view shows
        self._base_display: tuple[int, Future[np.ndarray]] | None = None
        self._upscaled_from: int | None = None
        # Built on the first result: nothing the user cannot see yet is encoded.
        self.viewer: CompareView | None = None
        self._view = widgets.ToggleButtons(
            options=("Paint mask", "Result"), value="Paint mask", disabled=True,
            tooltips=("Paint the mask on the current base", "Compare the latest result"),
            style={"button_width": "110px"},
        )
        self._view.add_class("venice-studio-view")
        # Hidden until there is a result to switch to: a greyed "Paint mask" said nothing and
        # took a row from the image.
        self._view.layout.display = "none"
        # As wide as the image at most, and narrower when the output is: the painter scales
        # with its column, so prompt and Run stay beside it down to _MIN_LEFT.
        left = self.painter.display_size[0]
        # (the painter carries its own keys help, opened by click or Enter)
        self._left = widgets.VBox([self._view, self.painter],
                                  layout=widgets.Layout(
                                      flex=f"1 1 {_MIN_LEFT}px", max_width=f"{left}px",
                                      min_width="0"))
        self._use_result = widgets.Button(
            description="Use result as base", icon="level-down",
            tooltip="Chain: paint and edit on top of this result", disabled=True,
            layout=widgets.Layout(width="auto"),
        )
        self._use_result.on_click(lambda _b: self.use_as_base(len(self._history) - 1))
        self.strip = ResultGrid([(original, name)], columns=6)
        self.strip.on_select(lambda i, _item: self.use_as_base(i), label="Use as base")
        self._where = widgets.HTML()
        self._where.add_class("venice-studio-base")
        super().__init__()
        self.add_class("venice-edit-studio")
        self.children = (
            widgets.HBox(
                [self._left, widgets.VBox(
                    [self.controls, self._use_result, self._where],
                    layout=widgets.Layout(flex=f"1 1 {_CONTROLS}px", max_width="360px",
                                          min_width="0"),
                )],
                layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start",
                                      grid_gap="12px"),
            ),
            widgets.HTML("<b>History</b> <small>(any state can become the base again)</small>"),
            self.strip,
        )
        self.controls.on_result(self._on_result)
        self.controls.observe(self._on_running, names="running")
        self._view.observe(lambda _c: self._show_view(), names="value")
        self._show_base()
        release_on_rerun(self)  # painter (issue 21): a re-run of this cell frees this studio

    def close(self) -> None:
        """Close the studio and its parts, and let go of its images (a re-run does this).

        Also runs from ``__del__`` after a constructor that raised (a bad image), so every
        part may be missing."""
        parts = [getattr(self, name, None) for name in ("painter", "viewer")]
        close_tree(self, *[part for part in parts if part is not None])
        strip = getattr(self, "strip", None)
        if strip is not None:
            strip.items.clear()
        self._history, self.viewer = [], None
        super().close()

    # ----------------------------------------------------------------- public API
    @property
    def client(self) -> Any:
        return self.controls.client

    @property
    def result(self) -> Any:
        """The latest EditResult (None before the first run)."""
        return self.controls.result

    @property
    def history(self) -> list[HistoryEntry]:
        """Every state so far: ``history[0]`` is the original, then each result in order."""
        return list(self._history)

    @property
    def base(self) -> np.ndarray:
        """The image the next edit starts from (the painter's copy: nothing is decoded)."""
        return self.painter.image

    @property
    def mask(self) -> np.ndarray:
        return self.painter.mask

    def use_as_base(self, index: int) -> None:
        """Make history entry ``index`` the base (chain an edit, or go back to an earlier state).

        The painter shows the new base, the history marks it, and the viewer compares that
        entry with the base it was made from (so its labels always name what is shown).

        Args:
            index: The history entry to edit next (0: the original).
        """
        entry = self._history[index]
        self.base_index = index
        self.painter.set_image(entry.image, keep_mask=True)
        if entry.parent is not None:
            self._show_pair(entry.parent, index)
        self._view.value = "Paint mask"
        self._show_base()

    # Publishing (issue 13): the picture a saved notebook shows in place of the live widget.
    def static_picture(self) -> tuple[Image.Image, str]:
        return studio_picture(self.painter, self._history[-1].result, self.strip, self.base_index,
                              self.controls)

    # ---------------------------------------------------------------- internals
    def _base_data(self) -> bytes | None:
        """The base's encoded bytes when at hand (a result's, the original file's)."""
        entry = self._history[self.base_index]
        if entry.result is not None:
            data: bytes = entry.result.data
            return data
        return self._original_data

    def _upscale_size(self) -> tuple[int, int] | None:
        index = self._shown if self._view.value == "Result" else self.base_index
        entry = self._history[index]
        if entry.result is None:
            h, w = entry.image.shape[:2]
            return w, h
        size: tuple[int, int] = entry.result.size  # the header: no decode
        return size

    def _upscale_target(self) -> Any:
        """What Upscale enlarges: the shown result, else the base (its bytes: no decode)."""
        index = self._shown if self._view.value == "Result" else self.base_index
        self._upscaled_from = index
        entry = self._history[index]
        return entry.result.data if entry.result is not None else entry.image

    def _on_result(self, result: Any) -> None:
        parent = self.base_index
        if result.upscale_factor and self._upscaled_from is not None:
            parent, self._upscaled_from = self._upscaled_from, None
        self._history.append(HistoryEntry(result, parent=parent))
        index = len(self._history) - 1
        self._show_pair(parent, index)
        assert self.viewer is not None  # built by _show_pair
        self.strip.append(result, preview=self.viewer.after_preview)  # no second decode
        self._use_result.disabled = False
        self._view.disabled = False
        self._view.layout.display = ""
        self._view.value = "Result"
        self._show_view()
        self.controls._refresh()  # Upscale's limit follows the shown image

    def _show_pair(self, before: int, after: int) -> None:
        """Show history ``#before`` against ``#after`` (the base uses the painter's copy)."""
        first = self.painter.image if before == self.base_index else self._history[before].image
        result = self._history[after].result
        second = result or self._history[after].image
        labels = (f"Base #{before}", f"Result #{after}")
        self._shown = after
        ahead = None
        if before == self.base_index and self._base_display is not None \
                and self._base_display[0] == self.base_index:
            ahead = self._base_display[1].result()
        plan = getattr(result, "region", None)
        box = plan.changed if plan is not None and not plan.whole and \
            self._history[after].parent == before else None
        if self.viewer is None:
            self.viewer = CompareView(first, second, labels=labels,
                                      max_size=self.painter.display_size,
                                      before_display=ahead, changed_box=box)
        else:
            self.viewer.set_images(first, second, labels=labels, before_display=ahead,
                                   changed_box=box)

    def _prepare_base_display(self) -> None:
        """While a run waits for the answer, shrink the base for the viewer in a worker thread
        (a 33 Mpx base takes ~0.5 s; the request takes longer)."""
        if self._base_display is not None and self._base_display[0] == self.base_index:
            return
        size, image = self.painter.display_size, self.painter.image
        self._base_display = (self.base_index, _WORKER.submit(display_copy, image, size))

    def _show_view(self) -> None:
        showing = self.viewer if self._view.value == "Result" and self.viewer else self.painter
        self._left.children = (self._view, showing)
        self.controls._refresh()

    def _on_running(self, change: Any) -> None:
        """While a run is going, the previous result is dimmed (the status shows progress)."""
        if change.new:
            self._prepare_base_display()
        if self.viewer is not None:
            if change.new:
                self.viewer.add_class("venice-busy")
            else:
                self.viewer.remove_class("venice-busy")

    def _show_base(self) -> None:
        entry = self._history[self.base_index]
        h, w = self.painter.image.shape[:2]
        self._where.value = (
            f"<small>Base: history #{self.base_index} ({escape(entry.label)}), {w}×{h}"
            "</small>"
        )
        self.strip.mark(self.base_index, "Current base")
        self._use_result.disabled = self.base_index == len(self._history) - 1


def _encoded(image: Any) -> bytes | None:
    """The image's own file bytes when Venice takes them as they are (PNG/JPEG/WebP, upright,
    within the size limits), so Run sends them without decoding or re-encoding."""
    from .._constants import ACCEPTED_INPUT_MIME, MAX_IMAGE_BYTES, MAX_PIXELS, MIN_PIXELS
    from .._images import _read_source, is_url
    from .._probe import open_header, orientation, sniff_mime

    if hasattr(type(image), "image") and isinstance(getattr(image, "data", None), bytes):
        data = image.data  # an EditResult
    elif isinstance(image, (bytes, bytearray, str, os.PathLike)) and not is_url(image):
        try:
            src = _read_source(image)
        except Exception:  # the painter already said what is wrong with it
            return None
        if not isinstance(src, bytes):
            return None
        data = src
    else:
        return None
    if sniff_mime(data) not in ACCEPTED_INPUT_MIME or len(data) >= MAX_IMAGE_BYTES:
        return None
    try:
        img = open_header(data, "image")
    except Exception:
        return None
    w, h = img.size
    if orientation(img) != 1 or not MIN_PIXELS <= w * h <= MAX_PIXELS:
        return None
    return bytes(data)
