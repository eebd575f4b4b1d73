"""Re-running a cell frees the widgets its previous run made.

The kernel keeps every widget until it is closed (ipywidgets' registry, the comm), and IPython's
output history (``Out``, ``_``) keeps the object a cell showed; so a painter on a 33 Mpx photo
would stay in memory after its cell ran again, though its view is gone from the page. JupyterLab
and Notebook 7 name the cell in each execute request (``metadata.cellId``): a widget registered
here is closed when the same cell runs again, in a later request. A cell that makes several
widgets in one run keeps them all; outside a notebook kernel nothing happens.
"""

from __future__ import annotations

import weakref
from typing import Protocol


class _Closable(Protocol):
    def close(self) -> None: ...


# cell id -> (the request that made them, the widgets it made)
_BY_CELL: dict[str, tuple[str, list[weakref.ref[_Closable]]]] = {}


def _current_cell() -> tuple[str, str] | None:
    """(cell id, request id) of the execute request running now, if the front end names it."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    get_parent = getattr(kernel, "get_parent", None)
    parent = get_parent() if callable(get_parent) else None
    if not isinstance(parent, dict):
        return None
    metadata, header = parent.get("metadata") or {}, parent.get("header") or {}
    cell, request = metadata.get("cellId"), header.get("msg_id")
    if isinstance(cell, str) and isinstance(request, str) and cell and request:
        return cell, request
    return None


def release_on_rerun(widget: _Closable) -> None:
    """Close ``widget`` when the cell running now runs again (see the module's docstring)."""
    where = _current_cell()
    if where is None:
        return
    cell, request = where
    previous = _BY_CELL.get(cell)
    if previous is not None and previous[0] != request:
        for ref in previous[1]:
            old = ref()
            if old is not None:
                old.close()
        previous = None
    if previous is None:
        previous = (request, [])
        _BY_CELL[cell] = previous
    previous[1].append(weakref.ref(widget))
