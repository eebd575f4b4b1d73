"""MkDocs hook: show a note instead of a widget's text repr in the rendered notebooks.

Notebooks are stored without widget state (it would hold every image again), so nbconvert can
only render a widget output's ``text/plain`` fallback, e.g. ``ResultGrid(children=(GridBox(...``.
That says nothing to a reader; a short note saying the widget is interactive does.
"""

from __future__ import annotations

import html
import re
from typing import Any

_WIDGET_REPR = re.compile(
    r'<div class="jp-RenderedText[^"]*" data-mime-type="text/plain"[^>]*>\s*'
    r"<pre>([A-Z][A-Za-z]*)\((?:children|layout|value|description)=.*?</pre>\s*</div>",
    re.DOTALL,
)


def _note(match: re.Match[str]) -> str:
    name = html.escape(match.group(1))
    return (
        '<div class="jp-RenderedHTMLCommon jp-OutputArea-output"><p><em>An interactive '
        f"<code>{name}</code> widget appears here when the notebook runs.</em></p></div>"
    )


def on_page_content(html_text: str, page: Any, **kwargs: Any) -> str:
    if not page.file.src_uri.endswith(".ipynb"):
        return html_text
    return _WIDGET_REPR.sub(_note, html_text)
