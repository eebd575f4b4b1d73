"""``Client.edit_region`` / ``AsyncClient.edit_region`` against a local backend that behaves
like Venice (``realism="venice"``: regenerated frames, a mask layer read as a hint) and the
exact one, over loopback HTTP: the result keeps the photo, whatever the model did."""

from __future__ import annotations

import asyncio
import io
import re
import selectors
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from venice_nb import _region, masks
from venice_nb._backend import LocalBackend
from venice_nb._client import AsyncClient, Client, _request
from venice_nb._exceptions import ValidationError
from venice_nb._models import ModelInfo
from venice_nb._result import EditResult

from .conftest import REALISMS, TEST_KEY

MODEL = "qwen-image-2-edit"  # takes layers: the mask goes as a multi-edit layer
PLAIN_MODEL = "luma-uni-1-edit"  # takes one image: the crop goes as an edit
W12, H12 = 4000, 3000  # 12 Mpx


def _photo(width: int, height: int, seed: int = 0) -> np.ndarray:
    """Smooth gradients, a few soft shapes and grain: edits and seams show on it as on a photo."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width * 200 + 30, y / height * 180 + 40,
                     (x + y) / (width + height) * 160 + 60], -1)  # fmt: skip
    grain = rng.normal(0, 6, (height, width, 1)).astype(np.float32)
    return np.clip(base + grain, 0, 255).astype(np.uint8)


def _encode(arr: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    return buf.getvalue()


def _decoded(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(np.int16)


@pytest.fixture(scope="module")
def photo12() -> bytes:
    return _encode(_photo(W12, H12), "JPEG")


@pytest.fixture(scope="module")
def mask12() -> np.ndarray:
    """An ellipse of ~3 % of the photo, off centre."""
    return masks.ellipse((H12, W12), (2200, 900, 2900, 1500))


@pytest.fixture
def counted(backend: LocalBackend) -> Iterator[tuple[Client, list[int]]]:
    """A client whose POST bodies are counted at the transport."""
    bodies: list[int] = []

    def count(request: httpx.Request) -> None:
        if request.method == "POST":
            bodies.append(len(request.read()))

    http = httpx.Client(timeout=120, event_hooks={"request": [count]})
    with Client(TEST_KEY, base_url=backend.url, http_client=http, store=False) as client:
        yield client, bodies


def _band(mask: np.ndarray, plan: _region.RegionPlan) -> tuple[np.ndarray, np.ndarray]:
    """(outside the feathered band, the band): the band lies inside the painted edge."""
    hard = np.where(mask >= 128, 255, 0).astype(np.uint8)
    inner = masks.shrink(hard, 2 * plan.feather + 1) > 0
    outside = hard == 0
    return outside, ~outside & ~inner


@pytest.mark.parametrize("backend", ["venice"], indirect=True)
def test_a_12_mpx_photo_keeps_everything_outside_the_mask(
    counted: tuple[Client, list[int]], photo12: bytes, mask12: np.ndarray
) -> None:
    client, bodies = counted
    result = client.edit_region(photo12, mask12, "make it warmer", model=MODEL)
    original = _decoded(photo12)
    out = np.asarray(result.image).astype(np.int16)
    assert result.size == (W12, H12) and result.format == "jpeg"
    assert result.raw is not None and max(result.raw.size) == 1024  # Venice's tier, not ours
    plan = result.region
    assert plan is not None and not plan.whole
    outside, band = _band(mask12, plan)
    assert (out[outside] == original[outside]).all()
    # Inside: the edit (warmer: more red than blue than before).
    core = masks.shrink(mask12, 3 * plan.feather) > 0
    shift = (out[core] - original[core]).mean(axis=0)
    assert shift[0] - shift[2] > 10
    # No seam: across the band the result changes no faster than the photo does anywhere.
    def steepness(a: np.ndarray, where: np.ndarray) -> float:
        dx = np.abs(np.diff(a, axis=1)).sum(-1)[:-1, :]
        dy = np.abs(np.diff(a, axis=0)).sum(-1)[:, :-1]
        return float((dx + dy)[where[:-1, :-1]].mean())
    assert steepness(out, band) <= steepness(original, np.ones_like(band))
    # Only the crop went up: a small share of today's whole-photo multi-edit.
    whole = _request.prepare_multi_edit([photo12, masks.to_image(mask12)], "make it warmer")
    assert bodies[-1] <= 0.10 * len(whole.json_body())
    # The JPEG written keeps the photo too, up to its own rounding.
    written = _decoded(result.data)
    assert np.abs(written[outside] - original[outside]).mean() < 1.5


@pytest.mark.parametrize("backend", ["venice"], indirect=True)
def test_tone_is_matched_on_a_ring_outside_the_mask(
    client: Client, photo12: bytes, mask12: np.ndarray
) -> None:
    """Venice-like answers drift in colour; after matching, the answer agrees with the photo on
    the ring just outside the mask (mean difference <= 2 levels per channel)."""
    result = client.edit_region(photo12, mask12, "make it warmer", model=MODEL)
    assert result.raw is not None and result.region is not None
    plan = result.region
    # The correction edit_region applied, measured again from what was sent and answered.
    sent_bytes = _region.crop_for_send(Image.open(io.BytesIO(photo12)).convert("RGB"), plan)[1]
    stitched = _region.measure(sent_bytes, result.raw.image, _region.mask_for_send(mask12, plan),
                               plan)
    x0, y0, x1, y1 = plan.box
    answer = np.asarray(result.raw.image.convert("RGB").resize((x1 - x0, y1 - y0)),
                        dtype=np.float32)  # fmt: skip
    matched = answer * np.array(stitched.gain, np.float32) + np.array(stitched.offset, np.float32)
    original = _decoded(photo12)[y0:y1, x0:x1].astype(np.float32)
    hard = mask12[y0:y1, x0:x1]
    inner, outer = _region.ring_widths(plan)
    ring = (masks.grow(hard, outer) > 0) & (masks.grow(hard, inner) == 0)
    raw_gap = np.abs((answer[ring] - original[ring]).mean(axis=0))
    gap = np.abs((matched[ring] - original[ring]).mean(axis=0))
    assert gap.max() <= 2.0
    assert raw_gap.max() > gap.max()  # there was a drift to match


@pytest.mark.parametrize("backend", REALISMS, indirect=True)
def test_spill_is_measured_on_the_raw_answer(backend: LocalBackend, client: Client) -> None:
    photo = _encode(_photo(1600, 1200, seed=1), "PNG")
    mask = masks.rect((1200, 1600), (700, 450, 1000, 750))
    result = client.edit_region(photo, mask, "invert", model=MODEL)
    assert result.spill is not None
    if backend.config.realism == "exact":
        assert result.spill < 0.001
    else:
        assert result.spill > 0.05
        assert "spill" in result.caption()
    # Whatever the model did, nothing outside the mask moved (PNG: the bytes decode exactly).
    assert result.format == "png"
    assert (_decoded(result.data)[mask == 0] == _decoded(photo)[mask == 0]).all()


@pytest.mark.parametrize("backend", ["venice"], indirect=True)
def test_async_twin_gives_the_same_bytes(client: Client,
                                         async_client: AsyncClient) -> None:
    photo = _encode(_photo(1200, 900, seed=2), "JPEG")
    mask = masks.ellipse((900, 1200), (500, 300, 800, 600))
    sync = client.edit_region(photo, mask, "make it cooler", model=MODEL)

    async def run() -> EditResult:
        async with async_client:
            return await async_client.edit_region(photo, mask, "make it cooler", model=MODEL)

    twin = asyncio.run(run())
    assert twin.data == sync.data and twin.spill == sync.spill
    assert twin.fingerprint == sync.fingerprint


@pytest.mark.parametrize("backend", ["venice"], indirect=True)
def test_stored_and_replayed_byte_identical(backend: LocalBackend, tmp_path: Path) -> None:
    photo = _encode(_photo(1600, 1200, seed=3), "JPEG")
    mask = masks.ellipse((1200, 1600), (600, 400, 1000, 700))
    store = tmp_path / "store"
    with Client(TEST_KEY, base_url=backend.url, store=store) as client:
        first = client.edit_region(photo, mask, "make it sepia", model=MODEL)
        sent = backend.stats.requests
        again = client.edit_region(photo, mask, "make it sepia", model=MODEL)
        assert backend.stats.requests == sent  # answered by the store
        other = client.edit_region(photo, mask, "make it sepia", model=MODEL, feather=3)
        assert backend.stats.requests == sent + 1  # the feather is part of the fingerprint
    assert not first.from_store and again.from_store
    assert again.data == first.data and again.spill == first.spill
    assert other.fingerprint != first.fingerprint
    with Client(TEST_KEY, base_url=backend.url, store=store,
                    store_mode="replay") as replay:  # fmt: skip
        replayed = replay.edit_region(photo, mask, "make it sepia", model=MODEL)
    assert replayed.data == first.data and backend.stats.requests == sent + 1


@pytest.mark.parametrize("backend", REALISMS, indirect=True)
def test_a_model_without_layers_gets_the_crop_as_an_edit(client: Client) -> None:
    photo = _encode(_photo(1600, 1200, seed=4), "PNG")
    mask = masks.ellipse((1200, 1600), (300, 300, 600, 500))
    result = client.edit_region(photo, mask, "make it black and white", model=PLAIN_MODEL,
                                output_format="jpeg")  # fmt: skip
    assert result.raw is not None and result.raw.request["endpoint"] == "/image/edit"
    assert result.format == "jpeg" and result.size == (1600, 1200)
    assert (np.asarray(result.image)[mask == 0] == _decoded(photo)[mask == 0]).all()


@pytest.mark.parametrize("backend", ["venice"], indirect=True)
def test_a_mask_covering_most_of_the_photo_sends_it_whole_and_says_so(
    client: Client,
) -> None:
    photo = _encode(_photo(1200, 800, seed=5), "PNG")
    mask = masks.rect((800, 1200), (50, 50, 1100, 700))
    result = client.edit_region(photo, mask, "invert", model=MODEL)
    assert result.region is not None and result.region.whole
    assert any("whole photo" in action for action in result.fit_actions)
    assert (np.asarray(result.image)[mask == 0] == _decoded(photo)[mask == 0]).all()


def test_a_smaller_mask_of_the_same_shape_is_scaled(client: Client) -> None:
    photo = _encode(_photo(1600, 1200, seed=6), "PNG")
    small = masks.rect((300, 400), (100, 100, 200, 180))  # a painter's display-size mask
    result = client.edit_region(photo, small, "invert", model=MODEL)
    full = masks.resize_to(small, (1200, 1600))
    changed = (np.asarray(result.image) != _decoded(photo)).any(-1)
    assert changed[masks.shrink(full, 20) > 0].mean() > 0.9
    assert not changed[masks.grow(full, 8) == 0].any()


@pytest.mark.parametrize(
    ("mask", "model", "words"),
    [
        (np.zeros((600, 800), np.uint8), MODEL, "selects nothing"),
        (np.full((600, 600), 255, np.uint8), MODEL, "another aspect ratio"),
        (masks.rect((600, 800), (10, 10, 100, 100)),
         ModelInfo(id="flux-dev", name="FLUX", type="image"), "takes no image"),
    ],
    ids=["empty", "other-ratio", "no-image-model"],
)
def test_refusals_send_nothing(backend: LocalBackend, client: Client, mask: np.ndarray,
                               model: str | ModelInfo, words: str) -> None:
    photo = _encode(_photo(800, 600, seed=7), "PNG")
    with pytest.raises(ValidationError, match=words) as info:
        client.edit_region(photo, mask, "invert", model=model)
    assert info.value.action
    assert backend.stats.requests == 0


def test_a_url_is_refused_before_anything_is_sent(backend: LocalBackend,
                                                  client: Client) -> None:
    mask = masks.rect((600, 800), (10, 10, 100, 100))
    with pytest.raises(ValidationError, match="URL"):
        client.edit_region("https://example.com/p.jpg", mask, "invert", model=MODEL)
    assert backend.stats.requests == 0


@pytest.mark.parametrize("backend", ["venice"], indirect=True)
def test_experiments_with_a_mask_use_region_edits_by_default(client: Client) -> None:
    from venice_nb._experiment import experiment

    photo = _encode(_photo(1600, 1200, seed=8), "JPEG")
    mask = masks.ellipse((1200, 1600), (500, 400, 900, 700))
    region = experiment(photo, "invert", MODEL, masks={"oval": mask}, client=client,
                        progress=False)  # fmt: skip
    whole = experiment(photo, "invert", MODEL, masks={"oval": mask}, client=client,
                       region=False, progress=False)  # fmt: skip
    (kept,), (sent,) = region, whole
    assert kept.result is not None and sent.result is not None
    assert kept.result.size == (1600, 1200) and max(sent.result.size) == 1024
    out = np.asarray(kept.result.image)
    assert (out[mask == 0] == _decoded(photo)[mask == 0]).all()
    assert kept.result.spill is not None and kept.result.spill > 0.05
    assert "spill" in kept.caption
    frame = region.to_dicts()
    assert frame[0]["spill"] == kept.result.spill and frame[0]["width"] == 1600
    assert whole.to_dicts()[0]["spill"] is None
    assert kept.respect is not None and kept.respect.outside > 0  # the model's own leak


def test_the_docs_page_code_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Python block on "Editing part of a photo" runs, in order, as a reader would."""
    page = Path(__file__).parents[1] / "docs" / "editing-part-of-a-photo.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(page), "exec"), namespace)
    assert namespace["result"] is not None


