"""Planning an experiment: every job prepared, checked and priced before anything is sent.

Pure: no requests. The store is only asked which jobs it can already answer (they cost nothing).
"""

from __future__ import annotations

import itertools
import math
import os
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from .. import _arguments as guards
from .. import _money
from .._client import _region_edit, _request
from .._exceptions import ReplayMissError, ValidationError
from .._html import NO_MATHS, escape
from .._images import load_image
from .._params import EDIT_OPTIONS
from .._region import DEFAULT_CONTEXT

if TYPE_CHECKING:
    from .._client._request import PreparedRequest
    from .._models import ModelInfo
    from .._store._store import ResultStore
    from .._types import ExperimentImages, ExperimentMasks, ImageInput, ModelsInput

__all__ = ["EPS", "RESERVED", "CostEstimate", "Job", "cost_estimate", "model_list", "plan_jobs"]

EPS = 1e-9  # float slack when adding prices up against a budget


@dataclass(frozen=True)
class Job:
    """One cell of the grid, prepared (checked and fingerprinted) but not sent."""

    index: int
    image: str
    mask: str | None
    prompt: str
    model: str | None
    prepared: PreparedRequest
    cached: bool  # the client's store will answer it: no request, no cost
    within_budget: bool = True
    variables: Mapping[str, str] = field(default_factory=dict)  # the prompt's template values
    template: str | None = None  # the prompt before its variables were filled in
    repeat: int = 0
    # A region edit (the default for a job with one mask): the crop request is ``prepared``;
    # this puts its answer back into the full-resolution image.
    region: _region_edit.RegionJob | None = field(default=None, repr=False)

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
    backend nothing is charged: the figures (and budgets) are what Venice would charge, so a
    run tried out locally behaves the same against Venice.

    Attributes:
        jobs: Jobs in the grid.
        cached: Jobs the store will answer (free).
        to_send: Requests that will be sent.
        over_budget: Jobs past the budget (not sent).
        unpriced: Jobs whose model has no price.
        total_usd: All jobs at Venice prices, store or not.
        to_spend_usd: The requests to send, at Venice prices.
        by_model: Jobs and USD per model.
        budget: The budget given (None: none).
        rate_limit: Requests per minute assumed.
        is_local: The local backend will answer: nothing is charged.
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
            # money the one way (_money): at Venice, and here (nothing on the local backend)
            f"to send: {_money.cost(self.to_spend_usd, 0 if self.is_local else self.to_spend_usd)}"
            f" ({_money.usd(self.total_usd)} at Venice for all jobs without the store)"
            + (f", budget {_money.usd(self.budget)} at Venice" if self.budget is not None else ""),
        ]
        for model, row in self.by_model.items():
            lines.append(f"  {model}: {int(row['jobs'])} jobs, {_money.usd(row['usd'])} at Venice")
        if self.to_send > self.rate_limit:
            lines.append(
                f"at {self.rate_limit} requests/minute this takes at least "
                f"{self.minimum_minutes:.0f} min"
            )
        if self.is_local:
            lines.append("local backend: nothing is charged here")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head, *rest = str(self).splitlines()
        body = "".join(f"<li>{escape(line.strip())}</li>" for line in rest)
        return f"<div class='{NO_MATHS}'><b>{escape(head)}</b><ul>{body}</ul></div>"


def _labelled(
    values: object, kind: str, *, allow_none: bool = False
) -> list[tuple[str | None, object]]:
    """``[(label, value)]`` from one value, a sequence or a ``{label: value}`` mapping."""
    items: list[tuple[str | None, object]]
    if isinstance(values, Mapping):
        items = [(str(k), v) for k, v in values.items()]
    elif isinstance(values, (list, tuple)):
        items = [(_auto_label(v, kind, i), v) for i, v in enumerate(values)]
    else:
        items = [(_auto_label(values, kind, 0), values)]
    if not items:
        raise ValidationError(f"no {kind}s given", action=f"pass at least one {kind}", field=kind)
    seen: dict[str | None, int] = {}
    out: list[tuple[str | None, object]] = []
    for label, value in items:
        if value is None and not allow_none:
            raise ValidationError(f"a {kind} is None", action=f"remove it from the {kind}s")
        seen[label] = seen.get(label, 0) + 1
        out.append((label if seen[label] == 1 else f"{label}#{seen[label]}", value))
    return out


