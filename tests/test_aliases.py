"""Legacy model ids end to end: the backend serves ``/models/compatibility_mapping`` (checked
against the spec's response schema) and answers legacy ids with Venice's deprecation headers;
the client resolves ids through the mapping, fetched once, and still suggests the closest id
for a typo."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpx
import jsonschema
import pytest

import venice_nb as vnb
from venice_nb._backend import LocalBackend
from venice_nb._client._aliases import COMPATIBILITY_PATH, parse_mapping
from venice_nb._constants import (
    H_DEPRECATED,
    H_DEPRECATED_REPLACEMENT,
    H_DEPRECATION_WARNING,
    H_MODEL_ID,
)

from ._spec import SPEC_PATH, load_spec
from .conftest import TEST_KEY, png_bytes

needs_spec = pytest.mark.skipif(not SPEC_PATH.exists(), reason="needs the spec file")


def _response_schema(path: str) -> dict[str, Any]:
    spec = load_spec()
    schema = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    return {**schema["schema"], "components": spec["components"]}


@needs_spec
@pytest.mark.parametrize(("type_", "expected"), [
    ("inpaint", {"qwen-edit": "qwen-image-2-edit"}), ("text", {}), (None, {}), ("upscale", {}),
])  # fmt: skip
def test_backend_serves_the_mapping_in_the_spec_shape(
    backend: LocalBackend, type_: str | None, expected: dict[str, str]
) -> None:
    params = {"type": type_} if type_ else {}
    resp = httpx.get(f"{backend.url}{COMPATIBILITY_PATH}", params=params, trust_env=False)
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
    body = resp.json()
    jsonschema.validate(body, _response_schema("/models/compatibility_mapping"))
    assert body["data"] == expected and body["type"] == (type_ or "text")


def test_mapping_rejects_unknown_types(backend: LocalBackend) -> None:
    resp = httpx.get(f"{backend.url}{COMPATIBILITY_PATH}?type=paint", trust_env=False)
    assert resp.status_code == 400 and "type" in resp.json()["details"]


@pytest.mark.parametrize("path", ["/image/edit", "/image/multi-edit"])
def test_legacy_id_is_served_with_deprecation_headers(backend: LocalBackend, path: str) -> None:
    image = base64.b64encode(png_bytes()).decode()
    body = (
        {"model": "qwen-edit", "prompt": "invert", "image": image}
        if path == "/image/edit"
        else {"modelId": "qwen-edit", "prompt": "invert", "images": [image]}
    )
    resp = httpx.post(f"{backend.url}{path}", json=body, trust_env=False, timeout=60)
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/png"
    assert resp.headers[H_MODEL_ID] == "qwen-image-2-edit"
    assert resp.headers[H_DEPRECATED] == "true"
    assert resp.headers[H_DEPRECATED_REPLACEMENT] == "qwen-image-2-edit"
    assert "qwen-edit" in resp.headers[H_DEPRECATION_WARNING]
    current = dict(body, **({"model": "qwen-image-2-edit"} if "model" in body
                            else {"modelId": "qwen-image-2-edit"}))  # fmt: skip
    same = httpx.post(f"{backend.url}{path}", json=current, trust_env=False, timeout=60)
    assert H_DEPRECATED not in same.headers and same.content == resp.content


def _counting_client(backend: LocalBackend, seen: list[str]) -> vnb.Client:
    def record(request: httpx.Request) -> None:
        seen.append(request.url.path)

    http = httpx.Client(timeout=60, event_hooks={"request": [record]})
    return vnb.Client(TEST_KEY, base_url=backend.url, http_client=http)


def test_client_resolves_legacy_ids_through_the_mapping_once(backend: LocalBackend) -> None:
    seen: list[str] = []
    with _counting_client(backend, seen) as client:
        first = client.edit(png_bytes(), "invert", model="qwen-edit")
        second = client.edit(png_bytes(color=(9, 9, 9)), "invert", model="qwen-edit")
    assert first.model_id == second.model_id == "qwen-image-2-edit"
    assert seen.count("/api/v1" + COMPATIBILITY_PATH) == 1
    assert first.estimated_cost == 0.05  # the current model's price


def test_known_ids_never_fetch_the_mapping(backend: LocalBackend) -> None:
    seen: list[str] = []
    with _counting_client(backend, seen) as client:
        client.edit(png_bytes(), "invert", model="firered-image-edit")
    assert "/api/v1" + COMPATIBILITY_PATH not in seen


def test_typos_are_still_refused_with_the_closest_id(backend: LocalBackend) -> None:
    seen: list[str] = []
    with _counting_client(backend, seen) as client, pytest.raises(vnb.ValidationError) as info:
        client.edit(png_bytes(), "invert", model="qwen-image-2-edt")
    assert "qwen-image-2-edit" in str(info.value.action)
    assert not [p for p in seen if p.endswith("/image/edit")]  # nothing was sent


def test_async_client_resolves_legacy_ids(backend: LocalBackend) -> None:
    async def go() -> vnb.EditResult:
        async with vnb.AsyncClient(TEST_KEY, base_url=backend.url) as client:
            return await client.edit(png_bytes(), "invert", model="qwen-edit")

    assert asyncio.run(go()).model_id == "qwen-image-2-edit"


def test_parse_mapping_keeps_only_string_pairs() -> None:
    payload = {"data": {"a": "b", "c": 1, "d": None}, "object": "list"}
    assert parse_mapping(payload) == {"a": "b"}
    assert parse_mapping({"data": []}) == parse_mapping("x") == {}
