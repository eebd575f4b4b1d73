"""``EditControls``: the form over an ``EditSession`` — prompt, Run, operation, model, options.

Everything a Run does lives in the session (``_session.py``, tested without widgets); this
module only shows its traits and sets them. The prompt comes first and Run right under it, so
the keyboard path from the painter is short and Run stays on screen in a narrow output.
Shift+Enter (or Ctrl/Alt+Enter) in the prompt runs the edit; no key typed in the studio
reaches the notebook's commands (``_keys.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np
import traitlets

from .._client._upscale import SCALES
from .._html import escape
from .._models import ModelInfo
from .._money import cost as money
from .._money import usd
from ._keys import KeyGuard
from ._session import (
    OPERATIONS,
    EditSession,
    ImageLike,
    PainterLike,
    SourceCall,
    single_image_hint,
)
from ._util import friendly_error

if TYPE_CHECKING:
    from .._types import ClientLike, ImageInput

__all__ = ["OPERATIONS", "EditControls", "single_image_hint"]

_DEFAULT = "default"  # the model's own default (its value is in the tooltip)
# Theme-aware styles (JupyterLab's --jp-* variables): body text keeps the theme's contrast in
# Light and Dark, and colour only marks the edge. `!important` beats the error line's inline
# colour. ipywidgets boxes scroll (overflow:auto) when a child is 1 px too wide: inside the
# studio every child fits by construction (min-width:0, 100% widths), so boxes never scroll.
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
.venice-edit-controls, .venice-edit-controls .widget-box, .venice-edit-studio .widget-box {
  overflow: visible; min-width: 0; }
.venice-edit-controls .widget-dropdown, .venice-edit-controls .widget-textarea,
.venice-edit-controls .widget-checkbox { width: 100%; max-width: 100%; min-width: 0; }
.venice-edit-controls .widget-dropdown > select { min-width: 0; flex: 1 1 auto; }
.venice-edit-controls .widget-html, .venice-edit-controls .widget-html-content {
  white-space: normal; overflow-wrap: anywhere; min-width: 0; line-height: 1.35; height: auto; }
.venice-edit-controls .widget-button { min-width: 0; }
.venice-edit-controls .widget-label { min-width: 0; }
</style>"""


