"""Bad input never crashes and never costs a request (property-based).

Hypothesis generates bad inputs for every public entry point (both clients' edit, multi_edit and
remove_background, the client constructor, masks, layers, experiments). Every case must end in
a ``ValidationError`` with an ``action``, with zero HTTP requests counted both at the client's
transport and at the local backend (the wire), within a bounded amount of memory. Boundary
inputs that must succeed are tested beside them.
"""

from __future__ import annotations

import asyncio
import io
import struct
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

import venice_nb as vnb
from venice_nb import layers, masks
from venice_nb._images import load_image

from ._spec import AsyncSpecCheckingTransport, SpecCheckingTransport
from .conftest import TEST_KEY

MODEL = "qwen-image-2-edit"  # 3 images at most, prompt limit 2048, no resolutions or qualities
MIN_DISTINCT_CASES = 150
CASE_MEMORY_LIMIT = 64_000_000  # bytes traced by one refusal, at most
# Pillow's pixel buffers are invisible to tracemalloc: decodes are counted instead. The largest
# image any case really holds is 320x240; a refusal must never decode what a header claims.
DECODE_PIXEL_LIMIT = 320 * 240


def _encoded(size: tuple[int, int], fmt: str, mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    rng = np.random.default_rng(size[0] * 7 + size[1])
    pixels = rng.integers(0, 256, (size[1], size[0], len(mode)), dtype=np.uint8)
    Image.fromarray(pixels if len(mode) > 1 else pixels[:, :, 0], mode).save(buf, fmt)
    return buf.getvalue()


GOOD_PNG = _encoded((320, 240), "PNG")
GOOD_JPEG = _encoded((320, 240), "JPEG")
SMALL_PNG = _encoded((40, 30), "PNG")


def _png_claiming(data: bytes, width: int, height: int) -> bytes:
    """``data`` (a PNG) with its header rewritten to claim another size (CRC kept valid)."""
    out = bytearray(data)
    out[16:24] = struct.pack(">II", width, height)
    out[29:33] = struct.pack(">I", zlib.crc32(bytes(out[12:29])) & 0xFFFFFFFF)
    return bytes(out)


# ---- strategies ----------------------------------------------------------------------------

JUNK = st.one_of(
    st.integers(),
    st.floats(),
    st.binary(max_size=8),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.complex_numbers(),
    st.just(object()),
)
NOT_BOOL = st.one_of(JUNK, st.text(max_size=5)).filter(lambda v: not isinstance(v, bool))


def _not_in(values: tuple[str, ...], *, fold: bool = False) -> st.SearchStrategy[Any]:
    def ok(v: Any) -> bool:
        if v is None or isinstance(v, bool):
            return False
        if isinstance(v, str):
            return (v.lower() if fold else v) not in values
        return True

    return st.one_of(JUNK, st.text(max_size=12)).filter(ok)


def _cut(data: bytes) -> st.SearchStrategy[bytes]:
    return st.integers(1, len(data) - 1).map(lambda n: data[:n])


BAD_URLS = st.one_of(
    st.sampled_from([
        "http://", "https://", "https:///photo.png", "http:// /a.png",
        "https://exa mple.com/my photo.png", "ftp://example.com/a.png", "file:///etc/passwd",
        "FTP://EXAMPLE.COM/a.png", "https://example.com/a\n.png", "http://[::1/a.png",
    ]),
    st.tuples(st.from_regex(r"\A[a-z][a-z0-9+.-]{1,8}\Z"), st.text(max_size=20))
    .filter(lambda t: t[0] not in ("http", "https", "data"))
    .map(lambda t: f"{t[0]}://{t[1]}"),
    st.tuples(st.sampled_from(["http://", "https://"]), st.text(min_size=1, max_size=12),
              st.sampled_from([" ", "\t", "\x00", "\x7f"]))
    .map(lambda t: f"{t[0]}example.com/{t[1]}{t[2]}x.png"),
)
BAD_DATA_URLS = st.one_of(
    st.text(max_size=20).map(lambda t: "data:image/png," + t),
    st.text(alphabet="!@#$%^&*()=~ ", min_size=1, max_size=20).map(
        lambda t: "data:image/png;base64," + t
    ),
    st.binary(max_size=40).map(lambda b: "data:image/png;base64," + __import__("base64")
                               .b64encode(b).decode()),
)
BAD_MASK_ARRAYS = st.one_of(  # bad as masks and as images
    st.sampled_from([np.int64, np.complex64, np.uint16, object]).map(
        lambda t: np.zeros((300, 300), dtype=t)
    ),
    st.sampled_from([(300,), (300, 300, 2), (2, 300, 300, 3)]).map(
        lambda shape: np.zeros(shape, np.uint8)
    ),
    st.sampled_from([-0.5, 1.5, np.nan, np.inf]).map(lambda v: np.full((300, 300), v)),
)
BAD_ARRAYS = st.one_of(  # bad as images to send
    BAD_MASK_ARRAYS,
    st.sampled_from([(0, 300), (300, 0, 3)]).map(lambda shape: np.zeros(shape, np.uint8)),
    st.tuples(st.integers(1, 255), st.integers(1, 255)).map(
        lambda hw: np.zeros(hw, np.uint8)
    ),
)
BAD_IMAGES = st.one_of(
    st.binary(max_size=200),
    _cut(GOOD_PNG),
    _cut(GOOD_JPEG),
    st.tuples(st.integers(320, 5000), st.integers(240, 5000))
    .filter(lambda wh: wh[0] * wh[1] > 320 * 240)
    .map(lambda wh: _png_claiming(GOOD_PNG, *wh)),
    st.tuples(st.integers(8_000, 60_000), st.integers(8_000, 60_000))
    .map(lambda wh: _png_claiming(SMALL_PNG, *wh)),
    st.tuples(st.integers(1, 255), st.integers(1, 255)).map(lambda wh: _encoded(wh, "PNG")),
    st.text(min_size=1, max_size=30).map(lambda t: "/nonexistent-dir/" + t),
    BAD_URLS,
    BAD_DATA_URLS,
    BAD_ARRAYS,
    JUNK.filter(lambda v: not isinstance(v, bytes)),
)
BAD_PROMPTS = st.one_of(
    JUNK.filter(lambda v: not isinstance(v, str)),
    st.text(alphabet=" \t\n\r\u3000", max_size=10),
    st.integers(1, 40).map(lambda extra: "é" * (2048 + extra)),
    st.integers(0, 40).map(lambda extra: "😀" * (1024 + 1 + extra)),  # 2 UTF-16 units each
    st.sampled_from(["\ud800", "fix \udfff this"]),
)


@dataclass(frozen=True)
class Case:
    key: str  # what was tried, for counting distinct cases and for failure messages
    call: Callable[[Any], Any]  # given the harness, runs one call that must be refused


def _client_case(method: str, *args: Any, **kwargs: Any) -> st.SearchStrategy[Case]:
    def make(kind: str) -> Case:
        def call(h: Harness) -> Any:
            return h.run(kind, method, *args, **kwargs)

        return Case(f"{kind}.{method}{args!r:.120}{kwargs!r:.120}", call)

    return st.sampled_from(["sync", "async"]).map(make)


def _option_cases() -> st.SearchStrategy[Case]:
    options = {
        "model": st.one_of(JUNK, st.text(max_size=20)).filter(
            lambda v: v is not None and v != MODEL and not isinstance(v, vnb.ModelInfo)
        ),
        "aspect_ratio": _not_in(("auto", "1:1", "3:2", "16:9", "21:9", "9:16", "2:3", "3:4",
                                 "4:5")),
        "resolution": _not_in(()),  # this model lists none: every resolution is refused
        "quality": _not_in(()),
        "output_format": _not_in(("png", "jpeg", "jpg", "webp"), fold=True),
        "safe_mode": NOT_BOOL,
        "enhance_prompt": NOT_BOOL,
        "upload": _not_in(("json", "multipart")),
        "fit": NOT_BOOL,
    }

    def case(name: str) -> st.SearchStrategy[Case]:
        method = "multi_edit" if name == "quality" else "edit"
        image: Any = [GOOD_PNG] if method == "multi_edit" else GOOD_PNG
        model = {} if name == "model" else {"model": MODEL}
        return options[name].flatmap(
            lambda v: _client_case(method, image, "a prompt", **{**model, name: v})
        )

    return st.sampled_from(sorted(options)).flatmap(case)


def _no_model_cases() -> st.SearchStrategy[Case]:
    """Without a model the API's own rules still apply (e.g. ``resolution`` is short text)."""
    return st.one_of(
        _not_in(()).filter(lambda v: not isinstance(v, str) or not 1 <= len(v) <= 10)
        .flatmap(lambda v: _client_case("edit", GOOD_PNG, "x", resolution=v)),
        _not_in(("low", "medium", "high")).flatmap(
            lambda v: _client_case("multi_edit", [GOOD_PNG], "x", quality=v)
        ),
    )


def _multi_cases() -> st.SearchStrategy[Case]:
    too_many = st.integers(4, 9).flatmap(
        lambda n: _client_case("multi_edit", [GOOD_PNG] * n, "x", model=MODEL)
    )
    a_bad_layer = st.tuples(BAD_IMAGES, st.integers(0, 2)).flatmap(
        lambda t: _client_case(
            "multi_edit", [GOOD_PNG] * t[1] + [t[0]] + [GOOD_JPEG] * (2 - t[1]), "x"
        )
    )
    return st.one_of(too_many, a_bad_layer, _client_case("multi_edit", [], "x"))


def _background_cases() -> st.SearchStrategy[Case]:
    # The endpoint has no minimum size: small but valid images are not bad input here.
    bad = BAD_IMAGES.filter(
        lambda v: not (isinstance(v, bytes) and v.startswith(b"\x89PNG") and _is_whole_small(v))
        and not (isinstance(v, np.ndarray) and v.dtype == np.uint8 and v.ndim == 2 and v.size)
    )
    return st.one_of(
        bad.flatmap(lambda v: _client_case("remove_background", v)),
        _not_in(("json", "multipart")).flatmap(
            lambda v: _client_case("remove_background", GOOD_PNG, upload=v)
        ),
        NOT_BOOL.flatmap(lambda v: _client_case("remove_background", GOOD_PNG, fit=v)),
    )


def _layer_stack_cases() -> st.SearchStrategy[Case]:
    """A stack's base may be any readable image (no size limit applies to it locally)."""
    bad = BAD_IMAGES.filter(
        lambda v: not (isinstance(v, bytes) and v.startswith(b"\x89PNG") and _is_whole_small(v))
        and not (isinstance(v, np.ndarray) and v.dtype == np.uint8 and v.ndim == 2 and v.size)
    )
    return bad.map(lambda v: Case(f"LayerStack({v!r:.80})", lambda h: layers.LayerStack(v)))


def _is_whole_small(data: bytes) -> bool:
    try:
        load_image(data, min_pixels=0)
    except vnb.ValidationError:
        return False
    return True


def _constructor_cases() -> st.SearchStrategy[Case]:
    def make(name: str, value: Any) -> Case:
        def call(h: Harness) -> Any:
            kwargs = {"base_url": h.backend.url, "store": False, name: value}
            return vnb.Client(value if name == "api_key" else TEST_KEY, **{
                k: v for k, v in kwargs.items() if k != "api_key"
            })

        return Case(f"Client({name}={value!r:.80})", call)

    bad = {
        "api_key": JUNK.filter(lambda v: v is not None),
        "base_url": JUNK.filter(lambda v: v is not None),
        "timeout": st.one_of(JUNK, st.floats(max_value=0)).filter(
            lambda v: not (isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
                           and v == v and v != float("inf"))
        ),
        "max_retries": st.one_of(st.integers(max_value=-1), st.floats(), st.booleans(),
                                 st.text(max_size=3)),
        "wallet_header": _not_in(("SIGN-IN-WITH-X", "X-Sign-In-With-X")),
        "store": JUNK.filter(lambda v: not isinstance(v, (bool, str)) and v is not None),
        "store_mode": _not_in(("off", "use", "refresh", "replay")),
    }
    return st.sampled_from(sorted(bad)).flatmap(lambda n: bad[n].map(lambda v: make(n, v)))


MASK = np.zeros((300, 400), np.uint8)
MASK[100:200, 100:200] = 255


def _helper_cases() -> st.SearchStrategy[Case]:
    bad_px = st.one_of(
        st.floats(max_value=-0.6), st.integers(max_value=-1), st.just(float("nan")),
        st.just(float("inf")), st.text(max_size=3), st.booleans(), st.none(),
    )
    bad_fraction = st.one_of(
        st.floats().filter(lambda v: not 0 <= v <= 1), st.text(max_size=3), st.none()
    )

    def helper(key: str, fn: Callable[[], Any]) -> Case:
        return Case(key, lambda h: fn())

    return st.one_of(
        st.tuples(st.sampled_from(["grow", "shrink", "feather"]), bad_px).map(
            lambda t: helper(f"masks.{t[0]}({t[1]!r})",
                             lambda: getattr(masks, t[0])(MASK, t[1]))
        ),
        BAD_MASK_ARRAYS.map(lambda a: helper(f"masks.invert({a.dtype}{a.shape})",
                                        lambda: masks.invert(a))),
        JUNK.filter(lambda v: not (isinstance(v, list) and len(v) == 2 and min(v) > 0))
        .map(lambda v: helper(f"masks.rect(size={v!r:.60})",
                              lambda: masks.rect(v, (0, 0, 1, 1)))),
        JUNK.filter(lambda v: not (isinstance(v, list) and len(v) == 4))
        .map(lambda v: helper(f"masks.rect(box={v!r:.60})", lambda: masks.rect((30, 40), v))),
        st.one_of(JUNK, st.text(max_size=10)).filter(
            lambda v: not isinstance(v, (int, str, tuple)) or isinstance(v, bool)
        ).map(lambda v: helper(f"masks.from_color(color={v!r:.60})",
                               lambda: masks.from_color(np.zeros((30, 40, 3), np.uint8), v))),
        bad_px.map(lambda v: helper(f"masks.brush(radius={v!r})",
                                    lambda: masks.brush((30, 40), [(1, 2)], v))),
        bad_fraction.map(lambda v: helper(f"LayerStack.add_overlay(opacity={v!r})",
                                          lambda: layers.LayerStack(GOOD_PNG)
                                          .add_overlay(SMALL_PNG, opacity=v))),
        st.one_of(JUNK, st.floats(max_value=0)).filter(
            lambda v: not (isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
                           and v == v and v != float("inf"))
        ).map(lambda v: helper(f"LayerStack.add_overlay(scale={v!r:.40})",
                               lambda: layers.LayerStack(GOOD_PNG)
                               .add_overlay(SMALL_PNG, scale=v))),
        JUNK.filter(lambda v: not (isinstance(v, list) and len(v) == 2 and abs(v[0]) < 300
                                   and abs(v[1]) < 200))
        .map(lambda v: helper(f"LayerStack.add_overlay(position={v!r:.40})",
                                  lambda: layers.LayerStack(GOOD_PNG)
                                  .add_overlay(SMALL_PNG, position=v))),
        BAD_IMAGES.filter(lambda v: not isinstance(v, np.ndarray) or v.ndim != 2 or v.size == 0
                          or v.dtype != np.uint8)
        .map(lambda v: helper(f"LayerStack.add_mask({v!r:.60})",
                              lambda: layers.LayerStack(GOOD_PNG).add_mask(v))),
    )


def _experiment_cases() -> st.SearchStrategy[Case]:
    """Estimating and running, sync and async: every job is planned (and refused) up front."""

    def make(key: str, **kwargs: Any) -> st.SearchStrategy[Case]:
        def case(entry: str) -> Case:
            def call(h: Harness) -> Any:
                args = {"images": GOOD_PNG, "prompts": "x", "models": MODEL, **kwargs}
                positional = (args.pop("images"), args.pop("prompts"), args.pop("models"))
                if entry == "estimate":
                    return vnb.estimate_experiment(*positional, client=h.client, **args)
                if entry == "run":
                    return vnb.experiment(*positional, client=h.client, progress=False, **args)
                return h.loop.run_until_complete(
                    vnb.estimate_experiment_async(*positional, client=h.aclient, **args)
                )

            return Case(f"{entry}: {key}", call)

        return st.sampled_from(["estimate", "run", "estimate_async"]).map(case)

    return st.one_of(
        st.one_of(st.floats(max_value=-0.01), st.just(float("nan")), st.text(max_size=3),
                  st.booleans()).flatmap(lambda v: make(f"(budget={v!r})", budget=v)),
        BAD_IMAGES.flatmap(lambda v: make(f"(images=[good, {v!r:.60}])",
                                      images=[GOOD_PNG, v])),
        BAD_PROMPTS.filter(lambda v: isinstance(v, str)).flatmap(
            lambda v: make(f"(prompts=[{v!r:.40}])", prompts=[v])
        ),
        st.text(min_size=1, max_size=12).flatmap(
            lambda v: make(f"(unknown param {v!r})", **{"x_" + v.replace("-", "_"): 1})
            if v.isidentifier() else make(f"(models=[{v!r}])", models=[v])
        ),
    )


def _method_cases() -> st.SearchStrategy[Case]:
    return st.one_of(
        st.one_of(JUNK, st.just("")).filter(lambda v: not isinstance(v, str) or not v)
        .flatmap(lambda v: _client_case("models", v)),
        st.one_of(JUNK, st.text(max_size=5)).flatmap(lambda v: _client_case("send", v)),
    )


BAD_CASES = st.one_of(
    _method_cases(),
    BAD_IMAGES.flatmap(lambda v: _client_case("edit", v, "a prompt")),
    BAD_PROMPTS.flatmap(lambda v: _client_case("edit", GOOD_PNG, v, model=MODEL)),
    _option_cases(),
    _no_model_cases(),
    _multi_cases(),
    _background_cases(),
    _constructor_cases(),
    _helper_cases(),
    _layer_stack_cases(),
    _experiment_cases(),
)


# ---- harness -------------------------------------------------------------------------------


class Harness:
    """Both clients on one local backend, with requests counted at each client's transport and
    at the backend itself."""

    def __init__(self, backend: vnb.LocalBackend) -> None:
        self.backend = backend
        self.transport = SpecCheckingTransport()
        self.async_transport = AsyncSpecCheckingTransport()
        self.loop = asyncio.new_event_loop()
        self.decoded: list[int] = []  # pixel counts of the files Pillow decoded
        self.client = vnb.Client(TEST_KEY, base_url=backend.url, store=False,
                                 http_client=httpx.Client(transport=self.transport))
        self.aclient = vnb.AsyncClient(
            TEST_KEY, base_url=backend.url, store=False,
            http_client=httpx.AsyncClient(transport=self.async_transport),
        )
        # Model facts are needed to judge a model's options: read them once, up front (and the
        # legacy-id mapping, which an unknown id is looked up in before it is refused).
        self.client.models()
        self.loop.run_until_complete(self.aclient.models())
        vnb.estimate_experiment(GOOD_PNG, "x", "qwen-edit", client=self.client)

    def run(self, kind: str, method: str, *args: Any, **kwargs: Any) -> Any:
        if kind == "sync":
            return getattr(self.client, method)(*args, **kwargs)
        return self.loop.run_until_complete(getattr(self.aclient, method)(*args, **kwargs))

    def requests(self) -> tuple[int, int, int]:
        return (len(self.transport.requests), len(self.async_transport.requests),
                self.backend.stats.requests)

    def close(self) -> None:
        self.client.close()
        self.loop.run_until_complete(self.aclient.aclose())
        self.loop.close()


@pytest.fixture
def harness(backend: vnb.LocalBackend, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    h = Harness(backend)
    load = ImageFile.ImageFile.load

    def counted_load(img: ImageFile.ImageFile) -> Any:
        h.decoded.append(img.size[0] * img.size[1])
        return load(img)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counted_load)
    yield h
    h.close()
    assert not h.transport.problems and not h.async_transport.problems


def test_bad_input_is_refused_before_any_request(harness: Harness) -> None:
    seen: set[str] = set()
    at_start = harness.requests()

    @settings(max_examples=260, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                     HealthCheck.data_too_large])
    @given(case=BAD_CASES)
    def refused(case: Case) -> None:
        seen.add(case.key)
        before = harness.requests()
        harness.decoded.clear()
        tracemalloc.start()
        try:
            with pytest.raises(vnb.ValidationError) as info:
                case.call(harness)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        error = info.value
        assert error.action, f"{case.key}: no action in {error!r}"
        assert isinstance(error, ValueError) and isinstance(error, TypeError)
        assert harness.requests() == before, f"{case.key}: a request was sent"
        assert peak < CASE_MEMORY_LIMIT, f"{case.key}: {peak:,} bytes to refuse it"
        assert max(harness.decoded, default=0) <= DECODE_PIXEL_LIMIT, (
            f"{case.key}: decoded {max(harness.decoded):,} pixels to refuse it"
        )

    refused()
    assert harness.requests() == at_start
    assert len(seen) >= MIN_DISTINCT_CASES, f"only {len(seen)} distinct cases were generated"
    print(f"{len(seen)} distinct bad inputs refused")  # shown with -s / -rP


