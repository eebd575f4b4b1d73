"""``EditSession``: the studio's edit without the widgets — what will be sent, its price, the run.

The form (``EditControls``) only shows and sets this object's traits, so everything a Run
does (which operation a painted mask calls for, the request's options, the images in order,
the price, the asynchronous run and its cancel) is tested here without a browser or a widget.

A run is an asyncio task on the kernel's running loop (ipykernel always runs one), so the
kernel stays responsive and Cancel is ``task.cancel()``. An ``AsyncClient`` is awaited directly;
a sync ``Client`` runs in a worker thread (a cancelled thread-run may still finish, and be
billed, on the server: ``cancel_note`` says so). Outside a running loop ``run()`` blocks.

Nothing here imports ipywidgets: a painter source is used through its ``image``, ``mask``,
``coverage`` and ``mask_version`` only.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, Union, cast

import numpy as np
import traitlets
from PIL import Image

from .._client._region_edit import DecodedPhoto
from .._client._upscale import SCALES, upscale_price
from .._constants import MAX_IMAGE_BYTES, OUTPUT_FORMATS
from .._constants import MAX_UPSCALE_OUTPUT_PIXELS as MAX_OUTPUT_PIXELS
from .._exceptions import ValidationError, VeniceError
from .._models import ModelInfo, prompt_length
from .._probe import sniff_mime
from .._sync import call, run_blocking

if TYPE_CHECKING:
    from .._types import ClientLike, ImageInput

__all__ = ["OPERATIONS", "EditSession", "Timing", "single_image_hint"]

OPERATIONS = ("edit", "multi-edit", "remove background")
STATES = ("ready", "loading", "running", "done", "cancelled", "error")
OPTION_NAMES = ("aspect_ratio", "resolution", "quality", "output_format")
SAFE_MODE_DEFAULT = True  # the API's defaults (openapi.yaml): sent only when changed
ENHANCE_DEFAULT = False
_TICK_SECONDS = 1.0
# A decoded photo whose raw pixels are this large cannot go as PNG under Venice's 25 MB (a
# photo's PNG is rarely under half its raw size): encode it once as JPEG instead of making a
# ~46 MB PNG that the client would throw away for a JPEG anyway (33 Mpx: 11 s lost).
_JPEG_ABOVE_RAW_BYTES = 2 * MAX_IMAGE_BYTES
_JPEG_QUALITY = 95


class PainterLike(Protocol):
    """What the session reads from a ``MaskPainter`` (duck-typed: no widget import)."""

    @property
    def image(self) -> np.ndarray: ...

    @property
    def mask(self) -> np.ndarray: ...

    @property
    def coverage(self) -> float: ...


ImageLike = Union[bytes, np.ndarray, Image.Image, str]  # noqa: UP007 (a runtime alias)
SourceCall = Callable[[], "tuple[Any, np.ndarray | None]"]


@dataclass(frozen=True)
class Timing:
    """Where a run's time went, measured here: the result's own ``elapsed`` is only the wait
    for the backend, which on a large photo can be the smaller part."""

    total: float  # Run -> result in hand and shown (the on_result callbacks included)
    backend: float  # the request's round trip (``result.elapsed``)
    call: float  # the client's call: the round trip plus reading, cropping, stitching

    def text(self) -> str:
        work = max(0.0, self.call - self.backend)
        show = max(0.0, self.total - self.call)
        return (f"{self.total:.2f} s from Run to result shown: {self.backend:.2f} s at the "
                f"backend, {work:.2f} s preparing and putting back the images, "
                f"{show:.2f} s showing them")


def _model_label(model: ModelInfo) -> str:
    """The price of one edit at the model's defaults (what "per click" starts from), and name."""
    cost = model.estimate_cost()
    price = f"${cost:.3f}" if cost is not None else "$ n/a"
    return f"{price} · {model.name}"  # the price first: a narrow picker cuts the end


