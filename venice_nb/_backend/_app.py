"""What the backend answers to one parsed request, as data: routing and Venice's per-request
pipeline (auth -> block -> rate limit -> validate -> policy -> balance -> latency -> fault ->
render -> charge), with no sockets involved."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .._constants import (
    BACKGROUND_REMOVE_PATH,
    EDIT_PATH,
    H_BALANCE_REMAINING,
    MODELS_PATH,
    MULTI_EDIT_PATH,
    SIWX_HEADER,
    SIWX_LEGACY_HEADER,
    UPSCALE_PATH,
)
from . import _policy, _service, _upscaler
from ._api_error import ApiError, bad_request
from ._catalog import (
    BACKGROUND_REMOVE_USD,
    DEFAULT_LIST_TYPE,
    LIST_TYPES,
    compatibility_mapping,
    inpaint_models,
    served_models,
)
from ._config import BackendConfig
from ._inputs import FetchPolicy
from ._limiters import BackendStats, FailureBlocker, FaultInjector, RateLimiter

API_PREFIX = "/api/v1"
IMAGE_PATHS = (EDIT_PATH, MULTI_EDIT_PATH, BACKGROUND_REMOVE_PATH, UPSCALE_PATH)
COMPATIBILITY_PATH = MODELS_PATH + "/compatibility_mapping"
BALANCE_PATH = "/billing/balance"
RATE_LIMITS_PATH = "/api_keys/rate_limits"
# The methods each endpoint answers; HEAD and OPTIONS come with every GET / POST.
ROUTES: Mapping[str, tuple[str, ...]] = {
    MODELS_PATH: ("GET", "HEAD", "OPTIONS"),
    COMPATIBILITY_PATH: ("GET", "HEAD", "OPTIONS"),
    BALANCE_PATH: ("GET", "HEAD", "OPTIONS"),
    RATE_LIMITS_PATH: ("GET", "HEAD", "OPTIONS"),
    **{path: ("POST", "OPTIONS") for path in IMAGE_PATHS},
}


@dataclass(frozen=True)
class Request:
    """One parsed HTTP request; ``headers`` keys are lower-case."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes
    address: str
    origin: str  # scheme://host:port the server is reached at, for resource URLs
    bind: str  # the address the server listens on: with ``address``, who counts as remote


@dataclass
class Response:
    """What to write back; ``drop`` closes the connection unanswered, ``truncate`` sends half
    of the promised body (injected faults)."""

    status: int
    body: bytes = b""
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    truncate: bool = False
    drop: bool = False


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(status, json.dumps(payload).encode("utf-8"), headers=dict(headers or {}))


def error_response(err: ApiError, headers: Mapping[str, str] | None = None) -> Response:
    return json_response(err.status, err.body(), {**(headers or {}), **err.headers})


def route_of(target: str) -> str | None:
    """The endpoint path below /api/v1 (None when the path is outside the API)."""
    path = urlsplit(target).path.rstrip("/")
    return path[len(API_PREFIX) :] if path.startswith(API_PREFIX + "/") else None


@dataclass
class State:
    """Everything the pipeline remembers between requests."""

    stats: BackendStats = field(default_factory=BackendStats)
    limiter: RateLimiter = field(default_factory=RateLimiter)
    blocker: FailureBlocker = field(default_factory=FailureBlocker)
    faults: FaultInjector = field(default_factory=FaultInjector)
    ledger: _policy.Ledger = field(default_factory=_policy.Ledger)
    stopping: threading.Event = field(default_factory=threading.Event)


def answer(request: Request, config: BackendConfig, state: State) -> Response:
    """The backend's whole behaviour for one request."""
    state.stats.add(requests=1)
    route = route_of(request.target)
    allowed = ROUTES.get(route or "")
    if route is None or allowed is None:
        shown = urlsplit(request.target).path
        return error_response(ApiError(404, "NOT_FOUND", f"No such endpoint: {shown}"))
    if request.method not in allowed:
        err = ApiError(
            405,
            "METHOD_NOT_ALLOWED",
            f"Use {' or '.join(m for m in allowed if m != 'OPTIONS')} for {API_PREFIX}{route}.",
        )
        return error_response(err, {"Allow": ", ".join(allowed)})
    if request.method == "OPTIONS":
        return Response(204, content_type=None, headers={"Allow": ", ".join(allowed)})
    if route in (MODELS_PATH, COMPATIBILITY_PATH):
        return _models(request, route, config)
    if route in (BALANCE_PATH, RATE_LIMITS_PATH):
        return _account(request, route, config)
    return _image(request, route, config, state)


