"""EditStudio in JupyterLab: paint, pick a model, Run on the local backend, chain, and errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from ._studio_page import StudioPage
from .conftest import (
    JupyterServer,
    Notebook,
    canvas_box,
    drag,
    final_shot,
    open_notebook,
    start_server,
)

pytestmark = pytest.mark.browser

SETUP = """
import venice_nb
from venice_nb.widgets import EditStudio
studio = EditStudio(venice_nb.sample("cat"), prompt="give the cat a tiny red hat")
ctl = studio.controls
ctl.observe(lambda ch: log("operation", value=ch.new), names="operation")
ctl.observe(lambda ch: log("model", value=ch.new), names="selected_model")

def on_result(result):
    log("result", local=result.is_local, model=result.model_id, size=list(result.size),
        history=len(studio.history), prompt=result.prompt)

def on_error(change):
    if change.new is not None:
        log("error", kind=type(change.new).__name__, message=change.new.message)

ctl.on_result(on_result)
ctl.observe(on_error, names="error")
studio.observe(lambda ch: log("base", index=ch.new), names="base_index")
studio.painter.observe(lambda ch: log("mask", area=int((studio.mask > 0).sum())),
                       names="mask_version")
studio
"""


def _wait_kernel_count(page: Any, text: str) -> None:
    """The character count is computed in the kernel: seeing it proves the prompt arrived."""
    page.wait_for_function(
        "(t) => document.querySelector('.venice-char-count').textContent"
        ".replace(/\\s+/g, ' ').startsWith(t)",
        arg=text,
    )


@pytest.fixture(scope="module")
def nb7_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    server = start_server("notebook", tmp_path_factory.mktemp("nb7-studio"))
    yield server
    server.stop()




def _status(page: Any) -> Any:
    return page.locator(".venice-edit-controls .venice-status")


def test_paint_run_chain_and_friendly_errors(lab: tuple[Any, JupyterServer]) -> None:
    page, server = lab
    nb = open_notebook(page, server, "studio", [SETUP])
    controls = page.locator(".venice-edit-controls")
    assert "LOCAL backend" in controls.locator(".venice-local-badge").inner_text()

    # Painting a mask switches the operation to multi-edit (the one that uses the mask).
    box = canvas_box(page, "canvas.venice-painter-canvas")
    x, y = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.2
    drag(page, [(x, y), (x + 80, y + 10), (x + 120, y + 40)])
    nb.log.wait_for(lambda e: e["area"] > 0, kind="mask", what="a painted mask")
    nb.log.wait_for(lambda e: e["value"] == "multi-edit", kind="operation", what="multi-edit")

    # Pick a model with qualities: the quality picker appears and the cost follows it.
    picker = controls.locator(".venice-model select")
    labels = [t.replace("\xa0", " ") for t in picker.locator("option").all_inner_texts()]
    gpt2 = next(i for i, t in enumerate(labels) if "· GPT Image 2 (" in t)
    picker.select_option(index=gpt2)
    nb.log.wait_for(lambda e: e["value"] == "gpt-image-2-edit", kind="model", what="model pick")
    quality = controls.locator(".venice-quality select")
    quality.wait_for(state="visible")
    quality.select_option("low")
    cost = controls.locator(".venice-cost")
    page.wait_for_function(
        "() => /\\$0 here/.test("
        "document.querySelector('.venice-edit-controls .venice-cost').textContent)"
    )
    assert re.search(r"per run: \$\d+\.\d{2,3} at Venice · \$0 here", cost.inner_text())
    nb.shot("ready-to-run")

    controls.get_by_role("button", name=re.compile("Run")).click()
    result = nb.log.wait_for(lambda e: True, kind="result", what="the edit result")
    assert result["local"] and result["model"] == "gpt-image-2-edit" and result["history"] == 2
    assert result["prompt"] == "give the cat a tiny red hat"
    page.wait_for_function(
        "() => /Done on LOCAL backend/.test(document.querySelector("
        "'.venice-edit-controls .venice-status').textContent)"
    )
    # The result renders in the viewer (decoded images) and joins the history strip.
    viewer = page.locator(".venice-compare-view")
    viewer.wait_for(state="visible")
    page.wait_for_function(
        """() => {
            const imgs = document.querySelectorAll('.venice-compare-view img');
            return imgs.length >= 2
                && Array.from(imgs).every(i => i.complete && i.naturalWidth > 0);
        }"""
    )
    expect(page.locator(".venice-result-card")).to_have_count(2)
    nb.shot("result")

    # Chain: the result becomes the base; then the original can be restored.
    page.locator(".venice-result-card").nth(1).get_by_role("button", name="Use as base").click()
    nb.log.wait_for(lambda e: e["index"] == 1, kind="base", what="result as base")
    page.locator(".venice-result-card").nth(0).get_by_role("button", name="Use as base").click()
    nb.log.wait_for(lambda e: e["index"] == 0, kind="base", what="original restored")

    # A content-policy word: the local backend refuses with 422 -> one friendly line.
    prompt = controls.locator("textarea")
    prompt.fill("make it nsfw")
    _wait_kernel_count(page, "12 / 32,000")  # the kernel has the new prompt before Run
    controls.get_by_role("button", name=re.compile("Run")).click()
    err = nb.log.wait_for(lambda e: True, kind="error", what="content policy error")
    assert err["kind"] == "ContentPolicyError"
    status = _status(page)
    status.locator(".venice-error").wait_for()
    text = status.inner_text()
    assert "content policy" in text and "What to do" in text and "Traceback" not in text
    nb.shot("policy-error")

    # An over-long prompt: Run turns off and the count says why, before anything is sent.
    prompt.fill("x" * 40_000)
    _wait_kernel_count(page, "40,000 / 32,000 characters — too long for this model: shorten")
    expect(controls.get_by_role("button", name=re.compile("Run"))).to_be_disabled()
    prompt.fill("a short prompt again")
    _wait_kernel_count(page, "20 / 32,000")
    expect(controls.get_by_role("button", name=re.compile("Run"))).to_be_enabled()
    expect(page.get_by_text("Traceback")).to_have_count(0)
    nb.assert_widgets_healthy()
    nb.shot("long-prompt-error")


SWITCH = """
import numpy as np
import venice_nb
from venice_nb.widgets import EditStudio
studio = EditStudio(venice_nb.sample("cat"), prompt="give the cat a tiny red hat",
                    model="gpt-image-2-edit")
