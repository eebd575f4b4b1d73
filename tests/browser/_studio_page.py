"""A page object for EditStudio / EditControls / ResultBrowser in a real browser.

Tests say what a person does ("paint a stroke", "type a prompt", "press Run") and read what a
person sees ("the status", "is Run on screen"); only this module knows the widgets' DOM
(classes, roles), so a change of markup is fixed in one place.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Locator, expect

from ._painter_page import PainterPage
from .conftest import Notebook, drag

# Every element of the studio whose content is wider than its box and that would scroll (or
# clip) horizontally: an inner scrollbar is a layout bug.
_OVERFLOWS = """(root) => {
    const out = [];
    for (const el of root.querySelectorAll('*')) {
        const s = getComputedStyle(el);
        if (el.clientWidth === 0 || s.display === 'none') continue;
        const scrolls = ['auto', 'scroll'].includes(s.overflowX);
        if (scrolls && el.scrollWidth > el.clientWidth + 1)
            out.push((el.className || el.tagName).toString().slice(0, 80)
                     + ' ' + el.scrollWidth + '>' + el.clientWidth);
    }
    return out;
}"""

# Whether a person sees the whole element: its corners (6 px in, past rounded corners) and
# centre are inside the viewport and hit the element itself (not clipped by the notebook's
# scroll area, nor under its status bar or another panel); the reasons it is not.
_UNSEEN = """el => { const r = el.getBoundingClientRect(); const out = [];
    if (r.width === 0 || r.height === 0) return ['not shown'];
    for (const [x, y] of [[r.left + 6, r.top + 6], [r.right - 6, r.top + 6],
                          [r.left + 6, r.bottom - 6], [r.right - 6, r.bottom - 6],
                          [(r.left + r.right) / 2, (r.top + r.bottom) / 2]]) {
        const hit = document.elementFromPoint(x, y);
        if (!hit || !(el === hit || el.contains(hit)))
            out.push(`(${Math.round(x)}, ${Math.round(y)}) shows `
                     + (hit ? (hit.className || hit.tagName).toString().slice(-60) : 'nothing'));
    }
    return out; }"""

_FOCUS = """() => { const a = document.activeElement;
    if (!a || !a.closest('.venice-edit-studio, .venice-edit-controls')) return 'outside';
    if (a.classList.contains('venice-painter-surface')
        || a.getAttribute('role') === 'application') return 'PAINTER';
    if (a.closest('.venice-prompt')) return 'PROMPT';
    return a.tagName + ':' + (a.textContent || a.getAttribute('aria-label') || '').trim(); }"""


class StudioPage:
    """The first EditStudio on a notebook page."""

    def __init__(self, nb: Notebook) -> None:
        self.nb = nb
        self.page: Any = nb.page
        self.root: Locator = self.page.locator(".venice-edit-studio").first
        self.controls: Locator = self.page.locator(".venice-edit-controls").first

    # ------------------------------------------------------------------ parts
    @property
    def prompt(self) -> Locator:
        return self.controls.locator(".venice-prompt textarea")

    @property
    def run_button(self) -> Locator:
        return self.controls.locator("button.venice-run")

    @property
    def status(self) -> Locator:
        return self.controls.locator(".venice-status")

    @property
    def hint(self) -> Locator:
        return self.controls.locator(".venice-hint")

    @property
    def cost(self) -> Locator:
        return self.controls.locator(".venice-cost")

    @property
    def cards(self) -> Locator:
        cards: Locator = self.page.locator(".venice-result-card")
        return cards

    def upscale_button(self, scale: int) -> Locator:
        return self.controls.locator(f".venice-upscale-{scale}")

    @property
    def canvas(self) -> Locator:
        """The painter's picture (the surface the person paints on)."""
        return self.root.locator(".venice-painter-surface")

    @property
    def keys_help(self) -> Locator:
        return self.root.locator(".venice-key-help")

    # ---------------------------------------------------------------- actions
    def show(self) -> None:
        """Scroll so the studio's top is at the top of the notebook's view, as a person does."""
        self.root.evaluate("el => el.scrollIntoView()")

    def paint(self, at: tuple[float, float] = (0.3, 0.2)) -> None:
        """A short stroke on the painter, at a fraction of its width and height, once the
        painter's layout has settled (its toolbar wraps and its icons load after it shows)."""
        box = PainterPage(self.page, within=".venice-edit-studio").box
        x, y = box["x"] + box["width"] * at[0], box["y"] + box["height"] * at[1]
        drag(self.page, [(x, y), (x + 40, y + 6), (x + 60, y + 20)])

    def type_prompt(self, text: str) -> None:
        self.prompt.fill(text)

    def wait_kernel_has_prompt(self, count: str) -> None:
        """The character count is computed in the kernel: seeing it proves the prompt arrived."""
        self.page.wait_for_function(
            "(t) => document.querySelector('.venice-char-count').textContent"
            ".replace(/\\s+/g, ' ').startsWith(t)", arg=count)

    def run(self) -> None:
        self.run_button.click()

    def select_model(self, prefix: str) -> None:
        picker = self.controls.locator(".venice-model select")
        labels = [t.replace("\xa0", " ") for t in picker.locator("option").all_inner_texts()]
        picker.select_option(index=next(i for i, t in enumerate(labels) if f"· {prefix}" in t))

    def use_as_base(self, index: int) -> None:
        self.cards.nth(index).get_by_role("button", name="Use as base").click()

    # ---------------------------------------------------------------- reading
    def wait_done(self) -> None:
        expect(self.status).to_contain_text("Done on", timeout=90_000)

    def unseen(self, locator: Locator) -> list[str]:
        """Where the whole element is not visible on screen (empty: a person sees all of it)."""
        return list(locator.first.evaluate(_UNSEEN))

    def overflows(self, selector: str = ".venice-edit-studio") -> list[str]:
        """Elements under ``selector`` that scroll horizontally (should be none)."""
        found: list[str] = []
        for root in self.page.locator(selector).all():
            found += root.evaluate(_OVERFLOWS)
        return found

    def focused(self) -> str:
        """Where the keyboard focus is: PAINTER, PROMPT, TAG:text, or outside."""
        return str(self.page.evaluate(_FOCUS))

    def tab_until(self, target: str, limit: int = 40) -> list[str]:
        """Press Tab until focus is on ``target`` (as ``focused`` names it); the stops seen."""
        seen: list[str] = []
        for _ in range(limit):
            self.page.keyboard.press("Tab")
            seen.append(self.focused())
            if seen[-1] == target or seen[-1].startswith(target):
                return seen
        raise AssertionError(f"{target} not reached by Tab: {seen}")


class BrowserPage:
    """The first ResultBrowser on a notebook page."""

    def __init__(self, nb: Notebook) -> None:
        self.nb = nb
        self.page: Any = nb.page
        self.root: Locator = self.page.locator(".venice-result-browser").first

    @property
    def header(self) -> Locator:
        return self.root.locator(".venice-browser-count")

    @property
    def cards(self) -> Locator:
        return self.root.locator(".venice-browser-card")

    @property
    def prompt_filter(self) -> Locator:
        return self.root.locator(".venice-filter-prompt input")

    def tick(self, index: int) -> None:
        self.cards.nth(index).get_by_role("checkbox").check()

    def press(self, name: str) -> None:
        self.root.get_by_role("button", name=name).click()

    def overflows(self) -> list[str]:
        return list(self.root.evaluate(_OVERFLOWS))
