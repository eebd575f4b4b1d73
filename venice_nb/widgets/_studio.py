"""``EditStudio``: painter + controls + viewer + history, for chained edits in one widget.

Every result joins the history; any entry (the original included) can become the base for the
next edit, which is how edits chain and how an earlier state is restored. Entries keep each
result's encoded bytes and decode on use, so a long session does not hold a decoded
full-resolution array per edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import numpy as np
import traitlets
from PIL import Image

from ._controls import EditControls, single_image_hint
from ._fallback import StaticPicture, studio_picture
from ._painter import MaskPainter
from ._util import as_rgb
from ._viewers import CompareView, ResultGrid

__all__ = ["EditStudio", "HistoryEntry"]


@dataclass(frozen=True)
class HistoryEntry:
    """One state: the original image or an edit result (with the base it was made from)."""

    result: Any = None  # EditResult (its encoded bytes), None for the original
    parent: int | None = None  # index of the base the edit was made from
    original: np.ndarray | None = None  # only the original is kept decoded

    @property
    def image(self) -> np.ndarray:
        """The state's RGB pixels (a result is decoded from its bytes on each call)."""
        if self.original is not None:
            return self.original
        return as_rgb(self.result)

    @property
    def label(self) -> str:
        return "original" if self.result is None else (self.result.prompt or "edit")


class EditStudio(StaticPicture, widgets.VBox):
    """Paint a mask, run edits, compare, and chain: ``.result``, ``.history``, ``.base``.

    ``client=None`` creates ``venice_nb.Client()``, which uses the local backend when no API key
    is set; the studio labels that clearly.
    """

    base_index = traitlets.Int(0)

    def __init__(
        self, image: Any, client: Any = None, *, prompt: str = "", model: str | None = None,
        max_size: tuple[int, int] = (720, 540),
    ) -> None:
        if client is None:
            from .._client import Client

            client = Client()
        original = as_rgb(image)
        self._history: list[HistoryEntry] = [HistoryEntry(original=original)]
        self.painter = MaskPainter(original, max_size=max_size)
        self.controls = EditControls(client, source=self.painter, prompt=prompt, model=model)
        self.controls.layout.width = "440px"
        self.controls.layout.min_width = "340px"
        self.viewer = CompareView(original, original, labels=("Base", "Result"),
                                  max_size=(max_size[0] + 440, max_size[1]))
        self.viewer.layout.display = "none"  # until there is a result to compare
        self._use_result = widgets.Button(
            description="Use result as base", icon="level-down",
            tooltip="Chain: paint and edit on top of this result", disabled=True,
            layout=widgets.Layout(width="auto"),
        )
        self._use_result.on_click(lambda _b: self.use_as_base(len(self._history) - 1))
        self.strip = ResultGrid([(original, "original")], columns=6)
        self.strip.on_select(lambda i, _item: self.use_as_base(i), label="Use as base")
        self._where = widgets.HTML()
        super().__init__()
        self.add_class("venice-edit-studio")
        self.children = (
            widgets.HBox([self.painter, self.controls],
                         layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start")),
            self.viewer,
            self._use_result,
            widgets.HTML("<b>History</b> <small>(any state can become the base again)</small>"),
            self.strip,
            self._where,
        )
        self.controls.on_result(self._on_result)
        self.painter.observe(self._on_mask, names="mask_version")
        self._show_base()

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
        """Make history entry ``index`` the base (chain an edit, or go back to an earlier state)."""
        image = self._history[index].image
        self.base_index = index
        self.painter.set_image(image, keep_mask=True)
        self._show_base()

    # Publishing (issue 13): the picture a saved notebook shows in place of the live widget.
    def static_picture(self) -> tuple[Image.Image, str]:
        return studio_picture(self.painter, self._history[-1].result, self.strip, self.base_index)

    # ---------------------------------------------------------------- internals
    def _on_result(self, result: Any) -> None:
        self._history.append(HistoryEntry(result, parent=self.base_index))
        self.strip.append(result)
        self.viewer.set_images(self.painter.image, result, labels=("Base", "Result"))
        self.viewer.layout.display = None
        self._use_result.disabled = False

    def _on_mask(self, _change: Any) -> None:
        # A painted mask only matters to multi-edit: switch to it rather than ignore the mask,
        # unless the model takes one image; then say why the mask is not used.
        if self.controls.operation == "edit" and self.painter.coverage > 0:
            if self.controls.multi_edit_supported:
                self.controls.operation = "multi-edit"
            else:
                self.controls.show_hint(single_image_hint(self.controls.model))

    def _show_base(self) -> None:
        entry = self._history[self.base_index]
        h, w = self.painter.image.shape[:2]
        self._where.value = (
            f"<small>Base: history #{self.base_index} ({entry.label}), {w}×{h}</small>"
        )