def _serve(*flags: str) -> tuple[subprocess.Popen[str], str]:
    """``venice-nb serve --port 0 [flags]``: the process and its URL."""
    cli = Path(sys.executable).parent / "venice-nb"
    proc = subprocess.Popen([str(cli), "serve", "--port", "0", *flags], stdout=subprocess.PIPE,
                            text=True)  # fmt: skip
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        assert sel.select(timeout=60), "venice-nb serve printed nothing"
    found = re.search(r"http://127\.0\.0\.1:\d+/api/v1", proc.stdout.readline())
    assert found is not None
    return proc, found[0]


@pytest.mark.parametrize("flags", [(), ("--realism", "exact"), ("--realism", "venice")])
def test_serve_realism_flag(flags: tuple[str, ...]) -> None:
    """The served backend answers a masked multi-edit as asked, the same bytes every time:
    Venice-like (the default) moves pixels outside the mask, exact keeps them."""
    photo = _encode(_photo(1024, 768, seed=9), "PNG")  # the tier's size: pixels compare 1:1
    mask = masks.rect((768, 1024), (300, 200, 500, 400))
    proc, url = _serve(*flags)
    try:
        with Client(TEST_KEY, base_url=url, store=False) as client:
            first, again = (client.multi_edit([photo, masks.to_image(mask)], "invert",
                                              model=MODEL, output_format="png")
                            for _ in range(2))  # fmt: skip
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert first.data == again.data  # deterministic in both
    out = _decoded(first.data)
    assert out.shape[:2] == (768, 1024)
    kept = (out == _decoded(photo)).all(-1)[mask == 0].mean()
    if flags == ("--realism", "exact"):
        assert kept == 1.0
    else:
        assert kept < 0.5