def _auto_label(value: object, kind: str, index: int) -> str | None:
    if value is None:
        return None
    if isinstance(value, os.PathLike) or (
        isinstance(value, str) and not value.startswith("data:") and len(value) < 4096
    ):
        name = Path(str(value).split("?")[0].rstrip("/")).stem
        if name:
            return name
    return f"{kind}{index + 1}"


def model_list(models: ModelsInput) -> list[str | ModelInfo | None]:
    from .._models import ModelInfo

    if models is None or isinstance(models, (str, ModelInfo)):
        return [models]
    listed = list(models)
    if not listed:
        raise ValidationError("no models given", action="pass model ids, or None for the default")
    return listed


def _prompt_list(prompts: str | Iterable[str]) -> list[str]:
    items = [prompts] if isinstance(prompts, str) else list(prompts)
    if not items:
        raise ValidationError("no prompts given", action="pass a prompt or a list of prompts")
    return items


# Names the records already use: a variable of the same name would hide a column.
RESERVED = frozenset({
    "index", "image", "mask", "prompt", "model", "status", "estimated_cost", "spent_usd",
    "elapsed", "model_id", "model_name", "width", "height", "is_local", "fingerprint",
    "stored_path", "error_type", "error", "repeat", "picked", "rating", "note",
    "changed_inside_mask", "changed_outside_mask", "template", "spill",
})


def _prompt_items(prompts: str | Iterable[str], variables: Mapping[str, Iterable[str]] | None,
                  ) -> list[tuple[str, dict[str, str], str | None]]:
    """``[(prompt, {variable: value}, template)]``: each template filled with every combination
    of values.

    Without ``variables`` the prompts are used as written (braces and all).
    """
    templates = _prompt_list(prompts)
    if variables is None:
        return [(p, {}, None) for p in templates]
    if not isinstance(variables, Mapping) or not variables:
        raise ValidationError(
            f"variables={variables!r}", field="variables",
            action='pass a dict of lists, e.g. variables={"color": ["red", "blue"]}')
    values: dict[str, list[str]] = {}
    for name, options in variables.items():
        if not isinstance(name, str) or not name.isidentifier() or name in RESERVED:
            raise ValidationError(
                f"variables: {name!r} cannot name a variable", field="variables",
                action="use a Python identifier that is not a record column "
                f"({', '.join(sorted(RESERVED))})",
            )
        items = [options] if isinstance(options, str) else list(options)
        if not items or not all(isinstance(v, (str, int, float)) for v in items):
            raise ValidationError(f"variables[{name!r}]={options!r}", field="variables",
                                  action="give each variable a non-empty list of words or numbers")
        values[name] = [str(v) for v in items]
    out: list[tuple[str, dict[str, str], str | None]] = []
    used: set[str] = set()
    for template in templates:
        if not isinstance(template, str):
            continue  # _request names the bad prompt with its own error
        try:
            names = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
        except ValueError as exc:
            raise ValidationError(f"prompt template {template[:60]!r}: {exc}", field="prompts",
                                  action="write literal braces as {{ and }}") from None
        unknown = sorted(n for n in names if n not in values)
        if unknown:
            raise ValidationError(
                f"prompt template {template[:60]!r} uses {', '.join(unknown)}, not in variables",
                field="prompts", action=f"add {unknown[0]!r} to variables=, or use {{{{ }}}} "
                "for literal braces")
        mine = [n for n in values if n in names]
        used.update(mine)
        for combo in itertools.product(*(values[n] for n in mine)):
            chosen = dict(zip(mine, combo, strict=True))
            out.append((template.format(**chosen), chosen, template))
    unused = [n for n in values if n not in used]
    if unused:
        raise ValidationError(
            f"variables {', '.join(unused)} appear in no prompt", field="variables",
            action=f"write {{{unused[0]}}} into a prompt, or drop it from variables")
    return out


