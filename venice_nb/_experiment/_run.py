"""Running prompt experiments: plan every job (``_plan``), pace the starts (``_pacer``), send.

Everything that can fail is checked before the first edit (inputs, models, parameters, prices,
the budget, replay-only coverage, the key's balance). Requests then run concurrently, started
no faster than the server's request limit allows; a failing job is recorded and the rest go on.
Records, the progress display and the sync/async bridge live in ``_records``, ``_progress`` and
``_sync``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeGuard, TypeVar

from .. import _arguments as guards
from .._client._region_edit import finish_region
from .._constants import DEFAULT_REQUESTS_PER_MINUTE
from .._exceptions import APIStatusError, ReplayMissError, ValidationError, VeniceError
from .._respect import MaskRespect, mask_respect
from .._store._records import ExperimentRecord, ExperimentResults, Status
from .._sync import call, loop_running, run_blocking
from ._pacer import Pacer, known_limit, pacer_for
from ._plan import EPS, CostEstimate, Job, cost_estimate, model_list, plan_jobs
from ._progress import Progress, ProgressKind

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._client._client import AsyncClient, Client
    from .._client._request import PreparedRequest
    from .._models import ModelInfo
    from .._params import EditOptions
    from .._result import EditResult
    from .._store._store import ResultStore
    from .._types import ClientLike, ExperimentImages, ExperimentMasks, ModelsInput, PathInput

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
T = TypeVar("T")


def _is_async(client: object) -> TypeGuard[AsyncClient]:
    from .._client._client import AsyncClient

    return isinstance(client, AsyncClient)


async def _resolved(client: ClientLike, models: ModelsInput) -> list[ModelInfo | None]:
    """Each model as the client's own calls resolve it: a legacy id (``qwen-edit``) through the
    server's compatibility mapping, a typo refused with the closest ids. Only ids need the
    model list (``GET /models``, fetched once per client)."""
    from .._models import ModelInfo

    return [m if m is None or isinstance(m, ModelInfo) else await call(client._model, m)
            for m in model_list(models)]


@asynccontextmanager
async def _planned(
    images: ExperimentImages, prompts: str | Iterable[str], models: ModelsInput,
    masks: ExperimentMasks, params: Mapping[str, Any], *,
    client: ClientLike | None, store: ResultStore | PathInput | None, budget: float | None,
    variables: Mapping[str, Iterable[str]] | None = None, repeats: int = 1, region: bool = True,
) -> AsyncIterator[tuple[ClientLike, list[Job]]]:
    """The client to use (made from ``store`` when none is given, closed on exit) and every job
    planned: what estimating and running share. Only the model list and the alias mapping may
    be fetched here."""
    if client is not None and store is not None:
        raise ValidationError(
            "both client= and store= given",
            action="pass store= to the client instead: Client(store=...)",
        )
    owned = None
    if client is None:
        from .._client._client import AsyncClient

        client = owned = AsyncClient(store=store)
    try:
        resolved = await _resolved(client, models)
        # Region edits decode the photos and crop them: off the event loop.
        jobs = await asyncio.to_thread(
            plan_jobs, images, prompts, resolved, masks, params, client.store, budget,
            is_local=client.is_local, variables=variables, repeats=repeats, region=region)
        yield client, jobs
    finally:
        if owned is not None:
            await owned.aclose()


def _no_async_client(client: object, name: str) -> None:
    """An AsyncClient belongs to the caller's event loop: the blocking calls cannot use it."""
    if _is_async(client):
        raise ValidationError(
            f"{name}() cannot use an AsyncClient",
            action=f"await vnb.{name}_async(...) with it, or pass a Client",
        )