def _models(request: Request, route: str, config: BackendConfig) -> Response:
    query = parse_qs(urlsplit(request.target).query, keep_blank_values=True)
    list_type = query.get("type", [DEFAULT_LIST_TYPE])[0]
    if list_type not in LIST_TYPES:
        err = bad_request(
            f"unknown model type {list_type!r}; use one of " + ", ".join(LIST_TYPES),
            field="type",
        )
        return error_response(err)
    data: Any = (
        compatibility_mapping(list_type)
        if route == COMPATIBILITY_PATH
        else served_models(list_type, config.deprecated_models)
    )
    return json_response(200, {"object": "list", "type": list_type, "data": data})


def _caller(request: Request, config: BackendConfig) -> _policy.Caller:
    wallet = request.headers.get(SIWX_HEADER.lower()) or request.headers.get(
        SIWX_LEGACY_HEADER.lower()
    )
    return _policy.authenticate(
        request.headers.get("authorization"), wallet, request.address, config
    )


def _account(request: Request, route: str, config: BackendConfig) -> Response:
    """The caller's balance or stated limits (what an experiment needs before a large run)."""
    try:
        if _caller(request, config).kind == "none":  # Venice's account endpoints need a key
            raise _policy.credentials_required()
    except ApiError as err:
        return error_response(err)
    if route == BALANCE_PATH:
        return json_response(200, _policy.balance_body(config))
    models = [*inpaint_models(), _upscaler.UPSCALE_MODEL_ID]
    return json_response(200, _policy.rate_limits_body(config, models, config.clock()))


def _image(request: Request, route: str, config: BackendConfig, state: State) -> Response:
    now = config.clock()
    caller = _policy.anonymous(request.address)
    rate = state.limiter.peek(caller.key, config.rate_limit, config.rate_window, now)
    try:
        caller = _caller(request, config)
        rate = state.limiter.peek(caller.key, config.rate_limit, config.rate_window, now)
        rate = _policy.admit(caller, config, state.limiter, state.blocker, now)
        response = _run(request, route, config, state, caller, now)
    except ApiError as err:
        if err.counts_as_failure:
            state.blocker.record_failure(caller.key, config.clock(), config.failure_block)
        return error_response(err, _policy.rate_headers(rate))
    response.headers.update(_policy.rate_headers(rate))
    return response


def _run(
    request: Request,
    route: str,
    config: BackendConfig,
    state: State,
    caller: _policy.Caller,
    now: float,
) -> Response:
    """Validate, check policy and balance, simulate latency and faults, render, charge."""
    content_type = request.headers.get("content-type")
    fetch = FetchPolicy(request.bind, request.address, config.allow_remote_fetch)
    render: Callable[[], _service.Rendered]
    if route == UPSCALE_PATH:
        upscale = _upscaler.upscale_job(content_type, request.body)
        price = upscale.price_usd
        render = partial(_upscale_rendered, upscale)
    elif route == BACKGROUND_REMOVE_PATH:
        image = _service.prepare_background_remove(content_type, request.body, fetch)
        price = BACKGROUND_REMOVE_USD
        render = partial(_service.render_background_remove, image)
    else:
        job, images = _service.prepare_edit(
            content_type, request.body, multi=route == MULTI_EDIT_PATH, fetch=fetch
        )
        violation = _service.policy_violation(job, config.content_policy_words)
        price = job.price_usd
        render = partial(
            _service.render_edit,
            job,
            images,
            violation=violation,
            deprecated=config.deprecated_models,
            realism=config.realism,
        )
    resource = f"{request.origin}{API_PREFIX}{route}"
    _policy.check_balance(config.balance_usd, price, caller, resource, now)
    if config.latency > 0:
        state.stopping.wait(config.latency)
    fault = state.faults.draw(config.faults)
    if fault == "drop":
        return Response(0, drop=True)
    error = _policy.fault_error(fault, config.faults)
    if error is not None:
        raise error
    rendered = render()
    if not state.ledger.charge(config, price, state.stats):
        # Another request spent the balance meanwhile: the 402 it now deserves.
        _policy.check_balance(config.balance_usd, price, caller, resource, now)
    headers = dict(rendered.headers)
    if caller.kind == "wallet" and config.balance_usd is not None:
        headers[H_BALANCE_REMAINING] = f"{config.balance_usd:.6f}"
    return Response(
        200, rendered.body, rendered.content_type, headers, truncate=fault == "truncate"
    )


def _upscale_rendered(job: _upscaler.UpscaleJob) -> _service.Rendered:
    body, content_type = _upscaler.render_upscale(job)
    return _service.Rendered(body, content_type)