def _check_params(params: Mapping[str, object], masks: list[tuple[str | None, object]],
                  region: bool = False) -> None:
    unknown = sorted(set(params) - set(EDIT_OPTIONS))
    if unknown:
        raise ValidationError(
            f"unknown experiment parameter(s): {', '.join(unknown)}",
            action=f"use any of {', '.join(EDIT_OPTIONS)}",
        )
    if region and params.get("aspect_ratio") is not None and any(
            mask is not None and not isinstance(mask, (list, tuple)) for _, mask in masks):
        raise ValidationError(
            "aspect_ratio= does not apply to region edits: the crop's shape is chosen for the "
            "model, and the result keeps the photo's",
            action="leave aspect_ratio out, or pass region=False for whole-image sends",
            field="aspect_ratio",
        )
    if params.get("quality") is not None and any(mask is None for _, mask in masks):
        raise ValidationError(
            "quality= applies to multi-edit only, and some jobs have no mask (/image/edit)",
            action="pass masks= for every job, or leave quality out",
            field="quality",
        )


# An input as sent: a URL or encoded bytes (one image), a tuple of them (layers), or None.
Wire = str | bytes


def _normalised(
    items: list[tuple[str | None, object]], fit: bool
) -> list[tuple[str | None, Wire | tuple[Wire, ...] | None]]:
    """Load each input once (not once per job); the bytes give the same digest as the input.

    A list or tuple value is a set of layers (e.g. a mask and a reference image): a tuple out.
    """

    def load(value: object) -> Wire:
        # whatever the user passed: load_image refuses what is not an image
        payload = load_image(cast("ImageInput", value), fit=fit)
        if payload.url is not None:
            return payload.url
        assert payload.data is not None  # a payload is a URL or bytes
        return payload.data

    out: list[tuple[str | None, Wire | tuple[Wire, ...] | None]] = []
    for label, value in items:
        if isinstance(value, (list, tuple)):
            out.append((label, tuple(load(v) for v in value)))
        else:
            out.append((label, None if value is None else load(value)))
    return out


