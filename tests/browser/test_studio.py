"""EditStudio in JupyterLab: paint, pick a model, Run on the local backend, chain, and errors."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import JupyterServer, canvas_box, drag, open_notebook

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
    gpt2 = next(i for i, t in enumerate(labels) if t.startswith("GPT Image 2 ("))
    picker.select_option(index=gpt2)
    nb.log.wait_for(lambda e: e["value"] == "gpt-image-2-edit", kind="model", what="model pick")
    quality = controls.locator(".venice-quality select")
    quality.wait_for(state="visible")
    quality.select_option("low")
    cost = controls.locator(".venice-cost")
    page.wait_for_function(
        "() => /\\$0 on the local backend/.test("
        "document.querySelector('.venice-edit-controls .venice-cost').textContent)"
    )
    assert re.search(r"~\$\d+\.\d{3} per click", cost.inner_text())
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

    # An over-long prompt: the live count turns red, and Run explains before sending anything.
    prompt.fill("x" * 40_000)
    _wait_kernel_count(page, "40,000 / 32,000 characters — too long")
    controls.get_by_role("button", name=re.compile("Run")).click()
    nb.log.wait_for(lambda e: e["kind"] == "ValidationError", kind="error", what="long prompt")
    page.wait_for_function(
        "() => /40,000 characters.*What to do/.test(document.querySelector("
        "'.venice-edit-controls .venice-status').textContent)"
    )
    expect(page.get_by_text("Traceback")).to_have_count(0)
    nb.assert_widgets_healthy()
    nb.shot("long-prompt-error")
