"""Pre-flight validation: bad input fails before any money is spent, with what to do."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

import venice_nb as vnb

from ._spec import SpecCheckingTransport
from .conftest import png_bytes, sample_path


def _rejected(
    client: vnb.Client,
    transport: SpecCheckingTransport,
    call: Callable[[vnb.Client], object],
    *,
    match: str,
    field: str | None = None,
) -> vnb.ValidationError:
    posts_before = len(transport.posts)
    with pytest.raises(vnb.ValidationError, match=match) as info:
        call(client)
    assert len(transport.posts) == posts_before, "a request was sent despite the bad input"
    assert info.value.action, "every validation error says what to do"
    if field:
        assert info.value.field == field
    return info.value


def test_too_few_pixels(client: vnb.Client, transport: SpecCheckingTransport) -> None:
    err = _rejected(
        client,
        transport,
        lambda c: c.edit(png_bytes((255, 256)), "x"),
        match="65,536",
        field="image",
    )
    assert "fit=True" in err.action


def test_too_many_pixels(client: vnb.Client, transport: SpecCheckingTransport) -> None:
    big = Image.new("L", (5761, 5761))  # 33,189,121 > 33,177,600
    _rejected(client, transport, lambda c: c.edit(big, "x"), match="33,177,600")


def test_fit_resizes_into_range_and_records_it(
    client: vnb.Client, transport: SpecCheckingTransport
) -> None:
    res = client.edit(png_bytes((200, 200)), "blur", fit=True)
    w, h = res.size
    assert w * h >= 65_536 and any("resized 200x200" in a for a in res.fit_actions)


def test_file_of_25_mb_or_more(client: vnb.Client, transport: SpecCheckingTransport) -> None:
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 256, (3000, 3000, 3), dtype=np.uint8))
    buf = io.BytesIO()
    noise.save(buf, "PNG", compress_level=0)
    assert len(buf.getvalue()) >= 25_000_000
    _rejected(client, transport, lambda c: c.edit(buf.getvalue(), "x"), match="25 MB")
    res = client.edit(buf.getvalue(), "blur", fit=True)
    assert any("JPEG" in a for a in res.fit_actions)


def test_unreadable_image(client: vnb.Client, transport: SpecCheckingTransport) -> None:
    _rejected(client, transport, lambda c: c.edit(b"not an image at all", "x"), match="unreadable")
    truncated = sample_path("cat").read_bytes()[:200]
    _rejected(client, transport, lambda c: c.edit(truncated, "x"), match="unreadable")


def test_missing_file(client: vnb.Client, transport: SpecCheckingTransport) -> None:
    _rejected(client, transport, lambda c: c.edit("/no/such/photo.jpg", "x"), match="no image file")


def test_bad_numpy_inputs(client: vnb.Client, transport: SpecCheckingTransport) -> None:
    _rejected(
        client, transport, lambda c: c.edit(np.zeros((300, 300), np.int32), "x"), match="dtype"
    )
    _rejected(client, transport, lambda c: c.edit(np.full((300, 300), 2.0), "x"), match=r"\[0, 1\]")
    _rejected(
        client, transport, lambda c: c.edit(np.zeros((300, 300, 2), np.uint8), "x"), match="shape"
    )


def test_empty_prompt(client: vnb.Client, transport: SpecCheckingTransport) -> None:
    _rejected(
        client, transport, lambda c: c.edit(sample_path(), "  "), match="empty", field="prompt"
    )


def test_prompt_over_model_limit(client: vnb.Client, transport: SpecCheckingTransport) -> None:
    model = min(client.models(), key=lambda m: m.prompt_character_limit)
    prompt = "a" * (model.prompt_character_limit + 1)
    _rejected(
        client,
        transport,
        lambda c: c.edit(sample_path(), prompt, model=model.id),
        match=f"at most {model.prompt_character_limit:,}",
        field="prompt",
    )


def test_unknown_model_suggests_close_ids(
    client: vnb.Client, transport: SpecCheckingTransport
) -> None:
    err = _rejected(
        client,
        transport,
        lambda c: c.edit(sample_path(), "x", model="qwen-image2-edit"),
        match="unknown edit model",
    )
    assert "qwen-image-2-edit" in err.action


def test_aspect_ratio_not_listed_by_model(
    client: vnb.Client, transport: SpecCheckingTransport
) -> None:
    model = next(m for m in client.models() if 0 < len(m.aspect_ratios) < 8)
    missing = next(r for r in vnb._constants.ASPECT_RATIOS if r not in model.aspect_ratios)
    _rejected(
        client,
        transport,
        lambda c: c.edit(sample_path(), "x", model=model.id, aspect_ratio=missing),
        match="does not support aspect_ratio",
        field="aspect_ratio",
    )
    _rejected(
        client,
        transport,
        lambda c: c.edit(sample_path(), "x", aspect_ratio="5:4"),
        match="not valid",
    )


def test_resolution_not_listed_by_model(
    client: vnb.Client, transport: SpecCheckingTransport
) -> None:
    without = next(m for m in client.models() if not m.resolutions)
    _rejected(
        client,
        transport,
        lambda c: c.edit(sample_path(), "x", model=without.id, resolution="2K"),
        match="does not take resolution",
    )
    limited = next(m for m in client.models() if m.resolutions and "4K" not in m.resolutions)
    _rejected(
        client,
        transport,
        lambda c: c.edit(sample_path(), "x", model=limited.id, resolution="4K"),
        match="does not support resolution",
    )


def test_quality_only_for_models_listing_it(
    client: vnb.Client, transport: SpecCheckingTransport
) -> None:
    plain = next(m for m in client.models() if not m.qualities)
    _rejected(
        client,
        transport,
        lambda c: c.multi_edit([sample_path()], "x", model=plain.id, quality="high"),
        match="does not take quality",
    )
    _rejected(
        client,
        transport,
        lambda c: c.multi_edit([sample_path()], "x", quality="ultra"),
        match="not valid",
    )


def test_image_count_against_model_max(
    client: vnb.Client, transport: SpecCheckingTransport
) -> None:
    model = min(client.models(), key=lambda m: m.max_input_images)
    images = [sample_path()] * (model.max_input_images + 1)
    err = _rejected(
        client,
        transport,
        lambda c: c.multi_edit(images, "x", model=model.id),
        match=f"1 to {model.max_input_images}",
    )
    assert "max_input_images" in err.action
    _rejected(client, transport, lambda c: c.multi_edit([], "x"), match="0 images")


def test_multipart_cannot_carry_urls(client: vnb.Client, transport: SpecCheckingTransport) -> None:
    _rejected(
        client,
        transport,
        lambda c: c.edit("https://example.invalid/a.png", "x", upload="multipart"),
        match="multipart",
    )


def test_bad_upload_and_output_format(client: vnb.Client, transport: SpecCheckingTransport) -> None:
    _rejected(client, transport, lambda c: c.edit(sample_path(), "x", upload="xml"), match="upload")
    _rejected(
        client,
        transport,
        lambda c: c.edit(sample_path(), "x", output_format="gif"),
        match="output_format",
    )


def test_prompt_types_and_broken_unicode(
    client: vnb.Client, transport: SpecCheckingTransport
) -> None:
    _rejected(client, transport, lambda c: c.edit(sample_path(), 123), match="not text")
    _rejected(client, transport, lambda c: c.edit(sample_path(), "x\ud800y"), match="surrogate")
    _rejected(client, transport, lambda c: c.edit(sample_path(), "x", safe_mode="yes"),
              match="boolean", field="safe_mode")


def test_prompt_length_counts_like_venice(
    client: vnb.Client, transport: SpecCheckingTransport
) -> None:
    """Venice counts UTF-16 code units (JavaScript's length): an emoji counts twice."""
    model = next(m for m in client.models() if m.id == "firered-image-edit")
    emoji = "\U0001f305" * (model.prompt_character_limit // 2 + 1)
    assert len(emoji) <= model.prompt_character_limit  # Python would count it as fitting
    _rejected(client, transport, lambda c: c.edit(sample_path(), emoji, model=model.id),
              match="characters")


def test_fit_keeps_transparency_of_large_overlays(
    client: vnb.Client, transport: SpecCheckingTransport
) -> None:
    rng = np.random.default_rng(1)
    rgba = rng.integers(0, 256, (2700, 2700, 4), dtype=np.uint8)
    rgba[..., 3] = np.where(np.arange(2700)[None, :] < 1350, 0, 255)
    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, "PNG", compress_level=0)
    assert len(buf.getvalue()) >= 25_000_000
    res = client.multi_edit([sample_path("astronaut"), buf.getvalue()], "blend", fit=True)
    sent = json.loads(transport.posts[-1].content)["images"][1]
    layer = Image.open(io.BytesIO(base64.b64decode(sent)))
    assert layer.mode == "RGBA" and layer.getchannel("A").getextrema() == (0, 255)
    assert any("downscaled" in a for a in res.fit_actions)