def plan_jobs(
    images: ExperimentImages,
    prompts: str | Iterable[str],
    models: list[ModelInfo | None],
    masks: ExperimentMasks,
    params: Mapping[str, Any],  # the edit options, forwarded as keywords
    store: ResultStore | None,
    budget: float | None,
    *,
    is_local: bool,
    variables: Mapping[str, Iterable[str]] | None = None,
    repeats: int = 1,
    region: bool = True,
) -> list[Job]:
    """Every job prepared and validated (all problems at once), with budget and store marks.

    ``models``: resolved by the client (None: the server's default).
    ``is_local``: the backend the client talks to; only its own stored answers are free.
    ``variables`` fill the prompt templates; ``repeats`` runs each job that many times, each a
    request of its own (repeat 0 is the plain request, so an earlier single run counts).
    ``region``: a job with one mask is a region edit (``Client.edit_region``: the crop is sent,
    the rest of the photo kept); False sends the whole image with the mask as a layer.
    """
    repeats = guards.count(repeats, "repeats")
    if budget is not None:
        budget = guards.non_negative(budget, "budget")
    mask_labels = _labelled([None] if masks is None else masks, "mask", allow_none=True)
    _check_params(params, mask_labels, region)
    fit = bool(params.get("fit", False))
    image_items = _normalised(_labelled(images, "image"), fit)
    mask_items = _normalised(mask_labels, fit)
    prompt_list = _prompt_items(prompts, variables)
    send_params = {k: v for k, v in params.items() if k != "fit"}
    jobs: list[Job] = []
    problems: list[str] = []
    actions: set[str] = set()
    region_inputs: dict[tuple[int, int], _region_edit.RegionInputs] = {}
    combos = itertools.product(enumerate(image_items), enumerate(mask_items), prompt_list,
                               models)
    for cell, ((i, (img_label, img)), (m, (mask_label, mask)), (prompt, chosen, template),
               info) in enumerate(combos):
        model_id = info.id if info is not None else None
        region_job = None
        try:
            # (an image given as a list of layers reaches load_image, which refuses it)
            image = cast("ImageInput", img)
            if region and mask is not None and not isinstance(mask, tuple):
                if (i, m) not in region_inputs:  # decoded once per image and mask
                    inputs = _region_edit.read_region(image, mask, context=DEFAULT_CONTEXT,
                                                      feather=None)
                    region_inputs[i, m] = replace(inputs, owned=False)  # shared: no pasting in
                options = {k: v for k, v in send_params.items() if k != "aspect_ratio"}
                _request.precheck(prompt, options)
                region_job = _region_edit.prepare_region(region_inputs[i, m], prompt, info,
                                                         options)
                prepared = region_job.prepared
            elif mask is None:
                prepared = _request.prepare_edit(image, prompt, model=info, **send_params)
            else:
                layers = list(mask) if isinstance(mask, tuple) else [mask]
                prepared = _request.prepare_multi_edit([image, *layers], prompt, model=info,
                                                       **send_params)
        except ValidationError as exc:
            where = ", ".join(str(x) for x in (img_label, mask_label, model_id or "default") if x)
            problems.append(f"({where}, {prompt[:40]!r}): {exc.message}")
            actions.add(exc.action)
            continue
        # Repeats go between prompts and models, so the grid keeps a column per model.
        block, column = divmod(cell, len(models))
        for repeat in range(repeats):  # the same request again, told apart in the store only
            this = replace(prepared, repeat=repeat) if repeat else prepared
            cached = store is not None and store._can_answer(this, is_local=is_local)
            index = (block * repeats + repeat) * len(models) + column
            jobs.append(Job(index, str(img_label), mask_label, prompt, model_id, this, cached,
                             variables=chosen, template=template, repeat=repeat,
                             region=None if region_job is None
                             else replace(region_job, prepared=this)))
    jobs.sort(key=lambda job: job.index)
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


def _apply_budget(jobs: list[Job], budget: float | None) -> list[Job]:
    """Stop at the first paid job that would push the total over the budget.

    Jobs run in grid order, so stopping (rather than skipping to cheaper jobs) keeps the
    results a prefix of the grid. A budget that leaves nothing at all to run is a mistake, not
    a plan: it fails here, before anything is sent, naming the price that would do.
    """
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
            stopped = stopped or total + job.cost_to_send > budget + EPS
            if not stopped:
                total += job.cost_to_send
        keep = job.cached or not stopped
        out.append(job if keep else replace(job, within_budget=False))
    if jobs and not any(job.cached or job.within_budget for job in out):
        _budget_too_small(jobs, budget)
    return out


def _budget_too_small(jobs: list[Job], budget: float) -> None:
    first = jobs[0]
    cheapest = min(jobs, key=lambda job: job.cost_to_send)
    also = "" if cheapest.cost_to_send >= first.cost_to_send else (
        f"; the cheapest job costs ${cheapest.cost_to_send:.4f} ({cheapest.model})")
    raise ValidationError(
        f"budget=${budget:.4f} runs none of the {len(jobs)} jobs: the first costs "
        f"${first.cost_to_send:.4f} ({first.model}){also}",
        action=f"raise budget to at least ${first.cost_to_send:.4f}, or drop budget= "
        "(budgets count Venice prices, also on the local backend where nothing is charged)",
        field="budget",
    )


def cost_estimate(jobs: list[Job], budget: float | None, rate_limit: int, is_local: bool,
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
