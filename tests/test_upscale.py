"""Upscaling end to end on the local backend: the spec's rules checked before sending, the
price from the model list, a deterministic resampling, spec-checked requests (the ``client``
fixture's transport) and the backend's own refusals."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from PIL import Image

import venice_nb as vnb
from venice_nb._backend import LocalBackend

from .conftest import TEST_KEY, png_bytes, sample_path


def _size(result: vnb.EditResult) -> tuple[int, int]:
    return result.image.size


def test_2x_and_4x_with_prices_from_the_model_list(
    client: vnb.Client, backend: LocalBackend
) -> None:
    two = client.upscale(sample_path("cat"))  # 451x300
    four = client.upscale(sample_path("cat"), scale=4, upload="multipart")
    assert _size(two) == (902, 600) and _size(four) == (1804, 1200)
    assert two.format == "png" and two.is_local
    assert (two.estimated_cost, four.estimated_cost) == (0.02, 0.08)
    assert backend.stats.charged_usd == pytest.approx(0.10)
    # No model field is sent, but the result is named after the model it was priced from, and
    # its caption after the operation (it has no prompt).
    assert two.model_id == four.model_id == "upscaler"
    assert two.caption().startswith("Upscale 2× · ") and four.caption().startswith("Upscale 4× · ")


def test_upscale_is_deterministic_and_creativity_adds_detail(client: vnb.Client) -> None:
    a = client.upscale(sample_path("cat"), creativity=0.02)
    b = client.upscale(sample_path("cat"), creativity=0.02)
    plain = client.upscale(sample_path("cat"), creativity=0)
    assert a.data == b.data and a.data != plain.data


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"scale": 3}, "scale"),
        ({"scale": True}, "scale"),
        ({"creativity": -1}, "creativity"),
        ({"creativity": "lots"}, "creativity"),
        # the same checks as every endpoint's (upscale had its own and let these through)
        ({"fit": 1}, "fit"),
        ({"fit": "yes"}, "fit"),
        ({"upload": "form"}, "upload"),
    ],
)
def test_bad_arguments_are_refused_before_sending(
    client: vnb.Client, backend: LocalBackend, kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(vnb.ValidationError) as info:
        client.upscale(sample_path("cat"), **kwargs)
    assert info.value.field == field and info.value.action
    assert backend.stats.by_status == {}  # nothing reached the server


def test_too_large_outputs_and_urls_are_refused_before_sending(
    client: vnb.Client, backend: LocalBackend
) -> None:
    big = png_bytes((3000, 3000))  # 2x would be 36 Mpx
    with pytest.raises(vnb.ValidationError, match="16,777,216"):
        client.upscale(big)
    with pytest.raises(vnb.ValidationError, match="not a URL"):
        client.upscale("https://example.com/a.png")
    assert backend.stats.by_status == {}


def test_backend_reduces_a_4x_to_fit_and_refuses_what_the_spec_forbids(
    backend: LocalBackend,
) -> None:
    def post(**fields: object) -> httpx.Response:
        return httpx.post(f"{backend.url}/image/upscale", json=fields, trust_env=False,
                          timeout=120, headers={"Authorization": f"Bearer {TEST_KEY}"})  # fmt: skip

    image = base64.b64encode(png_bytes((1500, 1000))).decode()
    reduced = post(image=image, scale=4)
    assert reduced.status_code == 200 and reduced.headers["content-type"] == "image/png"
    w, h = Image.open(io.BytesIO(reduced.content)).size
    assert w * h <= 16_777_216 and w > 2 * 1500 and abs(w / h - 1.5) < 0.01
    for fields, name in (({"scale": 3}, "scale"), ({"scale": "2"}, "scale"),
                         ({"image": None}, "image"), ({"image": "https://x/y.png"}, "image"),
                         ({"image": 5}, "image")):  # fmt: skip
        resp = post(**({"image": image} | fields))
        assert resp.status_code == 400, (fields, resp.status_code)
        assert name in resp.json()["details"]
    assert post(image=base64.b64encode(png_bytes((100, 100))).decode()).status_code == 400


def test_async_upscale(backend: LocalBackend) -> None:
    async def go() -> vnb.EditResult:
        async with vnb.AsyncClient(TEST_KEY, base_url=backend.url) as client:
            return await client.upscale(sample_path("cat"), scale=2)

    assert _size(asyncio.run(go())) == (902, 600)


def test_cli_upscale(tmp_path: Path) -> None:
    out = tmp_path / "big.png"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENICE_")}  # local backend
    done = subprocess.run(
        [sys.executable, "-m", "venice_nb._cli", "upscale", str(sample_path("cat")),
         "--scale", "4", "-o", str(out)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert Image.open(out).size == (1804, 1200) and "LOCAL" in done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "venice_nb._cli", "upscale", str(sample_path("cat")),
         "--scale", "3", "-o", str(out)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 2 and "--scale" in bad.stderr