# ---- named cases from the issue -------------------------------------------------------------


def _refused(h: Harness, call: Callable[[], Any], match: str, field: str | None = None,
             ) -> vnb.ValidationError:
    before = h.requests()
    with pytest.raises(vnb.ValidationError, match=match) as info:
        call()
    assert info.value.action and h.requests() == before
    if field is not None:
        assert info.value.field == field
    return info.value


@pytest.mark.parametrize(
    ("kwargs", "match", "field"),
    [
        ({"model": 123}, "not a model id", "model"),
        ({"model": 1.5}, "not a model id", "model"),
        ({"model": ""}, "not a model id", "model"),
        ({"output_format": 5}, "output_format=5", "output_format"),
        ({"resolution": 2}, "resolution=2", "resolution"),
        ({"aspect_ratio": ["1:1"]}, "aspect_ratio", "aspect_ratio"),
    ],
)
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_wrong_types_name_the_argument(harness: Harness, kind: str, kwargs: dict[str, Any],
                                       match: str, field: str) -> None:
    _refused(harness, lambda: harness.run(kind, "edit", GOOD_PNG, "x", **kwargs), match, field)


@pytest.mark.parametrize(
    "kwargs", [{"prompt": " "}, {"upload": "ftp"}, {"safe_mode": "yes"}, {"fit": 1}]
)
def test_a_bad_call_fetches_no_model_list_either(backend: vnb.LocalBackend,
                                                 kwargs: dict[str, Any]) -> None:
    """A cold client judges what needs no model before it asks for the model list."""
    call = {"prompt": "x", **kwargs}
    cold = vnb.Client(TEST_KEY, base_url=backend.url, store=False)
    with cold, pytest.raises(vnb.ValidationError):
        cold.edit(GOOD_PNG, call.pop("prompt"), model=MODEL, **call)
    assert backend.stats.requests == 0


