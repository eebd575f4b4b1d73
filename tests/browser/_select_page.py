"""The painter's selection controls, as a person uses them (extends the painter's page object).

Kept apart from ``_painter_page.py`` so the selection tools' markup is known in one place.
"""

from __future__ import annotations

import re

from ._painter_page import PainterPage


class SelectPage(PainterPage):
    """A painter with its selection tools: tool buttons, combine mode, sliders, Apply."""

    def select_tool(self, label: str, tool: str) -> None:
        """Click the tool's button (``label``) and wait until the browser uses ``tool``."""
        self.button(label)
        self.wait_tool(tool)

    def combine(self, mode: str) -> None:
        """Replace / Add / Subtract."""
        self.page.locator(f"{self.root} .venice-select-combine button",
                          has_text=re.compile(rf"^\s*{mode}\s*$")).first.click()

    def shift_click(self, x: float, y: float) -> None:
        """A click with Shift held (object select: "not this")."""
        self.page.keyboard.down("Shift")
        try:
            self.click(x, y)
        finally:
            self.page.keyboard.up("Shift")

    def _slider(self, label: str) -> tuple[object, dict[str, float], dict[str, float]]:
        slider = self.page.locator(f"{self.root} .widget-slider",
                                   has_text=re.compile(rf"^\s*{re.escape(label)}")).first
        if not slider.is_visible():  # Refine's sliders sit under "More", below the image
            self.open_more()
        slider.scroll_into_view_if_needed()
        track = slider.locator(".noUi-target").first.bounding_box()
        handle = slider.locator(".noUi-handle").first.bounding_box()
        assert track is not None and handle is not None, f"slider {label!r} is not visible"
        return slider, track, handle

    def drag_slider(self, label: str, fractions: list[float], *, release: bool = True) -> None:
        """Drag slider ``label``'s handle through ``fractions`` of its track (0 = min, 1 = max),
        a real mouse drag; ``release=False`` keeps the button down (to look mid-drag)."""
        _, track, handle = self._slider(label)
        mouse = self.page.mouse
        mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
        mouse.down()
        y = handle["y"] + handle["height"] / 2
        for f in fractions:
            mouse.move(track["x"] + f * track["width"], y, steps=6)
        if release:
            mouse.up()

    def release(self) -> None:
        self.page.mouse.up()
