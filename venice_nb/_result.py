"""``EditResult``: the returned image plus every response fact worth keeping."""

from __future__ import annotations

import dataclasses
import io
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from . import _money
from ._constants import (
    H_BALANCE_REMAINING,
    H_CONTENT_VIOLATION,
    H_DEPRECATED,
    H_DEPRECATED_REPLACEMENT,
    H_DEPRECATION_DATE,
    H_DEPRECATION_WARNING,
    H_ENHANCED_PROMPT,
    H_MODEL_ID,
    H_MODEL_NAME,
    H_RATELIMIT_LIMIT,
    H_RATELIMIT_REMAINING,
    H_RATELIMIT_RESET,
    LOCAL_NAME_SUFFIX,
    RESULT_HEADERS,
    UPSCALE_PATH,
)
from ._exceptions import ValidationError
from ._headers import header_int, header_number
from ._html import NO_MATHS, escape, image_data_url

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from ._client._request import PreparedRequest
    from ._region import RegionPlan

__all__ = ["EditResult", "RateLimit", "build_result", "with_lazy_data"]

_DISPLAY_MAX_SIDE = 768
_DISPLAY_MAX_BYTES = 150_000  # larger answers are shown as a re-encoded thumbnail
_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/webp": "webp"}


@dataclass(frozen=True)
class RateLimit:
    """The ``x-ratelimit-*`` headers: ``reset`` is a Unix timestamp (seconds).

    Attributes:
        limit: Requests allowed per window.
        remaining: Requests left in this window.
        reset: When the window resets (Unix seconds).
    """

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None


class _Data:
    """``EditResult.data``'s descriptor: the bytes given to the constructor, or, for a result
    made by ``with_lazy_data``, encoded on first read, exactly once, under the result's own lock.

    Why: a region edit's full-resolution composite is at hand as pixels, and encoding a 33 Mpx
    JPEG takes longer than everything else venice_nb does for it; the studio shows the pixels
    without ever needing the file. Its paid raw answer is stored before (``.raw``), so nothing
    is lost when it is never encoded.
    """

    def __get__(self, obj: EditResult | None, objtype: type | None = None) -> bytes:
        if obj is None:  # the class: dataclasses reads this for a default, and there is none
            raise AttributeError("data")
        state = obj.__dict__
        data: bytes | None = state.get("_data")
        if data is None:
            with state["_data_lock"]:
                data = state.get("_data")
                if data is None:
                    data = state.pop("_encode")()
                    state["_data"] = data
        return data

    def __set__(self, obj: EditResult, value: bytes) -> None:
        # Only the dataclass's __init__ gets here (the frozen __setattr__ refuses the rest).
        obj.__dict__["_data"] = value