def single_image_hint(model: ModelInfo | None) -> str:
    """Why a painted mask is not used with a one-image model, and what to do instead."""
    name = model.name if model is not None else "This model"
    return (f"{name} takes one image, so it edits the whole image and a painted mask is not "
            "sent. Pick a model that takes several images to edit only the painted area.")


def wire_image(rgb: np.ndarray) -> tuple[bytes | np.ndarray, str | None]:
    """What to hand the client for a decoded base: the array, or JPEG bytes for a large photo.

    Returns the input and the step taken (None when the array goes as it is).
    """
    if rgb.nbytes <= _JPEG_ABOVE_RAW_BYTES:
        return rgb, None
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=_JPEG_QUALITY)
    return buf.getvalue(), f"sent as JPEG (quality {_JPEG_QUALITY}): as PNG it would pass 25 MB"


class EditSession(traitlets.HasTraits):
    """One edit being set up and run: operation, prompt, model, options, price, run, cancel.

    ``source``: a ``MaskPainter`` (its image and painted mask), an image, or a callable
    returning ``(image, mask_or_None)``. ``encoded_base``: optional callable returning the base
    as encoded bytes when they are at hand (a result's JPEG, the original file), so a large
    photo is never re-encoded to be sent. ``layers``: extra multi-edit images.
    With a painted mask and ``keep_rest`` (on by default), Run is a region edit
    (``client.edit_region``) when the client offers one: only the painted area changes and the
    result keeps the photo's full size.
    """

    operation = traitlets.Enum(OPERATIONS, default_value="edit")
    prompt = traitlets.Unicode("")
    selected_model = traitlets.Unicode(None, allow_none=True, help="id of the chosen model")
    aspect_ratio = traitlets.Unicode(None, allow_none=True)
    resolution = traitlets.Unicode(None, allow_none=True)
    quality = traitlets.Unicode(None, allow_none=True)
    output_format = traitlets.Unicode(None, allow_none=True)
    safe_mode = traitlets.Bool(SAFE_MODE_DEFAULT)
    enhance_prompt = traitlets.Bool(ENHANCE_DEFAULT)
    keep_rest = traitlets.Bool(True, help="region edit when a mask is painted")
    models: traitlets.List[ModelInfo] = traitlets.List()
    operations = traitlets.Tuple(default_value=OPERATIONS)
    state = traitlets.Enum(STATES, default_value="ready")
    running = traitlets.Bool(False, read_only=True)
    elapsed = traitlets.Float(0.0, help="seconds since the running run started (ticks)")
    result = traitlets.Any(None)
    error = traitlets.Any(None)
    balance = traitlets.Float(None, allow_none=True)
    mask_version = traitlets.Int(0, help="bumped when the source's mask changes")
    upscale_prices: traitlets.Dict[int, float | None] = traitlets.Dict(
        help="scale -> USD of one upscale (None: not listed)")

    def __init__(
        self,
        client: ClientLike,
        *,
        source: PainterLike | ImageLike | SourceCall | None = None,
        layers: Sequence[ImageInput] = (),
        prompt: str = "",
        model: str | None = None,
        operation: str = "edit",
    ) -> None:
        # never a trait: nothing of the client reaches widget state. Any: the sync and async
        # twins answer the same calls, awaited or not (``call``).
        self._client: Any = client
        self.source = source
        self.layers = list(layers)
        self.encoded_base: Callable[[], bytes | None] | None = None
        self.upscale_source: Callable[[], Any] | None = None
        self.label = ""  # what the running run does, e.g. "multi-edit" or "upscale 2×"
        self.timing: Timing | None = None
        self.steps: tuple[str, ...] = ()  # the fit / encode steps of the last run, in words
        self.region = False  # whether the last run was a region edit
        self._call_seconds = 0.0
        self._ask_balance = True  # off after a failed ask: each failure counts in the key's guard
        self._task: asyncio.Task[Any] | None = None
        self._callbacks: list[Callable[[Any], Any]] = []
        self._forced_edit = False  # multi-edit was left only because the model takes one image
        self._last_model: str | None = None
        self._adjusting = False
        super().__init__(operation=operation, prompt=prompt)
        self.load_models(model)
        self.observe(self._adjust, names=["selected_model", "mask_version"])
        if isinstance(source, traitlets.HasTraits) and source.has_trait("mask_version"):
            source.observe(self._on_mask, names="mask_version")
        self._adjust()

    # ------------------------------------------------------------------ reading
    @property
    def client(self) -> Any:
        return self._client

    @property
    def model(self) -> ModelInfo | None:
        """The selected model (None until the model list has loaded)."""
        return next((m for m in self.models if m.id == self.selected_model), None)

    @property
    def is_local(self) -> bool:
        return bool(getattr(self._client, "is_local", False))

    @property
    def region_available(self) -> bool:
        return callable(getattr(self._client, "edit_region", None))

    @property
    def multi_edit_supported(self) -> bool:
        """Whether the selected model takes more than one image (base + mask or layers)."""
        model = self.model
        return model is None or model.max_input_images >= 2

    @property
    def mask_painted(self) -> bool:
        """Whether the source has a painted mask now (without copying it)."""
        src = self.source
        if callable(src) and not hasattr(src, "coverage"):
            mask = src()[1]  # only the callable knows whether it has a mask this time
            return mask is not None and bool(np.any(mask))
        return bool(getattr(src, "coverage", 0) > 0)

    @property
    def uses_region(self) -> bool:
        """Whether Run will be a region edit: a painted mask, "keep the rest" on, and a client
        that offers ``edit_region``."""
        return (self.operation != "remove background" and self.keep_rest
                and self.region_available and self.mask_painted)

    def model_choices(self) -> list[tuple[str, str]]:
        """(label with the price of one edit, id) for every edit model."""
        return [(_model_label(m), m.id) for m in self.models]

    def offered(self, name: str) -> tuple[list[str], str | None]:
        """The values the selected model offers for option ``name`` and its default."""
        model = self.model
        if model is None or self.operation == "remove background":
            return [], None
        if name == "aspect_ratio":  # a region edit sends the crop's own aspect ratio
            return ([] if self.uses_region else list(model.aspect_ratios),
                    model.default_aspect_ratio)
        if name == "resolution":
            return list(model.resolutions), model.default_resolution
        if name == "quality":  # multi-edit only (a region edit sends a layer when it can)
            layered = self.operation == "multi-edit" or (
                self.uses_region and self.multi_edit_supported)
            return list(model.qualities) if layered else [], model.default_quality
        if name == "output_format":
            return list(OUTPUT_FORMATS), None
        raise ValueError(name)

    def options(self) -> dict[str, Any]:
        """Keyword arguments for the client call: only what the model offers and the user
        changed from the API's defaults, so an edit from the studio has the same request (and
        fingerprint) as the same edit written in code."""
        opts: dict[str, Any] = {}
        if self.operation == "remove background":
            return opts
        for name in OPTION_NAMES:
            value = getattr(self, name)
            if value is not None and value in self.offered(name)[0]:
                opts[name] = value
        if self.safe_mode != SAFE_MODE_DEFAULT:
            opts["safe_mode"] = self.safe_mode
        if self.enhance_prompt != ENHANCE_DEFAULT:
            opts["enhance_prompt"] = self.enhance_prompt
        return opts

    def prompt_count(self) -> tuple[int, int | None]:
        """(length as Venice counts it, the model's limit or None)."""
        model = self.model
        return prompt_length(self.prompt), model.prompt_character_limit if model else None

    @property
    def prompt_too_long(self) -> bool:
        n, limit = self.prompt_count()
        return self.operation != "remove background" and limit is not None and n > limit

    def image_count(self) -> int:
        """How many images a run would send, without copying any (runs on every keystroke)."""
        if self.uses_region:  # the crop, and the mask as a layer for models that take one
            return 2 if self.multi_edit_supported else 1
        if self.operation != "multi-edit":
            return 1
        return 1 + int(self.mask_painted) + len(self.layers)

    def estimate(self) -> float | None:
        """USD estimate for one click with the current choices (None when unknown)."""
        model = self.model
        if model is None or self.operation == "remove background":
            return None
        opts = self.options()
        return model.estimate_cost(resolution=opts.get("resolution"),
                                   quality=opts.get("quality"), n_images=self.image_count())

    def extra_images_cost(self) -> tuple[float, float, int] | None:
        """(one image's price, the extra images' price, how many extra) when extras cost more."""
        model, n = self.model, self.image_count()
        cost = self.estimate()
        if model is None or n < 2 or cost is None:
            return None
        opts = self.options()
        one = model.estimate_cost(resolution=opts.get("resolution"), quality=opts.get("quality"))
        if one is None or cost <= one:
            return None
        return one, cost - one, n - 1

    def upscale_estimate(self, scale: int) -> float | None:
        """USD for one upscale from the upscale model's listed price (None when unknown)."""
        price: float | None = self.upscale_prices.get(scale)
        return price

    def upscale_block(self, scale: int, size: tuple[int, int] | None) -> str:
        """Why an upscale of an image of ``size`` (w, h) cannot run ("" when it can)."""
        if size is None:
            return ""
        w, h = size
        out = w * h * scale * scale
        if out <= MAX_OUTPUT_PIXELS:
            return ""
        return (f"{scale}× of {w}×{h} would be {out / 1e6:.1f} Mpx; Venice upscales to at most "
                f"{MAX_OUTPUT_PIXELS / 1e6:.1f} Mpx")

    def note(self) -> str:
        """What Run will do with the painted mask, in words, before the click ("" if obvious)."""
        op = self.operation
        if op == "remove background":
            return ""
        painted = self.mask_painted
        if self.uses_region:
            return ("Only the painted area changes: the rest of the photo is kept, at full "
                    "size. Untick “Keep the rest of the photo” to send the whole image.")
        if not self.multi_edit_supported:
            return single_image_hint(self.model) if painted or self._forced_edit else ""
        if op == "edit" and painted:
            return ("Edit changes the whole image: the painted mask is ignored. "
                    "Choose multi-edit to change only the painted area.")
        if op == "multi-edit" and not painted:
            return ("No mask is painted: the whole image will change. Paint the area to "
                    "change first to keep the rest.")
        if painted and op == "multi-edit":
            return ("Venice regenerates the whole image at its own size and reads the mask as "
                    "a hint: pixels outside it change too.")
        return ""

    # ------------------------------------------------------------------ running
    def on_result(self, callback: Callable[[Any], Any]) -> None:
        """Call ``callback(result)`` after each successful run."""
        self._callbacks.append(callback)

    def run(self) -> Any:
        """Start the selected operation; returns the asyncio task (or the result, off-loop)."""
        op, prompt, model = self.operation, self.prompt, self.selected_model
        region = self.uses_region
        label = "region edit" if region else op
        return self._start(label, lambda: self._edit(op, prompt, model, region))

    def upscale(self, scale: int = 2) -> Any:
        """Upscale ``upscale_source()`` (or the source's image) ``scale``x, like ``run()``."""
        return self._start(f"upscale {scale}×", lambda: self._upscale(scale))

    def cancel(self) -> None:
        """Stop waiting for the running request (a sync client's request may still complete)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    @property
    def cancel_note(self) -> str:
        """What a cancel leaves behind, in words."""
        if inspect.iscoroutinefunction(getattr(self._client, "edit", None)) or self.is_local:
            return ""
        return "The request may still finish on the server (and be billed)."

    def inputs(self) -> tuple[Any, np.ndarray | None, tuple[str, ...]]:
        """(base image to send, painted mask or None, steps taken to prepare them)."""
        src = self.source
        if src is None:
            raise ValidationError("no image to edit",
                                  action="give the session a source: an image or a painter")
        mask: np.ndarray | None = None
        if callable(src) and not hasattr(src, "coverage"):
            image, mask = src()
            if mask is not None and not np.any(mask):  # an empty mask is no mask
                mask = None
        elif hasattr(src, "mask") and hasattr(src, "image"):
            image = None
            encoded = self.encoded_base() if self.encoded_base is not None else None
            image = encoded if encoded is not None else src.image
            mask = _painted(src)
        else:
            image = src
        steps: tuple[str, ...] = ()
        if isinstance(image, np.ndarray) and image.ndim == 3:
            image, step = wire_image(image)
            steps = (step,) if step else ()
        return image, mask, steps

    # ---------------------------------------------------------------- internals
    def load_models(self, wanted: str | None) -> None:
        """Fill the model list; an AsyncClient's list loads in the background."""
        try:
            listing = self._client.models("inpaint")
        except VeniceError as exc:  # e.g. offline: say what to do, keep the session usable
            self._fail(exc)
            return
        if inspect.isawaitable(listing):
            self.state = "loading"

            async def load() -> None:
                try:
                    self._set_models(await listing, wanted)
                except Exception as exc:  # shown, not raised: the studio must stay usable
                    self._fail(exc)
                with contextlib.suppress(Exception):  # no price is shown as "n/a"
                    self._set_upscale_prices(await self._client.models("upscale"))

            asyncio.get_running_loop().create_task(load())
            return
        self._set_models(listing, wanted)
        with contextlib.suppress(Exception):
            self._set_upscale_prices(self._client.models("upscale"))

    def _set_upscale_prices(self, models: list[ModelInfo]) -> None:
        self.upscale_prices = {scale: upscale_price(models, scale) for scale in SCALES}

    def _set_models(self, models: list[ModelInfo], wanted: str | None) -> None:
        ids = [m.id for m in models]
        if wanted is not None and wanted not in ids:
            raise ValidationError(
                f"unknown edit model {wanted!r}", action="pick one of " + ", ".join(ids)
            )
        self.models = list(models)
        self.selected_model = wanted or (ids[0] if ids else None)
        if self.state == "loading":
            self.state = "ready"

    def _on_mask(self, _change: Any) -> None:
        self.mask_version += 1

    def _adjust(self, change: Any = None) -> None:
        """Keep the operation right for the model and the mask.

        A painted mask means multi-edit (the operation that uses it) when the model takes one.
        A one-image model forces edit; picking a model that takes a mask while one is painted
        brings multi-edit back, so a model switch never silently drops the painted mask.
        """
        if self._adjusting:
            return
        self._adjusting = True
        try:
            model = self.model
            switched = model is not None and model.id != self._last_model
            self._last_model = model.id if model is not None else None
            if self.multi_edit_supported:
                self.operations = OPERATIONS
                painted = self.mask_painted
                back = self.operation == "edit" and (
                    self._forced_edit or (switched and painted)
                    or (change is not None and change.name == "mask_version" and painted))
                self._forced_edit = False
                if back:
                    self.operation = "multi-edit"
            else:
                # The operation first: a view that follows ``operations`` may reset it.
                if self.operation == "multi-edit":
                    self._forced_edit = True  # before: observers of the operation read it
                    self.operation = "edit"
                elif self.operation != "edit":
                    self._forced_edit = False
                self.operations = tuple(o for o in OPERATIONS if o != "multi-edit")
        finally:
            self._adjusting = False

    def _start(self, label: str, work: Callable[[], Awaitable[Any]]) -> Any:
        if self.running:
            return self._task
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        self.label = label
        self.set_trait("running", True)  # at once: a second click must not start another
        self.error = None
        self.elapsed = 0.0
        self.state = "running"
        if loop is None:
            try:
                return run_blocking(self._run(work))
            finally:
                self._finished(None)
        self._task = loop.create_task(self._run(work))
        self._task.add_done_callback(self._finished)
        return self._task

    def region_inputs(self) -> tuple[Any, np.ndarray | None]:
        """(photo, painted mask or None) for a region edit, nothing decoded or encoded again.

        Only the crop is sent, so a decoded base goes as it is (``wire_image``'s JPEG would be
        decoded straight back); a painter's pixels go with the JPEG file they were decoded from
        (``DecodedPhoto``), which names the photo in the fingerprint as code that passes the
        file does, without a second decode of a 33 Mpx JPEG.
        """
        src = self.source
        if not (hasattr(src, "mask") and hasattr(src, "image")):
            image, mask, _steps = self.inputs()
            return image, mask
        painter = cast("PainterLike", src)
        mask, pixels = _painted(painter), painter.image
        if mask is None:
            return pixels, None  # nothing painted: the caller sends the whole image instead
        encoded = self.encoded_base() if self.encoded_base is not None else None
        if encoded is None:
            return pixels, mask
        if sniff_mime(encoded) == "image/jpeg" and pixels.ndim == 3:  # no alpha to lose
            return DecodedPhoto(encoded, pixels), mask
        return encoded, mask  # a PNG's transparency, which the painter's pixels flattened

    async def _edit(self, op: str, prompt: str, model: str | None, region: bool) -> Any:
        if region:
            image, mask = self.region_inputs()
            self.steps, self.region = (), True
            if mask is not None:  # only the painted area changes, at full size
                opts = self.options()
                return await self._call("edit_region", image, mask, prompt, model=model, **opts)
        image, mask, steps = self.inputs()
        opts = self.options()
        self.steps, self.region = steps, region
        if op == "remove background":
            return await self._call("remove_background", image)
        if op == "edit":
            return await self._call("edit", image, prompt, model=model, fit=True, **opts)
        extra = [mask] if mask is not None else []
        return await self._call("multi_edit", [image, *extra, *self.layers], prompt,
                                model=model, fit=True, **opts)

    async def _upscale(self, scale: int) -> Any:
        # No fit=: the limit is the output's size, and shrinking the input first would hide it.
        image = self.upscale_source() if self.upscale_source else self.inputs()[0]
        self.steps, self.region = (), False
        return await self._call("upscale", image, scale=scale)

    async def _run(self, work: Callable[[], Awaitable[Any]]) -> Any:
        started = time.perf_counter()
        ticker = asyncio.ensure_future(self._tick(started))
        try:
            result = await work()
        except asyncio.CancelledError:
            self.state = "cancelled"
            return None
        except Exception as exc:
            self._fail(exc)
            return None
        finally:
            ticker.cancel()
        self.steps = (*self.steps, *getattr(result, "fit_actions", ()))
        self.result = result
        for callback in self._callbacks:
            callback(result)
        self.timing = Timing(total=time.perf_counter() - started,
                             backend=float(getattr(result, "elapsed", 0.0) or 0.0),
                             call=self._call_seconds)
        self.state = "done"
        self.balance = await self._balance(result)
        return result

    async def _balance(self, result: Any) -> float | None:
        """The key's balance after a run: the answer's header, else ``GET /billing/balance``.

        Never an error: a finished run must not fail over a figure that is only informative.
        A key that may not read its balance is asked once, not after every run.
        """
        usd: float | None = result.balance_remaining
        if usd is None and self._ask_balance and self._client.has_credentials:
            try:
                usd = (await self._call("balance")).usd
            except Exception:
                self._ask_balance = False
        return usd

    def _finished(self, task: asyncio.Task[Any] | None) -> None:
        """Re-arm however the run ended (even if cancelled before it started)."""
        self.set_trait("running", False)
        if task is not None and task.cancelled():
            self.state = "cancelled"

    async def _tick(self, started: float) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                await asyncio.sleep(_TICK_SECONDS)
                self.elapsed = time.perf_counter() - started

    async def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await call(getattr(self._client, name), *args, **kwargs)
        finally:
            if name != "balance":
                self._call_seconds = time.perf_counter() - started

    def _fail(self, exc: BaseException) -> None:
        self.error = exc
        self.state = "error"


def _painted(painter: Any) -> np.ndarray | None:
    """A painter's mask when something is painted, else None (an empty mask is no mask)."""
    if getattr(painter, "coverage", 1.0) <= 0:
        return None
    mask: np.ndarray = painter.mask
    return mask if np.any(mask) else None