ctl = studio.controls
ctl.observe(lambda ch: log("operation", value=ch.new), names="operation")
ctl.observe(lambda ch: log("model", value=ch.new), names="selected_model")
studio.observe(lambda ch: log("base", index=ch.new), names="base_index")
studio.painter.observe(lambda ch: log("mask", area=int((studio.mask > 0).sum())),
                       names="mask_version")

from PIL import Image

def on_result(result):
    entry = studio.history[-1]
    base = studio.history[entry.parent].image.astype(int)
    # Answers come at the model's 1K tier: compare at the base's size, beyond resampling noise.
    after = np.asarray(Image.fromarray(entry.image).resize(base.shape[1::-1], Image.LANCZOS))
    changed = np.abs(after.astype(int) - base).max(axis=2) > 24
    inside = studio.mask > 0
    log("result", endpoint=result.request["endpoint"], outside=float(changed[~inside].mean()),
        inside=float(changed[inside].mean()), size=list(result.size),
        base=list(base.shape[1::-1]))

ctl.on_result(on_result)
studio
"""


def _select_model(page: Any, nb: Any, prefix: str, model_id: str) -> None:
    picker = page.locator(".venice-edit-controls .venice-model select")
    labels = [t.replace("\xa0", " ") for t in picker.locator("option").all_inner_texts()]
    picker.select_option(index=next(i for i, t in enumerate(labels) if f"· {prefix}" in t))
    nb.log.wait_for(lambda e: e["value"] == model_id, kind="model", what=f"model {model_id}")


def _in_view(page: Any, selector: str) -> bool:
    """Whether the element is entirely inside the viewport (no scrolling needed to see it)."""
    return bool(page.locator(selector).first.evaluate(
        """el => { const r = el.getBoundingClientRect();
                   return r.width > 0 && r.top >= 0 && r.left >= 0
                       && r.bottom <= innerHeight && r.right <= innerWidth; }"""
    ))


def test_model_switch_keeps_the_mask_and_the_screen_tells_the_truth(
    server: JupyterServer, page: Any, request: pytest.FixtureRequest
) -> None:
    nb = open_notebook(page, server, f"studio-switch-{server.app}", [SWITCH])
    if server.app == "jupyterlab":  # the file browser closed, as when working on an image
        page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click()
    page.set_viewport_size({"width": 1050, "height": 900})  # a notebook ~1,000 px wide
    box = canvas_box(page, "canvas.venice-painter-canvas")
    x, y = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.2
    drag(page, [(x, y), (x + 60, y + 10), (x + 90, y + 30)])
    nb.log.wait_for(lambda e: e["area"] > 0, kind="mask", what="a painted mask")
    nb.log.wait_for(lambda e: e["value"] == "multi-edit", kind="operation", what="multi-edit")

    # A one-image model: edit; with "Keep the rest of the photo" the mask is still honoured.
    _select_model(page, nb, "Luma", "luma-uni-1-edit")
    nb.log.wait_for(lambda e: e["value"] == "edit", kind="operation", what="forced edit")
    expect(page.locator(".venice-hint")).to_contain_text("rest of the photo is kept")
    # Turned off: the UI says before Run that the mask will not be sent.
    page.locator(".venice-keep-rest input").uncheck()
    expect(page.locator(".venice-hint")).to_contain_text("mask is not sent")
    page.locator(".venice-keep-rest input").check()
    # A model that takes a mask again: the painted mask is used again.
    _select_model(page, nb, "GPT Image 2 (", "gpt-image-2-edit")
    nb.log.wait_for(lambda e: [o["value"] for o in nb.log.events("operation")]
                    == ["multi-edit", "edit", "multi-edit"], what="multi-edit again")
    expect(page.locator(".venice-hint")).to_contain_text("rest of the photo is kept")
    # One screen while painting: the image, the tools, the prompt and Run side by side.
    page.locator(".venice-edit-studio").first.evaluate("el => el.scrollIntoView()")
    for selector in (".venice-mask-painter [role=application]", ".venice-mask-painter button",
                     ".venice-edit-controls textarea",
                     ".venice-edit-controls .widget-button.mod-primary"):
        assert _in_view(page, selector), f"{selector} is not in view while painting at 1,000 px"
    nb.shot("painting-1000")
    page.locator(".venice-edit-controls").get_by_role("button", name=re.compile("Run")).click()
    result = nb.log.wait_for(lambda e: True, kind="result", what="the edit result")
    assert result["size"] == result["base"]  # a region edit: the photo's own size
    assert result["outside"] < 0.01 < result["inside"]  # the unmasked pixels are kept
    expect(page.locator(".venice-edit-controls .venice-status")).to_contain_text("region edit")

    # One screen at 1,000 px: the result replaces the image, beside the prompt and Run.
    caption = page.locator(".venice-compare-view").first
    expect(caption).to_contain_text("Base #0")
    expect(caption).to_contain_text("Result #1")
    page.locator(".venice-edit-studio").first.evaluate("el => el.scrollIntoView()")
    for selector in (".venice-compare-view img", ".venice-edit-controls textarea",
                     ".venice-edit-controls .venice-status",
                     ".venice-studio-view"):
        assert _in_view(page, selector), f"{selector} is not in view at 1,000 px"
    run = page.locator(".venice-edit-controls").get_by_role("button", name=re.compile("Run"))
    assert _in_view(page, ".venice-edit-controls .widget-button.mod-primary"), run
    nb.shot("one-screen-1000")

    # "Use as base": the painter shows the new base, and the history marks it.
    page.locator(".venice-result-card").nth(1).get_by_role("button", name="Use as base").click()
    nb.log.wait_for(lambda e: e["index"] == 1, kind="base", what="result as base")
    expect(page.locator(".venice-result-card.venice-marked")).to_have_count(1)
    marked = page.locator(".venice-result-card").nth(1)
    expect(marked).to_have_class(re.compile("venice-marked"))
    expect(marked.get_by_role("button", name="Current base")).to_be_disabled()
    expect(page.locator(".venice-studio-base")).to_contain_text("history #1")
    page.locator("canvas.venice-painter-canvas").first.wait_for(state="visible")
    nb.assert_widgets_healthy()
    nb.shot("used-as-base")

    # A narrow output (~800 px): the history keeps readable cards, no "U…" buttons.
    page.set_viewport_size({"width": 850, "height": 900})
    page.wait_for_function(
        "() => document.querySelector('.venice-result-grid').getBoundingClientRect().width < 800")
    cards = page.evaluate(
        """() => Array.from(document.querySelectorAll('.venice-result-card button')).map(
            b => [b.getBoundingClientRect().width, b.scrollWidth > b.clientWidth])"""
    )
    assert cards and all(w >= 120 and not cut for w, cut in cards), cards
    final_shot(page, request)


HIDPI = """
import numpy as np
import venice_nb
from PIL import Image
from venice_nb.widgets import EditStudio
photo = Image.open(venice_nb.sample("cat")).convert("RGB").resize((1800, 1200))
studio = EditStudio(np.asarray(photo), prompt="give the cat a tiny red hat")
studio.controls.on_result(lambda r: log("result"))
studio.controls.run()
studio
"""

SIZES = """() => Array.from(document.querySelectorAll(
    '.venice-edit-studio img, .venice-edit-studio canvas')).filter(e => e.clientWidth > 0)
    .map(e => ({cls: e.className || e.parentElement.className, css: e.clientWidth,
                px: e.naturalWidth || e.width}))"""

AXE = """async (exclude) => {
    const out = await axe.run({include: [['.venice-edit-studio']], exclude: exclude},
                              {resultTypes: ['violations']});
    return out.violations.filter(v => ['serious', 'critical'].includes(v.impact))
        .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(' | '));
}"""


def _axe_path() -> str:
    import axe_playwright_python

    return str(Path(axe_playwright_python.__file__).with_name("axe.min.js"))


def _set_theme(page: Any, name: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Settings$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Theme$")).hover()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{name}$")).click()
    page.wait_for_function(
        "(dark) => document.body.dataset.jpThemeLight === String(!dark)",
        arg=name.endswith("Dark"),
    )


def test_sharp_on_hidpi_keyboard_reachable_and_accessible_in_both_themes(
    browser: Any, server: JupyterServer
) -> None:
    context = browser.new_context(viewport={"width": 1300, "height": 1000},
                                  device_scale_factor=2)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        nb = open_notebook(page, server, f"studio-hidpi-{server.app}", [HIDPI])
        nb.log.wait_for(lambda e: True, kind="result", what="the edit result")
        page.locator(".venice-compare-view img").first.wait_for(state="visible")
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('.venice-edit-studio img'))"
            ".every(i => i.complete && i.naturalWidth > 0)"
        )
        # Every image of the viewer and history has about 2 image px per CSS px.
        sizes = page.evaluate(SIZES)
        viewer = [s for s in sizes if "venice-image" in s["cls"]]
        assert viewer, sizes
        assert all(s["px"] >= 1.9 * s["css"] for s in viewer), sizes
        nb.shot("hidpi")

        # Keyboard only: from the painter's first tool, Tab crosses the image (no trap), reaches
        # the prompt and Run, then leaves the studio.
        toggle = page.locator(".venice-edit-studio .widget-toggle-button", has_text="Paint mask")
        toggle.focus()
        page.keyboard.press("Enter")  # back from the result to the painter, by keyboard
        page.locator(".venice-mask-painter [role=application]").wait_for(state="visible")
        seen: list[str] = []
        for _ in range(120):
            page.keyboard.press("Tab")
            where = page.evaluate(
                """() => { const a = document.activeElement;
                           if (!a.closest('.venice-edit-studio')) return 'outside';
                           if (a.getAttribute('role') === 'application') return 'PAINTER';
                           return a.tagName + ':' + (a.textContent || '').trim(); }"""
            )
            seen.append(where)
            if where == "outside":
                break
        assert "PAINTER" in seen, seen  # the image surface is reached, and left, by Tab
        assert any(s.startswith("TEXTAREA") for s in seen), seen
        assert "BUTTON:Run" in seen, seen
        assert seen[-1] == "outside", seen

        # axe-core: no serious or critical violation anywhere in the studio, painter included.
        page.add_script_tag(path=_axe_path())
        exclude: list[list[str]] = []
        for theme in ("JupyterLab Light", "JupyterLab Dark"):
            _set_theme(page, theme)
            problems = page.evaluate(AXE, exclude)
            nb.shot(theme.split()[-1].lower())
            assert problems == [], f"{theme}: {problems}"
        _set_theme(page, "JupyterLab Light")
    finally:
        context.close()


UPSCALE = """
import venice_nb
from venice_nb.widgets import EditStudio
studio = EditStudio(venice_nb.sample("cat"), prompt="give the cat a tiny red hat")
studio.controls.on_result(lambda r: log("result", endpoint=r.request["endpoint"],
                                        size=list(r.size), history=len(studio.history),
                                        parent=studio.history[-1].parent))
