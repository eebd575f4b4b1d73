"""The local backend's own contract test: real HTTP on loopback with plain httpx.

Each test starts a fresh LocalBackend (port 0), so limits, balances and faults never leak
between tests. Rate windows and blocks are driven by a fake clock, never by sleeping.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import re
import selectors
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import numpy as np
import pytest
from PIL import Image

from venice_nb import sample
from venice_nb._backend import FaultConfig, LocalBackend, shared_backend
from venice_nb._backend._catalog import MODELS_JSON, CatalogModel
from venice_nb._backend._imageops import plan
from venice_nb._constants import (
    LOCAL_NAME_SUFFIX,
    MAX_IMAGE_BYTES,
    MAX_PIXELS,
    MAX_PROMPT_CHARS,
    MIN_PIXELS,
    PAYMENT_REQUIRED_HEADER,
)
from venice_nb._models import ModelInfo

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("build_catalog", ROOT / "scripts/build_catalog.py")
assert _spec is not None and _spec.loader is not None
BUILD = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(BUILD)  # the catalog build script, which lives outside the package
SNAPSHOT = Path(__file__).resolve().parent / "spec" / "models-snapshot.json"
SAMPLES = MODELS_JSON.parent / "samples"
COFFEE = (SAMPLES / "coffee.jpg").read_bytes()  # 600x400 photo
PRODUCT = (SAMPLES / "product.png").read_bytes()


# ----------------------------------------------------------------------------- helpers


class FakeClock:
    """A clock the test moves by hand (Unix seconds)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def http(backend: LocalBackend) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=backend.url, timeout=30, trust_env=False) as client:
        yield client


@pytest.fixture
def clock(backend: LocalBackend) -> FakeClock:
    fake = FakeClock()
    backend.config.clock = fake
    return fake


