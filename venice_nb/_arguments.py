"""Argument checks every public entry point shares: one wording, one error type.

Each guard returns the value in the form the caller computes with, or raises a
``ValidationError`` that names the argument and says what to pass instead. Booleans are refused
where numbers are meant (``True`` is an ``int`` to Python, never a radius to a person).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection

from ._exceptions import ValidationError

__all__ = [
    "choice",
    "count",
    "flag",
    "fraction",
    "non_negative",
    "number",
    "pixels",
    "positive",
    "text",
]


def _shown(value: object) -> str:
    return f"{value!r:.60}"


def _finite(value: numbers.Real) -> bool:
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int too large for a float
        return False


def number(value: object, name: str) -> float:
    """A finite real number (ints, floats, numpy scalars), as a float."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not _finite(value):
        raise ValidationError(
            f"{name} must be a finite number; got {_shown(value)}",
            action=f"pass {name} as an int or float (no NaN or infinity)",
            field=name,
        )
    return float(value)


def non_negative(value: object, name: str) -> float:
    v = number(value, name)
    if v < 0:
        raise ValidationError(
            f"{name} must be >= 0; got {_shown(value)}", action=f"use {name}=0 or more", field=name
        )
    return v


def pixels(value: object, name: str) -> int:
    """A distance in whole pixels (rounded), at least 0."""
    return round(non_negative(value, name))


def positive(value: object, name: str) -> float:
    v = number(value, name)
    if v <= 0:
        raise ValidationError(
            f"{name} must be > 0; got {_shown(value)}",
            action=f"use a {name} above 0",
            field=name,
        )
    return v


def fraction(value: object, name: str) -> float:
    """A number in [0, 1]."""
    v = number(value, name)
    if not 0 <= v <= 1:
        raise ValidationError(
            f"{name} must be between 0 and 1; got {_shown(value)}",
            action=f"use a {name} from 0.0 to 1.0",
            field=name,
        )
    return v


def count(value: object, name: str, minimum: int = 1, maximum: int | None = None) -> int:
    """A whole number (not a bool), at least ``minimum`` (and at most ``maximum``)."""
    if (not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum
            or (maximum is not None and int(value) > maximum)):
        raise ValidationError(
            f"{name}={_shown(value)} is not valid",
            action=f"use an int >= {minimum}" if maximum is None
            else f"use an int from {minimum} to {maximum}",
            field=name,
        )
    return int(value)


def flag(value: object, name: str) -> bool | None:
    """True, False or None (the server's default)."""
    if value is not None and not isinstance(value, bool):
        raise ValidationError(
            f"{name}={_shown(value)} is not a boolean",
            action="pass True or False (or leave it out)",
            field=name,
        )
    return value


def text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(
            f"{name} is a {type(value).__name__}, not text",
            action=f"pass {name} as a str",
            field=name,
        )
    return value


def choice(value: object, name: str, allowed: Collection[str]) -> str:
    """One of ``allowed`` (a str is required before membership is even asked)."""
    if not isinstance(value, str) or value not in allowed:
        raise ValidationError(
            f"{name}={_shown(value)} is not valid",
            action=f"use one of {', '.join(dict.fromkeys(allowed))}",
            field=name,
        )
    return value