def test_realism_must_be_known() -> None:
    from venice_nb._backend import BackendConfig

    with pytest.raises(ValueError, match="realism"):
        BackendConfig(realism="kind")


@pytest.mark.parametrize("backend", ["venice"], indirect=True)
def test_a_zero_mean_edit_leaves_no_tone_step(client: Client) -> None:
    """Sharpening changes no mean colour, but the Venice-like answer drifts: after tone
    matching, the mask's mean colour is the photo's (within 1 level), no halo to see."""
    photo = _encode(_photo(1600, 1200, seed=11), "JPEG")
    mask = masks.ellipse((1200, 1600), (600, 400, 1000, 700))
    result = client.edit_region(photo, mask, "sharpen", model=MODEL)
    assert result.raw is not None and result.region is not None
    original = _decoded(photo).astype(np.float32)
    inside = mask >= 128
    out = np.asarray(result.image).astype(np.float32)
    x0, y0, x1, y1 = result.region.box
    raw = np.asarray(result.raw.image.convert("RGB").resize((x1 - x0, y1 - y0)), np.float32)
    raw_step = np.abs((raw - original[y0:y1, x0:x1])[inside[y0:y1, x0:x1]].mean(axis=0))
    step = np.abs((out - original)[inside].mean(axis=0))
    assert step.max() <= 1.0 < raw_step.max()


