"""Typed errors: one base class, one class per HTTP status, each with the action to take.

The action texts follow the errors table of the Venice image-editing guide. Messages are built
only from the server's text and our own words, never from request headers, so the API key
cannot leak through an exception.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from ._constants import H_RETRY_AFTER, TOP_UP_URL
from ._headers import parse_retry_after

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ContentPolicyError",
    "GatewayTimeoutError",
    "ImageTooLargeError",
    "InsufficientBalanceError",
    "InternalServerError",
    "ModelAtCapacityError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "ReplayMissError",
    "UnsupportedMediaTypeError",
    "ValidationError",
    "VeniceError",
    "error_from_response",
]


class VeniceError(Exception):
    """Base of every venice_nb error: ``message``, ``action`` (what to do), ``status``, ``code``."""

    status: int | None = None
    default_action: str = ""

    def __init__(
        self,
        message: str,
        *,
        action: str | None = None,
        code: str | None = None,
        status: int | None = None,
    ) -> None:
        self.message = message
        self.action = action if action is not None else self.default_action
        self.code = code
        if status is not None:
            self.status = status
        super().__init__(self._text())

    def _text(self) -> str:
        head = f"[{self.status}{' ' + self.code if self.code else ''}] " if self.status else ""
        tail = f" -> {self.action}" if self.action else ""
        return f"{head}{self.message}{tail}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._text()!r})"


class ValidationError(VeniceError, ValueError, TypeError):
    """Raised before any request is sent: the input cannot succeed, so no money is spent.

    Also a ``ValueError`` and a ``TypeError``, so code that catches either for a bad argument
    (of the wrong value or the wrong type) keeps working."""

    def __init__(
        self, message: str, *, action: str | None = None, field: str | None = None
    ) -> None:
        self.field = field
        super().__init__(message, action=action, code="CLIENT_VALIDATION")


class ReplayMissError(VeniceError):
    """Replay-only mode found no stored result: nothing was sent, nothing was spent."""

    default_action = (
        "run once with store mode 'use' (and a key or the local backend) to record it, "
        "or check that the inputs and parameters are exactly the recorded ones"
    )


class APIConnectionError(VeniceError):
    default_action = "check the network and base_url; the request was retried and still failed"


class APITimeoutError(APIConnectionError):
    default_action = "edits can take minutes: raise timeout= on the client, or retry later"


class APIStatusError(VeniceError):
    """An HTTP error answer from the API; keeps the parsed body (never the request)."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        action: str | None = None,
    ) -> None:
        self.body = body
        self.headers = dict(headers or {})
        super().__init__(message, action=action, code=code, status=status)


class BadRequestError(APIStatusError):
    status = 400
    default_action = "check image count, field names, and input format"

    @property
    def details(self) -> dict[str, Any] | None:
        body = self.body if isinstance(self.body, dict) else {}
        return body.get("details") or body.get("issues")


class AuthenticationError(APIStatusError):
    status = 401
    default_action = "check your API key (VENICE_API_KEY or api_key=)"


class InsufficientBalanceError(APIStatusError):
    status = 402
    default_action = f"add credits at {TOP_UP_URL}"

    @property
    def payment_required(self) -> dict[str, Any] | None:
        """The decoded x402 ``PAYMENT-REQUIRED`` header, for wallet top-ups."""
        raw = self.headers.get("payment-required")
        if not raw:
            return None
        try:
            decoded = json.loads(base64.b64decode(raw + "=" * (-len(raw) % 4)))
        except ValueError:
            return None
        return decoded if isinstance(decoded, dict) else None

    @property
    def top_up_instructions(self) -> object:
        body = self.body if isinstance(self.body, dict) else {}
        return body.get("topUpInstructions")


class PermissionDeniedError(APIStatusError):
    status = 403
    default_action = "API access is disabled for this key: enable it in your Venice API settings"


class NotFoundError(APIStatusError):
    status = 404
    default_action = "check base_url: it should end with /api/v1"


class PayloadTooLargeError(APIStatusError):
    status = 413
    default_action = "send a smaller file (under 25 MB), or pass fit=True to re-encode it"


class UnsupportedMediaTypeError(APIStatusError):
    status = 415
    default_action = "use JSON or multipart form-data correctly"


