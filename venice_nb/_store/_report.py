"""A shareable experiment report: one self-contained HTML file that opens anywhere.

Images are embedded as downscaled JPEG data URLs (no server, no second file, small enough to
mail); every job gets a card with its prompt, model, status, cost and marks (pick, rating,
note), and failures say why. Nothing in it depends on timing or on whether the store answered, so a
replayed run writes the same report. ``ExperimentResults.to_html(path)`` calls ``write_html``.
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path
from typing import Any

from PIL import Image

from .. import _money
from .._html import escape

__all__ = ["experiment_html", "write_html"]

_THUMB_SIDE = 512
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#111827}
h1{font-size:20px;margin:0 0 4px} .summary{color:#4b5563;margin:0 0 16px}
.badge{background:#b45309;color:#fff;border-radius:3px;padding:1px 6px;font-size:12px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(240px,1fr));gap:12px}
.card{border:1px solid #e5e7eb;border-radius:6px;padding:8px;margin:0}
.card img{width:100%;height:auto;display:block;border-radius:3px}
.card.failed,.card.skipped{background:#fef2f2} .why{color:#b91c1c}
.card.picked{border:2px solid #15803d} .marks{color:#15803d;font-weight:600}
.meta{color:#4b5563;font-size:12px} .prompt{font-style:italic}
table{border-collapse:collapse;margin-top:20px;font-size:13px;width:100%}
td,th{border-bottom:1px solid #e5e7eb;padding:3px 6px;text-align:left;vertical-align:top}
td{overflow-wrap:anywhere} td small{color:#4b5563}
@media (max-width:600px){body{margin:12px}.grid{grid-template-columns:1fr}}
"""


def _thumb_url(data: bytes) -> str:
    with Image.open(io.BytesIO(data)) as img:
        img = img.convert("RGB")
        img.thumbnail((_THUMB_SIDE, _THUMB_SIDE), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=82, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _marks(record: Any) -> str:
    """``★ picked · 4/5 · note``: the marks a person set, or "" (escaped)."""
    parts = ["★ picked" if record.picked else "", f"{record.rating}/5" if record.rating else "",
             record.note or ""]
    return escape(" · ".join(p for p in parts if p))


def _card(record: Any) -> str:
    esc = escape
    head = " · ".join(esc(p) for p in (record.image, record.mask, record.model) if p)
    result = record.result
    if result is not None:
        picture = f"<img src='{_thumb_url(result.data)}' alt='{esc(record.prompt)}'/>"
        # No "from store" and no time: a replayed report is the same file as the recorded one.
        detail = f" · {esc(result.model_name or result.model_id or '')} · {esc(_cost(record))}"
        why = ""
    else:
        picture = detail = ""
        message = getattr(record.error, "message", None) or (str(record.error or "") or
                                                             "over budget: not sent")
        why = f"<div class='why'>{esc(message)}</div>"
    marks = _marks(record)
    marked = f"<div class='marks'>{marks}</div>" if marks else ""
    return (
        f"<figure class='card {esc(record.status)}{' picked' if record.picked else ''}'>"
        f"{picture}<figcaption>"
        f"<div class='prompt'>{esc(record.prompt)}</div><div class='meta'>{head}</div>"
        f"<div class='meta'>{esc(record.status)}{detail}</div>{marked}{why}</figcaption></figure>"
    )


def _cost(record: Any) -> str:
    """The job's money in the one wording (``_money``): its price at Venice, and what it cost
    here (nothing locally, nothing when the store answered)."""
    price = record.estimated_cost
    if price is None:
        return _money.cost(None, None)
    here = 0.0 if record.result is None or record.result.is_local else record.spent_usd
    return _money.cost(price, here)


def _summary(results: Any) -> str:
    """``results.summary()`` without the wall time (a report must not change between runs)."""
    counts = ", ".join(f"{n} {status}" for status, n in results.counts.items())
    return f"{len(results)} jobs: {counts}; {results.cost_text}"


def experiment_html(results: Any, title: str = "venice_nb experiment") -> str:
    """The whole report as one HTML string (see module docstring)."""
    esc = escape
    local = " <span class='badge'>LOCAL backend: simulated, free</span>" if (
        results.estimate.is_local) else ""
    # Four narrow columns (job, status, cost, marks) so the table fits a 390 px phone.
    rows = "".join(
        f"<tr><td>{r.index}</td><td>{esc(r.prompt)}<br/><small>"
        f"{' · '.join(esc(p) for p in (r.image, r.mask, r.model) if p)}</small></td>"
        f"<td>{esc(r.status)}</td><td>{esc(_cost(r))}</td><td>{_marks(r)}</td></tr>"
        for r in results
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{esc(title)}</h1><p class='summary'>{esc(_summary(results))}{local}</p>"
        f"<div class='grid'>{''.join(_card(r) for r in results)}</div>"
        "<table><thead><tr><th>#</th><th>job</th><th>status</th><th>cost</th><th>marks</th>"
        f"</tr></thead><tbody>{rows}</tbody></table></body></html>"
    )


def write_html(
    results: Any, path: str | os.PathLike[str], title: str = "venice_nb experiment"
) -> Path:
    """Write the report to ``path`` (UTF-8); returns the path."""
    out = Path(path)
    out.write_text(experiment_html(results, title), encoding="utf-8")
    return out
