"""A page object for MaskPainter in a real page: what a person sees and does, by name.

Tests drive the painter through this (real mouse, keys and file chooser) instead of knowing its
DOM: if the painter's markup changes, this file changes and the tests do not.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .conftest import canvas_box

SURFACE = ".venice-painter-surface"
# The canvas the kernel renders into (the first canvas inside the surface).
_READ_PIXEL = """([sel, x, y]) => {
    const c = document.querySelector(sel + ' canvas');
    return Array.from(c.getContext('2d').getImageData(x, y, 1, 1).data);
}"""


class PainterPage:
    """One painter on the page (the first, or the one inside ``within``)."""

    def __init__(self, page: Any, within: str = "") -> None:
        self.page = page
        self.root = f"{within} .venice-mask-painter".strip()
        self.surface = f"{self.root} {SURFACE}"
        self.settle()

    def settle(self) -> None:
        """Wait until every cell has run and the canvas stopped moving, then measure it.

        Run All scrolls to the last cell when its reply lands; toolbar icons load late.
        """
        page = self.page
        page.wait_for_function("""() => [...document.querySelectorAll('.jp-InputPrompt')]
            .every(p => /\\[\\d+\\]/.test(p.textContent))""")
        page.locator(self.surface).first.scroll_into_view_if_needed()
        page.evaluate("() => document.fonts.ready.then(() => true)")
        page.wait_for_function(  # unchanged over five polls, 100 ms apart
            """(sel) => {
                const r = document.querySelector(sel).getBoundingClientRect();
                const key = [r.x, r.y, r.width, r.height].join();
                window.__venice_same = window.__venice_box === key ? window.__venice_same + 1 : 0;
                window.__venice_box = key;
                return window.__venice_same >= 4;
            }""", arg=self.surface, polling=100)
        self.box = canvas_box(page, self.surface)
        # The canvas's size in canvas px (the kernel's view_size) is the surface's CSS width.
        width = page.evaluate(
            "(sel) => parseFloat(document.querySelector(sel).style.width)", self.surface)
        self.view_width = float(width)
        self.scale = self.box["width"] / self.view_width  # CSS px per canvas px

    # ------------------------------------------------------------ geometry
    def at(self, x: float, y: float) -> tuple[float, float]:
        """Canvas point -> page point (measured now: a button click may have scrolled)."""
        self.box = canvas_box(self.page, self.surface)
        return self.box["x"] + x * self.scale, self.box["y"] + y * self.scale

    def canvas_point(self, px: float, py: float) -> tuple[float, float]:
        """Page point -> canvas coordinates, as the surface computes them."""
        return (px - self.box["x"]) / self.scale, (py - self.box["y"]) / self.scale

    def wait_view_width(self, width: int) -> None:
        """The browser has taken a new canvas size (a new image), then measure again."""
        self.page.wait_for_function(
            "([sel, w]) => parseFloat(document.querySelector(sel).style.width) === w",
            arg=[self.surface, width])
        self.settle()

    # ------------------------------------------------------------ input
    def click(self, x: float, y: float) -> None:
        self.page.mouse.click(*self.at(x, y))

    def focus(self) -> None:
        self.page.locator(self.surface).first.focus()

    def press(self, key: str) -> None:
        self.page.keyboard.press(key)

    def wait_tool(self, tool: str) -> None:
        """The browser side uses ``tool`` (what the pointer does now)."""
        self.page.wait_for_selector(f"{self.surface}[data-tool={tool}]")

    def button(self, name: str) -> None:
        """Click the painter's button labelled ``name`` (a tool's too)."""
        label = re.compile(rf"^\s*{re.escape(name)}\s*$")
        target = self.page.locator(f"{self.root} button", has_text=label).first
        if not target.is_visible():  # refine, mask file and overlay sit under "More"
            self.open_more()
        target.click()

    def open_more(self) -> None:
        """Open the "More" row (refine, mask file, overlay) if it is closed."""
        more = self.page.locator(f"{self.root} button.venice-painter-more").first
        if "mod-active" not in (more.get_attribute("class") or ""):
            more.click()
        self.page.locator(f"{self.root} .venice-painter-extras").first.wait_for(state="visible")

    def button_texts(self) -> list[str]:
        return [t.strip() for t in self.page.locator(f"{self.root} button").all_inner_texts()]

    def load_mask(self, path: Path) -> None:
        """Load mask… and choose ``path`` in the file chooser."""
        with self.page.expect_file_chooser() as chooser:
            self.button("Load mask…")
        chooser.value.set_files(str(path))

    def save_mask(self, into: Path) -> Path:
        """Save mask, and where the browser's download landed."""
        with self.page.expect_download() as download:
            self.button("Save mask")
        target = into / str(download.value.suggested_filename)
        download.value.save_as(str(target))
        return target

    # ------------------------------------------------------------ what shows
    def status(self) -> str:
        return str(self.page.locator(f"{self.root} .venice-painter-status").first.inner_text())

    def wait_status(self, pattern: str) -> str:
        """The status line matches ``pattern`` (a regex); its text."""
        self.page.locator(f"{self.root} .venice-painter-status").first.filter(
            has_text=re.compile(pattern)).wait_for()
        return self.status()

    def open_key_help(self) -> str:
        """Open the keys help (a click on "⌨ keys") and read it."""
        self.page.locator(f"{self.root} .venice-key-help summary").first.click()
        return str(self.page.locator(f"{self.root} .venice-key-help").first.inner_text())

    def pixel(self, x: int, y: int) -> list[int]:
        """RGBA of the kernel's picture at device pixel (x, y)."""
        return list(self.page.evaluate(_READ_PIXEL, [self.surface, x, y]))

    def wait_pixel(self, x: int, y: int, condition: str) -> None:
        """Wait until the picture's pixel ``d`` (RGBA) at (x, y) satisfies JS ``condition``."""
        self.page.wait_for_function(
            f"([sel, x, y]) => {{ const d = ({_READ_PIXEL})([sel, x, y]); return {condition}; }}",
            arg=[self.surface, x, y])

    def focused_is_surface(self) -> bool:
        return bool(self.page.evaluate(
            "() => !!document.activeElement?.classList.contains('venice-painter-surface')"))