studio
"""


def test_upscale_the_result_into_a_new_history_card(lab: tuple[Any, JupyterServer]) -> None:
    page, server = lab
    nb = open_notebook(page, server, "studio-upscale", [UPSCALE])
    page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click()
    page.set_viewport_size({"width": 1050, "height": 900})  # a notebook ~1,000 px wide
    controls = page.locator(".venice-edit-controls")
    expect(controls.locator(".venice-upscale-cost")).to_contain_text(
        re.compile(r"2× \$\d+\.\d{2,3} / 4× \$\d+\.\d{2,3} at Venice · \$0 here"))
    controls.get_by_role("button", name=re.compile("Run")).click()
    edit = nb.log.wait_for(lambda e: True, kind="result", what="the edit result")
    expect(page.locator(".venice-result-card")).to_have_count(2)

    controls.get_by_role("button", name=re.compile("Upscale 2×")).click()
    up = nb.log.wait_for(lambda e: e["endpoint"] == "/image/upscale", kind="result",
                         what="the upscale result")
    assert up["size"] == [2 * s for s in edit["size"]] and up["history"] == 3
    assert up["parent"] == 1  # the shown result was enlarged, not the base
    cards = page.locator(".venice-result-card")
    expect(cards).to_have_count(3)
    expect(cards.nth(2)).to_contain_text("Upscale 2×")
    expect(controls.locator(".venice-status")).to_contain_text("Upscale 2×")
    expect(page.locator(".venice-compare-view").first).to_contain_text("Result #2")

    # Still one screen at 1,000 px: the image, the prompt, Run, Upscale and the status.
    page.locator(".venice-edit-studio").first.evaluate("el => el.scrollIntoView()")
    for selector in (".venice-compare-view img", ".venice-edit-controls textarea",
                     ".venice-edit-controls .venice-upscale-2",
                     ".venice-edit-controls .venice-status"):
        assert _in_view(page, selector), f"{selector} is not in view at 1,000 px"
    page.screenshot(path=str(nb.shot("upscaled").with_name("studio-upscale-viewport.png")))

    # The new entry becomes the base like any result.
    cards.nth(2).get_by_role("button", name="Use as base").click()
    expect(page.locator(".venice-studio-base")).to_contain_text("history #2 (upscale 2×)")
    nb.assert_widgets_healthy()


KEYS = """
import venice_nb
from venice_nb.widgets import EditStudio
studio = EditStudio(venice_nb.sample("cat"), prompt="give the cat a tiny red hat")
studio.controls.on_result(lambda r: log("result", history=len(studio.history)))
studio.controls.observe(lambda ch: log("error", message=str(ch.new)) if ch.new else None,
                        names="error")