class ContentPolicyError(APIStatusError):
    status = 422
    default_action = "the model refused this prompt or image: rephrase it, or choose another model"


class ImageTooLargeError(APIStatusError):
    """422 ``IMAGE_TOO_LARGE``: too many pixels, which is no content-policy refusal."""

    status = 422
    default_action = (
        "use an image of at most 33,177,600 pixels, or pass fit=True to shrink it before sending"
    )


class RateLimitError(APIStatusError):
    status = 429
    default_action = "retry with backoff, or slow down (20 image requests a minute by default)"

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class InternalServerError(APIStatusError):
    status = 500
    default_action = "inference failed: retry the request"


class ModelAtCapacityError(APIStatusError):
    status = 503
    default_action = "the model is at capacity: retry after a short delay, or pick another model"


class GatewayTimeoutError(APIStatusError):
    status = 504
    default_action = "the request timed out at Venice: retry, or use a lower resolution"


_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    cls.status: cls
    for cls in (
        BadRequestError,
        AuthenticationError,
        InsufficientBalanceError,
        PermissionDeniedError,
        NotFoundError,
        PayloadTooLargeError,
        UnsupportedMediaTypeError,
        ContentPolicyError,
        RateLimitError,
        InternalServerError,
        ModelAtCapacityError,
        GatewayTimeoutError,
    )
}

# Per-code actions that say more than the status alone.
_CODE_ACTIONS = {
    "INVALID_MODEL": "pick a model id from client.models(type='inpaint')",
    "CORRUPTED_IMAGE": "the image could not be decoded: re-save it as PNG or JPEG",
    "IMAGE_TOO_SMALL": "use an image of at least 65,536 pixels (e.g. 256x256), or fit=True",
    "API_KEY_USD_SPEND_LIMIT_EXCEEDED": "raise this key's USD spend limit in your API settings",
    "MODEL_OVERLOADED": "the model is overloaded: retry with backoff or pick another model",
    "MODEL_OFFLINE": "the model is offline: pick another model",
}


def _status_class(status: int) -> type[APIStatusError]:
    if status in _STATUS_ERRORS:
        return _STATUS_ERRORS[status]
    if status >= 500:
        return InternalServerError
    return APIStatusError


def error_from_response(status: int, headers: dict[str, str], content: bytes) -> APIStatusError:
    """Build the typed error for an HTTP error answer (headers keys lower-case)."""
    body: Any
    try:
        body = json.loads(content.decode("utf-8")) if content else None
    except (UnicodeDecodeError, ValueError):
        body = None
    text = ""
    code = None
    if isinstance(body, dict):
        text = str(body.get("error") or body.get("message") or "")
        code = body.get("code") if isinstance(body.get("code"), str) else None
    if not text and body is None:  # not JSON: a proxy's page, say; its first words help
        text = content[:200].decode("utf-8", "replace").strip()
    text = text or f"HTTP {status} with no error message"
    cls = _status_class(status)
    if status == 422 and code == "IMAGE_TOO_LARGE":
        cls = ImageTooLargeError
    kwargs: dict[str, Any] = {
        "status": status,
        "code": code,
        "body": body,
        "headers": headers,
        "action": _CODE_ACTIONS.get(code or ""),
    }
    if cls is RateLimitError:
        kwargs["retry_after"] = parse_retry_after(headers.get(H_RETRY_AFTER))
    if cls is BadRequestError and isinstance(body, dict) and body.get("details"):
        text = f"{text} ({_summarise_details(body['details'])})"
    if cls is APIStatusError:
        kwargs["action"] = kwargs["action"] or "see the message; this status is not documented"
    return cls(text, **kwargs)


def _summarise_details(details: Any) -> str:
    """Flatten zod-style ``{"field": {"_errors": [...]}}`` into ``field: message``."""
    if not isinstance(details, dict):
        return str(details)[:300]
    parts = [str(e) for e in details.get("_errors", []) or []]
    for field, value in details.items():
        if field == "_errors":
            continue
        errs = value.get("_errors") if isinstance(value, dict) else value
        parts.append(f"{field}: {'; '.join(map(str, errs)) if isinstance(errs, list) else errs}")
    return ", ".join(parts)[:500]