def estimate_experiment(
    images: ExperimentImages,
    prompts: str | Iterable[str],
    models: ModelsInput = None,
    masks: ExperimentMasks = None,
    *,
    client: Client | None = None,
    budget: float | None = None,
    variables: Mapping[str, Iterable[str]] | None = None,
    repeats: int = 1,
    region: bool = True,
    store: ResultStore | PathInput | None = None,
    **params: Unpack[EditOptions],
) -> CostEstimate:
    """Price an experiment without sending any edit (same arguments as ``experiment``).

    Checks every job as ``experiment`` would, so a bad input (or a budget that would run
    nothing) fails here, for free. Only the model list is fetched (``GET /models``, once per
    client). With an ``AsyncClient``, await ``estimate_experiment_async`` instead.

    Args:
        images: One image, a list, or a dict naming each (`{"cat": path}`); names label the
            results.
        prompts: One prompt or several; `{name}` placeholders are filled from `variables`.
        models: Model ids (or `ModelInfo`s); None: the server's default model.
        masks: None, one mask, a list, or a dict naming each: each masked job is a region edit
            (see `region`).
        client: The client to send with; None: `vnb.Client()`.
        budget: USD at Venice prices: jobs past it are not sent (`skipped`).
        variables: Values for the prompt templates' placeholders: every combination runs.
        repeats: How many times to run each job (seeded differently by the server).
        region: Send a masked job as a region edit (True) or the whole image with the mask as
            a layer (False).
        store: A `ResultStore` or folder; None: the client's store.
        **params: Edit options for every job, as for `experiment`.
    """
    _no_async_client(client, "estimate_experiment")
    return run_blocking(estimate_experiment_async(
        images, prompts, models, masks, client=client, budget=budget, variables=variables,
        repeats=repeats, region=region, store=store, **params))


async def estimate_experiment_async(
    images: ExperimentImages,
    prompts: str | Iterable[str],
    models: ModelsInput = None,
    masks: ExperimentMasks = None,
    *,
    client: ClientLike | None = None,
    budget: float | None = None,
    variables: Mapping[str, Iterable[str]] | None = None,
    repeats: int = 1,
    region: bool = True,
    store: ResultStore | PathInput | None = None,
    **params: Unpack[EditOptions],
) -> CostEstimate:
    """``estimate_experiment`` for async code: takes an ``AsyncClient`` (or a ``Client``).

    Args:
        images: One image, a list, or a dict naming each (`{"cat": path}`); names label the
            results.
        prompts: One prompt or several; `{name}` placeholders are filled from `variables`.
        models: Model ids (or `ModelInfo`s); None: the server's default model.
        masks: None, one mask, a list, or a dict naming each: each masked job is a region edit
            (see `region`).
        client: The client to send with; None: `vnb.Client()`.
        budget: USD at Venice prices: jobs past it are not sent (`skipped`).
        variables: Values for the prompt templates' placeholders: every combination runs.
        repeats: How many times to run each job (seeded differently by the server).
        region: Send a masked job as a region edit (True) or the whole image with the mask as
            a layer (False).
        store: A `ResultStore` or folder; None: the client's store.
        **params: Edit options for every job, as for `experiment`.
    """
    async with _planned(images, prompts, models, masks, params, client=client, store=store,
                        budget=budget, variables=variables, repeats=repeats,
                        region=region) as (client, jobs):
        return cost_estimate(jobs, budget, known_limit(client._caller), client.is_local)


