"""Prompt experiments: images x masks x prompts x models, run concurrently, paced and budgeted.

Everything that can fail is checked before the first request (inputs, models, parameters, prices,
the budget, replay-only coverage). Requests then run concurrently, started no faster than the
server's request limit allows, which the pacer learns from the ``x-ratelimit-*`` headers; a
failing job is recorded and the rest go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import logging
import math
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from . import _request
from ._constants import (
    DEFAULT_REQUESTS_PER_MINUTE,
    H_RATELIMIT_LIMIT,
    H_RATELIMIT_REMAINING,
    H_RATELIMIT_RESET,
)
from ._errors import APIStatusError, RateLimitError, ReplayMissError, ValidationError, VeniceError
from ._images import load_image
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
_PARAMS = ("aspect_ratio", "resolution", "quality", "output_format", "safe_mode",
           "enhance_prompt", "upload", "fit")  # fmt: skip
_RATE_WINDOW = 60.0  # Venice's limits are per minute
_EPS = 1e-9


# Planning: pure, no requests.
@dataclass(frozen=True)
class _Job:
    index: int
    image: str
    mask: str | None
    prompt: str
    model: str | None
    prepared: PreparedRequest
    cached: bool  # the client's store will answer it: no request, no cost
    within_budget: bool = True

    @property
    def estimated_cost(self) -> float | None:
        return self.prepared.estimated_cost

    @property
    def cost_to_send(self) -> float:
        return 0.0 if self.cached else (self.estimated_cost or 0.0)


@dataclass(frozen=True)
class CostEstimate:
    """What an experiment will cost at Venice prices, known before anything is sent.

    ``total_usd`` prices every job; ``to_spend_usd`` only the requests that will really be sent
    (jobs the store answers are free, jobs past the budget are not started). With the local
    backend nothing is charged: the figures say what Venice would charge.
    """

    jobs: int
    cached: int
    to_send: int
    over_budget: int
    unpriced: int
    total_usd: float
    to_spend_usd: float
    by_model: dict[str, dict[str, float]]
    budget: float | None
    rate_limit: int
    is_local: bool

    @property
    def minimum_minutes(self) -> float:
        """Lower bound on the run time from the request limit alone (starts per minute)."""
        if self.to_send == 0:
            return 0.0
        return float(math.ceil(self.to_send / self.rate_limit) - 1)

    def __str__(self) -> str:
        lines = [
            f"{self.jobs} jobs: {self.to_send} to send, {self.cached} from the store, "
            f"{self.over_budget} over budget" + (f", {self.unpriced} unpriced" if self.unpriced
                                                 else ""),
            f"estimated cost: ${self.to_spend_usd:.4f} to spend (${self.total_usd:.4f} for all "
            f"jobs without the store)" + (f", budget ${self.budget:.4f}" if self.budget is not None
                                         else ""),
        ]
        for model, row in self.by_model.items():
            lines.append(f"  {model}: {int(row['jobs'])} jobs, ${row['usd']:.4f}")
        if self.to_send > self.rate_limit:
            lines.append(
                f"at {self.rate_limit} requests/minute this takes at least "
                f"{self.minimum_minutes:.0f} min"
            )
        if self.is_local:
            lines.append("local backend: nothing is charged (figures are Venice prices)")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head, *rest = str(self).splitlines()
        body = "".join(f"<li>{html.escape(line.strip())}</li>" for line in rest)
        return f"<div><b>{html.escape(head)}</b><ul>{body}</ul></div>"


def _labelled(values: Any, kind: str, *, allow_none: bool = False) -> list[tuple[str | None, Any]]:
    """``[(label, value)]`` from one value, a sequence or a ``{label: value}`` mapping."""
    if isinstance(values, Mapping):
        items = [(str(k), v) for k, v in values.items()]
    elif isinstance(values, (list, tuple)):
        items = [(_auto_label(v, kind, i), v) for i, v in enumerate(values)]
    else:
        items = [(_auto_label(values, kind, 0), values)]
    if not items:
        raise ValidationError(f"no {kind}s given", action=f"pass at least one {kind}", field=kind)
    seen: dict[str | None, int] = {}
    out = []
    for label, value in items:
        if value is None and not allow_none:
            raise ValidationError(f"a {kind} is None", action=f"remove it from the {kind}s")
        seen[label] = seen.get(label, 0) + 1
        out.append((label if seen[label] == 1 else f"{label}#{seen[label]}", value))
    return out


def _auto_label(value: Any, kind: str, index: int) -> str | None:
    if value is None:
        return None
    if isinstance(value, os.PathLike) or (
        isinstance(value, str) and not value.startswith("data:") and len(value) < 4096
    ):
        name = Path(str(value).split("?")[0].rstrip("/")).stem
        if name:
            return name
    return f"{kind}{index + 1}"


def _model_list(models: Any) -> list[Any]:
    if models is None or isinstance(models, str) or hasattr(models, "estimate_cost"):
        return [models]
    models = list(models)
    if not models:
        raise ValidationError("no models given", action="pass model ids, or None for the default")
    return models


def _prompt_list(prompts: str | Iterable[str]) -> list[str]:
    items = [prompts] if isinstance(prompts, str) else list(prompts)
    if not items:
        raise ValidationError("no prompts given", action="pass a prompt or a list of prompts")
    return items


def _check_params(params: Mapping[str, Any], masks: list[tuple[str | None, Any]]) -> None:
    unknown = sorted(set(params) - set(_PARAMS))
    if unknown:
        raise ValidationError(
            f"unknown experiment parameter(s): {', '.join(unknown)}",
            action=f"use any of {', '.join(_PARAMS)}",
        )
    if params.get("quality") is not None and any(mask is None for _, mask in masks):
        raise ValidationError(
            "quality= applies to multi-edit only, and some jobs have no mask (/image/edit)",
            action="pass masks= for every job, or leave quality out",
            field="quality",
        )


def _normalised(items: list[tuple[str | None, Any]], fit: bool) -> list[tuple[str | None, Any]]:
    """Load each input once (not once per job); the bytes give the same digest as the input.

    A list or tuple value is a set of layers (e.g. a mask and a reference image): a tuple out.
    """

    def load(value: Any) -> Any:
        payload = load_image(value, fit=fit)
        return payload.url if payload.url is not None else payload.data

    out = []
    for label, value in items:
        if isinstance(value, (list, tuple)):
            out.append((label, tuple(load(v) for v in value)))
        else:
            out.append((label, None if value is None else load(value)))
    return out


def _plan(
    images: Any,
    prompts: Any,
    models: Any,
    masks: Any,
    params: dict[str, Any],
    find_model: Callable[[Any], ModelInfo | None],
    store: ResultStore | None,
    budget: float | None,
) -> list[_Job]:
    """Every job prepared and validated (all problems at once), with budget and store marks."""
    if budget is not None and (
        not isinstance(budget, (int, float)) or isinstance(budget, bool) or not budget >= 0
    ):
        raise ValidationError(f"budget={budget!r}", action="use a USD amount >= 0, or None")
    mask_items = _labelled([None] if masks is None else masks, "mask", allow_none=True)
    _check_params(params, mask_items)
    fit = bool(params.get("fit", False))
    image_items = _normalised(_labelled(images, "image"), fit)
    mask_items = _normalised(mask_items, fit)
    prompt_list = _prompt_list(prompts)
    model_list = [(m, find_model(m)) for m in _model_list(models)]
    send_params = {k: v for k, v in params.items() if k != "fit"}
    jobs: list[_Job] = []
    problems: list[str] = []
    actions: set[str] = set()
    combos = itertools.product(image_items, mask_items, prompt_list, model_list)
    for index, ((img_label, img), (mask_label, mask), prompt, (model, info)) in enumerate(combos):
        model_id = info.id if info is not None else model
        try:
            if mask is None:
                prepared = _request.prepare_edit(img, prompt, model=info, **send_params)
            else:
                layers = list(mask) if isinstance(mask, tuple) else [mask]
                prepared = _request.prepare_multi_edit([img, *layers], prompt, model=info,
                                                       **send_params)
        except ValidationError as exc:
            where = ", ".join(str(x) for x in (img_label, mask_label, model_id or "default") if x)
            problems.append(f"({where}, {prompt[:40]!r}): {exc.message}")
            actions.add(exc.action)
            continue
        cached = store is not None and store.can_answer(prepared)
        jobs.append(_Job(index, str(img_label), mask_label, prompt, model_id, prepared, cached))
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ValidationError(
            f"{len(problems)} of {len(problems) + len(jobs)} jobs cannot run: "
            + "; ".join(problems[:3]) + more,
            action=actions.pop() if len(actions) == 1
            else "fix these inputs, or drop the models that do not support them",
        )
    if store is not None and store.mode == "replay":
        missing = [j for j in jobs if not j.cached]
        if missing:
            first = missing[0]
            raise ReplayMissError(
                f"replay-only store {store.root} lacks {len(missing)} of {len(jobs)} experiment "
                f"results (first: {first.image}, {first.model or 'default'}, "
                f"{first.prompt[:40]!r}); nothing was sent"
            )
    return _apply_budget(jobs, budget)


def _apply_budget(jobs: list[_Job], budget: float | None) -> list[_Job]:
    """Stop at the first paid job that would push the total over the budget."""
    if budget is None:
        return jobs
    unpriced = [j for j in jobs if not j.cached and j.estimated_cost is None]
    if unpriced:
        raise ValidationError(
            f"budget= needs a price for every job; {len(unpriced)} use a model without one "
            "(e.g. the server default)",
            action="pass models= explicitly (see client.models()), or drop budget=",
        )
    total, stopped, out = 0.0, False, []
    for job in jobs:
        if not job.cached:
            stopped = stopped or total + job.cost_to_send > budget + _EPS
            if not stopped:
                total += job.cost_to_send
        keep = job.cached or not stopped
        out.append(job if keep else replace(job, within_budget=False))
    return out


def _estimate(jobs: list[_Job], budget: float | None, rate_limit: int, is_local: bool,
              ) -> CostEstimate:
    by_model: dict[str, dict[str, float]] = {}
    for job in jobs:
        row = by_model.setdefault(job.model or "server default", {"jobs": 0, "usd": 0.0})
        row["jobs"] += 1
        row["usd"] = round(row["usd"] + (job.estimated_cost or 0.0), 6)
    sending = [j for j in jobs if not j.cached and j.within_budget]
    return CostEstimate(
        jobs=len(jobs),
        cached=sum(j.cached for j in jobs),
        to_send=len(sending),
        over_budget=sum(not j.within_budget for j in jobs),
        unpriced=sum(j.estimated_cost is None for j in jobs),
        total_usd=round(sum(j.estimated_cost or 0.0 for j in jobs), 6),
        to_spend_usd=round(sum(j.cost_to_send for j in sending), 6),
        by_model=by_model,
        budget=budget,
        rate_limit=rate_limit,
        is_local=is_local,
    )


# Pacing: keep request starts under the server's limit.
@dataclass
class _Window:
    seq: int  # the last start the server had seen when it reported this
    remaining: int
    reset: float  # Unix seconds; inf: a window we assume has started, reset not yet known
    after: float = 0.0  # for an assumed window: the reset it follows


class _Pacer:
    """Starts requests no faster than the server allows, learning from ``x-ratelimit-*``.

    What may start now is the server's last word (``remaining`` until ``reset``) minus what was
    started since, and minus what was still unanswered when the reporting request was sent (the
    server may have counted those after it). When a window is over, one request goes first and
    its answer tells the new state: a clock difference with the server or a sliding window then
    costs one request's latency instead of a burst of 429s. Once such a probe has shown that
    windows refill fully, later windows start at full speed (a 429 brings the probing back).
    Without the headers it falls back to a sliding window of ``limit`` starts per minute.
    Thread-safe.
    """

    def __init__(self, limit: int = DEFAULT_REQUESTS_PER_MINUTE, *, window: float = _RATE_WINDOW,
                 margin: float = 0.02, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self.window = window
        self.margin = margin
        self._clock = clock
        self._lock = threading.Lock()
        self._seq = 0
        self._starts: deque[float] = deque()
        # Starts without an answer yet; per start, how many such were out when it was sent (the
        # server may have counted them after it, so a report cannot vouch for them).
        self._unanswered: dict[int, int] = {}
        self._info: _Window | None = None
        self._lowest: tuple[float, int] | None = None  # (reset, lowest remaining reported)
        self._probe: int | None = None
        self._refills = False  # a probe saw a window refill completely
        self._headers: bool | None = None  # None: not known yet whether the server sends them
        self._hold_until = 0.0
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def try_start(self, now: float | None = None) -> tuple[int | None, float | None]:
        """``(seq, None)`` when a request may start now, else ``(None, seconds or None)`` to wait
        (None: until a response arrives)."""
        now = self._clock() if now is None else now
        with self._lock:
            while self._starts and self._starts[0] <= now - self.window:
                self._starts.popleft()
            if now < self._hold_until:
                return None, self._hold_until - now
            if self._headers is False:
                if len(self._starts) >= self.limit:
                    return None, self._starts[0] + self.window + self.margin - now
                return self._start(now), None
            info = self._info
            if info is not None and self._refills and now >= info.reset + self.margin:
                info = self._info = _Window(
                    self._seq, self.limit - len(self._unanswered), math.inf, after=info.reset
                )
            if info is None or now >= info.reset + self.margin:
                if self._probe is not None:
                    return None, None
                self._probe = self._start(now)
                return self._probe, None
            if info.remaining - (self._seq - info.seq) > 0:
                return self._start(now), None
            return None, (info.reset + self.margin - now) if info.reset < math.inf else None

    def _start(self, now: float) -> int:
        self._seq += 1
        self._starts.append(now)
        self._unanswered[self._seq] = len(self._unanswered)
        return self._seq

    def note_retry(self, delay: float) -> int:
        """The client retries a request after ``delay`` s: count it as one more start."""
        with self._lock:
            return self._start(self._clock() + delay)

    def observe(self, seq: int | None, headers: Mapping[str, str] | None, *,
                error: BaseException | None = None) -> None:
        """Learn from the answer to start ``seq`` (``headers`` None: no answer came back)."""
        remaining = _as_number(headers, H_RATELIMIT_REMAINING)
        reset = _as_number(headers, H_RATELIMIT_RESET)
        limit = _as_number(headers, H_RATELIMIT_LIMIT)
        with self._lock:
            probe = seq is not None and seq == self._probe
            if probe:
                self._probe = None
            unsure = self._unanswered.pop(seq, 0) if seq is not None else 0
            if isinstance(error, RateLimitError):
                self._refills = False
                if error.retry_after:
                    self._hold_until = max(self._hold_until, self._clock() + error.retry_after)
            if seq is not None and remaining is not None and reset is not None:
                self._headers = True
                if limit:
                    self.limit = int(limit)
                if self._learn(_Window(seq, int(remaining) - unsure, reset)) and probe:
                    # The first request of a new window: did the window refill completely?
                    self._refills = error is None and int(remaining) == self.limit - 1
                self._learn_lowest(int(remaining), reset)
            elif headers is not None and error is None and self._headers is None:
                self._headers = False  # a success without rate-limit headers: use the fallback
            self._wake()

    def _learn_lowest(self, remaining: int, reset: float) -> None:
        """A tighter, still safe, state: the lowest ``remaining`` a window reported came from
        the last start the server counted, so it includes every answered start (each was
        counted no later); only starts still unanswered may be missing from it. Without this,
        a burst sent at once would keep its send-time doubts for the whole window."""
        lowest = self._lowest
        if lowest is None or abs(lowest[0] - reset) > 1e-6:
            lowest = (reset, remaining)
        self._lowest = lowest = (reset, min(lowest[1], remaining))
        info = self._info
        if info is None or abs(info.reset - reset) > 1e-6:
            return
        sure = lowest[1] - len(self._unanswered)
        if sure + self._seq > info.remaining + info.seq:
            self._info = _Window(self._seq, sure, reset)

    def _learn(self, new: _Window) -> bool:
        """Keep the most telling report; True when ``new`` starts a later window."""
        old = self._info
        if old is None:
            self._info = new
            return True
        if old.reset == math.inf:  # assumed window: only a report of a later one replaces it
            if new.reset > old.after + 1e-6:
                self._info = new
            return False
        if new.reset > old.reset + 1e-6:
            self._info = new
            return True
        # Same window: keep whichever leaves fewer starts (answers arrive out of order).
        if abs(new.reset - old.reset) <= 1e-6 and (
            new.remaining + new.seq < old.remaining + old.seq
        ):
            self._info = new
        return False

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for loop, event in waiters:
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)

    async def acquire(self) -> int:
        """Wait until a request may start; returns its sequence number for ``observe``."""
        loop = asyncio.get_running_loop()
        while True:
            seq, wait = self.try_start()
            if seq is not None:
                return seq
            event = asyncio.Event()
            with self._lock:
                self._waiters.append((loop, event))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=wait)


def _as_number(headers: Mapping[str, str] | None, name: str) -> float | None:
    value = (headers or {}).get(name)
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


_PACERS: dict[str, _Pacer] = {}
_PACERS_LOCK = threading.Lock()


def _pacer_for(client: Any, rate_limit: int) -> _Pacer:
    """One pacer per server (base URL) and process: reruns remember what the server said."""
    with _PACERS_LOCK:
        pacer = _PACERS.get(client.base_url)
        if pacer is None:
            pacer = _PACERS[client.base_url] = _Pacer(rate_limit)
        return pacer


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
        return client._find_model(infos or [], model)

    return find


def _needs_models(models: Any) -> bool:
    return any(isinstance(m, str) for m in _model_list(models))


def _open_client(client: Any, store: Any, asynchronous: bool) -> tuple[Any, bool]:
    """The client to use and whether we made it (and must close it)."""
    if client is not None:
        if store is not None:
            raise ValidationError(
                "both client= and store= given",
                action="pass store= to the client instead: Client(store=...)",
            )
        return client, False
    from ._client import AsyncClient, Client

    cls = AsyncClient if asynchronous else Client
    return cls(store=store), True


def _priced(jobs: list[_Job], client: Any, budget: float | None) -> CostEstimate:
    pacer = _PACERS.get(client.base_url)
    rate = pacer.limit if pacer is not None else DEFAULT_REQUESTS_PER_MINUTE
    return _estimate(jobs, budget, rate, client.is_local)


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

    Checks every job as ``experiment`` would, so a bad input fails here, for free. Only the
    model list is fetched (``GET /models``, once per client). With an ``AsyncClient``, await
    ``estimate_experiment_async`` instead.
    """
    if _is_async(client):
        raise ValidationError(
            "estimate_experiment() cannot use an AsyncClient",
            action="await vnb.estimate_experiment_async(...) with it, or pass a Client",
        )
    client, owned = _open_client(client, store, asynchronous=False)
    try:
        infos = client.models("inpaint") if _needs_models(models) else None
        jobs = _plan(images, prompts, models, masks, params, _model_finder(client, infos),
                     client.store, budget)
        return _priced(jobs, client, budget)
    finally:
        if owned:
            client.close()


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
    client, owned = _open_client(client, store, asynchronous=True)
    try:
        infos = await _models_async(client) if _needs_models(models) else None
        jobs = _plan(images, prompts, models, masks, params, _model_finder(client, infos),
                     client.store, budget)
        return _priced(jobs, client, budget)
    finally:
        if owned:
            await client.aclose()


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
    try:
        asyncio.get_running_loop()
        in_loop = True
    except RuntimeError:
        in_loop = False
    # In a running loop (Jupyter) the worker thread cannot display into this cell: show it here.
    shown = _Progress(progress, show_now=in_loop)
    kwargs: dict[str, Any] = dict(client=client, budget=budget, store=store,
                                  concurrency=concurrency, rate_limit=rate_limit,
                                  _progress=shown, **params)
    if not in_loop:
        return asyncio.run(experiment_async(images, prompts, models, masks, **kwargs))
    box: dict[str, Any] = {}
    ready = threading.Event()

    async def main() -> ExperimentResults:
        box["loop"], box["task"] = asyncio.get_running_loop(), asyncio.current_task()
        ready.set()
        return await experiment_async(images, prompts, models, masks, **kwargs)

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

    Before anything is sent, every job is validated and priced; ``budget`` (USD at Venice prices)
    stops at the first job whose estimated cost would push the total over it. Jobs the client's
    store (or ``store=``, when no client is given) already holds cost nothing and send nothing;
    a replay-only store that lacks any job raises ``ReplayMissError`` up front. Requests start
    no faster than the server's limit (``rate_limit`` per minute until its ``x-ratelimit-*``
    headers say otherwise), at most ``concurrency`` at a time. A failed job is recorded in the
    results, not raised.
    """
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
        raise ValidationError(f"concurrency={concurrency!r}", action="use an int >= 1")
    shown = _progress if _progress is not None else _Progress(progress)
    client, owned = _open_client(client, store, asynchronous=True)
    try:
        infos = await _models_async(client) if _needs_models(models) else None
        jobs = _plan(images, prompts, models, masks, params, _model_finder(client, infos),
                     client.store, budget)
        pacer = _pacer_for(client, rate_limit)
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
        if owned:
            await client.aclose()


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
        base = dict(index=job.index, image=job.image, mask=job.mask, prompt=job.prompt,
                    model=job.model, estimated_cost=job.estimated_cost)
        async with slots:
            # Asked now, not at planning: a stored answer is free and needs no pacing.
            free = store is not None and (store.mode == "replay" or store.can_answer(job.prepared))
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