studio
"""

_COUNTS = """() => Array.from(document.querySelectorAll('.jp-Notebook .jp-Cell')).map(c => {
    const p = c.querySelector('.jp-InputPrompt');
    const studio = c.querySelector('.venice-edit-studio') ? '+studio' : '';
    return (p ? p.textContent.trim() : '') + studio;
})"""


def test_enter_keys_in_the_prompt_run_the_edit_not_the_cell(
    server: JupyterServer, page: Any, request: pytest.FixtureRequest
) -> None:
    nb = open_notebook(page, server, f"studio-keys-{server.app}", [KEYS])
    studio = StudioPage(nb)
    nb.assert_widgets_healthy()
    page.wait_for_function(  # every cell has run and shows its execution count
        "() => [...document.querySelectorAll('.jp-Notebook .jp-InputPrompt')]"
        ".every(p => /\\[\\d+\\]/.test(p.textContent))")
    cells = page.evaluate(_COUNTS)
    assert sum("+studio" in c for c in cells) == 1, cells
    for runs, key in enumerate(("Shift+Enter", "Control+Enter", "Alt+Enter"), start=1):
        studio.prompt.click()
        studio.prompt.press("End")
        page.keyboard.press(key)
        want = runs + 1
        nb.log.wait_for(lambda e: bool(e["history"] == want), kind="result",  # noqa: B023
                        what=f"{key} in the prompt to run the edit")
        studio.wait_done()
        # No notebook command ran: same cells, same execution counts, the studio in place.
        assert page.evaluate(_COUNTS) == cells, key
        assert studio.prompt.input_value() == "give the cat a tiny red hat", key
        assert studio.focused() == "PROMPT", key  # focus stays where the person typed
    # Other notebook keys typed in the prompt are text, not commands (A/B insert, D,D delete).
    studio.prompt.press("End")
    for key in ("Escape", "a", "b", "d", "d", "m", "Control+s"):
        page.keyboard.press(key)
    assert page.evaluate(_COUNTS) == cells
    assert page.locator(".jp-Dialog").count() == 0
    assert nb.log.events("error") == []
    nb.shot("enter-keys")
    final_shot(page, request)


LAYOUT = """
import venice_nb
from venice_nb.widgets import EditStudio
studio = EditStudio(venice_nb.sample("cat"), prompt="give the cat a tiny red hat",
                    model="gpt-image-2-edit")
