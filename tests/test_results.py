"""Results keep every response fact that matters, save faithfully and display in a notebook."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import venice_nb as vnb
from venice_nb._backend import LocalBackend
from venice_nb._constants import LOCAL_NAME_SUFFIX

from .conftest import sample_path


def test_response_facts_become_attributes(client: vnb.Client) -> None:
    res = client.edit(sample_path(), "night", model="qwen-image-2-edit")
    assert res.model_id == "qwen-image-2-edit"
    assert res.model_name.endswith(LOCAL_NAME_SUFFIX) and res.is_local
    assert res.content_violation is False
    limit = res.rate_limit
    assert limit.limit and limit.remaining is not None and limit.reset
    assert res.elapsed > 0
    assert res.estimated_cost == 0.05  # qwen-image-2-edit's flat price in the snapshot
    assert res.deprecated is False and res.deprecation_warning is None


def test_deprecation_headers(client: vnb.Client) -> None:
    res = client.edit(sample_path(), "warm", model="seedream-v4-edit")
    assert res.deprecated is True
    assert res.deprecated_replacement == "seedream-v5-lite-edit"
    assert res.deprecation_warning and res.deprecation_date
    assert "seedream-v5-lite-edit" in res._repr_html_()


def test_enhanced_prompt_is_url_decoded(client: vnb.Client) -> None:
    res = client.edit(sample_path(), "a warm sunset, please", enhance_prompt=True)
    assert res.enhanced_prompt and "a warm sunset, please" in res.enhanced_prompt


def test_balance_remaining_with_wallet_auth(backend: LocalBackend) -> None:
    backend.config.balance_usd = 1.0
    with vnb.Client(base_url=backend.url, wallet="siwx-abc") as c:
        first = c.edit(sample_path(), "blur", model="qwen-image-2-edit")
        second = c.edit(sample_path(), "blue", model="qwen-image-2-edit")
    assert first.balance_remaining is not None and second.balance_remaining is not None
    assert second.balance_remaining < first.balance_remaining < 1.0


def test_identical_requests_give_identical_bytes(client: vnb.Client) -> None:
    a = client.edit(sample_path(), "make it a watercolour", model="firered-image-edit")
    b = client.edit(sample_path(), "make it a watercolour", model="firered-image-edit")
    c = client.edit(sample_path(), "make it an oil painting", model="firered-image-edit")
    assert a.data == b.data and a.fingerprint == b.fingerprint
    assert c.data != a.data and c.fingerprint != a.fingerprint


def test_save_keeps_bytes_and_converts_on_request(client: vnb.Client, tmp_path: Path) -> None:
    res = client.edit(sample_path(), "blur", output_format="png")
    same = res.save(tmp_path / "out")
    assert same.suffix == ".png" and same.read_bytes() == res.data
    as_jpeg = res.save(tmp_path / "out.jpg")
    assert Image.open(as_jpeg).format == "JPEG"


def test_to_numpy_and_size(client: vnb.Client) -> None:
    res = client.edit(sample_path("astronaut"), "grayscale")
    arr = res.to_numpy()
    assert arr.shape[:2] == (res.size[1], res.size[0]) and arr.dtype == np.uint8


def test_notebook_display_is_labelled_local(client: vnb.Client) -> None:
    res = client.edit(sample_path(), "blur")
    html = res._repr_html_()
    assert "LOCAL venice_nb backend" in html and "<img src='data:image/" in html
    assert "local" in repr(res)


def test_large_results_display_as_small_thumbnails(client: vnb.Client) -> None:
    res = client.edit(sample_path("astronaut"), "blur", model="gpt-image-2-edit", resolution="2K")
    assert max(res.size) == 2048
    assert len(res.thumbnail_data_url()) < len(res.data) * 1.4


def test_models_carry_prices_and_constraints(client: vnb.Client) -> None:
    by_id = {m.id: m for m in client.models()}
    gpt = by_id["gpt-image-2-edit"]
    assert gpt.estimate_cost(resolution="2K", quality="high", n_images=3) == round(
        0.52 + 2 * 0.0092, 6
    )
    assert gpt.estimate_cost(resolution="1K", quality="low") == 0.03
    grok = by_id["grok-imagine-edit"]  # inputImages.included == 0: every image is extra
    assert grok.estimate_cost(resolution="2K") == round(0.04 + 0.0023, 6)
    assert all(m.is_local for m in by_id.values())
    assert all(m.prompt_character_limit > 0 and m.max_input_images >= 1 for m in by_id.values())


def test_save_edge_cases(client: vnb.Client, tmp_path: Path) -> None:
    cut = client.remove_background(sample_path("product"))
    flat = cut.save(tmp_path / "cut.jpg")  # RGBA cannot be JPEG: flattened on white
    assert Image.open(flat).mode == "RGB"
    assert cut.save(tmp_path / "v1.2").name == "v1.2.png"
    assert Image.open(cut.save(tmp_path / "cut.tiff")).format == "TIFF"
    with pytest.raises(vnb.ValidationError, match="folder"):
        cut.save(tmp_path)


def test_to_numpy_gives_colours_never_palette_indices(client: vnb.Client) -> None:
    import io

    palette = Image.new("P", (300, 300))
    palette.putpalette([10, 20, 30] * 256)
    buf = io.BytesIO()
    palette.save(buf, "PNG")
    res = client.edit(sample_path(), "blur")
    fake = dataclasses.replace(res, data=buf.getvalue())
    assert fake.to_numpy().shape == (300, 300, 3) and fake.to_numpy()[0, 0].tolist() == [10, 20, 30]
    assert client.remove_background(sample_path("product")).to_numpy().shape[2] == 4


def test_repr_and_size_do_not_decode_the_pixels(client: vnb.Client) -> None:
    res = client.edit(sample_path(), "blur")
    assert "x" in repr(res) and res.size == (1024, 681)  # the default 1K tier
    assert "image" not in vars(res), "the decoded image was cached by a repr"