@dataclass(frozen=True, eq=False)
class EditResult:
    """An edited image. ``data`` holds the exact bytes Venice returned; ``image`` decodes lazily.

    Attributes:
        data: The image bytes exactly as returned (a region edit's composite: encoded on
            first read).
        content_type: Their MIME type.
        headers: The response headers that matter (lower-cased): model, rate limit, balance,
            notices.
        elapsed: Seconds the request took (0 when the store answered from a recording).
        request: What was asked: endpoint, model, prompt, parameters, input image hashes.
        fingerprint: The request's identity in the store.
        estimated_cost: USD at Venice prices for this request (None: unpriced).
        fit_actions: What `fit=True` did to the inputs.
        is_local: The local backend answered (nothing charged).
        from_store: The store answered; no request was sent.
        stored_path: The image file in the store, if any.
        raw: A region edit's answer as Venice sent it (for the crop); None otherwise.
        spill: A region edit's share (0..1) of pixels outside the mask that the model changed
            in its raw answer: a figure to compare models by.
        region: A region edit's plan: the crop, the size it was sent at and the feather.
    """

    data: bytes  # read through _Data (set on the class below)
    content_type: str
    headers: dict[str, str] = field(repr=False)
    elapsed: float
    request: dict[str, Any] = field(repr=False)
    fingerprint: str = field(repr=False)
    estimated_cost: float | None = None
    fit_actions: tuple[str, ...] = ()
    is_local: bool = False
    from_store: bool = False
    stored_path: str | None = field(default=None, repr=False)
    # A region edit (Client.edit_region): the answer as Venice sent it (for the crop), the
    # share of pixels outside the mask the model visibly changed in it (0..1: a figure to
    # compare models by), and the crop/feather plan that put it back.
    raw: EditResult | None = field(default=None, repr=False, compare=False)
    spill: float | None = None
    region: RegionPlan | None = field(default=None, repr=False, compare=False)

    def __eq__(self, other: object) -> bool:
        """Field by field like a dataclass's, ``data`` last: two results that differ in
        anything else (their ``elapsed``, say: the studio's ``result`` trait compares each new
        result with the last) are told apart without encoding a lazy composite."""
        if other is self:
            return True
        if other.__class__ is not self.__class__:
            return NotImplemented
        names = [f.name for f in dataclasses.fields(self) if f.compare and f.name != "data"]
        return all(getattr(self, n) == getattr(other, n) for n in (*names, "data"))

    __hash__ = None  # type: ignore[assignment]  # as before: headers and request are dicts

    def __getstate__(self) -> dict[str, Any]:
        """For pickle and copy: a lazy ``data`` is encoded first (a lock does not pickle)."""
        state = dict(self.__dict__)
        if "_data_lock" in state:
            state["_data"] = self.data
            del state["_data_lock"]
            state.pop("_encode", None)
        return state

    # Response facts, typed.
    @property
    def model_id(self) -> str | None:
        return self.headers.get(H_MODEL_ID) or self.request.get("model")

    @property
    def model_name(self) -> str | None:
        return self.headers.get(H_MODEL_NAME)

    @property
    def content_violation(self) -> bool:
        return self.headers.get(H_CONTENT_VIOLATION, "").lower() == "true"

    @property
    def deprecation_warning(self) -> str | None:
        return self.headers.get(H_DEPRECATION_WARNING)

    @property
    def deprecation_date(self) -> str | None:
        return self.headers.get(H_DEPRECATION_DATE)

    @property
    def deprecated(self) -> bool:
        return self.headers.get(H_DEPRECATED, "").lower() == "true"

    @property
    def deprecated_replacement(self) -> str | None:
        return self.headers.get(H_DEPRECATED_REPLACEMENT)

    @property
    def balance_remaining(self) -> float | None:
        return header_number(self.headers, H_BALANCE_REMAINING)

    @property
    def enhanced_prompt(self) -> str | None:
        raw = self.headers.get(H_ENHANCED_PROMPT)
        return unquote(raw) if raw else None

    @property
    def rate_limit(self) -> RateLimit:
        """The server's rate-limit state at answer time (empty for a stored answer: stale)."""
        if self.from_store:
            return RateLimit()
        return RateLimit(
            limit=header_int(self.headers, H_RATELIMIT_LIMIT),
            remaining=header_int(self.headers, H_RATELIMIT_REMAINING),
            reset=header_number(self.headers, H_RATELIMIT_RESET),
        )

    @property
    def prompt(self) -> str | None:
        return self.request.get("prompt")

    @property
    def upscale_factor(self) -> int | None:
        """2 or 4 for an upscale's answer, None for an edit."""
        if self.request.get("endpoint") != UPSCALE_PATH:
            return None
        return int(self.request.get("params", {}).get("scale", 0)) or None

    @property
    def format(self) -> str:
        return _FORMATS.get(self.content_type.split(";")[0].strip(), "png")

    # The image.
    @cached_property
    def image(self) -> Image.Image:
        from PIL import Image

        img = Image.open(io.BytesIO(self.data))
        img.load()
        return img

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) from the header: a repr never decodes (and caches) the pixels."""
        if "image" in self.__dict__:
            return self.image.size
        from PIL import Image

        with Image.open(io.BytesIO(self.data)) as img:
            size: tuple[int, int] = img.size  # (Pillow's context manager is untyped)
        return size

    def to_numpy(self) -> np.ndarray:
        """HxWx3 (or HxWx4 with transparency, HxW for gray) uint8 pixels, never palette indices."""
        import numpy as np

        img = self.image
        if img.mode not in ("L", "RGB", "RGBA"):
            has_alpha = "A" in img.getbands() or "transparency" in img.info
            img = img.convert("RGBA" if has_alpha else "RGB")
        return np.asarray(img)

    def save(self, path: str | Path) -> Path:
        """Write the returned bytes unchanged when the suffix matches (or is missing: the real
        one is added); another image suffix converts, flattening transparency for JPEG.

        Args:
            path: Where to write; the suffix picks the format (the exact returned bytes when it
                matches, else converted).
        """
        from PIL import Image

        if not isinstance(path, (str, os.PathLike)):
            raise ValidationError(
                f"path={path!r:.60} is not a file path",
                action="give a file name, e.g. 'edit.png'", field="path",
            )
        path = Path(path).expanduser()
        if path.is_dir():
            raise ValidationError(
                f"{str(path)!r} is a folder", action="give a file name, e.g. folder/edit.png"
            )
        real = "." + ("jpg" if self.format == "jpeg" else self.format)
        formats = Image.registered_extensions()
        suffix = path.suffix.lower()
        if suffix not in formats:  # "v1.2" or no suffix: keep the name, add the real one
            path = path.with_name(path.name + real)
            suffix = real
        path.parent.mkdir(parents=True, exist_ok=True)
        target = formats[suffix]
        if target == self.format.upper():
            path.write_bytes(self.data)
            return path
        img = self.image
        if target == "JPEG" and img.mode != "RGB":
            flat = Image.new("RGB", img.size, "white")
            rgba = img.convert("RGBA")
            flat.paste(rgba, mask=rgba.getchannel("A"))
            img = flat
        img.save(path, format=target)
        return path

    # Display.
    @property
    def backend_label(self) -> str:
        return "LOCAL venice_nb backend (simulated, free)" if self.is_local else "Venice API"

    def caption(self) -> str:
        # An upscale has no prompt and no model name worth showing: name the operation.
        scale = self.upscale_factor
        parts = [f"Upscale {scale}×" if scale else
                 self.model_name or self.model_id or "server default model"]
        if self.elapsed:
            parts.append(f"{self.elapsed:.2f}s")
        if self.estimated_cost is not None:
            parts.append(self.cost_text)
        if self.spill is not None:
            parts.append(f"spill {self.spill:.0%}")
        # Not "from store": a replayed notebook must store the same captions as the recording.
        return " · ".join(parts)

    @property
    def cost_text(self) -> str:
        """What this answer costs at Venice and what it cost here (``_money``): the local
        backend charges nothing but prices every answer at Venice's rate."""
        return _money.cost(self.estimated_cost, 0.0 if self.is_local else self.estimated_cost)

    def thumbnail_data_url(self, max_side: int = _DISPLAY_MAX_SIDE) -> str:
        """A small inline copy for notebooks: keeps saved notebooks light whatever the size.

        Args:
            max_side: Longest side of the inline copy, in pixels.
        """
        img = self.image
        if max(img.size) <= max_side and len(self.data) <= _DISPLAY_MAX_BYTES:
            data, mime = self.data, self.content_type
        else:
            thumb = img.copy()
            thumb.thumbnail((max_side, max_side))
            buf = io.BytesIO()
            if "A" in thumb.getbands():
                thumb.save(buf, "PNG")
                mime = "image/png"
            else:
                thumb.convert("RGB").save(buf, "JPEG", quality=85)
                mime = "image/jpeg"
            data = buf.getvalue()
        return image_data_url(data, mime)

    def _repr_html_(self) -> str:
        # Every value here may come from a shared recording: escape() each one (_html).
        badge_color = "#b45309" if self.is_local else "#1d4ed8"
        badge = (
            f'<span style="background:{badge_color};color:white;padding:1px 6px;'
            f'border-radius:3px;font-size:11px">{escape(self.backend_label)}</span>'
        )
        warn = ""
        if self.content_violation:
            warn += "<div style='color:#b91c1c'>Flagged as a content violation by the model.</div>"
        if self.deprecation_warning or self.deprecated:
            text = self.deprecation_warning or "this model is deprecated"
            repl = f" (use {self.deprecated_replacement})" if self.deprecated_replacement else ""
            warn += f"<div style='color:#b45309'>{escape(text + repl)}</div>"
        return (
            f"<figure class='{NO_MATHS}' style='margin:0'>"
            f"<img src='{escape(self.thumbnail_data_url())}' style='max-width:100%'/>"
            f"<figcaption>{badge} {escape(self._stable_caption())}"
            f"<br/><i>{escape(self.prompt or '')}</i>{warn}</figcaption></figure>"
        )

    def __repr__(self) -> str:
        w, h = self.size
        where = "local" if self.is_local else "venice"
        return (
            f"EditResult({w}x{h} {self.format}, model={self.model_id!r}, backend={where}, "
            f"estimated_cost={self.estimated_cost})"
        )

    def _stable_caption(self) -> str:
        # Issue 13: reprs are saved in notebooks, which must not change between runs (no timing).
        return self.caption().replace(f" · {self.elapsed:.2f}s", "")


