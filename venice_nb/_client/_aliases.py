"""Legacy model ids: Venice's ``GET /models/compatibility_mapping``, read once per base URL and
model type, so that an id Venice still accepts (the pages' ``qwen-edit``) is never refused."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import httpx

from .._constants import MODELS_PATH

COMPATIBILITY_PATH = MODELS_PATH + "/compatibility_mapping"

# (base URL, model type) -> legacy id -> current id. The mapping is public (the endpoint needs
# no key), so one copy serves every client of a base URL, whatever its key.
_cache: dict[tuple[str, str], dict[str, str]] = {}
_lock = threading.Lock()


def parse_mapping(payload: Any) -> dict[str, str]:
    """The ``data`` object of the answer, keeping only string -> string entries."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def _request(base_url: str, headers: dict[str, str], type: str) -> dict[str, Any]:
    return {"url": f"{base_url}{COMPATIBILITY_PATH}", "params": {"type": type}, "headers": headers}


def _keep(base_url: str, type: str, response: httpx.Response | None) -> dict[str, str]:
    """Cache a successful answer; a failed one reads as "no legacy ids" and is asked again
    next time."""
    if response is None or response.status_code != 200:
        return {}
    try:
        mapping = parse_mapping(response.json())
    except ValueError:
        return {}
    with _lock:
        _cache[(base_url, type)] = mapping
    return mapping


def _cached(base_url: str, type: str) -> dict[str, str] | None:
    with _lock:
        return _cache.get((base_url, type))


def mapping(
    http: httpx.Client, base_url: str, headers: dict[str, str], type: str
) -> dict[str, str]:
    """Legacy id -> current id for ``type`` ({} when the server does not say)."""
    cached = _cached(base_url, type)
    if cached is not None:
        return cached
    try:
        response: httpx.Response | None = http.get(**_request(base_url, headers, type))
    except httpx.HTTPError:
        response = None
    return _keep(base_url, type, response)


async def amapping(
    http: httpx.AsyncClient, base_url: str, headers: dict[str, str], type: str
) -> dict[str, str]:
    """``mapping`` for the async client."""
    cached = _cached(base_url, type)
    if cached is not None:
        return cached
    try:
        response: httpx.Response | None = await http.get(**_request(base_url, headers, type))
    except httpx.HTTPError:
        response = None
    return _keep(base_url, type, response)


def is_listed(model: object, listed: Sequence[Any]) -> bool:
    """True when ``model`` needs no mapping: not an id, or an id the model list has."""
    return not isinstance(model, str) or any(m.id == model for m in listed)


def resolve(model: str, legacy: dict[str, str]) -> str:
    """The current id for a legacy ``model`` (any other id unchanged, so typos still get the
    closest-id suggestion from the model list)."""
    return legacy.get(model, model)