class EditControls(widgets.VBox):
    """Prompt (with a live character count), Run and Cancel, operation, model, options, cost.

    ``source`` supplies the inputs at Run time: a ``MaskPainter`` (its image and painted mask),
    an image, or a callable returning ``(image, mask_or_None)``. ``client`` (keyword, as in
    ``EditStudio`` and ``ResultBrowser``): a ``Client`` or ``AsyncClient``; None creates
    ``venice_nb.Client()`` (the local backend when no key is set). Extra multi-edit layers go
    in ``layers``. The outcome lands in ``result`` / ``error``; errors are shown as one friendly
    line with the action to take. ``session`` is the headless ``EditSession`` behind the form.

    Args:
        source: A `MaskPainter` (image and mask), an image, or a callable returning `(image,
            mask)`.
        client: The client Run sends with; None: `venice_nb.Client()`.
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
        source: PainterLike | ImageLike | SourceCall | None = None,
        *,
        client: ClientLike | None = None,
        layers: Sequence[ImageInput] = (),
        prompt: str = "",
        model: str | None = None,
        operation: str = "edit",
    ) -> None:
        if client is None:
            from .._client._client import Client

            client = Client()
        self.session = EditSession(client, source=source, layers=layers, prompt=prompt,
                                   model=model, operation=operation)
        self.upscale_size: Callable[[], tuple[int, int] | None] | None = None
        self._build()
        super().__init__()
        self.add_class("venice-edit-controls")
        self.children = self._layout()
        s = self.session
        for name in ("operation", "prompt", "selected_model", "result", "error"):
            traitlets.link((s, name), (self, name))
        s.observe(lambda ch: self.set_trait("running", ch.new), names="running")
        s.observe(self._refresh, names=["operation", "selected_model", "prompt", "models",
                                        "operations", "mask_version", "aspect_ratio",
                                        "resolution", "quality", "output_format", "safe_mode",
                                        "enhance_prompt", "keep_rest", "upscale_prices",
                                        "running"])
        s.observe(self._show_state, names=["state", "elapsed", "balance"])
        self._refresh()
        self._show_state()

    # ----------------------------------------------------------------- public API
    @property
    def client(self) -> Any:
        return self.session.client

    @property
    def model(self) -> ModelInfo | None:
        return self.session.model

    @property
    def models(self) -> list[ModelInfo]:
        return list(self.session.models)

    @property
    def source(self) -> Any:
        return self.session.source

    @property
    def is_local(self) -> bool:
        return self.session.is_local

    def on_result(self, callback: Callable[[Any], Any]) -> None:
        """Call ``callback(result)`` after each successful run.

        Args:
            callback: Called with each successful result.
        """
        self.session.on_result(callback)

    def options(self) -> dict[str, Any]:
        """Keyword arguments for the client call, from what the model offers and the user chose."""
        return self.session.options()

    def estimate(self) -> float | None:
        return self.session.estimate()

    def run(self) -> Any:
        """Start the selected operation; returns the asyncio task (or the result, off-loop)."""
        return self.session.run()

    def upscale(self, scale: int = 2) -> Any:
        """Upscale ``upscale_source()`` (or the source's image) ``scale``x, like ``run()``.

        Args:
            scale: 2 or 4.
        """
        return self.session.upscale(scale)

    def cancel(self) -> None:
        self.session.cancel()

    def show_hint(self, text: str) -> None:
        """A short note under the options (empty text hides it).

        Args:
            text: The note; empty hides it.
        """
        self._hint.value = (
            f"<small class='venice-hint venice-note'>{escape(text)}</small>" if text else ""
        )

    def show_error(self, exc: BaseException) -> None:
        """Show a failure caught outside a run (e.g. loading a mask) in the status line.

        Args:
            exc: The failure, shown in words with what to do.
        """
        self._status.value = friendly_error(exc)

    # ---------------------------------------------------------------- internals
    def _build(self) -> None:
        s = self.session
        # Keys typed in the form stay in it; Shift+Enter in the prompt runs (a studio marks
        # itself: its guard's root is the outermost match).
        self._keys = KeyGuard(".venice-edit-studio, .venice-edit-controls", on_run=self._on_enter)
        self._prompt = widgets.Textarea(
            placeholder="Describe the edit, e.g. “replace the sky with a sunset”",
            continuous_update=True, layout=widgets.Layout(width="100%", height="72px"),
        )
        self._prompt.add_class("venice-prompt")
        self._count = widgets.HTML()
        narrow = {"description_width": "initial"}
        self._operation = widgets.Dropdown(description="Operation", style=narrow,
                                           options=s.operations, value=s.operation)
        self._operation.add_class("venice-operation")
        self._model = widgets.Dropdown(description="Model", style=narrow)
        self._model.add_class("venice-model")
        self._option_boxes = {
            name: widgets.Dropdown(description=label, style=narrow, options=[_DEFAULT])
            for name, label in (("aspect_ratio", "Aspect"), ("resolution", "Resolution"),
                                ("quality", "Quality"), ("output_format", "Format"))
        }
        for name, box in self._option_boxes.items():
            box.add_class(f"venice-{name.split('_')[0] if name != 'output_format' else 'format'}")
            traitlets.link((s, name), (box, "value"),
                           transform=(lambda v: _DEFAULT if v is None else v,
                                      lambda v: None if v == _DEFAULT else v))
        self._safe = widgets.Checkbox(description="Safe mode", indent=False)
        self._enhance = widgets.Checkbox(description="Enhance prompt (+~30 s)", indent=False)
        self._keep = widgets.Checkbox(
            description="Keep the rest of the photo", indent=False,
            tooltip="With a painted mask: change only the painted area, at full size")
        self._keep.add_class("venice-keep-rest")
        traitlets.link((s, "safe_mode"), (self._safe, "value"))
        traitlets.link((s, "enhance_prompt"), (self._enhance, "value"))
        traitlets.link((s, "keep_rest"), (self._keep, "value"))
        self._hint = widgets.HTML()
        self._cost = widgets.HTML()
        self._cost.add_class("venice-cost")
        self._backend = widgets.HTML()
        self._run_button = widgets.Button(
            description="Run", button_style="primary", icon="play",
            tooltip="Run the edit (Shift+Enter in the prompt)",
            layout=widgets.Layout(width="auto"))
        self._run_button.add_class("venice-run")
        self._cancel_button = widgets.Button(description="Cancel", icon="stop", disabled=True,
                                             layout=widgets.Layout(width="auto"))
        self._cancel_button.add_class("venice-cancel")
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
            button.on_click(lambda _b, sc=scale: self.upscale(sc))
        self._upscale_cost = widgets.HTML()
        self._upscale_cost.add_class("venice-upscale-cost")
        self._status = widgets.HTML("Ready.")
        self._status.add_class("venice-status")
        traitlets.link((s, "operation"), (self._operation, "value"))
        traitlets.link((s, "prompt"), (self._prompt, "value"))
        self._model.options = s.model_choices()
        self._refreshing = False
        traitlets.link((s, "selected_model"), (self._model, "value"))

    def _layout(self) -> tuple[widgets.Widget, ...]:
        wrap = widgets.Layout(flex_flow="row wrap", grid_gap="0 8px")
        for box in self._option_boxes.values():
            box.layout = widgets.Layout(flex="1 1 130px", width="auto", min_width="0")
        self._options = widgets.VBox([
            widgets.HBox([self._option_boxes["aspect_ratio"], self._option_boxes["resolution"]],
                         layout=wrap),
            widgets.HBox([self._option_boxes["quality"], self._option_boxes["output_format"]],
                         layout=wrap),
            widgets.HBox([self._safe, self._enhance], layout=wrap),
        ])
        self._prompt_box = widgets.VBox([self._prompt, self._count])
        row = widgets.Layout(flex_flow="row wrap", align_items="center", grid_gap="4px 6px")
        return (
            widgets.HTML(_STYLE),
            self._keys,
            self._backend,
            self._prompt_box,
            widgets.HBox([self._run_button, self._cancel_button, self._cost], layout=row),
            self._status,
            self._hint,
            self._keep,
            self._operation,
            self._model,
            self._options,
            widgets.HBox([*self._upscale_buttons.values(), self._upscale_cost], layout=row),
        )

    def _on_enter(self) -> None:
        if not self._run_button.disabled:
            self.run()

    def _refresh(self, _change: Any = None) -> None:
        if self._refreshing:  # setting dropdown options below fires their observers again
            return
        self._refreshing = True
        try:
            self._refresh_now()
        finally:
            self._refreshing = False

    def _refresh_now(self) -> None:
        s = self.session
        if self.is_local:
            self._backend.value = (
                "<div class='venice-local-badge' style='background:#fef3c7;color:#92400e;"
                "padding:2px 6px;border-radius:3px'><b>LOCAL backend</b>: simulated, free "
                "(set VENICE_API_KEY to use Venice)</div>"
            )
        if tuple(self._operation.options) != s.operations:
            self._operation.options = s.operations
            self._operation.value = s.operation
        choices = s.model_choices()
        if list(self._model.options) != choices:
            self._model.options = choices
            self._model.value = s.selected_model
        op = s.operation
        needs_prompt = op != "remove background"
        for part in (self._prompt_box, self._model, self._options):
            part.layout.display = None if needs_prompt else "none"
        self._keep.layout.display = (
            None if needs_prompt and s.region_available and s.mask_painted else "none")
        for name, box in self._option_boxes.items():
            values, default = s.offered(name)
            _offer(box, values, default)
        n, limit = s.prompt_count()
        over = s.prompt_too_long
        kind = "venice-too-long" if over else "venice-count"
        self._count.value = (
            f"<small class='venice-char-count {kind}'>{n:,}"
            f"{f' / {limit:,}' if limit else ''} characters"
            f"{' — too long for this model: shorten it to run' if over else ''}"
            " · Shift+Enter runs</small>"
        )
        # Run says why it is off rather than failing after the click.
        self._run_button.disabled = s.running or over
        self._run_button.tooltip = ("The prompt is too long for this model" if over
                                    else "Run the edit (Shift+Enter in the prompt)")
        self._cancel_button.disabled = not s.running
        self.show_hint(s.note())
        self._update_cost()

    def _update_cost(self) -> None:
        s = self.session
        try:
            cost = s.estimate()
        except Exception:  # a half-configured source must not break the display
            cost = None
        here = 0.0 if self.is_local else None  # money the one way (_money): Venice, here
        if s.operation == "remove background":
            text = ("background removal with Venice's own model (no choice of model) · "
                    "price not listed: Venice sets it per image, the status shows it after "
                    "the run") + (" · $0 here" if self.is_local else "")
        elif cost is None:
            text = "cost: n/a"
        else:
            extra = s.extra_images_cost()
            note = (f" ({usd(extra[0])} + {usd(extra[1])} for {extra[2]} extra "
                    f"image{'s' * (extra[2] > 1)})" if extra else "")
            text = f"per run: {money(cost, here)}{note}"
        self._cost.value = f"<small>{text}</small>"
        size = self.upscale_size() if self.upscale_size is not None else _size_of(s)
        reasons = []
        for scale, button in self._upscale_buttons.items():
            block = s.upscale_block(scale, size)
            button.disabled = s.running or bool(block)
            button.tooltip = (block if block else
                              f"Enlarge the shown image {scale}× (a new history entry)")
            if block:
                reasons.append(block)
        prices = " / ".join(
            f"{sc}× {usd(p)}" if (p := s.upscale_estimate(sc)) is not None else f"{sc}× n/a"
            for sc in SCALES if not s.upscale_block(sc, size)
        )
        where = (" at Venice" + (" · $0 here" if self.is_local else "")) if prices else ""
        why = "".join(f"<br>{escape(r)}" for r in reasons[:1])  # the smallest scale
        self._upscale_cost.value = f"<small>{prices}{where}{why}</small>"

    def _show_state(self, _change: Any = None) -> None:
        s = self.session
        if s.state == "loading":
            self._status.value = "Loading models…"
        elif s.state == "running":
            # No spinning icon: its 60 fps animation costs a busy machine CPU the run needs
            # (measured: ~1 s on a 33 Mpx region edit on 2 cores); the seconds tick instead.
            self._status.value = (
                "<span class='venice-running'><i class='fa fa-hourglass-half' "
                f"aria-hidden='true'></i> Running {escape(s.label)}… {s.elapsed:.0f} s"
                "</span>")
        elif s.state == "error" and s.error is not None:
            self._status.value = friendly_error(s.error)
        elif s.state == "cancelled":
            note = f" {s.cancel_note}" if s.cancel_note else ""
            self._status.value = f"<span class='venice-cancelled'>Cancelled.{note}</span>"
        elif s.state == "done" and s.result is not None:
            balance = (f" · <span class='venice-balance'>Balance: ${s.balance:,.2f}</span>"
                       if s.balance is not None else "")
            self._status.value = _done_text(s) + balance
        self._refresh()


def _size_of(session: EditSession) -> tuple[int, int] | None:
    image = getattr(session.source, "image", None)
    if isinstance(image, np.ndarray):
        return image.shape[1], image.shape[0]
    return None


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


def _done_text(session: EditSession) -> str:
    """What came back, how long it truly took, and every step taken on the images."""
    result = session.result
    where = (
        "<b class='venice-local'>LOCAL backend</b> (simulated)" if result.is_local else "Venice"
    )
    w, h = result.size  # the header, or a region edit's held pixels: no decode
    what = result.caption()
    warn = " · ⚠ flagged as a content violation" if result.content_violation else ""
    timing = f" · {session.timing.text()}" if session.timing is not None else ""
    region = " · region edit: the rest of the photo kept" if session.region else ""
    steps = "".join(f"<br><small class='venice-step'>{escape(st)}</small>"
                    for st in session.steps)
    return (
        f"<span class='venice-done'>Done on {where}: {escape(what)} · "
        f"{w}×{h} {result.format}{region}{warn}{escape(timing)}</span>{steps}"
    )