studio.painter.observe(lambda ch: log("mask", area=int((studio.mask > 0).sum())),
                       names="mask_version")
studio.controls.on_result(lambda r: log("result", history=len(studio.history)))
studio
"""


@pytest.mark.parametrize("width", [1000, 800])
def test_one_screen_with_the_side_panel_open_and_no_inner_scrollbars(
    browser: Any, server: JupyterServer, width: int, artifacts: Path
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 860},
                                  device_scale_factor=2, color_scheme="dark")
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        nb = open_notebook(page, server, f"studio-layout-{server.app}-{width}", [LAYOUT])
        studio = StudioPage(nb)
        nb.assert_widgets_healthy()
        _set_theme(page, "JupyterLab Dark")
        if server.app == "jupyterlab":
            panel = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
            if width >= 1000:  # the file browser stays open at 1,000 px: the studio must fit
                expect(panel).to_have_count(1)
                browser_panel = page.locator("#filebrowser").bounding_box()
                assert browser_panel is not None and browser_panel["width"] > 200
            else:  # at 800 px a person closes it
                panel.click()
        studio.show()
        studio.paint()
        nb.log.wait_for(lambda e: e["area"] > 0, kind="mask", what="a painted mask")
        studio.show()
        nb.shot(f"painting-{width}")
        # One screen: the WHOLE image (with its tools above it) beside the prompt and Run, in
        # Lab with the file browser open too; at 800 px Run and the prompt are on screen.
        must_see = [studio.prompt, studio.run_button]
        if width >= 1000:
            must_see.append(studio.canvas)
        for part in must_see:
            assert studio.unseen(part) == [], f"{part} is not all on screen at {width} px"
        assert studio.overflows() == []
        _tool_keys_leave_the_image_in_place(nb, studio)
        studio.run()
        nb.log.wait_for(lambda e: e["history"] == 2, kind="result", what="the edit")
        studio.wait_done()
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('.venice-compare-view img'))"
            ".every(i => i.complete && i.naturalWidth > 0)")
        studio.show()
        nb.shot(f"result-{width}")
        for part in (studio.run_button, studio.status):
            assert studio.unseen(part) == [], f"{part} is not all on screen at {width} px"
        if width >= 1000:  # the result takes the image's place, all of it on screen
            assert studio.unseen(page.locator(".venice-edit-studio .venice-compare-view")) == []
        assert studio.overflows() == []
    finally:
        context.close()
        server.shutdown_kernels()


# A tool's key, and the words its settings show (none for the hand).
_TOOL_SETTINGS = (("g", "Tolerance"), ("w", "Colour tol."), ("q", "Exclude"),
                  ("u", "Replace"), ("r", "Subtract"), ("h", ""), ("b", "Hardness"))


def _tool_keys_leave_the_image_in_place(nb: Notebook, studio: StudioPage) -> None:
    """A person presses a tool's key with the pointer over the image, then clicks where the
    thing was: the chosen tool's settings must not move the image (nor push it off screen)."""
    page = nb.page
    start = studio.canvas.bounding_box()
    assert start is not None
    for key, words in _TOOL_SETTINGS:
        studio.canvas.focus()
        page.keyboard.press(key)
        # The kernel has applied the tool when only its settings are seen.
        page.wait_for_function(
            """(words) => {
                const seen = [...document.querySelectorAll(
                    '.venice-edit-studio .venice-tool-settings > *')]
                    .filter(l => getComputedStyle(l).visibility === 'visible')
                    .map(l => l.textContent);
                return words ? seen.length === 1 && seen[0].includes(words)
                             : seen.length === 0;
            }""", arg=words)
        box = studio.canvas.bounding_box()
        assert box is not None
        assert abs(box["y"] - start["y"]) < 0.5 and abs(box["x"] - start["x"]) < 0.5, (
            f"the image moved from {start} to {box} when '{key}' chose a tool")
        assert studio.unseen(studio.canvas) == [], key
        if key in "wq":
            nb.shot(f"tool-{key}")


