"""The one bridge between sync and async code: run a coroutine from sync code, await a sync call.

Jupyter runs an event loop in the kernel's thread, so ``asyncio.run`` cannot be used there;
``run_blocking`` then runs the coroutine on its own loop in a worker thread and waits for it.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar, overload

__all__ = ["call", "loop_running", "run_blocking"]

_T = TypeVar("_T")
_P = ParamSpec("_P")


def loop_running() -> bool:
    """Whether this thread is inside a running event loop (a notebook cell, async code)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def run_blocking(coro: Coroutine[Any, Any, _T]) -> _T:
    """``asyncio.run(coro)``, also where a loop is already running (Jupyter).

    There the coroutine runs on its own loop in a worker thread and this call blocks until it
    is done; interrupting the cell (KeyboardInterrupt) cancels it, then re-raises.
    """
    if not loop_running():
        return asyncio.run(coro)
    box: dict[str, Any] = {}
    ready = threading.Event()

    async def main() -> _T:
        box["loop"], box["task"] = asyncio.get_running_loop(), asyncio.current_task()
        ready.set()
        return await coro

    def work() -> None:
        try:
            box["result"] = asyncio.run(main())
        except BaseException as exc:  # re-raised in the caller's thread below
            box["error"] = exc
        finally:
            ready.set()

    worker = threading.Thread(target=work, name="venice_nb-sync", daemon=True)
    worker.start()
    try:
        worker.join()
    except KeyboardInterrupt:
        ready.wait(30)
        if "task" in box:
            box["loop"].call_soon_threadsafe(box["task"].cancel)
        worker.join()
        raise
    if "error" in box:
        raise box["error"]
    result: _T = box["result"]
    return result


@overload
async def call(
    function: Callable[_P, Awaitable[_T]], *args: _P.args, **kwargs: _P.kwargs
) -> _T: ...
@overload
async def call(function: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T: ...
async def call(function: Callable[_P, Any], *args: _P.args, **kwargs: _P.kwargs) -> Any:
    """Await ``function(*args, **kwargs)``: directly when it is async, else in a worker thread
    (a blocking call must not stall the loop)."""
    if inspect.iscoroutinefunction(function):
        return await function(*args, **kwargs)
    return await asyncio.to_thread(function, *args, **kwargs)
