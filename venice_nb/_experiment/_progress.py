"""The progress display of a running experiment: tqdm, an ipywidgets bar, or plain text lines."""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Any, Literal

from .._exceptions import ValidationError
from .._html import escape
from .._money import cost
from .._notice import in_notebook
from .._store._records import STATUSES

if TYPE_CHECKING:
    from .._store._records import ExperimentRecord

ProgressKind = Literal["auto", "tqdm", "widget", "plain"]


class Progress:
    """tqdm (``tqdm.auto``) when installed, else an ipywidgets bar in a kernel, else plain text.

    Made (and displayed) in the caller's thread so that in Jupyter it lands in the running
    cell; ``begin(total)`` and ``update`` may come from the experiment's worker thread.
    """

    def __init__(self, kind: bool | ProgressKind, *, show_now: bool = False) -> None:
        if kind not in (True, False, "auto", "tqdm", "widget", "plain"):
            raise ValidationError(
                f"progress={kind!r}", action="use True, False, 'tqdm', 'widget' or 'plain'"
            )
        self.kind = "auto" if kind is True else kind
        self.total = 0
        self.counts = dict.fromkeys(STATUSES, 0)
        self.spent = 0.0
        self._bar: Any = None
        self._widgets: Any = None
        self._view: Any = None
        self._plain = False
        self._shown = False
        self._lock = threading.Lock()
        if show_now:
            self._show(0)

    def _show(self, total: int) -> None:
        """Create and display the bar (the first time only)."""
        if self._shown or self.kind is False:
            return
        self._shown = True
        if self.kind in ("auto", "tqdm"):
            try:
                from tqdm.auto import tqdm
            except ImportError:
                if self.kind == "tqdm":
                    raise ImportError("progress='tqdm' needs tqdm: pip install tqdm") from None
            else:
                self._bar = tqdm(total=total, desc="experiment", unit="job", leave=True)
                return
        if self.kind in ("auto", "widget") and in_notebook():
            from ..widgets._fallback import ProgressView  # leaves a final picture when saved

            self._view = ProgressView("experiment")
            self._view.bar.max = max(total, 1)
            self._widgets = (self._view.bar, self._view.label)
            self._view.show()
            return
        self._plain = True

    def begin(self, total: int) -> None:
        self.total = total
        if not self._shown:
            self._show(total)
        elif self._bar is not None:
            self._bar.reset(total=total)
        elif self._widgets is not None:
            self._widgets[0].max = max(total, 1)

    def text(self) -> str:
        c = self.counts
        return (f"{c['done']} done, {c['cached']} cached, {c['failed']} failed, "
                f"{c['skipped']} skipped, {cost(self.spent, None)}")

    def update(self, record: ExperimentRecord) -> None:
        with self._lock:
            self.counts[record.status] += 1
            self.spent += record.spent_usd
            n = sum(self.counts.values())
            if self._bar is not None:
                self._bar.set_postfix_str(self.text(), refresh=False)
                self._bar.update(1)
            elif self._widgets is not None:
                self._widgets[0].value = n
                self._widgets[1].value = escape(self.text())
            elif self._plain:
                line = f"experiment {n}/{self.total}: {self.text()}"
                if sys.stderr.isatty():  # one line, redrawn
                    print("\r" + line, end="\n" if n == self.total else "", file=sys.stderr,
                          flush=True)
                elif n == self.total or n % max(1, self.total // 10) == 0:  # logs: ~10 lines
                    print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def refresh_saved(self) -> None:
        """Store the finished bar in the notebook (call from the cell's thread)."""
        if self._view is not None:
            self._view.refresh_saved()