@pytest.mark.parametrize("backend", ["venice"], indirect=True)
def test_the_composite_is_encoded_on_first_read_once_and_as_before(client: Client) -> None:
    """``.data`` is encoded lazily (a 33 Mpx JPEG encode is the largest part of a region edit):
    the first read, from any number of threads at once, encodes once; the bytes are what
    ``encode_output`` makes of ``.image``, and ``.raw`` is untouched."""
    import threading

    photo = _encode(_photo(1200, 900, seed=4), "JPEG")
    mask = masks.ellipse((900, 1200), (400, 300, 700, 600))
    result = client.edit_region(photo, mask, "make it warmer", model=MODEL)
    assert result.content_type == "image/jpeg" and result.size == (1200, 900)
    assert repr(result).startswith("EditResult(1200x900 jpeg")
    reads: list[bytes] = []
    threads = [threading.Thread(target=lambda: reads.append(result.data)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(reads) == 8 and all(r is reads[0] for r in reads)  # one encode, shared
    assert reads[0] == _region.encode_output(result.image, "jpeg")[0]
    assert result.raw is not None and result.raw.data != reads[0]
    with pytest.raises(AttributeError):
        result.data = b""  # type: ignore[misc]  # frozen as before
    import copy
    import pickle

    fresh = client.edit_region(photo, mask, "make it warmer", model=MODEL)
    for twin in (pickle.loads(pickle.dumps(fresh)), copy.copy(fresh)):  # a lock: encoded first
        assert twin.data == reads[0] and twin == fresh and twin.spill == fresh.spill


@pytest.mark.parametrize("backend", ["venice"], indirect=True)
def test_the_paid_answer_is_stored_before_the_composite_exists(
    backend: LocalBackend, tmp_path: Path
) -> None:
    """The store holds the raw answer as soon as the request returns: the composite's file
    is made later (on first read), and a replay makes the same bytes from the raw answer."""
    from venice_nb._store import ResultStore

    photo = _encode(_photo(1200, 900, seed=5), "JPEG")
    mask = masks.ellipse((900, 1200), (300, 200, 600, 500))
    store = tmp_path / "store"
    with Client(TEST_KEY, base_url=backend.url, store=store) as client:
        result = client.edit_region(photo, mask, "make it sepia", model=MODEL)
    assert result.raw is not None
    kept = ResultStore(store)
    assert [r.fingerprint for r in kept.history()] == [result.fingerprint]
    assert kept.result(result.fingerprint).data == result.raw.data  # the raw answer, as paid
    kept.close()
    with Client(TEST_KEY, base_url=backend.url, store=store, store_mode="replay") as replay:
        replayed = replay.edit_region(photo, mask, "make it sepia", model=MODEL)
    assert replayed.from_store and replayed.data == result.data


@pytest.mark.parametrize("backend", ["venice"], indirect=True)
def test_a_decoded_photo_skips_the_decode_with_the_same_fingerprint(client: Client) -> None:
    """The studio hands over its JPEG's bytes with the pixels it already decoded: the same
    request, fingerprint and result as passing the file."""
    from venice_nb._client._region_edit import DecodedPhoto

    photo = _encode(_photo(1200, 900, seed=6), "JPEG")
    pixels = np.asarray(Image.open(io.BytesIO(photo)).convert("RGB"))
    pixels.flags.writeable = False  # as the painter holds it
    mask = masks.ellipse((900, 1200), (500, 300, 800, 600))
    from_file = client.edit_region(photo, mask, "make it cooler", model=MODEL)
    decoded = client.edit_region(DecodedPhoto(photo, pixels), mask, "make it cooler",
                                 model=MODEL)
    assert decoded.fingerprint == from_file.fingerprint
    assert decoded.data == from_file.data and decoded.format == "jpeg"
    assert np.asarray(pixels).sum() == _decoded(photo).sum()  # the caller's pixels untouched
    # Outside the window the stitch writes (what the studio's viewer re-shrinks), nothing moved.
    assert decoded.region is not None
    x0, y0, x1, y1 = decoded.region.changed
    outside = np.ones(pixels.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert (np.asarray(decoded.image)[outside] == pixels[outside]).all()
    assert (np.asarray(decoded.image)[y0:y1, x0:x1] != pixels[y0:y1, x0:x1]).any()
    png = _encode(_photo(1200, 900, seed=6), "PNG")
    with pytest.raises(ValidationError, match="JPEG"):
        client.edit_region(DecodedPhoto(png, pixels), mask, "x", model=MODEL)
    with pytest.raises(ValidationError, match="JPEG"):
        client.edit_region(DecodedPhoto(photo, pixels[:800]), mask, "x", model=MODEL)
