"""Reading numbers out of response headers: the one parser the client, retries, results and the
pacer share. A proxy may mangle a header, so anything unreadable (or NaN, or infinite) is None,
never an exception in the middle of a paid answer."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

__all__ = ["header_int", "header_number", "parse_retry_after"]


def header_number(headers: Mapping[str, str] | None, name: str) -> float | None:
    """A header as a finite float; None when absent or garbled."""
    value = (headers or {}).get(name)
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def header_int(headers: Mapping[str, str] | None, name: str) -> int | None:
    """A header as an int (``"20.0"`` reads as 20); None when absent or garbled."""
    number = header_number(headers, name)
    return None if number is None else int(number)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After value: delay-seconds or an HTTP date."""
    seconds = header_number({"v": value} if value else None, "v")
    if seconds is not None:
        return max(0.0, seconds)
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(0.0, when - (time.time() if now is None else now))