# After the dataclass is made (so ``data`` stays a required field): its __init__ stores the bytes
# through _Data.__set__, and every read goes through _Data.__get__.
setattr(EditResult, "data", _Data())  # noqa: B010 (a plain assignment would not type-check)


def with_lazy_data(
    result: EditResult, encode: Callable[[], bytes], image: Image.Image, **changes: Any
) -> EditResult:
    """``result`` with ``changes``, whose ``.image`` is ``image`` and whose ``.data`` is
    ``encode()``'s bytes, computed on first read (once, thread-safe): see ``_Data``."""
    lazy = dataclasses.replace(result, data=b"", **changes)
    state = lazy.__dict__
    state["image"] = image  # the exact pixels (cached_property's slot)
    state["_data_lock"] = threading.Lock()
    state["_encode"] = encode
    del state["_data"]
    return lazy


def build_result(
    prepared: PreparedRequest,
    headers: dict[str, str],
    content: bytes,
    *,
    elapsed: float,
    is_local: bool,
    from_store: bool = False,
    stored_path: str | None = None,
) -> EditResult:
    """Keep the headers that matter (lower-cased) and mark local answers by the model name."""
    kept = {k: v for k, v in headers.items() if k in RESULT_HEADERS or k.startswith("x-venice-")}
    local = is_local or kept.get(H_MODEL_NAME, "").endswith(LOCAL_NAME_SUFFIX)
    return EditResult(
        data=content,
        content_type=kept.get("content-type", "image/png"),
        headers=kept,
        elapsed=elapsed,
        request=prepared.summary,
        fingerprint=prepared.fingerprint,
        estimated_cost=prepared.estimated_cost,
        fit_actions=prepared.fit_actions,
        is_local=local,
        from_store=from_store,
        stored_path=stored_path,
    )
