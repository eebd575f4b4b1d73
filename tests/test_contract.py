"""The wire format: what the client puts on the wire, checked against the spec and the pages.

Every request in these tests also passes through SpecCheckingTransport (see conftest), so a
field the spec does not know, a wrong type or a wrong enum fails the test that sent it.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

import venice_nb as vnb
from venice_nb._backend import LocalBackend
from venice_nb._params import Upload

from ._spec import SpecCheckingTransport, check_request, parse_multipart
from .conftest import TEST_KEY, ImageServer, png_bytes, sample_path


def _json(transport: SpecCheckingTransport) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(transport.posts[-1].content)
    return body


def test_edit_json_sends_model_and_only_given_fields(
    client: vnb.Client, transport: SpecCheckingTransport
) -> None:
    res = client.edit(sample_path("cat"), "make it night", model="qwen-image-2-edit")
    body = _json(transport)
    assert set(body) == {"image", "prompt", "model"}
    assert body["model"] == "qwen-image-2-edit" and "modelId" not in body
    assert base64.b64decode(body["image"]) == sample_path("cat").read_bytes()
    assert transport.posts[-1].headers["authorization"] == f"Bearer {TEST_KEY}"
    assert transport.posts[-1].url.path == "/api/v1/image/edit"
    assert res.model_id == "qwen-image-2-edit"


def test_edit_with_every_option_matches_spec(
    client: vnb.Client, transport: SpecCheckingTransport
) -> None:
    model = next(m for m in client.models() if m.resolutions and len(m.aspect_ratios) > 1)
    ratio = next(r for r in model.aspect_ratios if r != "auto")
    res = client.edit(
        sample_path("astronaut"),
        "sunset",
        model=model.id,
        aspect_ratio=ratio,
        resolution=model.resolutions[0],
        output_format="jpg",
        safe_mode=False,
        enhance_prompt=True,
    )
    body = _json(transport)
    assert body["output_format"] == "jpeg"  # the spec's enum has no "jpg"
    assert body["safe_mode"] is False and body["enhance_prompt"] is True
    assert body["aspect_ratio"] == ratio and body["resolution"] == model.resolutions[0]
    assert res.content_type == "image/jpeg"
    assert res.enhanced_prompt and "%" not in res.enhanced_prompt


def test_omitted_model_is_not_sent(client: vnb.Client, transport: SpecCheckingTransport) -> None:
    client.edit(sample_path("cat"), "blur")
    assert "model" not in _json(transport) and "modelId" not in _json(transport)


def test_multi_edit_sends_modelId_and_images_array(
    client: vnb.Client, transport: SpecCheckingTransport
) -> None:
    mask = vnb.masks.rect((300, 451), (100, 50, 300, 200))
    client.multi_edit([sample_path("cat"), mask], "make it red", model="qwen-image-2-edit")
    body = _json(transport)
    assert body["modelId"] == "qwen-image-2-edit" and "model" not in body
    assert isinstance(body["images"], list) and len(body["images"]) == 2
    assert transport.posts[-1].url.path == "/api/v1/image/multi-edit"


def test_multi_edit_quality_for_models_that_list_it(
    client: vnb.Client, transport: SpecCheckingTransport
) -> None:
    model = next(m for m in client.models() if m.qualities)
    client.multi_edit([sample_path("cat")], "blue", model=model.id, quality=model.qualities[0])
    assert _json(transport)["quality"] == model.qualities[0]


def test_edit_multipart_uses_image_field_and_text_booleans(
    client: vnb.Client, transport: SpecCheckingTransport
) -> None:
    data = sample_path("coffee").read_bytes()
    client.edit(data, "brighter", model="firered-image-edit", upload="multipart", safe_mode=True)
    request = transport.posts[-1]
    assert request.headers["content-type"].startswith("multipart/form-data")
    fields, files = parse_multipart(request)
    assert fields == {"model": "firered-image-edit", "prompt": "brighter", "safe_mode": "true"}
    assert [(name, blob, ctype) for name, blob, ctype in files] == [("image", data, "image/jpeg")]


def test_multi_edit_multipart_repeats_images_field(
    client: vnb.Client, transport: SpecCheckingTransport
) -> None:
    mask = vnb.masks.ellipse((240, 320), (40, 40, 200, 160))
    client.multi_edit([png_bytes(), mask], "green", model="qwen-image-2-edit", upload="multipart")
    fields, files = parse_multipart(transport.posts[-1])
    assert [name for name, _, _ in files] == ["images", "images"]
    assert fields["modelId"] == "qwen-image-2-edit"


def test_background_remove_json_and_multipart(
    client: vnb.Client, transport: SpecCheckingTransport
) -> None:
    product = sample_path("product")
    a = client.remove_background(product)
    assert set(_json(transport)) == {"image"}
    b = client.remove_background(product, upload="multipart")
    _, files = parse_multipart(transport.posts[-1])
    assert [f[0] for f in files] == ["image"]
    assert a.data == b.data and a.image.mode == "RGBA"


def test_background_remove_url_goes_in_image_url(
    client: vnb.Client, transport: SpecCheckingTransport, image_server: ImageServer
) -> None:
    url = image_server("product.png", sample_path("product").read_bytes())
    res = client.remove_background(url)
    assert _json(transport) == {"image_url": url}
    assert res.image.mode == "RGBA"


def test_models_query(client: vnb.Client, transport: SpecCheckingTransport) -> None:
    models = client.models(type="inpaint")
    get = transport.requests[-1]
    assert get.method == "GET" and get.url.params["type"] == "inpaint"
    assert {"qwen-image-2-edit", "gpt-image-2-edit", "firered-image-edit"} <= {m.id for m in models}
    client.models()
    assert len([r for r in transport.requests if r.method == "GET"]) == 1, "models are cached"


def test_wallet_auth_header_and_legacy_name(backend: LocalBackend) -> None:
    for header in ("SIGN-IN-WITH-X", "X-Sign-In-With-X"):
        transport = SpecCheckingTransport()
        import httpx

        with vnb.Client(
            base_url=backend.url,
            wallet="siwx-token-abc",
            wallet_header=header,
            http_client=httpx.Client(transport=transport),
        ) as c:
            c.edit(sample_path("cat"), "warm")
        request = transport.posts[-1]
        assert request.headers[header] == "siwx-token-abc"
        assert "authorization" not in request.headers
        assert not transport.problems


def test_spec_checker_catches_a_bad_request() -> None:
    """The checker itself can fail: an unknown field and a bad enum are reported."""
    import httpx

    bad = httpx.Request(
        "POST",
        "http://127.0.0.1/api/v1/image/edit",
        json={"image": "x", "prompt": "p", "aspect_ratio": "7:5", "colour": "red"},
    )
    problems = check_request(bad)
    assert any("7:5" in p for p in problems) and any("colour" in p for p in problems)


@pytest.mark.parametrize("upload", ["json", "multipart"])
def test_both_wire_forms_give_identical_results(client: vnb.Client, upload: Upload) -> None:
    res = client.edit(sample_path("cat"), "sepia", model="qwen-image-2-edit", upload=upload)
    ref = client.edit(sample_path("cat"), "sepia", model="qwen-image-2-edit")
    assert res.data == ref.data and res.fingerprint == ref.fingerprint


def test_background_remove_url_multipart_is_still_multipart(
    client: vnb.Client, transport: SpecCheckingTransport, image_server: ImageServer
) -> None:
    url = image_server("product.png", sample_path("product").read_bytes())
    res = client.remove_background(url, upload="multipart")
    request = transport.posts[-1]
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert parse_multipart(request) == ({"image_url": url}, [])
    assert res.image.mode == "RGBA"