def test_aspect_ratio_advice_lists_each_choice_once(harness: Harness) -> None:
    err = _refused(harness, lambda: harness.client.edit(GOOD_PNG, "x", model="gpt-image-2-edit",
                                                        aspect_ratio="16:9"), "16:9")
    choices = err.action.removeprefix("use one of ").split(", ")
    assert choices == ["auto", "1:1", "3:2", "2:3"]


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("https://exa mple.com/my photo.png", "spaces"),
        ("http://", "no host"),
        ("https:///a.png", "no host"),
        ("ftp://example.com/a.png", "'ftp://example.com/a.png' is a ftp: URL"),
        ("file:///etc/passwd", "'file:///etc/passwd' is a file: URL"),
    ],
)
def test_urls_venice_cannot_fetch_are_refused_as_urls(harness: Harness, url: str,
                                                      match: str) -> None:
    _refused(harness, lambda: harness.client.edit(url, "x"), match, "image")


def test_an_uppercase_scheme_is_a_url_not_a_missing_file() -> None:
    payload = load_image("HTTPS://EXAMPLE.COM/a.png")
    assert payload.url == "https://EXAMPLE.COM/a.png"


def test_a_malformed_data_url_says_what_to_do(harness: Harness) -> None:
    err = _refused(harness, lambda: harness.client.edit("data:image/png;base64,@@@", "x"),
                   "invalid base64", "image")
    assert "b64encode" in err.action
    _refused(harness, lambda: harness.client.edit("data:image/png,abc", "x"), "not base64")


