"""Prompt experiments: images x masks x prompts x models, run concurrently, paced and budgeted.

Everything that can fail is checked before the first request (inputs, models, parameters, prices,
the budget, replay-only coverage: ``_plan``). Requests then run concurrently, started no faster
than the server's request limit allows (``_pacer``); a failing job is recorded and the rest go on.
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ._constants import DEFAULT_REQUESTS_PER_MINUTE
from ._errors import APIStatusError, ReplayMissError, ValidationError, VeniceError
from ._models import find_model
from ._pacer import _known_limit, _Pacer, _pacer_for
from ._plan import _EPS, CostEstimate, _estimate, _Job, _model_list, _plan
from ._store import RecordList, _image_size

if TYPE_CHECKING:
    from ._client import AsyncClient, Client
    from ._models import ModelInfo
    from ._request import PreparedRequest
    from ._result import EditResult
    from ._store import ResultStore
    from .widgets import ResultGrid

__all__ = [
    "CostEstimate",
    "ExperimentRecord",
    "ExperimentResults",
    "estimate_experiment",
    "estimate_experiment_async",
    "experiment",
    "experiment_async",
]

log = logging.getLogger("venice_nb")

Status = Literal["done", "cached", "failed", "skipped"]
ProgressKind = Literal["auto", "tqdm", "widget", "plain"]
_T = TypeVar("_T")


# Results.
@dataclass
class ExperimentRecord:
    """One job of an experiment: what was asked, what happened, and the result if any."""

    index: int
    image: str
    mask: str | None
    prompt: str
    model: str | None
    status: Status
    estimated_cost: float | None
    result: EditResult | None = field(default=None, repr=False)
    error: BaseException | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.result is not None

    @property
    def spent_usd(self) -> float:
        """Estimated Venice cost of this job's request (0 when cached, failed or skipped)."""
        return (self.estimated_cost or 0.0) if self.status == "done" else 0.0

    @property
    def caption(self) -> str:
        parts = [self.image, self.mask, self.model or "default model"]
        head = " · ".join(p for p in parts if p)
        if self.result is not None:
            tail = self.result.caption()
        elif self.status == "skipped":
            tail = "skipped: over budget"
        else:
            tail = f"FAILED: {_error_text(self.error)}"
        return f"{head} — {self.prompt}\n{tail}"

    def to_dict(self) -> dict[str, Any]:
        res = self.result
        width, height = _image_size(res.data) if res else (None, None)  # header only: no decode
        return {
            "index": self.index, "image": self.image, "mask": self.mask, "prompt": self.prompt,
            "model": self.model, "status": self.status, "estimated_cost": self.estimated_cost,
            "spent_usd": self.spent_usd,
            "elapsed": res.elapsed if res else None,
            "model_id": res.model_id if res else None,
            "model_name": res.model_name if res else None,
            "width": width,
            "height": height,
            "is_local": res.is_local if res else None,
            "fingerprint": res.fingerprint if res else None,
            "stored_path": res.stored_path if res else None,
            "error_type": type(self.error).__name__ if self.error else None,
            "error": _error_text(self.error) if self.error else None,
        }


def _error_text(error: BaseException | None) -> str:
    return str(error) if error is not None else ""


class ExperimentResults(RecordList):
    """The records of an experiment in job order, plus its estimate and a contact sheet."""

    def __init__(self, records: Iterable[ExperimentRecord], *, estimate: CostEstimate,
                 columns: int, wall_time: float) -> None:
        super().__init__(records)
        self.estimate = estimate
        self.columns = columns
        self.wall_time = wall_time

    @property
    def results(self) -> list[EditResult]:
        return [r.result for r in self if r.result is not None]

    @property
    def failed(self) -> list[ExperimentRecord]:
        return [r for r in self if r.status == "failed"]

    @property
    def counts(self) -> dict[str, int]:
        """How many jobs ended done, cached, failed and skipped."""
        out = dict.fromkeys(("done", "cached", "failed", "skipped"), 0)
        for record in self:
            out[record.status] += 1
        return out

    @property
    def spent_usd(self) -> float:
        return round(sum(r.spent_usd for r in self), 6)

    def summary(self) -> str:
        counts = ", ".join(f"{n} {status}" for status, n in self.counts.items())
        local = " (local backend: nothing charged)" if self.estimate.is_local else ""
        return (
            f"{len(self)} jobs: {counts}; estimated spend ${self.spent_usd:.4f}{local}; "
            f"{self.wall_time:.1f}s"
        )

    def contact_sheet(self, columns: int | None = None) -> ResultGrid:
        """A captioned grid (``widgets.ResultGrid``): one card per job, failures included."""
        from .widgets import ResultGrid

        items = [(r.result if r.result is not None else _placeholder(), r.caption) for r in self]
        return ResultGrid(items, columns=columns or self.columns)

    def __repr__(self) -> str:
        return f"ExperimentResults({self.summary()})"


