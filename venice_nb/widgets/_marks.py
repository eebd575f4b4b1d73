"""``MarkedSheet``: an experiment's contact sheet whose cards take a pick, a 1-5 rating and a note.

Every change is written to the result store at once (``ExperimentResults.mark``), so the marks
outlive the kernel and come back with a re-run, in ``history()`` filters and in exports.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from .._html import escape
from ._util import friendly_error
from ._viewers import ResultGrid

if TYPE_CHECKING:
    from .._store._records import ExperimentRecord, ExperimentResults

__all__ = ["MarkedSheet"]

_RATINGS = [("–", 0), *((str(n), n) for n in range(1, 6))]  # buttons: one key press each


class MarkedSheet(ResultGrid):
    """A ``ResultGrid`` of experiment records with marks on every card that has a result.

    ``cells``: the records in display order (``None`` leaves an empty cell), ``columns`` wide.
    """

    def __init__(self, results: ExperimentResults, cells: Sequence[ExperimentRecord | None],
                 items: Sequence[Any], columns: int, **kwargs: Any) -> None:
        self.results = results
        self.cells = list(cells)  # before super().__init__: it builds the cards
        super().__init__(items, columns=columns, **kwargs)
        self.add_class("venice-marked-sheet")

    @property
    def needs_kernel(self) -> bool:
        """Marks are saved through the kernel: the live sheet stays a widget."""
        return True

    def _card(self, index: int, item: Any) -> widgets.VBox:
        card = super()._card(index, item)
        record = self.cells[index] if index < len(self.cells) else None
        if record is not None and record.result is not None:
            card.children = (*card.children, self._marks(record))
        return card

    def _marks(self, record: ExperimentRecord) -> widgets.VBox:
        pick = widgets.ToggleButton(value=record.picked, description="Pick", icon="star",
                                    tooltip="keep this one (saved in the result store)",
                                    layout=widgets.Layout(width="80px"))
        rating = widgets.ToggleButtons(options=_RATINGS, value=record.rating or 0,
                                       tooltips=["no rating", *(f"{n} of 5" for n in range(1, 6))],
                                       style={"button_width": "38px"})
        note = widgets.Text(value=record.note or "", placeholder="why? (a short note)",
                            continuous_update=False, layout=widgets.Layout(width="96%"))
        status = widgets.HTML()
        pick.add_class("venice-pick")
        rating.add_class("venice-rating")
        note.add_class("venice-note")

        def save(**marks: Any) -> None:
            try:
                self.results.mark(record, **marks)
            except Exception as exc:  # shown on the card: a widget callback has no caller
                status.value = friendly_error(exc)
                pick.value, rating.value = record.picked, record.rating or 0
                return
            status.value = f"<small class='venice-saved'>saved{_summary(record)}</small>"

        pick.observe(lambda change: save(picked=bool(change["new"])), names="value")
        rating.observe(lambda change: save(rating=int(change["new"])), names="value")
        note.observe(lambda change: save(note=str(change["new"])), names="value")
        box = widgets.VBox([widgets.HBox([pick, rating],
                                         layout=widgets.Layout(flex_flow="row wrap")),
                            note, status])
        box.add_class("venice-marks")
        return box


def _summary(record: ExperimentRecord) -> str:
    parts = ["picked" if record.picked else "", f"{record.rating}/5" if record.rating else "",
             escape(record.note or "")]
    shown = " · ".join(p for p in parts if p)
    return f": {shown}" if shown else ""
