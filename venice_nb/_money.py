"""Money, stated one way everywhere: what a run would cost at Venice, and what it cost here.

The local backend charges nothing but prices every request at Venice's rates, so a run tried
out locally tells what the real one will cost. Showing only "$0" hides that; showing only the
Venice price reads as if it were charged. Every place that shows money (captions, the report,
the results browser, ``ResultStore.stats()``, notebooks) therefore says both, with these
helpers, in the same words: ``$0.04 at Venice · $0 here``.
"""

from __future__ import annotations

__all__ = ["cost", "usd"]


def usd(amount: float) -> str:
    """``$0.04``, ``$0.026``, ``$1.25``, ``$0``: cents always, a third decimal only when it
    carries a price (Venice prices edits in tenths of a cent), no float noise."""
    if amount == 0:
        return "$0"
    if 0 < amount < 0.0005:
        return "<$0.001"
    text = f"{amount:,.3f}"
    if text.endswith("0"):
        text = text[:-1]
    return f"${text}"


def cost(at_venice: float | None, here: float | None) -> str:
    """``"$0.04 at Venice · $0 here"``; ``at_venice`` None (an unpriced model): ``"price
    unknown"`` for that half. ``here`` None: the Venice half alone (a price before a run)."""
    venice = f"{usd(at_venice)} at Venice" if at_venice is not None else "Venice price unknown"
    return venice if here is None else f"{venice} · {usd(here)} here"
