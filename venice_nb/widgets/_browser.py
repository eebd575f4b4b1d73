"""``ResultBrowser``: every result a store holds, a page at a time, with filters and actions.

Only the page on screen is read: one SQL query for its rows, one for the totals, and thumbnails
made (and cached) for its cards alone, so a store of thousands of results opens as fast as a
small one. Filters, marks and totals come from the store (``history``/``stats``), the same
calls a script uses.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import os
import weakref
from collections import OrderedDict
from datetime import datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
from PIL import Image

from .. import _arguments as guards
from .._exceptions import ValidationError
from .._html import NO_MATHS, escape
from .._money import cost
from .._store._records import RecordList, StoredRecord
from .._store._store import ResultStore
from ._keys import KeyGuard
from ._util import friendly_error

if TYPE_CHECKING:
    from .._types import ClientLike, PathInput

__all__ = ["ResultBrowser"]

_ANY = "any model"
_BACKENDS = {"all": None, "local": True, "Venice": False}
_THUMB = 160
_CACHE = 512  # thumbnails kept (~10 KB each)
_WATCH_SECONDS = 2.0  # how often a shown browser checks whether the store has grown
# Cards fit their column: ipywidgets' 300 px default checkbox width and boxes that scroll at
# 1 px of overflow gave every card a horizontal scrollbar.
_STYLE = """<style>
.venice-result-browser .widget-box { overflow: visible; min-width: 0; }
.venice-browser-card { overflow: hidden; }
.venice-browser-card .widget-checkbox { width: auto; max-width: 100%; }
.venice-browser-card .widget-html, .venice-browser-card .widget-html-content {
  min-width: 0; white-space: normal; overflow-wrap: anywhere; line-height: 1.35;
  height: auto; }
