"""``EditControls``: choose the operation, prompt, model and options, then run without blocking.

A run is an asyncio task on the kernel's running loop (ipykernel always runs one), so the kernel
stays responsive and Cancel is ``task.cancel()``. An ``AsyncClient`` is awaited directly; a sync
``Client`` runs in a worker thread (a cancelled thread-run may still finish, and be billed, on
the server: the status says so). Outside a running loop (scripts, plain tests) ``run()`` blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

import ipywidgets as widgets
import numpy as np
import traitlets

from .._client._upscale import SCALES, upscale_price
from .._constants import OUTPUT_FORMATS
from .._exceptions import ValidationError, VeniceError
from .._models import ModelInfo, prompt_length
from .._sync import call, run_blocking
from ._util import encoded_size, friendly_error

__all__ = ["OPERATIONS", "EditControls"]

OPERATIONS = ("edit", "multi-edit", "remove background")
_DEFAULT = "(model default)"
_SAFE_MODE_DEFAULT = True  # the API's defaults (openapi.yaml): sent only when changed
_ENHANCE_DEFAULT = False
_TICK_SECONDS = 1.0
# Theme-aware styles (JupyterLab's --jp-* variables): body text keeps the theme's contrast in
# Light and Dark, and colour only marks the edge. `!important` beats the error line's inline colour.
_STYLE = """<style>
.venice-note, .venice-edit-controls .venice-error, .venice-too-long {
  display: block; color: var(--jp-ui-font-color1) !important; padding-left: 6px;
  border-left: 3px solid var(--jp-warn-color1, #f57c00); }
.venice-edit-controls .venice-error, .venice-too-long {
  border-left-color: var(--jp-error-color1, #d32f2f); }
.venice-too-long { font-weight: bold; }
.venice-count { color: var(--jp-ui-font-color1); }
.venice-local { color: var(--jp-ui-font-color0); }
.venice-busy { opacity: 0.35; transition: opacity 0.2s; }
</style>"""


def _model_label(model: ModelInfo) -> str:
    """Name and the price of one edit at the model's defaults (what "per click" starts from)."""
    cost = model.estimate_cost()
    price = f"${cost:.3f}" if cost is not None else "price n/a"
    return f"{model.name} · {price}"


class EditControls(widgets.VBox):
    """Operation, prompt (with a live character count), model, options, cost, Run and Cancel.

    A large photo is fitted to Venice's limits (``fit=True``: resized / sent as JPEG only when it
    would not be accepted as it is), since a widget user has no other way to send it.
    ``source`` supplies the inputs at Run time: a ``MaskPainter`` (its image and painted mask),
    an image, or a callable returning ``(image, mask_or_None)``. Extra multi-edit layers go in
    ``layers``. The outcome lands in ``result`` / ``error`` (observable traits); errors are shown
    as one friendly line with the action to take. The Upscale buttons enlarge
    ``upscale_source()`` (default: the source's image) the same way, as a run of their own.
    After a run the status adds the key's balance when the server states one.

    Args:
        client: The client Run sends with.
        source: A `MaskPainter` (image and mask), an image, or a callable returning `(image,
            mask)`.
        layers: Extra layers sent after the base and mask.
        prompt: The starting prompt.
        model: The starting model id; None: the first listed.
        operation: `"edit"`, `"multi-edit"` or `"remove background"`.
    """

    operation = traitlets.Enum(OPERATIONS, default_value="edit")
    prompt = traitlets.Unicode("")
    # Not "model_id": ipywidgets uses that name for the comm id of every widget.
    selected_model = traitlets.Unicode(None, allow_none=True, help="id of the chosen model")
    running = traitlets.Bool(False, read_only=True)
    result = traitlets.Any(None)
    error = traitlets.Any(None)

    def __init__(
        self,
        client: Any,
        *,
        source: Any = None,
        layers: list[Any] | tuple[Any, ...] = (),
        prompt: str = "",
        model: str | None = None,
        operation: str = "edit",
    ) -> None:
        self._client = client  # never a trait: nothing of the client reaches widget state
        self.source = source
        self.layers = list(layers)
        self.models: list[ModelInfo] = []
        self.upscale_source: Callable[[], Any] | None = None
        self._upscale_prices: dict[int, float | None] = {}
        self._ask_balance = True  # off after a failed ask: each failure counts in the key's guard
        self._task: asyncio.Task[Any] | None = None
        self._callbacks: list[Callable[[Any], Any]] = []
        self._refreshing = False
        self._forced_edit = False  # multi-edit was left only because the model takes one image
        self._last_model: str | None = None
        self._build()
        super().__init__(operation=operation, prompt=prompt)
        self.add_class("venice-edit-controls")
        self.children = self._layout()
        self._load_models(model)
        self.observe(self._refresh, names=["operation", "selected_model", "prompt"])
        if isinstance(source, traitlets.HasTraits) and source.has_trait("mask_version"):
            source.observe(self._on_mask, names="mask_version")
        self._refresh()

    # ----------------------------------------------------------------- public API
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

    def on_result(self, callback: Callable[[Any], Any]) -> None:
        """Call ``callback(result)`` after each successful run.

        Args:
            callback: Called with each successful result.
        """
        self._callbacks.append(callback)

    def options(self) -> dict[str, Any]:
        """Keyword arguments for the client call, from what the model offers and the user chose."""
        opts: dict[str, Any] = {}
        if self.operation == "remove background":
            return opts
        for name, box in (("aspect_ratio", self._aspect), ("resolution", self._resolution),
                          ("output_format", self._format)):
            if box.layout.display != "none" and box.value != _DEFAULT:
                opts[name] = box.value
        if self.operation == "multi-edit" and self._quality.layout.display != "none" \
                and self._quality.value != _DEFAULT:
            opts["quality"] = self._quality.value
        # Only what the user changed from the API's defaults: an edit from the widget then has
        # the same request (and fingerprint) as the same edit written in code.
        if self._safe.value != _SAFE_MODE_DEFAULT:
            opts["safe_mode"] = self._safe.value
        if self._enhance.value != _ENHANCE_DEFAULT:
            opts["enhance_prompt"] = self._enhance.value
        return opts

    @property
    def multi_edit_supported(self) -> bool:
        """Whether the selected model takes more than one image (base + mask or layers)."""
        model = self.model
        return model is None or model.max_input_images >= 2

    def show_hint(self, text: str) -> None:
        """A short, non-error note under the options (empty text hides it).

        Args:
            text: The note; empty hides it.
        """
        self._hint.value = (
            f"<small class='venice-hint venice-note'>{html.escape(text)}</small>"
            if text else ""
        )

    def estimate(self) -> float | None:
        """USD estimate for one click with the current choices (None when unknown)."""
        model = self.model
        if model is None or self.operation == "remove background":
            return None
        opts = self.options()
        return model.estimate_cost(
            resolution=opts.get("resolution"), quality=opts.get("quality"),
            n_images=self._image_count(),
        )

    @property
    def mask_painted(self) -> bool:
        """Whether the source has a painted mask now (without copying it)."""
        src = self.source
        if callable(src):  # only the callable knows whether it has a mask this time
            mask = src()[1]
            return mask is not None and bool(np.any(mask))
        return getattr(src, "coverage", 0) > 0

    def run(self) -> Any:
        """Start the selected operation; returns the asyncio task (or the result, off-loop)."""
        op, prompt, model = self.operation, self.prompt, self.selected_model
        return self._start(op, lambda: self._edit(op, prompt, model))

    def upscale(self, scale: int = 2) -> Any:
        """Upscale ``upscale_source()`` (or the source's image) ``scale``x, like ``run()``.

        Args:
            scale: 2 or 4.
        """
        return self._start(f"upscale {scale}×", lambda: self._upscale(scale))

    def upscale_estimate(self, scale: int) -> float | None:
        """USD for one upscale from the upscale model's listed price (None when unknown).

        Args:
            scale: 2 or 4.
        """
        return self._upscale_prices.get(scale)

    def _start(self, op: str, work: Callable[[], Awaitable[Any]]) -> Any:
        if self.running:
            return self._task
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        self.set_trait("running", True)  # at once: a second click must not start another
        self.error = None
        self._run_button.disabled, self._cancel_button.disabled = True, loop is None
        for button in self._upscale_buttons.values():
            button.disabled = True
        if loop is None:
            try:
                return run_blocking(self._run(op, work))
            finally:
                self._finished(None)
        self._task = loop.create_task(self._run(op, work))
        self._task.add_done_callback(self._finished)
        return self._task

    def cancel(self) -> None:
        """Stop waiting for the running request (a sync client's request may still complete)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    # ---------------------------------------------------------------- internals
    def _build(self) -> None:
        self._operation = widgets.ToggleButtons(options=OPERATIONS,
                                                style={"button_width": "auto"})
        self._prompt = widgets.Textarea(
            placeholder="Describe the edit, e.g. “replace the sky with a sunset”",
            continuous_update=True, layout=widgets.Layout(width="100%", height="80px"),
        )
        self._prompt.add_class("venice-prompt")
        self._count = widgets.HTML()
        self._model = widgets.Dropdown(description="Model", layout=widgets.Layout(width="100%"))
        self._aspect = widgets.Dropdown(description="Aspect")
        self._resolution = widgets.Dropdown(description="Resolution")
        self._quality = widgets.Dropdown(description="Quality")
        self._format = widgets.Dropdown(description="Format", options=[_DEFAULT, *OUTPUT_FORMATS])
        self._safe = widgets.Checkbox(value=_SAFE_MODE_DEFAULT, description="Safe mode",
                                      indent=False)
        self._enhance = widgets.Checkbox(value=_ENHANCE_DEFAULT,
                                         description="Enhance prompt (+~30 s)", indent=False)
        self._hint = widgets.HTML()
        self._model.add_class("venice-model")
        for box, name in ((self._aspect, "aspect"), (self._resolution, "resolution"),
                          (self._quality, "quality"), (self._format, "format")):
            box.add_class(f"venice-{name}")
            box.layout.width = "260px"
            box.observe(self._refresh, names="value")
        self._enhance.observe(self._refresh, names="value")
        self._cost = widgets.HTML()
        self._cost.add_class("venice-cost")
        self._backend = widgets.HTML()
        self._run_button = widgets.Button(description="Run", button_style="primary", icon="play",
                                          layout=widgets.Layout(width="auto"))
        self._cancel_button = widgets.Button(description="Cancel", icon="stop", disabled=True,
                                             layout=widgets.Layout(width="auto"))
        self._run_button.on_click(lambda _b: self.run())
        self._cancel_button.on_click(lambda _b: self.cancel())
        self._upscale_buttons = {
            scale: widgets.Button(description=f"Upscale {scale}×", icon="expand",
                                  tooltip=f"Enlarge the shown image {scale}× (a new history entry)",
                                  layout=widgets.Layout(width="auto"))
            for scale in SCALES
        }
        for scale, button in self._upscale_buttons.items():
            button.add_class(f"venice-upscale-{scale}")
            button.on_click(lambda _b, s=scale: self.upscale(s))
        self._upscale_cost = widgets.HTML()
        self._upscale_cost.add_class("venice-upscale-cost")
        self._status = widgets.HTML("Ready.")
        self._status.add_class("venice-status")
        traitlets.link((self._operation, "value"), (self, "operation"))
        traitlets.link((self._prompt, "value"), (self, "prompt"))
        traitlets.link((self._model, "value"), (self, "selected_model"))

    def _layout(self) -> tuple[widgets.Widget, ...]:
        wrap = widgets.Layout(flex_flow="row wrap")
        self._options = widgets.VBox([
            widgets.HBox([self._aspect, self._resolution], layout=wrap),
            widgets.HBox([self._quality, self._format], layout=wrap),
            widgets.HBox([self._safe, self._enhance]),
        ])
        self._prompt_box = widgets.VBox([self._prompt, self._count])
        return (
            widgets.HTML(_STYLE),
            self._backend,
            self._operation,
            self._prompt_box,
            self._model,
            self._options,
            widgets.HBox([self._run_button, self._cancel_button]),
            self._cost,
            widgets.HBox([*self._upscale_buttons.values(), self._upscale_cost],
                         layout=widgets.Layout(flex_flow="row wrap", align_items="center")),
            self._hint,
            self._status,
        )

    def _load_models(self, wanted: str | None) -> None:
        """Fill the model picker; an AsyncClient's list loads in the background."""
        if self.is_local:
            self._backend.value = (
                "<div class='venice-local-badge' style='background:#fef3c7;color:#92400e;"
                "padding:2px 6px;border-radius:3px'><b>LOCAL backend</b>: simulated edits, free, "
                "offline (set VENICE_API_KEY to use Venice)</div>"
            )
        try:
            listing = self._client.models("inpaint")
        except VeniceError as exc:  # e.g. offline: say what to do, keep the widget usable
            self._show_error(exc)
            return
        if inspect.isawaitable(listing):
            self._status.value = "Loading models…"

            async def load() -> None:
                try:
                    self._set_models(await listing, wanted)
                except Exception as exc:  # shown, not raised: the widget must stay usable
                    self._show_error(exc)
                with contextlib.suppress(Exception):  # no price is shown as "n/a"
                    self._set_upscale_prices(await self._client.models("upscale"))

            asyncio.get_running_loop().create_task(load())
            return
        self._set_models(listing, wanted)
        with contextlib.suppress(Exception):
            self._set_upscale_prices(self._client.models("upscale"))

    def _set_upscale_prices(self, models: list[ModelInfo]) -> None:
        self._upscale_prices = {scale: upscale_price(models, scale) for scale in SCALES}
        self._update_cost()

    def _set_models(self, models: list[ModelInfo], wanted: str | None) -> None:
        self.models = list(models)
        self._model.options = [(_model_label(m), m.id) for m in self.models]
        ids = [m.id for m in self.models]
        if wanted is not None and wanted not in ids:
            raise ValidationError(
                f"unknown edit model {wanted!r}", action="pick one of " + ", ".join(ids)
            )
        self.selected_model = wanted or (ids[0] if ids else None)
        if self._status.value.startswith("Loading"):
            self._status.value = "Ready."
        self._refresh()

    def _refresh(self, _change: Any = None) -> None:
        if self._refreshing:  # setting dropdown options below fires their observers again
            return
        self._refreshing = True
        try:
            self._refresh_now()
        finally:
            self._refreshing = False

    def _on_mask(self, _change: Any) -> None:
        """A painted mask means multi-edit (the operation that uses it) when the model takes one."""
        if self.operation == "edit" and self.multi_edit_supported and self.mask_painted:
            self.operation = "multi-edit"  # refreshes through the observer
        else:
            self._refresh()

    def _refresh_now(self) -> None:
        model = self.model
        self._offer_operations(model)
        op = self.operation
        needs_prompt = op != "remove background"
        for part in (self._prompt_box, self._model, self._options):
            part.layout.display = None if needs_prompt else "none"
        if model is not None:
            _offer(self._aspect, list(model.aspect_ratios), model.default_aspect_ratio)
            _offer(self._resolution, list(model.resolutions), model.default_resolution)
            _offer(self._quality, list(model.qualities) if op == "multi-edit" else [],
                   model.default_quality)
        limit = model.prompt_character_limit if model else None
        n = prompt_length(self.prompt)  # as Venice counts: UTF-16 code units
        over = needs_prompt and limit is not None and n > limit
        kind = "venice-too-long" if over else "venice-count"
        self._count.value = (
            f"<small class='venice-char-count {kind}'>{n:,}"
            f"{f' / {limit:,}' if limit else ''} characters"
            f"{' — too long for this model: shorten it to run' if over else ''}</small>"
        )
        # Run says why it is off rather than failing after the click.
        self._run_button.disabled = self.running or over
        for button in self._upscale_buttons.values():
            button.disabled = self.running
        self._run_button.tooltip = "The prompt is too long for this model" if over else None
        self.show_hint(self._mask_note(model))
        self._update_cost()

    def _mask_note(self, model: ModelInfo | None) -> str:
        """Say before Run when a painted mask will not be used, and why."""
        if self.operation == "remove background":
            return ""
        painted = self.mask_painted
        if not self.multi_edit_supported:
            return single_image_hint(model) if painted or self._forced_edit else ""
        if self.operation == "edit" and painted:
            return ("Edit changes the whole image: the painted mask is ignored. "
                    "Choose multi-edit to change only the painted area.")
        return ""

    def _offer_operations(self, model: ModelInfo | None) -> None:
        """Multi-edit only for models that take several images.

        A one-image model forces edit; picking a model that takes a mask while one is painted
        brings multi-edit back, so a model switch never silently drops the painted mask.
        """
        switched = model is not None and model.id != self._last_model
        self._last_model = model.id if model is not None else None
        restore = False
        ops: tuple[str, ...] = OPERATIONS
        if self.multi_edit_supported:
            restore = self.operation == "edit" and (
                self._forced_edit or (switched and self.mask_painted))
            self._forced_edit = False
        else:
            ops = tuple(o for o in OPERATIONS if o != "multi-edit")
            if self.operation == "multi-edit":
                self.operation = "edit"
                self._forced_edit = True
            elif self.operation != "edit":
                self._forced_edit = False
        if tuple(self._operation.options) != ops:
            self._operation.options = ops
            self._operation.value = self.operation
        if restore:
            self.operation = "multi-edit"

    def _update_cost(self) -> None:
        try:
            cost = self.estimate()
        except Exception:  # a half-configured source must not break the display
            cost = None
        if self.operation == "remove background":
            text = "background removal"
        elif cost is None:
            text = "cost: n/a"
        else:
            text = f"~${cost:.3f} per click{self._extra_images_note(cost)}"
            if self.is_local:
                text += " on Venice · <b>$0 on the local backend</b>"
        self._cost.value = f"<small>{text}</small>"
        prices = " / ".join(
            f"{s}× ~${p:.3f}" if (p := self._upscale_prices.get(s)) is not None else f"{s}× n/a"
            for s in SCALES
        )
        where = " on Venice · <b>$0 local</b>" if self.is_local else ""
        self._upscale_cost.value = f"<small>{prices}{where}</small>"

    def _extra_images_note(self, cost: float) -> str:
        """Why a click costs more than the model's listed price: the extra input images."""
        model = self.model
        n = self._image_count()
        if model is None or n < 2:
            return ""
        opts = self.options()
        one = model.estimate_cost(resolution=opts.get("resolution"), quality=opts.get("quality"))
        if one is None or cost <= one:
            return ""
        return f" (${one:.3f} + ${cost - one:.3f} for {n - 1} extra image{'s' * (n > 2)})"

    def _image_count(self) -> int:
        """How many images a run would send, without copying any (runs on every keystroke)."""
        if self.operation != "multi-edit":
            return 1
        return 1 + int(self.mask_painted) + len(self.layers)

    def _inputs(self) -> list[Any]:
        """The images to send for the current operation: base, then mask, then layers."""
        src = self.source
        mask = None
        if src is None:
            raise ValidationError(
                "no image to edit", action="create EditControls(client, source=image)"
            )
        if callable(src):
            image, mask = src()
        elif hasattr(src, "mask") and hasattr(src, "image"):
            image = src.image
            mask = src.mask if getattr(src, "coverage", 1.0) > 0 else None
        else:
            image = src
        if self.operation != "multi-edit":
            return [image]
        extra = [mask] if mask is not None and np.any(mask) else []
        return [image, *extra, *self.layers]

    async def _edit(self, op: str, prompt: str, model: str | None) -> Any:
        images = self._inputs()
        opts = self.options()
        if op == "remove background":
            return await self._call("remove_background", images[0])
        if op == "edit":
            return await self._call("edit", images[0], prompt, model=model, fit=True, **opts)
        return await self._call("multi_edit", images, prompt, model=model, fit=True, **opts)

    async def _upscale(self, scale: int) -> Any:
        # No fit=: the limit is the output's size, and shrinking the input first would hide it.
        image = self.upscale_source() if self.upscale_source else self._inputs()[0]
        return await self._call("upscale", image, scale=scale)

    async def _run(self, op: str, work: Callable[[], Awaitable[Any]]) -> Any:
        ticker = asyncio.ensure_future(self._tick(op, time.monotonic()))
        try:
            result = await work()
        except asyncio.CancelledError:
            self._show_cancelled()
            return None
        except Exception as exc:
            self._show_error(exc)
            return None
        finally:
            ticker.cancel()
        self.result = result
        self._status.value = _done_text(result)
        for callback in self._callbacks:
            callback(result)
        self._cancel_button.disabled = True  # the result is in: nothing left to cancel
        self._status.value += await self._balance_note(result)
        return result

    async def _balance_note(self, result: Any) -> str:
        """The key's balance after a run: the answer's header, else ``GET /billing/balance``.

        Never an error: a finished run must not fail over a figure that is only informative
        (a local backend started without a balance states none, so nothing is shown). A key
        that may not read its balance is asked once, not after every run.
        """
        usd = result.balance_remaining
        # No key, no account: asking would only add a 401 to the key's failure guard.
        if usd is None and self._ask_balance and self._client.has_credentials:
            try:
                usd = (await self._call("balance")).usd
            except Exception:
                self._ask_balance = False
                return ""
        if usd is None:
            return ""
        return f" · <span class='venice-balance'>Balance: ${usd:,.2f}</span>"

    def _finished(self, task: asyncio.Task[Any] | None) -> None:
        """Re-arm the buttons however the run ended (even if cancelled before it started)."""
        self.set_trait("running", False)
        self._cancel_button.disabled = True
        self._refresh()  # Run stays off if the prompt is too long
        if task is not None and task.cancelled():
            self._show_cancelled()

    def _show_cancelled(self) -> None:
        note = "" if self._is_async("edit") or self.is_local else (
            " The request may still finish on the server (and be billed)."
        )
        self._status.value = f"<span class='venice-cancelled'>Cancelled.{note}</span>"

    async def _tick(self, op: str, started: float) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                self._status.value = (
                    "<span class='venice-running'><i class='fa fa-spinner fa-spin' "
                    f"aria-hidden='true'></i> Running {op}… "
                    f"{time.monotonic() - started:.0f} s</span>"
                )
                await asyncio.sleep(_TICK_SECONDS)

    def _is_async(self, name: str) -> bool:
        return inspect.iscoroutinefunction(getattr(self._client, name))

    async def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return await call(getattr(self._client, name), *args, **kwargs)

    def _show_error(self, exc: BaseException) -> None:
        self.error = exc
        self._status.value = friendly_error(exc)


def single_image_hint(model: ModelInfo | None) -> str:
    """Why a painted mask is not used with a one-image model, and what to do instead."""
    name = model.name if model is not None else "This model"
    return (f"{name} takes one image, so it edits the whole image and a painted mask is not "
            "sent. Pick a model that takes several images to edit only the painted area.")


def _offer(box: widgets.Dropdown, values: list[str], default: str | None) -> None:
    """Show ``box`` with exactly the model's values (keeping the user's pick if still valid)."""
    if not values:
        box.layout.display = "none"
        return
    options = [_DEFAULT, *values]
    keep = box.value if box.value in options else _DEFAULT
    if list(box.options) != options:
        box.options = options
    box.value = keep
    box.tooltip = f"model default: {default}" if default else None
    box.layout.display = None


def _done_text(result: Any) -> str:
    where = (
        "<b class='venice-local'>LOCAL backend</b> (simulated)" if result.is_local else "Venice"
    )
    w, h = encoded_size(result)
    what = result.caption()
    warn = " · ⚠ flagged as a content violation" if result.content_violation else ""
    return (
        f"<span class='venice-done'>Done on {where}: {html.escape(what)} · "
        f"{w}×{h} {result.format}{warn}</span>"
    )