def experiment(
    images: ExperimentImages,
    prompts: str | Iterable[str],
    models: ModelsInput = None,
    masks: ExperimentMasks = None,
    *,
    client: ClientLike | None = None,
    budget: float | None = None,
    variables: Mapping[str, Iterable[str]] | None = None,
    repeats: int = 1,
    region: bool = True,
    store: ResultStore | PathInput | None = None,
    concurrency: int = DEFAULT_REQUESTS_PER_MINUTE,
    rate_limit: int = DEFAULT_REQUESTS_PER_MINUTE,
    progress: bool | ProgressKind = True,
    **params: Unpack[EditOptions],
) -> ExperimentResults:
    """Run every combination of images x masks x prompts x models; see ``experiment_async``.

    Works in scripts and in Jupyter: when an event loop is already running (a notebook), the
    experiment runs on its own loop in a worker thread and this call blocks until it is done
    (interrupting the cell cancels it). Pass a ``Client`` or leave ``client`` out there: an
    ``AsyncClient`` belongs to the notebook's loop, so await ``experiment_async`` with it.

    Args:
        images: One image, a list, or a dict naming each (`{"cat": path}`); names label the
            results.
        prompts: One prompt or several; `{name}` placeholders are filled from `variables`.
        models: Model ids (or `ModelInfo`s); None: the server's default model.
        masks: None, one mask, a list, or a dict naming each: each masked job is a region edit
            (see `region`).
        client: The client to send with; None: `vnb.Client()`.
        budget: USD at Venice prices: jobs past it are not sent (`skipped`).
        variables: Values for the prompt templates' placeholders: every combination runs.
        repeats: How many times to run each job (seeded differently by the server).
        region: Send a masked job as a region edit (True) or the whole image with the mask as
            a layer (False).
        store: A `ResultStore` or folder; None: the client's store.
        concurrency: At most this many requests at once.
        rate_limit: Requests per minute to pace to, until the server says otherwise.
        progress: Show a progress bar (True), or `"text"`/`"widget"`/False.
        **params: Edit options for every job (`aspect_ratio`, `resolution`, `quality`, ...).
    """
    # In a running loop (Jupyter) the worker thread cannot display into this cell: show it here.
    shown = Progress(progress, show_now=loop_running())
    try:
        return run_blocking(_experiment(
            shown, images, prompts, models, masks, client=client, budget=budget,
            variables=variables, repeats=repeats, region=region, store=store,
            concurrency=concurrency, rate_limit=rate_limit, params=params))
    finally:
        shown.refresh_saved()


async def experiment_async(
    images: ExperimentImages,
    prompts: str | Iterable[str],
    models: ModelsInput = None,
    masks: ExperimentMasks = None,
    *,
    client: ClientLike | None = None,
    budget: float | None = None,
    variables: Mapping[str, Iterable[str]] | None = None,
    repeats: int = 1,
    region: bool = True,
    store: ResultStore | PathInput | None = None,
    concurrency: int = DEFAULT_REQUESTS_PER_MINUTE,
    rate_limit: int = DEFAULT_REQUESTS_PER_MINUTE,
    progress: bool | ProgressKind = True,
    **params: Unpack[EditOptions],
) -> ExperimentResults:
    """Run every combination of images x masks x prompts x models concurrently.

    ``images``, ``masks``: one input, a list, or a ``{label: input}`` dict (labels caption the
    contact sheet). A job with a mask is a multi-edit ``[image, mask]``; ``masks=None`` (or a
    ``None`` in the list) means a plain ``/image/edit``; a mask given as a list of layers
    (``{"hat": [mask, reference]}``) sends ``[image, *layers]``. ``models``: ids, ``ModelInfo``
    or None for the server's default. ``params``: aspect_ratio, resolution, quality (masked jobs
    only), output_format, safe_mode, enhance_prompt, upload, fit - the same for every job.

    A job with one mask is a region edit by default (``Client.edit_region``: only the crop
    around the mask is sent, and the result keeps every other pixel of the photo at full
    resolution; records carry the model's ``spill``); ``region=False`` sends the whole image
    with the mask as a layer instead.

    ``variables`` turns the prompts into templates: ``"a {color} hat"`` with
    ``variables={"color": ["red", "blue"]}`` runs every combination, each record and DataFrame
    row carrying a column per variable. ``repeats=n`` runs each job n times as distinct stored
    requests (the models are not deterministic): run again with the same n and the store
    answers all of them; raise n and only the new runs are paid. Masked jobs get mask-respect
    figures (``changed_inside_mask``, ``changed_outside_mask``); ``ExperimentResults.mark`` keeps
    picks, ratings and notes in the store with each result.

    Before anything is sent, every job is validated and priced; ``budget`` (USD at Venice prices,
    also on the local backend) stops at the first job whose estimated cost would push the total
    over it, and a budget that would run nothing at all is a ``ValidationError``. Jobs the
    client's store (or ``store=``, when no client is given) already holds cost nothing and send
    nothing; a replay-only store that lacks any job raises ``ReplayMissError`` up front. A
    run whose estimate exceeds the key's balance (Venice, or a local backend given one) is a
    ``ValidationError`` before any edit is sent.
    Requests start no faster than the server's limit (``rate_limit`` per minute until the
    server states the real one: the key's stated limits, then the ``x-ratelimit-*`` headers;
    experiments with one key on one server share that pace), at most ``concurrency`` at a
    time. A failed job is recorded in the results, not raised.

    Args:
        images: One image, a list, or a dict naming each (`{"cat": path}`); names label the
            results.
        prompts: One prompt or several; `{name}` placeholders are filled from `variables`.
        models: Model ids (or `ModelInfo`s); None: the server's default model.
        masks: None, one mask, a list, or a dict naming each: each masked job is a region edit
            (see `region`).
        client: The client to send with; None: `vnb.Client()`.
        budget: USD at Venice prices: jobs past it are not sent (`skipped`).
        variables: Values for the prompt templates' placeholders: every combination runs.
        repeats: How many times to run each job (seeded differently by the server).
        region: Send a masked job as a region edit (True) or the whole image with the mask as
            a layer (False).
        store: A `ResultStore` or folder; None: the client's store.
        concurrency: At most this many requests at once.
        rate_limit: Requests per minute to pace to, until the server says otherwise.
        progress: Show a progress bar (True), or `"text"`/`"widget"`/False.
        **params: Edit options for every job (`aspect_ratio`, `resolution`, `quality`, ...).
    """
    return await _experiment(
        Progress(progress), images, prompts, models, masks, client=client, budget=budget,
        variables=variables, repeats=repeats, region=region, store=store,
        concurrency=concurrency, rate_limit=rate_limit, params=params)