</style>"""


class ResultBrowser(widgets.VBox):
    """Browse a ``ResultStore`` (or a client's store, or a store folder): newest first.

    A client that keeps no store browses the default store (where ``Client(store=True)``
    keeps results), and the header says so. While a kernel loop runs, the page refreshes
    when the store grows; the prompt filter applies as you type.

    Filters: model, prompt text, prompt variables (``color=red, hat=cap``), a first date,
    picked only, local or Venice. The header shows how many results match, what they cost at
    Venice prices and what they cost here (local answers: nothing). Tick cards to compare two,
    open one in ``EditStudio`` as a new base (``client``: the studio's client), or export the
    ticked ones to JSON/CSV.

    Args:
        store: A `ResultStore`, a client (its store) or a store folder; None: the default store.
        client: The client `EditStudio` uses when a card opens in it.
        page_size: Cards per page.
        columns: Cards per line.
        **kwargs: Passed to the `VBox`.
    """

    def __init__(self, store: ResultStore | ClientLike | PathInput | None = None, *,
                 client: ClientLike | None = None, page_size: int = 24,
                 columns: int = 6, **kwargs: Any) -> None:
        self.store, self._where = _store_of(store)
        # Browsing a client's store: its studio edits with that client unless told otherwise.
        self.client: ClientLike | None = client if client is not None else _client_of(store)
        self.page_size = guards.count(page_size, "page_size")
        self.page = 0
        self.records: RecordList[StoredRecord] = RecordList()
        self.selected: dict[tuple[str, bool], StoredRecord] = {}
        self._thumbs: OrderedDict[str, bytes] = OrderedDict()
        self._build(columns)
        # Keys typed in the filters stay here (Shift+Enter re-ran the cell in Notebook 7).
        self._keys = KeyGuard(".venice-result-browser")
        super().__init__([widgets.HTML(_STYLE), self._keys, self._filters, self._header, self._grid,
                          self._actions, self._out], **kwargs)
        self.add_class("venice-result-browser")
        self._seen: tuple[int, float | None] | None = None
        self.refresh()
        self._watch()

    # What the filters select.
    def filters(self) -> dict[str, Any]:
        """The ``history()`` filters the controls stand for now."""
        out: dict[str, Any] = {}
        if self._model.value != _ANY:
            out["model"] = self._model.value
        if self._prompt.value.strip():
            out["prompt"] = self._prompt.value.strip()
        variables = _parse_variables(self._vars.value)
        if variables:
            out["variables"] = variables
        if self._since.value is not None:
            out["since"] = datetime.combine(self._since.value, time.min)
        if self._picked.value:
            out["picked"] = True
        if _BACKENDS[self._backend.value] is not None:
            out["is_local"] = _BACKENDS[self._backend.value]
        return out

    def refresh(self, *_: Any) -> None:
        """Read the current page again (after filters change, or new results were stored).

        Args:
            _: Ignored (so it can be an observer).
        """
        try:
            filters = self.filters()
            stats = self.store.stats(**filters)
            last_page = max(0, (stats["results"] - 1) // self.page_size)
            self.page = min(self.page, last_page)
            self.records = self.store.history(**filters, limit=self.page_size,
                                              offset=self.page * self.page_size)
        except Exception as exc:  # a bad filter: say so where the person is looking
            self._header.value = friendly_error(exc)
            return
        self.total = stats["results"]
        self._seen = self._store_state()
        first = self.page * self.page_size
        local = f", {stats['local_results']} local (free)" if stats["local_results"] else ""
        self._header.value = (
            f"<b class='venice-browser-count'>{self.total} result{'' if self.total == 1 else 's'}"
            f"</b>{local} · "
            f"<span class='venice-browser-cost'>"
            f"{cost(stats['cost_at_venice_usd'], stats['cost_here_usd'])}</span> · "
            f"showing {first + 1 if self.total else 0}–"
            f"{first + len(self.records)}{self._where}"
        )
        self._prev.disabled = self.page == 0
        self._next.disabled = self.page >= last_page
        self._grid.children = tuple(self._card(r) for r in self.records)
        self._update_actions()

    def close(self) -> None:
        """Stop watching the store, then close the widget (also from ``__del__`` after a
        constructor that raised, when there is no watcher yet)."""
        watcher = getattr(self, "_watcher", None)
        if watcher is not None:
            watcher.cancel()
        super().close()

    def _store_state(self) -> tuple[int, float | None]:
        """How many results the store holds and its newest one's time: what a refresh changes."""
        stats = self.store.stats()
        newest = self.store.history(limit=1)
        return stats["results"], (newest[0].created_at if newest else None)

    def _watch(self) -> None:
        """Refresh while the kernel's loop runs, when the store has grown (another cell edited).

        The task holds the browser weakly: a browser nobody shows any more can be collected.
        """
        self._watcher: asyncio.Task[None] | None = None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        ref = weakref.ref(self)

        async def watch() -> None:
            while True:
                await asyncio.sleep(_WATCH_SECONDS)
                browser = ref()
                if browser is None:
                    return
                with contextlib.suppress(Exception):  # a store busy elsewhere: try next time
                    if browser._store_state() != browser._seen:
                        browser.refresh()
                del browser

        self._watcher = loop.create_task(watch())

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The live widget, plus a picture of the page shown for a saved notebook's readers."""
        bundle: dict[str, Any] = super()._repr_mimebundle_(**kwargs) or {}
        bundle["text/html"] = self._static_html()
        return bundle

    def _static_html(self) -> str:
        cards = "".join(
            f"<figure style='margin:0;border:1px solid #ddd;padding:3px'>"
            f"<img alt='' style='width:100%' src='data:image/jpeg;base64,"
            f"{base64.b64encode(self._thumbnail(r)).decode()}'>"
            f"<figcaption>{_caption(r)}</figcaption></figure>" for r in self.records)
        return (f"<div class='venice-browser-static {NO_MATHS}'><div>{self._header.value}</div>"
                "<div style='display:grid;grid-template-columns:repeat(6,minmax(0,1fr));"
                f"gap:6px'>{cards}</div></div>")

    # Actions.
    def compare(self) -> Any:
        """A ``CompareView`` of the two ticked results (older first)."""
        from ._viewers import CompareView

        a, b = self._ticked(2)
        view = CompareView(a.to_result(), b.to_result(),
                           labels=(_compare_label(a), _compare_label(b)))
        self._show(view)
        return view

    def open_in_studio(self) -> Any:
        """An ``EditStudio`` whose base is the ticked result."""
        from ._studio import EditStudio

        (record,) = self._ticked(1)
        studio = EditStudio(record.to_result(), client=self.client, prompt=record.prompt or "")
        self._show(studio)
        return studio

    def export(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the ticked results to JSON or CSV (by suffix); ``read_export`` reads it back.

        Args:
            path: A `.json` or `.csv` file.
        """
        from .._store._records import stored_columns

        records = RecordList(self.selected.values())
        if not records:
            raise ValidationError("no results are ticked", action="tick the results to export")
        target = Path(path if path is not None else self._path.value).expanduser()
        written = records.export(target, columns=stored_columns())
        self._status.value = (f"<span class='venice-exported'>exported {len(records)} to "
                              f"{escape(str(written))}</span>")
        return written

    def select(self, record: StoredRecord, ticked: bool = True) -> None:
        """Tick (or untick) a result, as its card's checkbox does.

        Args:
            record: A record on the page.
            ticked: Tick (True) or untick (False).
        """
        key = (record.fingerprint, record.is_local)
        if ticked:
            self.selected[key] = record
        else:
            self.selected.pop(key, None)
        self._update_actions()

    # Building.
    def _build(self, columns: int) -> None:
        models = [_ANY, *self.store.models_used()]
        self._model = widgets.Dropdown(options=models, value=_ANY, description="Model")
        self._prompt = widgets.Text(placeholder="filters as you type",
                                    continuous_update=True, description="Prompt")
        self._vars = widgets.Text(placeholder="color=red, hat=cap", continuous_update=False,
                                  description="Variables")
        self._since = widgets.DatePicker(description="Since")
        self._picked = widgets.Checkbox(description="picked only", indent=False)
        self._backend = widgets.ToggleButtons(options=list(_BACKENDS), value="all")
        controls = (self._model, self._prompt, self._vars, self._since, self._picked,
                    self._backend)
        for control, name in zip(controls, ("model", "prompt", "vars", "since", "picked",
                                            "backend"), strict=True):
            control.add_class(f"venice-filter-{name}")
            control.observe(self._filter_changed, names="value")
        self._filters = widgets.HBox(list(controls),
                                     layout=widgets.Layout(flex_flow="row wrap"))
        self._header = widgets.HTML()
        self._grid = widgets.GridBox(layout=widgets.Layout(
            grid_template_columns=f"repeat({max(1, columns)}, minmax(0, 1fr))",
            grid_gap="6px"))
        self._prev = widgets.Button(description="Newer", icon="chevron-left")
        self._next = widgets.Button(description="Older", icon="chevron-right")
        self._prev.on_click(lambda _b: self._turn(-1))
        self._next.on_click(lambda _b: self._turn(+1))
        self._compare_button = widgets.Button(description="Compare 2", icon="columns")
        self._studio = widgets.Button(description="Open in studio", icon="paint-brush")
        self._path = widgets.Text(value="selection.csv", layout=widgets.Layout(width="180px"))
        self._path.add_class("venice-export-path")
        self._export = widgets.Button(description="Export ticked", icon="download")
        for button, action in ((self._compare_button, self.compare),
                               (self._studio, self.open_in_studio), (self._export, self.export)):
            button.on_click(lambda _b, run=action: self._act(run))
        self._status = widgets.HTML()
        self._actions = widgets.HBox([self._prev, self._next, self._compare_button, self._studio,
                                      self._path, self._export, self._status],
                                     layout=widgets.Layout(flex_flow="row wrap"))
        self._out = widgets.Output()

    def _card(self, record: StoredRecord) -> widgets.VBox:
        thumb = widgets.Image(value=self._thumbnail(record), format="jpeg",
                              layout=widgets.Layout(width="100%", object_fit="contain"))
        tick = widgets.Checkbox(value=(record.fingerprint, record.is_local) in self.selected,
                                description="tick", indent=False,
                                layout=widgets.Layout(width="auto"))
        tick.observe(lambda change, r=record: self.select(r, bool(change["new"])), names="value")
        card = widgets.VBox([thumb, widgets.HTML(_caption(record)), tick],
                            layout=widgets.Layout(border="1px solid #ddd", padding="3px"))
        card.add_class("venice-browser-card")
        return card

    def _thumbnail(self, record: StoredRecord) -> bytes:
        """A small JPEG of the stored image, made once per image and kept (LRU)."""
        cached = self._thumbs.get(record.output_sha256)
        if cached is not None:
            self._thumbs.move_to_end(record.output_sha256)
            return cached
        try:  # to_result: the store's own file, hashed, header and pixel limit checked
            with Image.open(io.BytesIO(record.to_result().data)) as img:
                img.draft("RGB", (_THUMB, _THUMB))  # JPEG: decode at a fraction of the size
                small = img.convert("RGB")
                small.thumbnail((_THUMB, _THUMB))
        except (OSError, ValidationError):  # missing, damaged or refused: a grey tile
            small = Image.new("RGB", (_THUMB, _THUMB), (200, 200, 200))
        buf = io.BytesIO()
        small.save(buf, "JPEG", quality=80)
        self._thumbs[record.output_sha256] = data = buf.getvalue()
        if len(self._thumbs) > _CACHE:
            self._thumbs.popitem(last=False)
        return data

    # Reacting.
    def _filter_changed(self, _change: Any) -> None:
        self.page = 0
        self.refresh()

    def _turn(self, step: int) -> None:
        self.page = max(0, self.page + step)
        self.refresh()

    def _act(self, action: Any) -> None:
        try:
            action()
        except Exception as exc:  # a button has no caller to raise to
            self._status.value = friendly_error(exc)

    def _ticked(self, n: int) -> list[StoredRecord]:
        records = sorted(self.selected.values(), key=lambda r: r.created_at)
        if len(records) != n:
            raise ValidationError(f"{len(records)} results are ticked, this needs {n}",
                                  action=f"tick exactly {n}")
        return records

    def _update_actions(self) -> None:
        n = len(self.selected)
        self._compare_button.disabled = n != 2
        self._studio.disabled = n != 1
        self._export.disabled = n == 0
        self._status.value = f"<small>{n} ticked</small>" if n else ""

    def _show(self, widget: Any) -> None:
        from IPython.display import display

        self._out.clear_output()
        with self._out:
            display(widget)


def _client_of(obj: object) -> ClientLike | None:
    from .._client import AsyncClient, Client

    return obj if isinstance(obj, (Client, AsyncClient)) else None


def _store_of(store: Any) -> tuple[ResultStore, str]:
    """The store to browse, and a note for the header when it is not the one passed."""
    if isinstance(store, ResultStore):
        return store, ""
    inner = getattr(store, "store", None)
    if isinstance(inner, ResultStore):
        return inner, ""
    if _client_of(store) is not None:  # a client with no store: the default one, said so
        default = ResultStore()
        return default, (" · <i class='venice-browser-where'>this client keeps no store: "
                         f"showing the default store at {escape(str(default.root))} "
                         "(Client(store=True) keeps results there)</i>")
    if store is None or isinstance(store, (str, os.PathLike)):
        return ResultStore(store), ""
    raise ValidationError(f"cannot browse a {type(store).__name__}", field="store",
                          action="pass a ResultStore, a client with a store, or a store folder")


def _parse_variables(text: str) -> dict[str, str]:
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or not name.strip().isidentifier():
            raise ValidationError(f"variables filter {part!r}", field="variables",
                                  action="write name=value pairs, e.g. color=red, hat=cap")
        out[name.strip()] = value.strip()
    return out


def _label(record: StoredRecord) -> str:
    return f"{record.model or record.model_id or 'default'} · {record.created:%Y-%m-%d %H:%M}"


def _compare_label(record: StoredRecord) -> str:
    prompt = record.prompt or ""
    return f"{prompt if len(prompt) <= 40 else prompt[:39] + '…'} · {_label(record)}"


def _caption(record: StoredRecord) -> str:
    prompt = record.prompt or ""
    short = prompt if len(prompt) <= 60 else prompt[:57] + "…"
    marks = " ".join(x for x in ("★" if record.picked else "",
                                 f"{record.rating}/5" if record.rating else "") if x)
    where = "local" if record.is_local else "Venice"
    variables = ", ".join(f"{k}={v}" for k, v in record.variables.items())
    note = f"<br><i>{escape(record.note)}</i>" if record.note else ""
    return (f"<div title='{escape(prompt)}'><small><b>{escape(short)}</b><br>"
            f"{escape(_label(record))} · {where} {marks}"
            f"{'<br>' + escape(variables) if variables else ''}{note}</small></div>")

