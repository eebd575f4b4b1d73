"""The error the local backend raises anywhere and the handler turns into a Venice error body."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An HTTP error response: ``{"error": message, "code": code}`` (+ ``details`` for 400s)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        counts_as_failure: bool = True,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = dict(headers or {})
        self.extra_body = dict(body or {})
        # False for answers that must not feed Venice's failed-request block (a blocked 429).
        self.counts_as_failure = counts_as_failure

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.message, "code": self.code}
        if self.details is not None:
            out["details"] = self.details
        out.update(self.extra_body)
        return out


def field_details(errors: dict[str, list[str]], top: list[str] | None = None) -> dict[str, Any]:
    """Zod-style ``details``: ``{"_errors": [...], "<field>": {"_errors": [...]}}``."""
    details: dict[str, Any] = {"_errors": list(top or [])}
    for name, msgs in errors.items():
        details[name] = {"_errors": list(msgs)}
    return details


def bad_request(
    message: str,
    *,
    field: str | None = None,
    code: str = "INVALID_REQUEST",
    label: str | None = None,
) -> ApiError:
    """A 400 whose details name ``field`` (or carry the message at top level); ``label``
    (e.g. "images[2]") replaces the field name in the message."""
    details = field_details({field: [message]} if field else {}, None if field else [message])
    name = label or field
    prefix = f"{name}: " if name else ""
    return ApiError(400, code, f"Invalid request: {prefix}{message}", details=details)
