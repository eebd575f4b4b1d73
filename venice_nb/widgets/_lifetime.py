"""Re-running a cell frees the widgets its previous run made.

The kernel keeps every widget until it is closed (ipywidgets' registry, the comm), and IPython's
output history (``Out``, ``_``) keeps the object a cell showed; so a painter on a 33 Mpx photo
would stay in memory after its cell ran again, though its view is gone from the page. JupyterLab
and Notebook 7 name the cell in each execute request (``metadata.cellId``): a widget registered
here is closed when the same cell runs again, in a later request, and the freed memory is handed
back to the system. A cell that makes several widgets in one run keeps them all; outside a
notebook kernel nothing happens.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import sys
import weakref
from collections.abc import Callable
from typing import Protocol

import ipywidgets as widgets


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
        _after_this_cell(_return_freed_memory)
    if previous is None:
        previous = (request, [])
        _BY_CELL[cell] = previous
    previous[1].append(weakref.ref(widget))


def _after_this_cell(fn: Callable[[], None]) -> None:
    """Run ``fn`` once, when the cell running now has finished (its output shown too)."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return

    def once() -> None:
        shell.events.unregister("post_execute", once)
        fn()

    shell.events.register("post_execute", once)


def _return_freed_memory() -> None:
    """Hand freed memory back to the system.

    glibc keeps freed memory for reuse, in holes between live blocks and in the arenas of the
    kernel's other threads; what the new widget allocates lands around those holes, so without
    this the kernel's size would grow by most of a 33 Mpx painter on every re-run.
    """
    gc.collect()  # widgets hold each other in cycles (links, callbacks)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # not glibc (e.g. musl)
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def close_tree(widget: widgets.Widget, *parts: widgets.Widget) -> None:
    """Close ``widget``'s descendants (its children and ``parts`` it keeps elsewhere), their
    layout and style models, and empty every box on the way, so that nothing a closed widget
    still references (a cell's output history keeps it) holds on to what they showed."""
    children: tuple[widgets.Widget, ...] = tuple(getattr(widget, "children", ()))
    for child in (*children, *parts):
        close_tree(child)
        child.close()
    if children:
        widget.children = ()
    for name in ("layout", "style"):
        model = getattr(widget, name, None)
        if isinstance(model, widgets.Widget):
            model.close()
