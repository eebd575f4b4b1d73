"""MkDocs hook: notebook pages share one stylesheet instead of inlining it.

mkdocs-jupyter inlines JupyterLab's whole stylesheet (~575 KB) into every notebook page, which
made each page weigh 0.7-1.0 MB before a single picture. Each large inline ``<style>`` block is
written once to ``assets/stylesheets/nb-<sha256>.css`` and the page links it, so a reader
downloads it once and every later notebook page costs only its own content.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

_LARGE = 50_000  # characters: only the framework stylesheet, not a page's small rules
_STYLE = re.compile(r"<style type=\"text/css\">(.*?)</style>", re.S)


def on_post_page(output: str, page: Any, config: Any, **kwargs: Any) -> str:
    if not page.file.src_uri.endswith(".ipynb"):
        return output
    up = "../" * page.url.count("/")  # notebooks/01_x/ -> ../../

    def shared(match: re.Match[str]) -> str:
        css = match.group(1)
        if len(css) < _LARGE:
            return match.group(0)
        name = f"assets/stylesheets/nb-{hashlib.sha256(css.encode()).hexdigest()[:16]}.css"
        target = Path(config["site_dir"]) / name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(css, "utf-8")
        return f'<link rel="stylesheet" href="{up}{name}">'

    return _STYLE.sub(shared, output)
