"""A shareable experiment report: one self-contained HTML file that opens anywhere.

Images are embedded as downscaled JPEG data URLs (no server, no second file, small enough to
mail); every job gets a card with its prompt, model, status, cost and time, and failures say
why. ``ExperimentResults.to_html(path)`` calls ``write_html``.
"""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path
from typing import Any

from PIL import Image

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
.meta{color:#4b5563;font-size:12px} .prompt{font-style:italic}
table{border-collapse:collapse;margin-top:20px;font-size:13px}
td,th{border-bottom:1px solid #e5e7eb;padding:3px 8px;text-align:left}
"""


def _thumb_url(data: bytes) -> str:
    with Image.open(io.BytesIO(data)) as img:
        img = img.convert("RGB")
        img.thumbnail((_THUMB_SIDE, _THUMB_SIDE), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=82, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _card(record: Any) -> str:
    esc = html.escape
    head = " · ".join(esc(p) for p in (record.image, record.mask, record.model) if p)
    result = record.result
    if result is not None:
        picture = f"<img src='{_thumb_url(result.data)}' alt='{esc(record.prompt)}'/>"
        cost = "$0 (local)" if result.is_local else (
            f"~${result.estimated_cost:.3f}" if result.estimated_cost is not None else "")
        where = " · from store" if result.from_store else ""
        detail = (f" · {esc(result.model_name or result.model_id or '')} · {cost} · "
                  f"{result.elapsed:.2f}s{where}")
        why = ""
    else:
        picture = detail = ""
        message = getattr(record.error, "message", None) or (str(record.error or "") or
                                                             "over budget: not sent")
        why = f"<div class='why'>{esc(message)}</div>"
    return (
        f"<figure class='card {esc(record.status)}'>{picture}<figcaption>"
        f"<div class='prompt'>{esc(record.prompt)}</div><div class='meta'>{head}</div>"
        f"<div class='meta'>{esc(record.status)}{detail}</div>{why}</figcaption></figure>"
    )


def experiment_html(results: Any, title: str = "venice_nb experiment") -> str:
    """The whole report as one HTML string (see module docstring)."""
    esc = html.escape
    local = " <span class='badge'>LOCAL backend: simulated, free</span>" if (
        results.estimate.is_local) else ""
    rows = "".join(
        f"<tr><td>{r.index}</td><td>{esc(r.image)}</td><td>{esc(r.mask or '')}</td>"
        f"<td>{esc(r.prompt)}</td><td>{esc(r.model or '')}</td><td>{esc(r.status)}</td>"
        f"<td>{r.spent_usd:.3f}</td>"
        f"<td>{f'{r.result.elapsed:.2f}' if r.result is not None else ''}</td></tr>"
        for r in results
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{esc(title)}</h1><p class='summary'>{esc(results.summary())}{local}</p>"
        f"<div class='grid'>{''.join(_card(r) for r in results)}</div>"
        "<table><thead><tr><th>#</th><th>image</th><th>mask</th><th>prompt</th><th>model</th>"
        "<th>status</th><th>spent $</th><th>seconds</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></body></html>"
    )


def write_html(
    results: Any, path: str | os.PathLike[str], title: str = "venice_nb experiment"
) -> Path:
    """Write the report to ``path`` (UTF-8); returns the path."""
    out = Path(path)
    out.write_text(experiment_html(results, title), encoding="utf-8")
    return out