async def _experiment(
    shown: Progress,
    images: ExperimentImages,
    prompts: str | Iterable[str],
    models: ModelsInput,
    masks: ExperimentMasks,
    *,
    client: ClientLike | None,
    budget: float | None,
    variables: Mapping[str, Iterable[str]] | None,
    repeats: int,
    region: bool,
    store: ResultStore | PathInput | None,
    concurrency: int,
    rate_limit: int,
    params: EditOptions,
) -> ExperimentResults:
    """The body of both: ``experiment`` makes the display in the caller's thread (so a notebook
    shows it in the running cell) and runs this on a worker loop."""
    concurrency = guards.count(concurrency, "concurrency")
    rate_limit = guards.count(rate_limit, "rate_limit")
    try:
        async with _planned(images, prompts, models, masks, params, client=client, store=store,
                            budget=budget, variables=variables, repeats=repeats,
                            region=region) as (client, jobs):
            pacer = pacer_for(client._caller, rate_limit)
            estimate = cost_estimate(jobs, budget, pacer.limit, client.is_local)
            if estimate.to_send:  # all stored (or replay-only): nothing is asked of the server
                await _check_account(client, jobs, estimate.to_spend_usd, pacer)
                estimate = replace(estimate, rate_limit=pacer.limit)
            n_models = len(model_list(models))
            columns = n_models if n_models > 1 else min(4, max(1, len(jobs)))
            shown.begin(len(jobs))
            start = time.monotonic()
            records = await _run(jobs, client, pacer, budget, concurrency, shown)
            wall_time = time.monotonic() - start
            if client.store is not None and client.store.mode != "off":
                await asyncio.to_thread(_remember, client.store, records)
            return ExperimentResults(records, estimate=estimate, columns=columns,
                                     wall_time=wall_time, store=client.store)
    finally:
        shown.close()


async def _ask(
    client: ClientLike, what: Callable[[], Awaitable[T]] | Callable[[], T]
) -> T | None:
    """An account endpoint's answer, None when this caller cannot ask (no key: the endpoints
    need one) or the server will not say (an error status: e.g. a key without that right)."""
    if not client.has_credentials:
        return None
    try:
        return await call(what)
    except APIStatusError as exc:
        log.info("venice_nb: %s; going on without it", exc.message)
        return None


