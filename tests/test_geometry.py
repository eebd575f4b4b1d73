"""Output geometry as Venice's, for every edit model the backend lists.

Without ``resolution`` an edit comes back at the model's ``defaultResolution`` (1K when it
names none: long side 1024), except that models whose ``singleImageAspectRatio`` is false keep
a single input's dimensions. Without ``output_format`` the tier picks the format: PNG at 1K,
JPEG at 2K and 4K. The expectations are read from ``GET /models``, not written here.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import httpx
import pytest
from PIL import Image

from venice_nb._backend import LocalBackend
from venice_nb._backend._catalog import inpaint_models

from .conftest import png_bytes

INPUT = png_bytes((640, 400), (30, 90, 160))  # 16:10, neither side a tier size
MODEL_IDS = sorted(inpaint_models())


def _tier_side(tier: str) -> int:
    return 1024 * int(tier.rstrip("K"))


@pytest.fixture
def listed(backend: LocalBackend) -> dict[str, dict[str, Any]]:
    resp = httpx.get(f"{backend.url}/models", params={"type": "inpaint"}, trust_env=False)
    return {m["id"]: m["model_spec"].get("constraints", {}) for m in resp.json()["data"]}


def _edit(backend: LocalBackend, model: str, **fields: Any) -> httpx.Response:
    body = {"model": model, "prompt": "invert", "image": base64.b64encode(INPUT).decode()}
    return httpx.post(f"{backend.url}/image/edit", json={**body, **fields}, trust_env=False,
                      timeout=120)  # fmt: skip


def _image(resp: httpx.Response) -> Image.Image:
    assert resp.status_code == 200, resp.text
    img = Image.open(io.BytesIO(resp.content))
    assert resp.headers["content-type"] == f"image/{img.format.lower()}"
    return img


def test_every_model_is_covered(listed: dict[str, dict[str, Any]]) -> None:
    assert sorted(listed) == MODEL_IDS and len(MODEL_IDS) > 10


@pytest.mark.parametrize("model", MODEL_IDS)
def test_default_tier_when_no_resolution(
    backend: LocalBackend, listed: dict[str, dict[str, Any]], model: str
) -> None:
    constraints = listed[model]
    img = _image(_edit(backend, model))
    tier = constraints.get("defaultResolution", "1K")
    if constraints.get("singleImageAspectRatio", True):
        assert max(img.size) == _tier_side(tier)
        assert abs(img.size[0] / img.size[1] - 640 / 400) < 0.01  # the input's shape
    else:
        assert img.size == (640, 400)
    assert img.format == ("PNG" if tier == "1K" else "JPEG")


@pytest.mark.parametrize("model", [m for m in MODEL_IDS if inpaint_models()[m].resolutions])
def test_each_listed_tier_sets_size_and_format(
    backend: LocalBackend, listed: dict[str, dict[str, Any]], model: str
) -> None:
    for tier in listed[model]["resolutions"]:
        img = _image(_edit(backend, model, resolution=tier))
        assert max(img.size) == _tier_side(tier)
        assert img.format == ("PNG" if tier == "1K" else "JPEG")
        asked = _image(_edit(backend, model, resolution=tier, output_format="webp"))
        assert asked.format == "WEBP" and asked.size == img.size


@pytest.mark.parametrize(
    "model", [m for m in MODEL_IDS if inpaint_models()[m].combine_images]
)
def test_multi_edit_uses_the_default_tier(backend: LocalBackend, model: str) -> None:
    images = [base64.b64encode(INPUT).decode()] * 2
    resp = httpx.post(f"{backend.url}/image/multi-edit", trust_env=False, timeout=120,
                      json={"modelId": model, "prompt": "invert", "images": images})  # fmt: skip
    img = _image(resp)
    assert max(img.size) == _tier_side(inpaint_models()[model].default_resolution)
