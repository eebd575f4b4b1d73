"""The studio's edit without widgets: ``EditSession`` against the local backend.

Everything Run does — the operation a painted mask calls for, the request's options, the
images in order, the price, the asynchronous run and its cancel, what the status must say —
is checked here on the session alone; no ipywidgets object is created.
"""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import traitlets
from PIL import Image

import venice_nb as vnb
from venice_nb import masks
from venice_nb.widgets._session import EditSession, Timing, wire_image

from .conftest import TEST_KEY


def _image(h: int = 300, w: int = 400) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    img[:, : w // 2] = (20, 20, 20)
    img[:, w // 2 :] = (200, 200, 200)
    img[h // 4 : h // 2, w * 5 // 8 : w * 7 // 8] = (0, 0, 250)
    return img


class _Painter(traitlets.HasTraits):
    """What the session reads from a painter: image, mask, coverage and ``mask_version``."""

    mask_version = traitlets.Int(0)

    def __init__(self, image: np.ndarray) -> None:
        super().__init__()
        self.image = image
        self.mask = np.zeros(image.shape[:2], np.uint8)

    @property
    def coverage(self) -> float:
        return float((self.mask > 0).mean())

    def paint(self, mask: np.ndarray) -> None:
        self.mask = mask
        self.mask_version += 1


@pytest.fixture
def local_client() -> Iterator[vnb.Client]:
    with vnb.Client() as c:
        assert c.is_local
        yield c


def test_the_session_needs_no_widgets() -> None:
    code = ("import sys, venice_nb.widgets._session; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('ipywidgets', 'ipycanvas', 'anywidget')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_options_are_exactly_what_the_model_offers(local_client: vnb.Client) -> None:
    s = EditSession(local_client, source=_image(), prompt="make it blue",
                    model="gpt-image-2-edit")
    assert s.offered("quality")[0] == []  # quality is a multi-edit option
    s.operation = "multi-edit"
    assert "low" in s.offered("quality")[0]
    s.quality = "low"
    assert s.options() == {"quality": "low"}
    model = s.model
    assert model is not None
    assert s.estimate() == model.estimate_cost(quality="low", n_images=1)
    s.selected_model = "firered-image-edit"  # no resolutions, no qualities
    assert s.offered("resolution")[0] == [] and "quality" not in s.options()
    assert s.prompt_count() == (12, 2048)
    s.prompt = "x" * 3000
    assert s.prompt_too_long


def test_a_session_edit_is_the_same_request_as_code(local_client: vnb.Client) -> None:
    s = EditSession(local_client, source=_image(), prompt="make it blue",
                    model="gpt-image-2-edit")
    assert s.options() == {}  # nothing changed from the API's defaults: nothing extra sent
    from_session = s.run()
    in_code = local_client.edit(_image(), "make it blue", model="gpt-image-2-edit")
    assert from_session.fingerprint == in_code.fingerprint
    s.safe_mode, s.enhance_prompt, s.output_format = False, True, "webp"
    assert s.options() == {"safe_mode": False, "enhance_prompt": True, "output_format": "webp"}


def test_a_painted_mask_chooses_multi_edit_and_one_image_models_say_why(
    local_client: vnb.Client,
) -> None:
    p = _Painter(_image())
    s = EditSession(local_client, source=p, prompt="a hat", model="gpt-image-2-edit")
    s.keep_rest = False  # the whole-image path (a region edit is the next test's)
    assert s.operation == "edit" and s.note() == ""
    p.paint(masks.rect(_image(), (0, 0, 40, 40)))
    assert s.operation == "multi-edit" and s.image_count() == 2
    s.selected_model = "luma-uni-1-edit"  # one image: edit, and the mask is said to be unused
    assert s.operation == "edit" and "mask is not sent" in s.note()
    assert "multi-edit" not in s.operations
    s.selected_model = "gpt-image-2-edit"  # takes a mask again: the painted mask is used again
    assert s.operation == "multi-edit"
    result = s.run()
    assert result.request["endpoint"] == "/image/multi-edit"
    assert len(result.request["images"]) == 2
    s.operation = "edit"
    assert "mask is ignored" in s.note()


def test_multi_edit_without_a_mask_says_the_whole_image_changes(local_client: vnb.Client) -> None:
    s = EditSession(local_client, source=_Painter(_image()), prompt="x",
                    model="gpt-image-2-edit", operation="multi-edit")
    assert "whole image will change" in s.note()


def test_cost_counts_the_images_actually_sent(local_client: vnb.Client) -> None:
    img = _image()
    state: dict[str, Any] = {"mask": None}
    s = EditSession(local_client, source=lambda: (img, state["mask"]), prompt="x",
                    model="grok-imagine-edit", operation="multi-edit")
    model = s.model
    assert model is not None
    assert s.estimate() == model.estimate_cost(n_images=1) and s.extra_images_cost() is None
    state["mask"] = masks.rect(img, (0, 0, 50, 50))
    two, one = model.estimate_cost(n_images=2), model.estimate_cost()
    assert two is not None and one is not None
    assert s.estimate() == two and s.extra_images_cost() == (one, two - one, 1)
    image, mask, steps = s.inputs()
    assert image is img and mask is not None and steps == ()


def test_run_edit_multi_edit_and_background_removal(local_client: vnb.Client) -> None:
    p = _Painter(_image())
    s = EditSession(local_client, source=p, prompt="paint it red")
    s.keep_rest = False
    got: list[Any] = []
    s.on_result(got.append)
    result = s.run()  # no running loop here: runs to completion
    assert result.request["endpoint"] == "/image/edit" and s.state == "done"
    assert isinstance(s.timing, Timing) and s.timing.total >= s.timing.backend == result.elapsed
    p.paint(np.full(p.mask.shape, 255, np.uint8))
    result = s.run()
    assert result.request["endpoint"] == "/image/multi-edit"
    s.operation = "remove background"
    assert s.estimate() is None and s.options() == {}
    result = s.run()
    assert result.request["endpoint"] == "/image/background-remove"
    assert len(got) == 3 and got[-1] is s.result


def test_failures_land_in_error_and_state(local_client: vnb.Client) -> None:
    s = EditSession(local_client, source=_image(), prompt="something nsfw")
    assert s.run() is None
    assert isinstance(s.error, vnb.ContentPolicyError) and s.state == "error"
    s.prompt = ""
    s.run()
    assert isinstance(s.error, vnb.ValidationError) and "prompt is empty" in str(s.error)
    s.source = None
    s.prompt = "x"
    s.run()
    assert isinstance(s.error, vnb.ValidationError) and "no image" in str(s.error)


def test_run_is_a_task_and_cancel_stops_it(local_client: vnb.Client) -> None:
    s = EditSession(local_client, source=_image(), prompt="make it blue")

    async def scenario() -> None:
        task = s.run()
        assert isinstance(task, asyncio.Task) and s.running and s.state == "running"
        assert s.run() is task  # a second click while running starts nothing new
        s.cancel()  # cancelled before it even started
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not s.running and s.state == "cancelled"
        assert s.cancel_note == ""  # the local backend bills nothing
        done = await s.run()
        assert done is not None and s.result is done and not s.running and s.state == "done"

    asyncio.run(scenario())


def test_async_client_is_awaited(backend: Any) -> None:
    async def scenario() -> Any:
        client = vnb.AsyncClient(base_url=backend.url)
        loaded = asyncio.Event()  # the model list loads in the background
        s = EditSession(client, source=_image(), prompt="make it blue")
        assert s.state == "loading"
        s.observe(lambda _ch: loaded.set(), names="selected_model")
        await asyncio.wait_for(loaded.wait(), timeout=30)
        assert s.models and s.state == "ready"
        result = await s.run()
        await client.aclose()
        return result

    result = asyncio.run(asyncio.wait_for(scenario(), timeout=60))
    assert result is not None and result.is_local


def test_upscale_limit_is_known_before_the_click(local_client: vnb.Client) -> None:
    s = EditSession(local_client, source=_image())
    assert s.upscale_block(2, (400, 300)) == ""
    assert "16.8 Mpx" in s.upscale_block(2, (2100, 2100))
    assert s.upscale_block(4, (1100, 1000)) != "" and s.upscale_block(2, (1100, 1000)) == ""
    assert s.upscale_estimate(2) is not None


def test_a_large_photo_is_encoded_once_as_jpeg() -> None:
    small = _image()
    assert wire_image(small) == (small, None)  # small: the client encodes it as PNG, lossless
    big = np.zeros((4600, 4000, 3), np.uint8)  # 18.4 Mpx: its PNG could pass 25 MB
    data, step = wire_image(big)
    assert isinstance(data, bytes) and step is not None and "JPEG" in step
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "JPEG" and img.size == (4000, 4600)


def test_encoded_base_is_sent_as_it_is(local_client: vnb.Client) -> None:
    buf = io.BytesIO()
    Image.fromarray(_image()).save(buf, "JPEG", quality=90)
    jpeg = buf.getvalue()
    p = _Painter(_image())
    s = EditSession(local_client, source=p, prompt="x")
    s.encoded_base = lambda: jpeg
    assert s.inputs()[0] is jpeg
    result = s.run()
    assert result is not None and s.steps == ()  # nothing was resized or re-encoded


def test_the_balance_is_read_after_a_run() -> None:
    from venice_nb._backend import BackendConfig, LocalBackend

    from .conftest import UNTHROTTLED

    with LocalBackend(BackendConfig(rate_limit=UNTHROTTLED, balance_usd=5.0)) as server, \
            vnb.Client(TEST_KEY, base_url=server.url) as client:
        s = EditSession(client, source=_image(), prompt="make it blue")
        s.run()
        left = client.balance().usd
        assert left is not None and left < 5.0 and s.balance == left


def test_a_painted_mask_is_a_region_edit_that_keeps_the_photo(local_client: vnb.Client) -> None:
    photo = _image(600, 800)
    p = _Painter(photo)
    s = EditSession(local_client, source=p, prompt="a red hat", model="gpt-image-2-edit")
    assert not s.uses_region  # no mask yet: a whole-image edit
    p.paint(masks.ellipse(photo, (500, 100, 700, 250)))
    assert s.uses_region and "rest of the photo is kept" in s.note()
    assert s.offered("aspect_ratio")[0] == []  # the crop's aspect ratio is the region's own
    result = s.run()
    assert s.region and s.state == "done" and result.size == (800, 600)
    kept = result.to_numpy()[..., :3]
    outside = masks.ellipse(photo, (480, 80, 720, 270)) == 0
    np.testing.assert_array_equal(kept[outside], photo[outside])  # untouched outside the mask
    assert result.spill is not None  # the raw answer's spill is there to show
    s.keep_rest = False  # turned off: today's whole-image multi-edit, at the model's tier
    assert not s.uses_region and "hint" in s.note()
    whole = s.run()
    assert not s.region and whole.request["endpoint"] == "/image/multi-edit"


def test_a_region_edit_refusal_is_shown_not_raised(local_client: vnb.Client) -> None:
    p = _Painter(_image())
    s = EditSession(local_client, source=p, prompt="a red hat", model="gpt-image-2-edit")
    p.paint(np.full((10, 90), 255, np.uint8))  # another aspect ratio than the photo's
    assert s.run() is None
    assert isinstance(s.error, vnb.ValidationError) and s.state == "error"


def test_a_region_edit_reuses_the_decoded_base_with_the_files_fingerprint(
    local_client: vnb.Client,
) -> None:
    """With the base's JPEG at hand, Run composites into the painter's pixels (no second
    decode) yet names the photo by the file: the same fingerprint and bytes as code."""
    from venice_nb._client._region_edit import DecodedPhoto

    buf = io.BytesIO()
    Image.fromarray(_image(600, 800)).save(buf, "JPEG", quality=92)
    jpeg = buf.getvalue()
    decoded = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
    p = _Painter(decoded)
    s = EditSession(local_client, source=p, prompt="a red hat", model="gpt-image-2-edit")
    s.encoded_base = lambda: jpeg
    mask = masks.ellipse(decoded, (500, 100, 700, 250))
    p.paint(mask)
    image, painted = s.region_inputs()
    assert isinstance(image, DecodedPhoto) and image.data is jpeg and image.pixels is decoded
    assert painted is not None and (painted == mask).all()
    result = s.run()
    code = local_client.edit_region(jpeg, mask, "a red hat", model="gpt-image-2-edit")
    assert s.region and result.fingerprint == code.fingerprint and result.data == code.data
    assert s.steps == ()


def test_a_region_edit_sends_a_large_array_base_without_encoding_it(
    local_client: vnb.Client,
) -> None:
    """Only the crop goes up, so a large decoded base is not made into a JPEG first (which
    ``edit_region`` would decode straight back); a PNG base keeps its file (transparency)."""
    big = np.zeros((4600, 4000, 3), np.uint8)  # over wire_image's JPEG threshold
    big[1000:2000, 1000:2000] = 200
    p = _Painter(big)
    s = EditSession(local_client, source=p, prompt="a red hat", model="gpt-image-2-edit")
    p.paint(masks.ellipse(big, (1200, 1200, 1800, 1800)))
    assert wire_image(big)[1] is not None  # a whole-image edit would encode it
    image, _mask = s.region_inputs()
    assert image is big
    png = io.BytesIO()
    Image.fromarray(big[:300, :400]).save(png, "PNG")
    s.encoded_base = lambda: png.getvalue()
    assert s.region_inputs()[0] == png.getvalue()