def _placeholder() -> Any:
    from PIL import Image

    return Image.new("RGB", (256, 256), (225, 225, 225))


# Progress display.
class _Progress:
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
        self.counts = dict.fromkeys(("done", "cached", "failed", "skipped"), 0)
        self.spent = 0.0
        self._bar: Any = None
        self._widgets: Any = None
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
        if self.kind in ("auto", "widget") and _in_kernel():
            import ipywidgets as widgets
            from IPython.display import display

            bar = widgets.IntProgress(value=0, min=0, max=max(total, 1), description="experiment")
            label = widgets.HTML()
            self._widgets = (bar, label)
            display(widgets.HBox([bar, label]))
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
                f"{c['skipped']} skipped, ~${self.spent:.3f}")

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
                self._widgets[1].value = html.escape(self.text())
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


def _in_kernel() -> bool:
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return bool(shell) and type(shell).__name__ == "ZMQInteractiveShell"


# Running.
def _is_async(client: Any) -> bool:
    from ._client import AsyncClient

    return isinstance(client, AsyncClient)


async def _models_async(client: Any) -> list[ModelInfo]:
    if _is_async(client):
        return await client.models("inpaint")
    return await asyncio.get_running_loop().run_in_executor(None, client.models, "inpaint")


def _model_finder(client: Any, infos: list[ModelInfo] | None) -> Callable[[Any], ModelInfo | None]:
    def find(model: Any) -> ModelInfo | None:
        if model is None or hasattr(model, "estimate_cost"):
            return model
        return find_model(infos or [], model)

    return find


def _needs_models(models: Any) -> bool:
    return any(isinstance(m, str) for m in _model_list(models))


@asynccontextmanager
async def _planned(
    images: Any, prompts: Any, models: Any, masks: Any, params: dict[str, Any], *,
    client: Client | AsyncClient | None, store: Any, budget: float | None,
) -> AsyncIterator[tuple[Any, list[_Job]]]:
    """The client to use (made from ``store`` when none is given, closed on exit) and every job
    planned: what estimating and running share. Only ``GET /models`` may be sent here."""
    if client is not None and store is not None:
        raise ValidationError(
            "both client= and store= given",
            action="pass store= to the client instead: Client(store=...)",
        )
    owned = None
    if client is None:
        from ._client import AsyncClient

        client = owned = AsyncClient(store=store)
    try:
        infos = await _models_async(client) if _needs_models(models) else None
        jobs = _plan(images, prompts, models, masks, params, _model_finder(client, infos),
                     client.store, budget, is_local=client.is_local)
        yield client, jobs
    finally:
        if owned is not None:
            await owned.aclose()


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _run_blocking(coro: Coroutine[Any, Any, _T]) -> _T:
    """``asyncio.run(coro)``, also where a loop is already running (Jupyter).

    There the coroutine runs on its own loop in a worker thread and this call blocks until it
    is done; interrupting the cell cancels it.
    """
    if not _loop_running():
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

    worker = threading.Thread(target=work, name="venice_nb-experiment", daemon=True)
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
    return box["result"]


def _no_async_client(client: Any, name: str) -> None:
    """An AsyncClient belongs to the caller's event loop: the blocking calls cannot use it."""
    if _is_async(client):
        raise ValidationError(
            f"{name}() cannot use an AsyncClient",
            action=f"await vnb.{name}_async(...) with it, or pass a Client",
        )


