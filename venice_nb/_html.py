"""The one way text reaches HTML: escaped, in element content and in quoted attributes alike.

Everything shown in a notebook can come from someone else: a shared recording's headers and
prompts, a model list's names, a store's notes, a server's error text. A notebook's HTML runs
with the page's rights (in JupyterLab, script can drive the kernel), so every value that is not
our own markup goes through ``escape`` and every image through ``image_data_url``; nothing else
builds HTML from data.
"""

from __future__ import annotations

import base64
import html

__all__ = ["NO_MATHS", "escape", "image_data_url"]

# The class that tells JupyterLab's and the docs' maths renderers to leave an element's text
# alone: "$0.04 at Venice · $0 here" in an HTML output is otherwise typeset as maths between
# the two dollar signs. Every HTML output's root element carries it.
NO_MATHS = "tex2jax_ignore mathjax_ignore"

# The only image types a data URL is made for; anything else is named as PNG (the bytes are
# still the bytes: a browser sniffs them), so a hostile content-type never reaches markup.
_IMAGE_TYPES = frozenset(("image/png", "image/jpeg", "image/webp", "image/gif"))


def escape(value: object) -> str:
    """``value`` as text safe inside element content and inside '…' or "…" attributes."""
    return html.escape(str(value), quote=True)


def image_data_url(data: bytes, mime: str) -> str:
    """A ``data:`` URL of an image, its type one of a fixed few whatever ``mime`` says."""
    kind = mime.split(";", 1)[0].strip().lower()
    kind = kind if kind in _IMAGE_TYPES else "image/png"
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"
