"""Check requests against the OpenAPI spec: the contract the client must keep.

The spec files the tests read are kept in ``tests/spec/`` (copies of ``../shared/venice/``,
checked to match it by ``test_spec_copy.py``), so a clone of the repository alone runs them.

The spec is loaded with a YAML loader that keeps ``16:9`` a string (YAML 1.1 would read it as
the base-60 integer 969). The checking transport wraps httpx's real HTTP transport: requests go
to the local backend over loopback as usual, and each one is validated on the way out.
"""

from __future__ import annotations

import json
import re
from email.parser import BytesParser
from email.policy import HTTP
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import yaml

SPEC_DIR = Path(__file__).resolve().parent / "spec"
SPEC_PATH = SPEC_DIR / "openapi.yaml"
SNAPSHOT_PATH = SPEC_DIR / "models-snapshot.json"
# Where the copies come from, when this checkout sits next to it.
SHARED_DIR = Path(__file__).resolve().parents[2] / "shared" / "venice"
API_PREFIX = "/api/v1"


class _SpecLoader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's sexagesimal ints/floats (``16:9`` -> 969)."""


_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_SpecLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_SpecLoader.add_implicit_resolver(
    _INT, re.compile(r"^[-+]?(0|[1-9][0-9_]*)$"), list("-+0123456789")
)
_SpecLoader.add_implicit_resolver(
    _FLOAT,
    re.compile(r"^[-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+]?[0-9]+)?$|^[-+]?\.(inf|Inf|INF)$"),
    list("-+0123456789."),
)


def venice_price(model_id: str, *path: str) -> float:
    """USD from Venice's public model snapshot, not from the package's own copy of it."""
    node = {m["id"]: m for m in json.loads(SNAPSHOT_PATH.read_text())["data"]}[model_id]
    for key in ("model_spec", "pricing", *path):
        node = node[key]
    return float(node["usd"])


@cache
def load_spec() -> dict[str, Any]:
    with SPEC_PATH.open(encoding="utf-8") as fh:
        spec: dict[str, Any] = yaml.load(fh, Loader=_SpecLoader)
    return spec


def _deref(node: Any, spec: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = spec
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return _deref(target, spec)
        return {k: _deref(v, spec) for k, v in node.items()}
    if isinstance(node, list):
        return [_deref(v, spec) for v in node]
    return node


def request_schema(path: str, content_type: str) -> dict[str, Any]:
    spec = load_spec()
    body = spec["paths"][path]["post"]["requestBody"]["content"][content_type]["schema"]
    schema: dict[str, Any] = _deref(body, spec)
    return schema


def _properties(schema: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = dict(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        props.update(_properties(part))
    return props


def _coerce_form(fields: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Form values arrive as text; read them as the schema's types, as a server would."""
    props = _properties(schema)
    out: dict[str, Any] = {}
    for key, value in fields.items():
        kind = props.get(key, {}).get("type")
        if kind == "boolean" and value in ("true", "false"):
            value = value == "true"
        elif kind in ("number", "integer"):
            value = float(value) if kind == "number" else int(value)
        out[key] = value
    return out


def parse_multipart(request: httpx.Request) -> tuple[dict[str, str], list[tuple[str, bytes, str]]]:
    """(text fields, [(field name, bytes, content type)]) of a multipart request."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.content)
    fields: dict[str, str] = {}
    files: list[tuple[str, bytes, str]] = []
    for part in message.iter_parts():
        name = str(part.get_param("name", header="content-disposition"))
        payload = part.get_payload(decode=True) or b""
        assert isinstance(payload, bytes)
        if part.get_filename() is not None:
            files.append((name, payload, part.get_content_type()))
        else:
            fields[name] = payload.decode()
    return fields, files


def check_request(request: httpx.Request) -> list[str]:
    """Everything about this request that the spec forbids (empty list: conforms)."""
    problems: list[str] = []
    path = request.url.path
    if not path.startswith(API_PREFIX):
        return [f"path {path} is not under {API_PREFIX}"]
    path = path[len(API_PREFIX) :]
    spec = load_spec()
    if path not in spec["paths"]:
        return [f"{path} is not in the spec"]
    method = request.method.lower()
    if method not in spec["paths"][path]:
        return [f"{request.method} {path} is not in the spec"]
    if method == "get":
        for param in spec["paths"][path][method].get("parameters", []):
            value = request.url.params.get(param["name"])
            if value is not None:
                validator = jsonschema.Draft4Validator(_deref(param["schema"], spec))
                problems += [
                    f"query {param['name']}: {e.message}" for e in validator.iter_errors(value)
                ]
        return problems
    auth = request.headers.get("authorization")
    if auth is not None and not re.fullmatch(r"Bearer \S+", auth):
        problems.append("Authorization is not 'Bearer <key>'")
    ctype = request.headers.get("content-type", "").split(";")[0].strip()
    if ctype == "application/json":
        body = json.loads(request.content)
    elif ctype == "multipart/form-data":
        fields, files = parse_multipart(request)
        body = dict(fields)
        for name, _data, _type in files:
            if name == "images":
                body.setdefault("images", []).append("<binary>")
            else:
                body[name] = "<binary>"
    else:
        return [f"content type {ctype!r} is not one the spec accepts"]
    schema = request_schema(path, ctype)
    if ctype == "multipart/form-data":
        body = _coerce_form(body, schema)
    validator = jsonschema.Draft4Validator(schema)
    problems += [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(body)]
    return problems


class SpecCheckingTransport(httpx.HTTPTransport):
    """The real HTTP transport, validating every request it carries against the spec."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[httpx.Request] = []
        self.problems: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        self.problems += [
            f"{request.method} {request.url.path}: {p}" for p in check_request(request)
        ]
        return super().handle_request(request)

    @property
    def posts(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == "POST"]


class AsyncSpecCheckingTransport(httpx.AsyncHTTPTransport):
    """Async twin of SpecCheckingTransport."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[httpx.Request] = []
        self.problems: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        self.problems += [
            f"{request.method} {request.url.path}: {p}" for p in check_request(request)
        ]
        return await super().handle_async_request(request)

    @property
    def posts(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == "POST"]