def estimate_experiment(
    images: Any,
    prompts: str | Iterable[str],
    models: Any = None,
    masks: Any = None,
    *,
    client: Client | None = None,
    budget: float | None = None,
    store: ResultStore | str | os.PathLike[str] | None = None,
    **params: Any,
) -> CostEstimate:
    """Price an experiment without sending any edit (same arguments as ``experiment``).

    Checks every job as ``experiment`` would, so a bad input (or a budget that would run
    nothing) fails here, for free. Only the model list is fetched (``GET /models``, once per
    client). With an ``AsyncClient``, await ``estimate_experiment_async`` instead.
    """
    _no_async_client(client, "estimate_experiment")
    return _run_blocking(estimate_experiment_async(
        images, prompts, models, masks, client=client, budget=budget, store=store, **params))


async def estimate_experiment_async(
    images: Any,
    prompts: str | Iterable[str],
    models: Any = None,
    masks: Any = None,
    *,
    client: Client | AsyncClient | None = None,
    budget: float | None = None,
    store: ResultStore | str | os.PathLike[str] | None = None,
    **params: Any,
) -> CostEstimate:
    """``estimate_experiment`` for async code: takes an ``AsyncClient`` (or a ``Client``)."""
    async with _planned(images, prompts, models, masks, params, client=client, store=store,
                        budget=budget) as (client, jobs):
        return _estimate(jobs, budget, _known_limit(client.base_url), client.is_local)


def experiment(
    images: Any,
    prompts: str | Iterable[str],
    models: Any = None,
    masks: Any = None,
    *,
    client: Client | AsyncClient | None = None,
    budget: float | None = None,
    store: ResultStore | str | os.PathLike[str] | None = None,
    concurrency: int = DEFAULT_REQUESTS_PER_MINUTE,
    rate_limit: int = DEFAULT_REQUESTS_PER_MINUTE,
    progress: bool | ProgressKind = True,
    **params: Any,
) -> ExperimentResults:
    """Run every combination of images x masks x prompts x models; see ``experiment_async``.

    Works in scripts and in Jupyter: when an event loop is already running (a notebook), the
    experiment runs on its own loop in a worker thread and this call blocks until it is done
    (interrupting the cell cancels it). Pass a ``Client`` or leave ``client`` out there: an
    ``AsyncClient`` belongs to the notebook's loop, so await ``experiment_async`` with it.
    """
    # In a running loop (Jupyter) the worker thread cannot display into this cell: show it here.
    shown = _Progress(progress, show_now=_loop_running())
    return _run_blocking(experiment_async(
        images, prompts, models, masks, client=client, budget=budget, store=store,
        concurrency=concurrency, rate_limit=rate_limit, _progress=shown, **params))