def encode(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def pixels(data: bytes, mode: str = "RGB") -> np.ndarray:
    return np.asarray(decode(data).convert(mode)).astype(np.int16)


# At the 1K tier's size, so a multi-edit keeps its geometry and pixels compare one to one.
COFFEE_1K = encode(decode(COFFEE).resize((1024, 683)))


def gradient(size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A colourful test image with structure in both directions."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    arr = np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (w + h)], -1)
    arr[(x // 20 + y // 20) % 2 == 0] //= 2
    return Image.fromarray(arr.astype(np.uint8))


def detail(arr: np.ndarray) -> float:
    """Mean horizontal gradient: falls with blur, rises with sharpening."""
    return float(np.abs(np.diff(arr, axis=1)).mean())


def grey(arr: np.ndarray) -> bool:
    return bool((arr[..., 0] == arr[..., 1]).all() and (arr[..., 1] == arr[..., 2]).all())


def edit(http: httpx.Client, **fields: Any) -> httpx.Response:
    fields.setdefault("image", b64(COFFEE))
    fields.setdefault("prompt", "blur")
    return http.post("/image/edit", json=fields)


def multi(http: httpx.Client, images: list[bytes], **fields: Any) -> httpx.Response:
    fields.setdefault("prompt", "make it red")
    return http.post("/image/multi-edit", json={"images": [b64(i) for i in images], **fields})


def assert_error(resp: httpx.Response, status: int, code: str, field: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/json"
    body = resp.json()
    assert body["code"] == code and isinstance(body["error"], str) and body["error"]
    if status == 400:
        assert isinstance(body["details"]["_errors"], list)
        if field is not None:
            assert body["details"][field]["_errors"], body
    else:
        assert "details" not in body
    return body


def form(parts: list[tuple[str, str | None, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body by hand: (name, filename or None for a text field, data)."""
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        kind = "application/octet-stream" if filename else "text/plain"
        out += f"--b0undary\r\nContent-Disposition: {disposition}\r\n".encode()
        out += f"Content-Type: {kind}\r\n\r\n".encode() + data + b"\r\n"
    return out + b"--b0undary--\r\n", "multipart/form-data; boundary=b0undary"


def raw_exchange(url: str, path: str, payload: dict[str, Any]) -> bytes:
    """POST over a bare socket and return every byte the server sends until it closes."""
    parts = urlsplit(url)
    body = json.dumps(payload).encode()
    head = (
        f"POST {parts.path}{path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


# ----------------------------------------------------------------------------- interface


def test_backend_lifecycle_and_url() -> None:
    b = LocalBackend()
    with pytest.raises(RuntimeError, match="not running"):
        _ = b.url
    assert b.start() is b and b.running
    url = b.url
    assert url.startswith("http://127.0.0.1:") and url.endswith("/api/v1")
    assert httpx.get(f"{url}/models?type=all", trust_env=False).status_code == 200
    b.stop()
    b.stop()  # idempotent
    assert not b.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/models?type=all", trust_env=False)


def test_serve_forever_prints_its_url_and_stops_on_ctrl_c() -> None:
    code = "from venice_nb._backend import serve_forever; serve_forever(port=0)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            assert sel.select(timeout=60), "serve_forever printed nothing"
        banner = proc.stdout.readline()
        assert "local backend" in banner
        url = re.search(r"http://127\.0\.0\.1:\d+/api/v1", banner)
        assert url, banner
        models = httpx.get(f"{url[0]}/models?type=inpaint", trust_env=False).json()["data"]
        assert all(m["model_spec"]["name"].endswith(LOCAL_NAME_SUFFIX) for m in models)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()


def test_shared_backend_is_one_running_instance() -> None:
    a, b = shared_backend(), shared_backend()
    assert a is b and a.running
    assert httpx.get(f"{a.url}/models?type=inpaint", trust_env=False).status_code == 200


def test_stats_count_requests_and_statuses(backend: LocalBackend, http: httpx.Client) -> None:
    assert edit(http).status_code == 200
    assert edit(http, foo=1).status_code == 400
    http.get("/models", params={"type": "all"})
    stats = backend.stats
    assert (stats.requests, stats.by_status, stats.completed_ok) == (3, {200: 2, 400: 1}, 2)
    assert stats.charged_usd == pytest.approx(0.04)
    backend.reset_stats()
    assert (backend.stats.requests, backend.stats.by_status) == (0, {})


def test_unknown_path_and_wrong_method(http: httpx.Client) -> None:
    assert_error(http.get("/image/nope"), 404, "NOT_FOUND")
    resp = http.get("/image/edit")
    assert_error(resp, 405, "METHOD_NOT_ALLOWED")
    assert resp.headers["allow"] == "POST, OPTIONS"


# ----------------------------------------------------------------------------- /models


def test_models_match_the_snapshot_with_local_names(http: httpx.Client) -> None:
    snapshot = {m["id"]: m for m in json.loads(SNAPSHOT.read_text())["data"]}
    resp = http.get("/models", params={"type": "all"})
    body = resp.json()
    assert (body["object"], body["type"]) == ("list", "all")
    served = {m["id"]: m for m in body["data"]}
    assert served.keys() == snapshot.keys()
    for model_id, model in served.items():
        spec, snap = model["model_spec"], snapshot[model_id]["model_spec"]
        assert spec["name"] == snap["name"] + LOCAL_NAME_SUFFIX
        assert spec["pricing"] == snap["pricing"] and spec["privacy"] == snap["privacy"]
        assert model["created"] == snapshot[model_id]["created"]
        assert (model["object"], model["owned_by"]) == ("model", "venice.ai")
        assert spec["offline"] is False
        assert spec["description"]


def test_inpaint_constraints_follow_the_pricing(http: httpx.Client) -> None:
    data = http.get("/models", params={"type": "inpaint"}).json()["data"]
    assert data and all(m["type"] == "inpaint" for m in data)
    for model in data:
        c, pricing = model["model_spec"]["constraints"], model["model_spec"]["pricing"]
        assert {"aspectRatios", "promptCharacterLimit", "combineImages"} <= c.keys()
        assert "auto" in c["aspectRatios"]
        assert c.get("resolutions", []) == list(pricing.get("resolutions", {}))
        if "resolutions" in c:
            assert c["defaultResolution"] in c["resolutions"]
        assert set(c.get("qualities", [])) == {q for t in pricing.get("quality", {}).values()
                                               for q in t}  # fmt: skip
        if "qualities" in c:
            assert c["defaultQuality"] in c["qualities"]


def test_models_type_filter(http: httpx.Client) -> None:
    upscale = http.get("/models", params={"type": "upscale"}).json()
    assert [m["id"] for m in upscale["data"]] == ["upscaler"]
    default = http.get("/models").json()
    assert (default["type"], default["data"]) == ("text", [])  # Venice lists text models
    assert_error(http.get("/models", params={"type": "bogus"}), 400, "INVALID_REQUEST", "type")


def test_data_files_are_reproducible() -> None:
    rebuilt = BUILD.dump_models(BUILD.build_models(json.loads(SNAPSHOT.read_text())))
    assert rebuilt == MODELS_JSON.read_text()
    assert (np.asarray(BUILD.draw_product()[0]) == np.asarray(decode(PRODUCT))).all()


@pytest.mark.parametrize("reader", ["client", "backend"])
def test_max_input_images_rule(reader: str) -> None:
    def limit(constraints: dict) -> int:
        entry = {"id": "m", "model_spec": {"name": "M", "constraints": constraints}}
        if reader == "backend":  # the backend keeps its own copy of the rule
            return CatalogModel("m", "M", entry).max_input_images
        return ModelInfo.from_api(entry).max_input_images

    assert limit({"combineImages": True, "maxInputImages": 14}) == 14
    assert limit({"combineImages": True}) == 3
    assert limit({"combineImages": False}) == 1


# ----------------------------------------------------------------------------- validation


LONG_PROMPT = "x" * (MAX_PROMPT_CHARS + 1)
CASES: list[tuple[str, str, dict[str, Any], int, str, str | None]] = [
    # (id, path, JSON body, status, code, field named in details)
    ("unknown-field", "/image/edit", {"image": "", "prompt": "p", "colour": 1}, 400,
     "INVALID_REQUEST", None),
    ("missing-image", "/image/edit", {"prompt": "p"}, 400, "INVALID_REQUEST", "image"),
    ("missing-prompt", "/image/edit", {"image": "AAAA"}, 400, "INVALID_REQUEST", "prompt"),
    ("empty-prompt", "/image/edit", {"image": "AAAA", "prompt": ""}, 400, "INVALID_REQUEST",
     "prompt"),
    ("long-prompt", "/image/edit", {"image": "AAAA", "prompt": LONG_PROMPT}, 400,
     "INVALID_REQUEST", "prompt"),
    ("prompt-type", "/image/edit", {"image": "AAAA", "prompt": 5}, 400, "INVALID_REQUEST",
     "prompt"),
    ("bad-ratio", "/image/edit", {"image": "AAAA", "prompt": "p", "aspect_ratio": "5:4"}, 400,
     "INVALID_REQUEST", "aspect_ratio"),
    ("bad-format", "/image/edit", {"image": "AAAA", "prompt": "p", "output_format": "gif"},
     400, "INVALID_REQUEST", "output_format"),
    ("bool-as-string", "/image/edit", {"image": "AAAA", "prompt": "p", "safe_mode": "true"},
     400, "INVALID_REQUEST", "safe_mode"),
    ("long-resolution", "/image/edit", {"image": "AAAA", "prompt": "p",
     "resolution": "12345678901"}, 400, "INVALID_REQUEST", "resolution"),
    ("quality-on-edit", "/image/edit", {"image": "AAAA", "prompt": "p", "quality": "high"},
     400, "INVALID_REQUEST", None),
    ("unknown-model", "/image/edit", {"image": "AAAA", "prompt": "p", "model": "dall-e"}, 400,
     "INVALID_MODEL", "model"),
    ("unknown-modelId", "/image/edit", {"image": "AAAA", "prompt": "p", "modelId": "x"}, 400,
     "INVALID_MODEL", "modelId"),
    ("upscaler-is-no-edit-model", "/image/edit", {"image": "AAAA", "prompt": "p",
     "model": "upscaler"}, 400, "INVALID_MODEL", "model"),
    ("multi-model-field", "/image/multi-edit", {"images": ["AAAA"], "prompt": "p",
     "model": "firered-image-edit"}, 400, "INVALID_REQUEST", None),
    ("multi-no-images", "/image/multi-edit", {"images": [], "prompt": "p"}, 400,
     "INVALID_REQUEST", "images"),
    ("multi-images-type", "/image/multi-edit", {"images": "AAAA", "prompt": "p"}, 400,
     "INVALID_REQUEST", "images"),
    ("multi-bad-quality", "/image/multi-edit", {"images": ["AAAA"], "prompt": "p",
     "quality": "ultra"}, 400, "INVALID_REQUEST", "quality"),
    ("multi-single-image-model", "/image/multi-edit", {"images": ["AAAA"], "prompt": "p",
     "modelId": "luma-uni-1-edit"}, 400, "INVALID_MODEL", "modelId"),
    ("bg-unknown-field", "/image/background-remove", {"image": "AAAA", "prompt": "p"}, 400,
     "INVALID_REQUEST", None),
    ("bg-both", "/image/background-remove", {"image": "AAAA", "image_url": "http://127.0.0.1/"},
     400, "INVALID_REQUEST", None),
    ("bg-neither", "/image/background-remove", {}, 400, "INVALID_REQUEST", None),
    ("bg-url-in-image", "/image/background-remove", {"image": "https://example.com/a.png"},
     400, "INVALID_REQUEST", "image"),
    ("bg-bad-url", "/image/background-remove", {"image_url": "ftp://x/a.png"}, 400,
     "INVALID_REQUEST", "image_url"),
    ("not-base64", "/image/edit", {"image": "!!not base64!!", "prompt": "p"}, 400,
     "CORRUPTED_IMAGE", "image"),
    ("not-an-image", "/image/edit", {"image": b64(b"hello world, no pixels"), "prompt": "p"},
     400, "CORRUPTED_IMAGE", "image"),
    ("truncated-png", "/image/edit", {"image": b64(encode(gradient())[:3000]), "prompt": "p"},
     400, "CORRUPTED_IMAGE", "image"),
    ("gif", "/image/edit", {"image": b64(encode(gradient(), "GIF")), "prompt": "p"}, 400,
     "CORRUPTED_IMAGE", "image"),
    ("too-small", "/image/edit", {"image": b64(encode(gradient((255, 256)))), "prompt": "p"},
     400, "IMAGE_TOO_SMALL", "image"),
    ("multi-too-small", "/image/multi-edit", {"images": [b64(COFFEE),
     b64(encode(gradient((100, 100))))], "prompt": "p"}, 400, "IMAGE_TOO_SMALL", "images"),
    ("off-machine-url", "/image/edit", {"image": "https://example.com/a.jpg", "prompt": "p"},
     400, "INVALID_REQUEST", "image"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "body", "status", "code", "field"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_validation(
    http: httpx.Client, path: str, body: dict, status: int, code: str, field: str | None
) -> None:
    assert_error(http.post(path, json=body), status, code, field)


def test_messages_name_the_problem_and_the_fix(http: httpx.Client) -> None:
    body = assert_error(edit(http, colour=1, aspect_ratio="5:4"), 400, "INVALID_REQUEST")
    assert body["details"]["_errors"] == ["Unrecognized key(s) in object: 'colour'"]
    assert "'16:9'" in body["details"]["aspect_ratio"]["_errors"][0]
    assert "colour" in body["error"] and "aspect_ratio" in body["error"]
    body = assert_error(edit(http, prompt=""), 400, "INVALID_REQUEST", "prompt")
    assert body["details"]["prompt"]["_errors"] == ["String must contain at least 1 character(s)"]
    body = assert_error(edit(http, image="https://example.com/a.jpg"), 400, "INVALID_REQUEST")
    assert "loopback" in body["error"] and "example.com" in body["error"]
    body = http.post("/image/background-remove", json={"image": "http://127.0.0.1/x.png"}).json()
    assert "image_url" in body["error"]


def test_malformed_json_and_non_objects(http: httpx.Client) -> None:
    headers = {"content-type": "application/json"}
    assert_error(http.post("/image/edit", content=b"{nope", headers=headers), 400,
                 "INVALID_REQUEST")  # fmt: skip
    assert_error(http.post("/image/edit", json=["a"]), 400, "INVALID_REQUEST")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_415_for_other_content_types(http: httpx.Client, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    resp = http.post("/image/edit", content=b"prompt=x", headers=headers)
    if content_type is None:  # httpx adds none for raw bytes
        assert "content-type" not in resp.request.headers
    body = assert_error(resp, 415, "INVALID_CONTENT_TYPE")
    assert "application/json" in body["error"] and "multipart/form-data" in body["error"]


def test_model_constraints(http: httpx.Client) -> None:
    cases = [
        ({"model": "gpt-image-2-edit", "aspect_ratio": "16:9"}, "aspect_ratio", "3:2"),
        ({"model": "firered-image-edit", "resolution": "2K"}, "resolution", "omit"),
        ({"model": "nano-banana-2-edit", "resolution": "8K"}, "resolution", "4K"),
        ({"model": "firered-image-edit", "prompt": "p" * 2049}, "prompt", "2048"),
    ]
    for fields, field, hint in cases:
        body = assert_error(edit(http, **fields), 400, "INVALID_REQUEST", field)
        assert hint in body["details"][field]["_errors"][0], body
    body = assert_error(
        multi(http, [COFFEE], modelId="grok-imagine-image-2-0-edit", quality="high"),
        400, "INVALID_REQUEST", "quality",
    )  # fmt: skip
    assert "low, medium" in body["details"]["quality"]["_errors"][0]
    body = assert_error(multi(http, [COFFEE], quality="high"), 400, "INVALID_REQUEST", "quality")
    assert "does not support quality" in body["details"]["quality"]["_errors"][0]


def test_image_count_limits(http: httpx.Client) -> None:
    mask = encode(Image.new("L", (600, 400), 0))
    body = assert_error(multi(http, [COFFEE] + [mask] * 3), 400, "INVALID_REQUEST", "images")
    assert "at most 3" in body["details"]["images"]["_errors"][0]
    assert multi(http, [COFFEE] + [mask] * 3, modelId="flux-2-max-edit").status_code == 200


def test_default_model_and_deprecated_modelId_alias(http: httpx.Client) -> None:
    assert edit(http).headers["x-venice-model-id"] == "firered-image-edit"
    resp = edit(http, modelId="qwen-image-2-edit")
    assert resp.status_code == 200 and resp.headers["x-venice-model-id"] == "qwen-image-2-edit"
    assert multi(http, [COFFEE]).headers["x-venice-model-id"] == "firered-image-edit"


def test_image_too_large_and_payload_too_large(http: httpx.Client) -> None:
    huge = encode(Image.new("1", (8000, MAX_PIXELS // 8000 + 1)))  # tiny file, too many pixels
    body = assert_error(edit(http, image=b64(huge)), 422, "IMAGE_TOO_LARGE")
    assert f"{MAX_PIXELS:,}" in body["error"]
    blob = b"\x89PNG\r\n\x1a\n" + bytes(MAX_IMAGE_BYTES)
    assert_error(edit(http, image=b64(blob)), 413, "PAYLOAD_TOO_LARGE")
    resp = http.post("/image/edit", files={"image": ("a.png", blob, "image/png")},
                     data={"prompt": "p"})  # fmt: skip
    assert_error(resp, 413, "PAYLOAD_TOO_LARGE")


def test_multipart_forms(http: httpx.Client) -> None:
    files = {"image": ("c.jpg", COFFEE, "image/jpeg")}
    ok = http.post("/image/edit", files=files, data={"prompt": "blur", "safe_mode": "false"})
    assert ok.status_code == 200 and ok.content == edit(http, safe_mode=False).content
    assert_error(http.post("/image/edit", files=files, data={"prompt": "p", "safe_mode": "yes"}),
                 400, "INVALID_REQUEST", "safe_mode")  # fmt: skip
    assert_error(http.post("/image/edit", files=files, data={"prompt": "p", "colour": "red"}),
                 400, "INVALID_REQUEST")  # fmt: skip
    assert_error(http.post("/image/edit", files=files), 400, "INVALID_REQUEST", "prompt")
    # multi-edit: repeated `images` files only
    imgs = [("images", ("a.jpg", COFFEE, "image/jpeg"))] * 2
    assert http.post("/image/multi-edit", files=imgs, data={"prompt": "red"}).status_code == 200
    body, ctype = form([("prompt", None, b"red"), ("images", None, b64(COFFEE).encode())])
    resp = http.post("/image/multi-edit", content=body, headers={"content-type": ctype})
    assert_error(resp, 400, "INVALID_REQUEST", "images")
    assert "only file uploads" in resp.json()["error"]
    resp = http.post("/image/multi-edit", files=[("image", ("a.jpg", COFFEE, "image/jpeg"))],
                     data={"prompt": "red"})  # fmt: skip
    assert_error(resp, 400, "INVALID_REQUEST", "image")
    bad = http.post("/image/edit", content=b"--x\r\n", headers={
        "content-type": "multipart/form-data; boundary=x"})  # fmt: skip
    assert_error(bad, 400, "INVALID_REQUEST")


def test_hand_made_multipart_and_chunked_bodies(http: httpx.Client) -> None:
    reference = edit(http, prompt="invert").content
    body, ctype = form([("image", "c.jpg", COFFEE), ("prompt", None, b"invert")])
    assert http.post("/image/edit", content=body, headers={"content-type": ctype}).content == (
        reference
    )
    payload = json.dumps({"image": b64(COFFEE), "prompt": "invert"}).encode()
    chunked = http.post("/image/edit", content=iter([payload[:1000], payload[1000:]]),
                        headers={"content-type": "application/json"})  # fmt: skip
    assert chunked.request.headers["transfer-encoding"] == "chunked"
    assert chunked.content == reference


def test_image_inputs_base64_data_url_and_loopback_url(http: httpx.Client, image_server) -> None:
    raw = edit(http).content
    assert edit(http, image="data:image/jpeg;base64," + b64(COFFEE)).content == raw
    assert edit(http, image=image_server("c.jpg", COFFEE)).content == raw
    assert edit(http, image=f"http://localhost:{urlsplit(image_server('d', b'')).port}/c.jpg"
                ).content == raw  # fmt: skip
    missing = assert_error(edit(http, image=image_server("c.jpg", COFFEE) + "x"), 400,
                           "INVALID_REQUEST", "image")  # fmt: skip
    assert "404" in missing["error"]


# ----------------------------------------------------------------------------- auth and money


def test_auth_rejected_key_and_required_auth(backend: LocalBackend, http: httpx.Client) -> None:
    secret = "sk-rejected-1234567890"
    backend.config.rejected_keys = frozenset({secret})
    resp = http.post("/image/edit", json={"image": b64(COFFEE), "prompt": "p"},
                     headers={"Authorization": f"Bearer {secret}"})  # fmt: skip
    body = assert_error(resp, 401, "AUTHENTICATION_FAILED")
    assert secret not in resp.text and "API key" in body["error"]
    assert_error(http.post("/image/edit", json={}, headers={"Authorization": "Basic abc"}), 401,
                 "AUTHENTICATION_FAILED")  # fmt: skip
    backend.config.require_auth = True
    assert_error(edit(http), 401, "AUTHENTICATION_FAILED")
    for header in ("Authorization", "SIGN-IN-WITH-X", "X-Sign-In-With-X"):
        value = "Bearer good-key" if header == "Authorization" else "siwx-wallet"
        resp = http.post("/image/edit", json={"image": b64(COFFEE), "prompt": "p"},
                         headers={header: value})  # fmt: skip
        assert resp.status_code == 200, header


def test_bearer_balance_runs_out_with_402(backend: LocalBackend, http: httpx.Client) -> None:
    backend.config.balance_usd = 0.05
    headers = {"Authorization": "Bearer k"}
    first = http.post("/image/edit", json={"image": b64(COFFEE), "prompt": "p"}, headers=headers)
    assert first.status_code == 200 and "x-balance-remaining" not in first.headers
    assert backend.config.balance_usd == pytest.approx(0.01)
    second = http.post("/image/edit", json={"image": b64(COFFEE), "prompt": "p"}, headers=headers)
    body = assert_error(second, 402, "INSUFFICIENT_BALANCE")
    assert "venice.ai/settings/api" in body["error"]
    assert PAYMENT_REQUIRED_HEADER.lower() not in second.headers
    assert backend.stats.charged_usd == pytest.approx(0.04)


def test_wallet_balance_header_and_x402_payment_required(
    backend: LocalBackend, http: httpx.Client
) -> None:
    backend.config.balance_usd = 0.05
    headers = {"SIGN-IN-WITH-X": "siwx-abc"}
    first = http.post("/image/edit", json={"image": b64(COFFEE), "prompt": "p"}, headers=headers)
    assert first.headers["x-balance-remaining"] == "0.010000"
    resp = http.post("/image/edit", json={"image": b64(COFFEE), "prompt": "p"}, headers=headers)
    body = assert_error(resp, 402, "PAYMENT_REQUIRED")
    assert body["reason"] == "insufficient_balance" and body["currentBalanceUsd"] == 0.01
    assert {"step1", "step2", "step3"} <= body["topUpInstructions"].keys()
    requirements = json.loads(base64.b64decode(resp.headers[PAYMENT_REQUIRED_HEADER]))
    assert requirements["x402Version"] == 2 and requirements["accepts"][0]["scheme"] == "exact"
    assert requirements["resource"]["url"].endswith("/api/v1/image/edit")


def test_prices_follow_resolution_quality_and_extra_images(
    backend: LocalBackend, http: httpx.Client
) -> None:
    small = encode(gradient((256, 256)))
    assert multi(http, [small], modelId="gpt-image-2-edit", resolution="2K",
                 quality="low").status_code == 200  # fmt: skip
    assert backend.stats.charged_usd == pytest.approx(0.03)
    backend.reset_stats()
    assert multi(http, [small] * 3, modelId="flux-2-max-edit").status_code == 200
    assert backend.stats.charged_usd == pytest.approx(0.12 + 2 * 0.0345)
    backend.reset_stats()
    assert http.post("/image/background-remove", json={"image": b64(PRODUCT)}).status_code == 200
    assert backend.stats.charged_usd > 0


def test_content_policy(http: httpx.Client) -> None:
    body = assert_error(edit(http, prompt="make it NSFW"), 422, "CONTENT_POLICY_VIOLATION")
    assert "nsfw" in body["error"].lower()
    # Uncensored models serve the edit but flag it (and safe_mode blurs it).
    flagged = edit(http, prompt="make it nsfw", model="seedream-v5-lite-edit")
    assert flagged.status_code == 200
    assert flagged.headers["x-venice-is-content-violation"] == "true"
    unblurred = edit(http, prompt="make it nsfw", model="seedream-v5-lite-edit", safe_mode=False)
    assert detail(pixels(flagged.content)) < 0.5 * detail(pixels(unblurred.content))
    assert edit(http, prompt="blur").headers["x-venice-is-content-violation"] == "false"


# ----------------------------------------------------------------------------- rate limits


def test_rate_limit_headers_and_429(backend: LocalBackend, http: httpx.Client, clock) -> None:
    backend.config.rate_limit = 2
    backend.config.rate_window = 60.0
    first, second = edit(http), edit(http, foo=1)  # errors carry the headers too
    assert [r.headers["x-ratelimit-remaining-requests"] for r in (first, second)] == ["1", "0"]
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    reset = float(first.headers["x-ratelimit-reset-requests"])
    assert reset == pytest.approx(clock.now + 60, abs=1)
    third = edit(http)
    body = assert_error(third, 429, "RATE_LIMIT_EXCEEDED")
    assert int(third.headers["retry-after"]) == 60 and "2 requests per 60" in body["error"]
    assert third.headers["x-ratelimit-remaining-requests"] == "0"
    other = http.post("/image/edit", json={"image": b64(COFFEE), "prompt": "p"},
                      headers={"Authorization": "Bearer other"})  # fmt: skip
    assert other.status_code == 200, "limits are per caller"
    clock.now += 61
    assert edit(http).status_code == 200
    assert http.get("/models", params={"type": "all"}).status_code == 200  # not an image call


def test_failed_requests_block_the_caller(backend: LocalBackend, http: httpx.Client, clock):
    backend.config.failure_block = (2, 30.0, 30.0)
    for _ in range(3):
        assert edit(http, foo=1).status_code == 400
    blocked = edit(http)
    body = assert_error(blocked, 429, "RATE_LIMIT_EXCEEDED")
    assert blocked.headers["retry-after"] == "30" and "failed requests" in body["error"]
    clock.now += 29
    assert edit(http).status_code == 429
    clock.now += 2
    assert edit(http).status_code == 200


# ----------------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        (FaultConfig(rate_429=1.0, retry_after=2), 429, "RATE_LIMIT_EXCEEDED"),
        (FaultConfig(rate_500=1.0), 500, "INFERENCE_FAILED"),
        (FaultConfig(rate_503=1.0), 503, "MODEL_AT_CAPACITY"),
    ],
)
def test_injected_error_statuses(
    backend: LocalBackend, http: httpx.Client, fault: FaultConfig, status: int, code: str
) -> None:
    backend.config.faults = fault
    resp = edit(http)
    assert_error(resp, status, code)
    assert resp.headers.get("retry-after") == ("2" if status == 429 else None)
    assert "x-ratelimit-limit-requests" in resp.headers
    assert backend.stats.charged_usd == 0


def test_invalid_requests_are_not_masked_by_faults(backend: LocalBackend, http) -> None:
    backend.config.faults = FaultConfig(rate_500=1.0)
    assert_error(edit(http, foo=1), 400, "INVALID_REQUEST")


def test_dropped_connection_sends_nothing(backend: LocalBackend) -> None:
    backend.config.faults = FaultConfig(rate_drop=1.0)
    raw = raw_exchange(backend.url, "/image/edit", {"image": b64(COFFEE), "prompt": "p"})
    assert raw == b""
    assert backend.stats.dropped == 1 and backend.stats.by_status == {}


def test_truncated_body_promises_more_than_it_sends(backend: LocalBackend) -> None:
    backend.config.faults = FaultConfig(rate_truncate=1.0)
    raw = raw_exchange(backend.url, "/image/edit", {"image": b64(COFFEE), "prompt": "p"})
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 200 OK"
    length = int(next(x for x in lines if x.lower().startswith("content-length")).split(":")[1])
    assert 0 < len(body) < length
    assert backend.stats.truncated == 1 and backend.stats.completed_ok == 0


def test_faults_are_reproducible_per_seed(backend: LocalBackend, http: httpx.Client) -> None:
    small = b64(encode(gradient((256, 256))))

    def run() -> list[int]:
        backend.config.faults = FaultConfig(rate_500=0.3, rate_503=0.3, seed=11)
        return [edit(http, image=small).status_code for _ in range(12)]

    backend.config.failure_block = (100, 30.0, 30.0)
    first = run()
    assert run() == first and {200, 500, 503} <= set(first)
    backend.config.faults = FaultConfig()
    assert edit(http, image=small).status_code == 200


def test_latency_is_simulated_and_stop_interrupts_it(backend: LocalBackend) -> None:
    backend.config.latency = 30.0
    with (
        httpx.Client(base_url=backend.url, timeout=0.2, trust_env=False) as impatient,
        pytest.raises(httpx.ReadTimeout),
    ):
        edit(impatient)
    backend.config.latency = 0.0


# ----------------------------------------------------------------------------- headers


def test_deprecation_headers(backend: LocalBackend, http: httpx.Client) -> None:
    resp = edit(http, model="seedream-v4-edit")
    assert resp.headers["x-venice-deprecated"] == "true"
    assert resp.headers["x-venice-deprecated-replacement"] == "seedream-v5-lite-edit"
    assert resp.headers["x-venice-model-deprecation-warning"]
    assert resp.headers["x-venice-model-deprecation-date"].startswith("20")
    listed = http.get("/models", params={"type": "inpaint"}).json()["data"]
    dep = next(m for m in listed if m["id"] == "seedream-v4-edit")["model_spec"]["deprecation"]
    assert dep["replacementModelId"] == "seedream-v5-lite-edit"
    fresh = edit(http, model="firered-image-edit")
    assert not any(k.startswith("x-venice-deprecat") for k in fresh.headers)
    backend.config.deprecated_models = {"firered-image-edit": ("going away", "2030-01-01", "")}
    resp = edit(http)
    assert resp.headers["x-venice-model-deprecation-warning"] == "going away"
    assert "x-venice-deprecated-replacement" not in resp.headers


def test_model_headers_use_local_names(http: httpx.Client) -> None:
    resp = edit(http, model="nano-banana-2-edit")
    assert resp.headers["x-venice-model-name"] == "Nano Banana 2" + LOCAL_NAME_SUFFIX
    assert "server" not in resp.headers


def test_enhanced_prompt_header(http: httpx.Client) -> None:
    resp = edit(http, prompt="Make it dusk, 50% darker", enhance_prompt=True)
    header = resp.headers["x-venice-enhanced-prompt"]
    assert "%25" in header and " " not in header  # URL-encoded
    assert unquote(header).startswith("Make it dusk, 50% darker.") and len(unquote(header)) > 40
    assert header == edit(http, prompt="Make it dusk, 50% darker",
                          enhance_prompt=True).headers["x-venice-enhanced-prompt"]  # fmt: skip
    assert "x-venice-enhanced-prompt" not in edit(http).headers


# ----------------------------------------------------------------------------- image results


def test_identical_requests_give_identical_bytes(http: httpx.Client) -> None:
    mask = encode(Image.new("L", (600, 400), 255))
    for request in (
        lambda: edit(http, prompt="a watercolour painting"),
        lambda: multi(http, [COFFEE, mask], prompt="remove the cup"),
        lambda: http.post("/image/background-remove", json={"image": b64(PRODUCT)}),
    ):
        a, b = request(), request()
        assert a.status_code == 200 and a.content == b.content
    oil, water = edit(http, prompt="an oil painting"), edit(http, prompt="a watercolour")
    assert oil.content != water.content


def test_output_format_size_and_defaults(http: httpx.Client) -> None:
    # No resolution: the model's default tier (1K: long side 1024), as PNG ...
    resp = edit(http)
    assert resp.headers["content-type"] == "image/png" and decode(resp.content).size == (1024, 683)
    # ... except models whose singleImageAspectRatio is false: they keep the input's size.
    kept = edit(http, model="qwen-edit-uncensored")
    assert decode(kept.content).size == decode(COFFEE).size
    formats = [("webp", "image/webp", "WEBP"), ("jpg", "image/jpeg", "JPEG"),
               ("jpeg", "image/jpeg", "JPEG"), ("png", "image/png", "PNG")]  # fmt: skip
    for fmt, mime, pil in formats:
        resp = edit(http, output_format=fmt)
        assert resp.headers["content-type"] == mime and decode(resp.content).format == pil
    two_k = edit(http, model="nano-banana-2-edit", resolution="2K")
    assert two_k.headers["content-type"] == "image/jpeg"
    assert decode(two_k.content).size == (2048, 1365)
    one_k = edit(http, model="nano-banana-2-edit", resolution="1K")
    assert one_k.headers["content-type"] == "image/png"
    assert decode(one_k.content).size == (1024, 683)


@pytest.mark.parametrize(
    ("fields", "size"),
    [
        ({"aspect_ratio": "1:1"}, (1024, 1024)),
        ({"aspect_ratio": "16:9"}, (1024, 577)),
        ({"aspect_ratio": "9:16"}, (576, 1024)),
        ({"aspect_ratio": "auto"}, (1024, 683)),
        ({"aspect_ratio": "1:1", "model": "nano-banana-pro-edit", "resolution": "4K"},
         (4096, 4096)),
        ({"aspect_ratio": "1:1", "model": "qwen-edit-uncensored"}, (600, 400)),
    ],
)  # fmt: skip
def test_aspect_ratio_and_resolution(http: httpx.Client, fields: dict, size: tuple) -> None:
    resp = edit(http, prompt="invert", **fields)
    assert resp.status_code == 200, resp.text
    assert decode(resp.content).size == size


def test_multi_edit_honours_aspect_ratio_even_on_keep_size_models(http: httpx.Client) -> None:
    mask = encode(Image.new("L", (600, 400), 255))
    resp = multi(http, [COFFEE, mask], modelId="qwen-edit-uncensored", aspect_ratio="1:1")
    assert decode(resp.content).size == (1024, 1024)


PROMPT_CHECKS = {
    "change the sky to sunset": lambda a, b: (b[..., 0] - b[..., 2]).mean()
    > (a[..., 0] - a[..., 2]).mean() + 40,
    "make it night": lambda a, b: b.mean() < 0.5 * a.mean() and b[..., 2].mean() > b[..., 0].mean(),
    "black and white": lambda a, b: grey(b) and not grey(a),
    "make it green": lambda a, b: b[..., 1].mean() > b[..., 0].mean() + 20,
    "blur": lambda a, b: detail(b) < 0.6 * detail(a),
    "sharpen": lambda a, b: detail(b) > 1.2 * detail(a),
    "brighter": lambda a, b: b.mean() > a.mean() + 20,
    "darker": lambda a, b: b.mean() < a.mean() - 20,
    "invert it": lambda a, b: np.abs(b - (255 - a)).max() <= 1,
    "sepia": lambda a, b: (b[..., 0] >= b[..., 2]).all(),
    "remove the cup": lambda a, b: (a[:40, :40] == b[:40, :40]).all()
    and np.abs(a[170:230, 270:330] - b[170:230, 270:330]).mean() > 10,
    "a watercolour painting": lambda a, b: np.abs(a - b).mean() > 15,
}  # fmt: skip


@pytest.mark.parametrize("prompt", list(PROMPT_CHECKS))
def test_prompt_words_drive_recognisable_edits(http: httpx.Client, prompt: str) -> None:
    resp = edit(http, prompt=prompt, model="qwen-edit-uncensored")  # keeps the input's size
    assert resp.status_code == 200
    assert PROMPT_CHECKS[prompt](pixels(COFFEE), pixels(resp.content)), plan(prompt)


def test_prompt_plans() -> None:
    assert plan("Remove the sign and make it black & white") == ["remove", "greyscale"]
    assert plan("change the red car to blue") == ["tint:blue"]
    assert plan("a cat in a hat") == ["object:hat:"]  # issue 24: a hat is drawn, not a grade
    assert plan("make it dreamy") == ["restyle"]


def test_mask_layer_changes_only_masked_pixels(http: httpx.Client) -> None:
    mask = np.zeros((683, 1024), np.uint8)
    mask[170:512, 341:683] = 255
    mask[170:512, 768:939] = 128  # soft: a partial change
    resp = multi(http, [COFFEE_1K, encode(Image.fromarray(mask))], prompt="make it night")
    base, out = pixels(COFFEE_1K), pixels(resp.content)
    assert (out[mask == 0] == base[mask == 0]).all()
    full = np.abs(out - base)[mask == 255].mean()
    half = np.abs(out - base)[mask == 128].mean()
    assert full > 40 and 0.3 * full < half < 0.7 * full


def test_mask_as_opaque_grey_rgb_and_resized(http: httpx.Client) -> None:
    mask = np.zeros((512, 768), np.uint8)  # 3/4 of the base's size
    mask[128:384, 256:512] = 255
    rgb_mask = Image.fromarray(np.stack([mask] * 3, -1))
    resp = multi(http, [COFFEE_1K, encode(rgb_mask)], prompt="invert")
    base, out = pixels(COFFEE_1K), pixels(resp.content)
    assert (out[:150] == base[:150]).all() and (out[:, :320] == base[:, :320]).all()
    assert np.abs(out[200:480, 370:650] - (255 - base[200:480, 370:650])).max() <= 1


def test_overlay_shows_where_it_was_placed(http: httpx.Client) -> None:
    overlay = np.zeros((683, 1024, 4), np.uint8)
    overlay[50:150, 60:160] = (255, 0, 0, 255)
    layers = [COFFEE_1K, encode(Image.fromarray(overlay))]
    out = pixels(multi(http, layers, prompt="sharpen").content)
    square = out[60:140, 70:150]
    assert (square[..., 0] > 200).all() and (square[..., 1:] < 60).all()
    # With a mask elsewhere, pixels outside mask and overlay stay byte-identical.
    mask = np.zeros((683, 1024), np.uint8)
    mask[250:350, 300:500] = 255
    out = pixels(multi(http, [*layers, encode(Image.fromarray(mask))], prompt="blur").content)
    base = pixels(COFFEE_1K)
    keep = (mask == 0) & (overlay[..., 3] == 0)
    assert (out[keep] == base[keep]).all()
    assert (out[60:140, 70:150, 0] > 200).all()


def test_reference_layer_is_accepted_and_used(http: httpx.Client) -> None:
    reference = encode(Image.new("RGB", (300, 300), (0, 200, 0)))
    plain = multi(http, [COFFEE], prompt="a postcard").content
    with_ref = multi(http, [COFFEE, reference], prompt="a postcard").content
    assert with_ref != plain
    assert pixels(with_ref)[..., 1].mean() > pixels(plain)[..., 1].mean()


def test_rgba_base_keeps_its_alpha(http: httpx.Client) -> None:
    base = gradient().convert("RGBA")
    alpha = np.full((240, 320), 255, np.uint8)
    alpha[:, :100] = 0
    base.putalpha(Image.fromarray(alpha))
    kept = {"model": "qwen-edit-uncensored"}  # keeps the input's size: alpha compares 1:1
    out = decode(edit(http, image=b64(encode(base)), prompt="blue", **kept).content)
    assert out.mode == "RGBA" and (np.asarray(out.getchannel("A")) == alpha).all()


def test_background_removal_cuts_out_the_product(http: httpx.Client, image_server) -> None:
    resp = http.post("/image/background-remove", json={"image": b64(PRODUCT)})
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/png"
    assert not any(k.startswith("x-venice-model") for k in resp.headers)
    out = decode(resp.content)
    assert out.mode == "RGBA" and out.size == (640, 480)
    alpha = np.asarray(out.getchannel("A")).astype(np.float32) / 255
    _, cover = BUILD.draw_product()
    assert alpha[cover == 0].max() < 0.05 and alpha[cover == 1].min() > 0.95
    assert np.abs(alpha - cover).mean() < 0.01
    assert (np.asarray(out.convert("RGB")) == np.asarray(decode(PRODUCT).convert("RGB"))).all()
    # Same answer from multipart and from a loopback image_url.
    multipart = http.post("/image/background-remove", files={"image": ("p.png", PRODUCT)})
    by_url = http.post("/image/background-remove",
                       json={"image_url": image_server("p.png", PRODUCT)})  # fmt: skip
    assert multipart.content == resp.content == by_url.content


def test_background_removal_accepts_small_images(http: httpx.Client) -> None:
    small = encode(decode(PRODUCT).resize((160, 120)))
    assert MIN_PIXELS > 160 * 120
    resp = http.post("/image/background-remove", json={"image": b64(small)})
    assert resp.status_code == 200 and decode(resp.content).size == (160, 120)


def test_default_rate_limit_is_venices_and_advertised() -> None:
    with LocalBackend() as server, httpx.Client(base_url=server.url, timeout=30) as client:
        img = base64.b64encode(sample("cat").read_bytes()).decode()
        first = client.post("/image/edit", json={"image": img, "prompt": "blur"})
        assert first.headers["x-ratelimit-limit-requests"] == "20"
        assert first.headers["x-ratelimit-remaining-requests"] == "19"


def test_free_form_prompts_differ_by_model_named_operations_do_not(http: httpx.Client) -> None:
    """A grid of models should show different answers, while "night" stays recognisably night."""
    img = base64.b64encode(sample("cat").read_bytes()).decode()

    def edit_with(model: str, prompt: str) -> bytes:
        resp = http.post("/image/edit", json={"image": img, "prompt": prompt, "model": model})
        assert resp.status_code == 200
        return resp.content

    free = "make it look like a dream"
    assert edit_with("qwen-image-2-edit", free) != edit_with("firered-image-edit", free)
    assert edit_with("qwen-image-2-edit", "night") == edit_with("firered-image-edit", "night")