def test_truncated_and_lying_files_are_refused_from_their_structure(harness: Harness) -> None:
    _refused(harness, lambda: harness.client.edit(GOOD_JPEG[:-2], "x"), "JPEG: it is truncated")
    _refused(harness, lambda: harness.client.edit(GOOD_PNG[:-20], "x"), "cut off")
    lying = _png_claiming(_encoded((16, 16), "PNG"), 600, 600)
    _refused(harness, lambda: harness.client.edit(lying, "x"), "header says 600x600")
    _refused(harness, lambda: harness.client.multi_edit([GOOD_PNG, lying], "x"), "600x600",
             "images")
    _refused(harness, lambda: harness.client.remove_background(lying), "600x600")
    _refused(harness, lambda: harness.loop.run_until_complete(
        harness.aclient.edit(GOOD_JPEG[:-2], "x")), "truncated")


def test_remove_background_checks_pixels_and_takes_fit(harness: Harness) -> None:
    big = Image.new("L", (5800, 5800))  # 33,640,000 > 33,177,600 pixels
    err = _refused(harness, lambda: harness.client.remove_background(big), "33,177,600")
    assert "fit=True" in err.action
    from venice_nb._client._request import prepare_background_remove

    fitted = prepare_background_remove(big, fit=True)
    w, h = fitted.images[0].size or (0, 0)
    assert w * h <= 33_177_600 and fitted.fit_actions