async def _check_account(client: ClientLike, jobs: list[Job], needed: float, pacer: Pacer) -> None:
    """Before the first paid request: refuse a run the balance cannot pay for, and pace from
    the key's stated limit rather than a guess. Both endpoints are free; the balance is asked
    once per run, the limits until the pacer has the server's word."""
    balance = await _ask(client, client.balance)
    available = None if balance is None else balance.spendable_usd
    if available is not None and needed > available + EPS:
        raise ValidationError(
            f"this experiment is estimated at ${needed:.4f}, more than the balance of "
            f"${available:.4f}; nothing was sent",
            action="top up the balance, or lower the grid (fewer images, prompts, models, "
            "repeats) or budget=",
            field="budget",
        )
    if pacer.limit_from_server:
        return
    limits = await _ask(client, client.rate_limits)
    if limits is None:
        return
    rpms = [limits.requests_per_minute(m) for m in {job.model for job in jobs} if m is not None]
    stated = [rpm for rpm in rpms if rpm is not None and rpm >= 1]
    if stated:  # experiments share one pacer per key: the strictest of the run's models
        pacer.state(int(min(stated)))


class _Attempts:
    """The pacer's view of one job's requests: the client may retry it."""

    def __init__(self, pacer: Pacer, seq: int | None) -> None:
        self.pacer, self.seq = pacer, seq

    def on_retry(self, error: VeniceError, delay: float) -> None:
        self.pacer.observe(self.seq, getattr(error, "headers", None), error=error)
        self.seq = self.pacer.note_retry(delay)


async def _run(jobs: list[Job], client: ClientLike, pacer: Pacer, budget: float | None,
               concurrency: int, progress: Progress) -> list[ExperimentRecord]:
    from .._client._client import AsyncClient

    loop = asyncio.get_running_loop()
    slots = asyncio.Semaphore(concurrency)
    in_order = asyncio.Lock()  # requests start in job order
    store = client.store
    executor = None if _is_async(client) else ThreadPoolExecutor(concurrency, "venice_nb-send")
    spent = 0.0
    records: list[ExperimentRecord | None] = [None] * len(jobs)

    async def send(prepared: PreparedRequest, attempts: _Attempts) -> EditResult:
        if _is_async(client):
            return await client.send(prepared, on_retry=attempts.on_retry)
        assert executor is not None and not isinstance(client, AsyncClient)
        return await loop.run_in_executor(executor, client.send, prepared, attempts.on_retry)

    async def run(pos: int, job: Job) -> None:
        nonlocal spent
        base: dict[str, Any] = dict(
            index=job.index, image=job.image, mask=job.mask, prompt=job.prompt, model=job.model,
            estimated_cost=job.estimated_cost, variables=dict(job.variables),
            template=job.template, repeat=job.repeat)
        async with slots:
            # Asked now, not at planning: a stored answer is free and needs no pacing.
            free = store is not None and (
                store.mode == "replay" or store._can_answer(job.prepared, is_local=client.is_local)
            )
            cost = 0.0 if free else (job.estimated_cost or 0.0)
            if not job.within_budget or (
                budget is not None and not free and spent + cost > budget + EPS
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
                    if job.region is not None:
                        result = await asyncio.to_thread(finish_region, job.region, result)
                    respect = await asyncio.to_thread(_respect_of, job, result) \
                        if len(job.prepared.images) > 1 or job.region is not None else None
                    record = ExperimentRecord(status=status, result=result, respect=respect,
                                              **base)
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


def _respect_of(job: Job, result: EditResult) -> MaskRespect | None:
    """Mask-respect figures of a masked job, its first layer being the mask (None when the
    inputs were URLs). A region edit's are the model's own: its raw answer for the crop."""
    if job.region is not None and result.raw is not None:
        return mask_respect(job.prepared.images[0].data or b"", job.region.sent_mask,
                            result.raw.data)
    image, mask = job.prepared.images[0].data, job.prepared.images[1].data
    if image is None or mask is None:
        return None
    return mask_respect(image, mask, result.data)


def _remember(store: ResultStore, records: list[ExperimentRecord]) -> None:
    """Label the stored results with their prompt variables; read back the marks a person set
    (a re-run answered from the store shows the picks made last time)."""
    answered = [(r, r.result) for r in records if r.result is not None]
    store._label([(res.fingerprint or "", res.is_local, r.variables)
                 for r, res in answered if r.variables])
    marks = store._marks([(res.fingerprint or "", res.is_local) for _, res in answered])
    for record, res in answered:
        record.picked, record.rating, record.note = marks.get(
            (res.fingerprint or "", res.is_local), (False, None, None))