async def experiment_async(
    images: Any,
    prompts: str | Iterable[str],
    models: Any = None,
    masks: Any = None,
    *,
    client: Client | AsyncClient | None = None,
    budget: float | None = None,
    store: ResultStore | str | os.PathLike[str] | None = None,
    concurrency: int = DEFAULT_REQUESTS_PER_MINUTE,
    rate_limit: int = DEFAULT_REQUESTS_PER_MINUTE,
    progress: bool | ProgressKind = True,
    _progress: _Progress | None = None,
    **params: Any,
) -> ExperimentResults:
    """Run every combination of images x masks x prompts x models concurrently.

    ``images``, ``masks``: one input, a list, or a ``{label: input}`` dict (labels caption the
    contact sheet). A job with a mask is a multi-edit ``[image, mask]``; ``masks=None`` (or a
    ``None`` in the list) means a plain ``/image/edit``; a mask given as a list of layers
    (``{"hat": [mask, reference]}``) sends ``[image, *layers]``. ``models``: ids, ``ModelInfo``
    or None for the server's default. ``params``: aspect_ratio, resolution, quality (masked jobs
    only), output_format, safe_mode, enhance_prompt, upload, fit - the same for every job.

    Before anything is sent, every job is validated and priced; ``budget`` (USD at Venice prices,
    also on the local backend) stops at the first job whose estimated cost would push the total
    over it, and a budget that would run nothing at all is a ``ValidationError``. Jobs the
    client's store (or ``store=``, when no client is given) already holds cost nothing and send
    nothing; a replay-only store that lacks any job raises ``ReplayMissError`` up front.
    Requests start no faster than the server's limit (``rate_limit`` per minute until its
    ``x-ratelimit-*`` headers state the real one; experiments on one server share that pace),
    at most ``concurrency`` at a time. A failed job is recorded in the results, not raised.
    """
    for name, value in (("concurrency", concurrency), ("rate_limit", rate_limit)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValidationError(f"{name}={value!r}", action="use an int >= 1", field=name)
    shown = _progress if _progress is not None else _Progress(progress)
    try:
        async with _planned(images, prompts, models, masks, params, client=client, store=store,
                            budget=budget) as (client, jobs):
            pacer = _pacer_for(client.base_url, rate_limit)
            estimate = _estimate(jobs, budget, pacer.limit, client.is_local)
            n_models = len(_model_list(models))
            columns = n_models if n_models > 1 else min(4, max(1, len(jobs)))
            shown.begin(len(jobs))
            start = time.monotonic()
            records = await _run(jobs, client, pacer, budget, concurrency, shown)
            return ExperimentResults(records, estimate=estimate, columns=columns,
                                     wall_time=time.monotonic() - start)
    finally:
        shown.close()


class _Attempts:
    """The pacer's view of one job's requests: the client may retry it."""

    def __init__(self, pacer: _Pacer, seq: int | None) -> None:
        self.pacer, self.seq = pacer, seq

    def on_retry(self, error: VeniceError, delay: float) -> None:
        self.pacer.observe(self.seq, getattr(error, "headers", None), error=error)
        self.seq = self.pacer.note_retry(delay)


async def _run(jobs: list[_Job], client: Any, pacer: _Pacer, budget: float | None,
               concurrency: int, progress: _Progress) -> list[ExperimentRecord]:
    loop = asyncio.get_running_loop()
    slots = asyncio.Semaphore(concurrency)
    in_order = asyncio.Lock()  # requests start in job order
    store = client.store
    executor = None if _is_async(client) else ThreadPoolExecutor(concurrency, "venice_nb-send")
    spent = 0.0
    records: list[ExperimentRecord | None] = [None] * len(jobs)

    async def send(prepared: PreparedRequest, attempts: _Attempts) -> EditResult:
        if executor is None:
            return await client.send(prepared, on_retry=attempts.on_retry)
        return await loop.run_in_executor(executor, client.send, prepared, attempts.on_retry)

    async def run(pos: int, job: _Job) -> None:
        nonlocal spent
        base: dict[str, Any] = dict(index=job.index, image=job.image, mask=job.mask,
                                    prompt=job.prompt, model=job.model,
                                    estimated_cost=job.estimated_cost)
        async with slots:
            # Asked now, not at planning: a stored answer is free and needs no pacing.
            free = store is not None and (
                store.mode == "replay" or store.can_answer(job.prepared, is_local=client.is_local)
            )
            cost = 0.0 if free else (job.estimated_cost or 0.0)
            if not job.within_budget or (
                budget is not None and not free and spent + cost > budget + _EPS
            ):
                record = ExperimentRecord(status="skipped", **base)
            else:
                spent += cost
                attempts = _Attempts(pacer, None)
                if not free:
                    async with in_order:
                        attempts.seq = await pacer.acquire()
                try:
                    result = await send(job.prepared, attempts)
                except (ReplayMissError, asyncio.CancelledError):
                    pacer.observe(attempts.seq, None)
                    raise
                except Exception as exc:
                    pacer.observe(attempts.seq, getattr(exc, "headers", None), error=exc)
                    if isinstance(exc, APIStatusError):
                        spent -= cost  # the server refused it: nothing was charged
                    if not isinstance(exc, VeniceError):
                        log.warning("venice_nb: experiment job %d failed", job.index,
                                    exc_info=exc)
                    record = ExperimentRecord(status="failed", error=exc, **base)
                else:
                    # A stored answer carries the headers of its original response: not news.
                    pacer.observe(attempts.seq, None if result.from_store else result.headers)
                    if result.from_store:
                        spent -= cost
                    status: Status = "cached" if result.from_store else "done"
                    record = ExperimentRecord(status=status, result=result, **base)
        records[pos] = record
        progress.update(record)

    tasks = [asyncio.ensure_future(run(pos, job)) for pos, job in enumerate(jobs)]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    finally:
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
    return [r for r in records if r is not None]