def test_keyboard_path_from_painter_to_run_is_short_and_focus_stays(
    server: JupyterServer, page: Any, request: pytest.FixtureRequest
) -> None:
    nb = open_notebook(page, server, f"studio-tabs-{server.app}", [KEYS])
    studio = StudioPage(nb)
    nb.assert_widgets_healthy()
    # The keys help opens by keyboard (it is not a hover-only tooltip).
    studio.keys_help.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(studio.keys_help.locator("small")).to_be_visible()
    expect(studio.keys_help).to_contain_text("Ctrl+Z undo")
    page.locator(".venice-edit-studio .venice-painter-surface").first.focus()
    assert studio.focused() == "PAINTER"
    to_prompt = studio.tab_until("PROMPT")
    assert len(to_prompt) <= 3, to_prompt  # painter -> (keys help) -> prompt
    to_run = studio.tab_until("BUTTON:Run")
    assert len(to_run) == 1, to_run  # Run right after the prompt
    page.keyboard.press("Enter")
    nb.log.wait_for(lambda e: e["history"] == 2, kind="result", what="Run by keyboard")
    studio.wait_done()
    assert studio.focused() != "outside"  # focus did not fall to the page after Run
    page.keyboard.type(" now")  # and typing goes on in the studio, not into notebook commands
    expect(studio.prompt).to_have_value(re.compile("now$"))
    nb.shot("keyboard")
    final_shot(page, request)