def test_masks_grow_beyond_the_image_selects_everything() -> None:
    assert masks.grow(MASK, 1e9).min() == 255
    assert masks.shrink(MASK, 1e9).max() == 0
    assert masks.feather(MASK, 1e9).shape == MASK.shape


def test_a_layer_stack_raises_one_error_type() -> None:
    stack = layers.LayerStack(GOOD_PNG)
    call: Callable[[], object]
    for call in (
        lambda: stack.add_mask(np.zeros((30, 40), np.uint8)),  # selects nothing
        lambda: stack.add_mask(np.zeros((30, 400), np.uint8)),  # another aspect ratio
        lambda: stack.add_overlay(SMALL_PNG, opacity=0),
        lambda: stack.add_overlay(SMALL_PNG, position=(10_000, 0)),
        lambda: stack.add_overlay(SMALL_PNG, scale=1e9),
    ):
        with pytest.raises(vnb.ValidationError) as info:
            call()
        assert info.value.action and info.value.field


def test_the_cli_prints_one_line_and_no_traceback(capsys: pytest.CaptureFixture[str],
                                                  tmp_path: Any, backend: vnb.LocalBackend,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from venice_nb._cli import main

    monkeypatch.setenv("VENICE_BASE_URL", backend.url)
    monkeypatch.setenv("VENICE_API_KEY", TEST_KEY)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(GOOD_JPEG[:-2])
    assert main(["edit", str(broken), "-p", "x", "-o", str(tmp_path / "out.png")]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "truncated" in err and "what to do" in err
    assert backend.stats.requests == 0


def test_repr_is_safe_on_half_built_objects() -> None:
    for cls in (vnb.Client, vnb.AsyncClient, vnb.LayerStack):
        half = cls.__new__(cls)
        assert cls.__name__ in repr(half)


def test_saving_a_result_needs_a_path(harness: Harness) -> None:
    result = harness.client.edit(GOOD_PNG, "blur")
    with pytest.raises(vnb.ValidationError, match="not a file path") as info:
        result.save(123)
    assert info.value.action


def test_an_unknown_sample_is_a_validation_error() -> None:
    with pytest.raises(vnb.ValidationError, match="no sample named") as info:
        vnb.sample("../../etc/passwd")
    assert "astronaut" in info.value.action


# ---- boundaries that must succeed -------------------------------------------------------------


def test_exactly_65536_pixels_is_accepted(harness: Harness) -> None:
    for size in ((256, 256), (128, 512)):
        assert harness.client.edit(_encoded(size, "PNG"), "blur").size


def test_a_prompt_exactly_at_the_model_limit_in_utf16(harness: Harness) -> None:
    limit = next(m for m in harness.client.models() if m.id == MODEL).prompt_character_limit
    at_limit = "😀" * (limit // 2) + "a" * (limit % 2)  # each emoji is 2 UTF-16 code units
    assert harness.client.edit(GOOD_PNG, at_limit, model=MODEL).data
    _refused(harness, lambda: harness.client.edit(GOOD_PNG, at_limit + "a", model=MODEL),
             f"at most {limit:,}", "prompt")


def test_the_model_maximum_image_count(harness: Harness) -> None:
    limit = next(m for m in harness.client.models() if m.id == MODEL).max_input_images
    images = [GOOD_PNG] + [GOOD_JPEG] * (limit - 1)
    assert harness.loop.run_until_complete(
        harness.aclient.multi_edit(images, "combine", model=MODEL)).data
    _refused(harness, lambda: harness.client.multi_edit([*images, GOOD_PNG], "x", model=MODEL),
             f"1 to {limit}", "images")


# ---- the 12000x12000 all-black PNG ------------------------------------------------------------


def _black_png(width: int, height: int) -> bytes:
    """An all-black RGB PNG built row band by row band: never the whole image in memory."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    packer = zlib.compressobj(9)
    band = bytes((1 + 3 * width) * 500)
    data = b"".join(packer.compress(band) for _ in range(height // 500)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data)
            + chunk(b"IEND", b""))


_RSS_PROBE = """
import resource, sys
sys.path.insert(0, sys.argv[1])
from tests.test_bad_input import _black_png
import venice_nb as vnb
data = _black_png(12_000, 12_000)
client = vnb.Client("k", base_url="http://127.0.0.1:9/api/v1", store=False)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for fit in (False, True):
    try:
        client.edit(data, "x", fit=fit)
    except vnb.ValidationError as exc:
        assert "144,000,000 pixels" in exc.message and exc.action
    else:
        raise SystemExit("not refused")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def test_refusing_a_huge_black_png_reads_only_its_header(harness: Harness) -> None:
    """A 0.4 MB PNG claiming 12000x12000 (432 MB of pixels) is refused from its header: nothing
    is decoded (counted), little is allocated (traced), and the process's peak resident memory,
    measured in a fresh interpreter, does not grow by the image's size."""
    import subprocess
    import sys

    data = _black_png(12_000, 12_000)
    assert len(data) < 1_000_000
    for fit in (False, True):
        tracemalloc.start()
        try:
            with pytest.raises(vnb.ValidationError, match="144,000,000 pixels") as info:
                harness.client.edit(data, "x", fit=fit)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert info.value.action
        assert peak < 4 * len(data), f"{peak:,} bytes traced to refuse it"
        assert not harness.decoded
    root = str(Path(__file__).resolve().parents[1])
    done = subprocess.run([sys.executable, "-c", _RSS_PROBE, root], capture_output=True,
                          text=True, timeout=120, check=True)
    grown_kib = int(done.stdout.strip())
    assert grown_kib < 50_000, f"peak RSS grew by {grown_kib:,} KiB to refuse it"
