"""EditStudio benchmarks, as ratios against baselines measured in the same run.

    python benchmarks/bench_studio.py

1. Construction on a 1 Mpx and a 30 Mpx photo vs the painter alone (``MaskPainter``, the part
   the studio cannot skip). Goal: the whole studio <= 1 s of kernel time at 30 Mpx.
2. Run (the Run button's path: request, history, thumbnail, viewer) vs the client's own call
   for the same region edit (``client.edit_region``, what Run sends with a painted mask) on a
   33 Mpx JPEG file. Goal: the studio adds <= 0.5 s. This is kernel time.
3. ``--page``: the same in JupyterLab in headless Chromium: Run click -> the full-resolution
   result visible (images decoded) vs the backend's own time for that very request
   (``result.raw.elapsed``), also as a ratio to one decode of the JPEG in the same kernel;
   ``client.edit_region`` alone is measured between runs. Goal (issue 19): <= backend + 1.0 s.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _shared import photo_like, timings

import venice_nb
from venice_nb import masks
from venice_nb.widgets import EditStudio, MaskPainter


def _best(fn: Callable[[], Any], repeat: int = 3) -> float:
    return min(timings(fn, repeat))


def bench_construction(client: venice_nb.Client, name: str, image: np.ndarray) -> None:
    painter = _best(lambda: MaskPainter(image, max_size=(560, 420)))
    studio = _best(lambda: EditStudio(image, client=client))
    print(
        f"construction {name}: studio {studio:.3f} s; painter alone {painter:.3f} s; "
        f"ratio {studio / painter:.2f}x; studio's own part {studio - painter:.3f} s "
        f"(goal: whole studio <= 1 s at 30 Mpx)"
    )


def _jpeg(image: np.ndarray) -> str:
    """A photo as a JPEG file, as a person opens one (Run sends its own bytes)."""
    from PIL import Image

    path = Path(tempfile.mkdtemp()) / "photo.jpg"
    Image.fromarray(image).save(path, quality=92)
    return str(path)


def bench_run(client: venice_nb.Client, image: np.ndarray) -> None:
    path = _jpeg(image)
    studio = EditStudio(path, client=client, prompt="a red hat", model="gpt-image-2-edit")
    mask = masks.ellipse(image, (3000, 2000, 3800, 2700))  # ~2 % of the photo
    studio.painter.set_mask(mask)
    assert studio.session.uses_region
    backend_times, run_times = [], []
    for _ in range(3):  # interleaved, so a busy machine slows both alike
        backend_times.append(_best(lambda: client.edit_region(  # the request Run sends
            path, mask, "a red hat", model="gpt-image-2-edit"), repeat=1))
        run_times.append(_best(studio.controls.run, repeat=1))
    backend, run = min(backend_times), min(run_times)
    print(
        f"run 33 Mpx JPEG region edit: studio Run {run:.2f} s; client.edit_region alone "
        f"{backend:.2f} s; ratio {run / backend:.2f}x; the studio adds {run - backend:.2f} s "
        f"(goal <= 0.5 s)"
    )


PAGE_CELL = """
import io, sys, time
sys.path.insert(0, {bench!r})
import ipywidgets as widgets
from IPython.display import display
from PIL import Image
from _shared import photo_like
import venice_nb
from venice_nb import masks
from venice_nb.widgets import EditStudio
photo = photo_like(7000, 4700)
path = "photo33.jpg"
Image.fromarray(photo).save(path, quality=92)
data = open(path, "rb").read()
decodes = []
for _ in range(2):
    start = time.perf_counter()
    Image.open(io.BytesIO(data)).load()
    decodes.append(time.perf_counter() - start)
log("decode", seconds=min(decodes), module=venice_nb.__file__)
mask = masks.ellipse(photo, (3000, 2000, 3800, 2700))
client = venice_nb.Client()

def baseline(_button=None):
    # client.edit_region alone in this kernel: the request Run sends, and its backend time.
    start = time.perf_counter()
    r = client.edit_region(path, mask, "a red hat", model="gpt-image-2-edit")
    log("call", seconds=time.perf_counter() - start, backend=r.raw.elapsed)

baseline()
baseline()
studio = EditStudio(path, client=client, prompt="a red hat", model="gpt-image-2-edit")
studio.painter.set_mask(mask)
# The backend's own time of each Run's request (the issue's goal: Run -> visible <= it + 1 s).
studio.controls.on_result(lambda r: log("own", seconds=r.raw.elapsed))
# Clicked by the driver after each result is visible: the baseline again, interleaved (a
# thread started from on_result would compete with showing the result it measures).
again = widgets.Button(description="baseline again")
again.add_class("bench-baseline")
again.on_click(baseline)
display(again)
studio
"""

CLICK_TO_VISIBLE = """async (n) => {
    const run = [...document.querySelectorAll('.venice-edit-controls button')]
        .find(b => b.textContent.trim() === 'Run');
    const t0 = performance.now();
    run.click();
    for (;;) {
        const view = document.querySelector('.venice-compare-view');
        const imgs = view ? [...view.querySelectorAll('img')] : [];
        if (view && view.textContent.includes('Result #' + n) && imgs.length
                && imgs.every(i => i.complete && i.naturalWidth > 0)) {
            return (performance.now() - t0) / 1000;
        }
        await new Promise(r => requestAnimationFrame(r));
    }
}"""


def bench_page(runs: int = 3) -> None:
    import os

    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.browser import conftest as harness

    server = harness.start_server("jupyterlab", Path(tempfile.mkdtemp()))
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=harness.CHROMIUM,
                                         args=harness.CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            page.set_default_timeout(300_000)
            cell = PAGE_CELL.format(bench=str(Path(__file__).resolve().parent))
            nb = harness.open_notebook(page, server, "bench-studio", [cell])
            page.locator(".venice-edit-controls").wait_for()
            clicks: list[float] = []
            for n in range(1, runs + 1):
                load = os.getloadavg()[0]
                clicks.append(page.evaluate(CLICK_TO_VISIBLE, n))
                nb.log.wait_for(lambda _e: len(nb.log.events("own")) >= n,  # noqa: B023
                                kind="own", timeout=300, what="the run's backend time")
                own = nb.log.events("own")[n - 1]["seconds"]
                status = page.locator(".venice-edit-controls .venice-status").inner_text()
                page.locator(".bench-baseline button, button.bench-baseline").first.click()
                nb.log.wait_for(lambda _e: len(nb.log.events("call")) >= 2 + n,  # noqa: B023
                                kind="call", timeout=300, what="the baseline again")
                print(f"run {n}: Run -> visible {clicks[-1]:.2f} s; its backend {own:.2f} s; "
                      f"over it {clicks[-1] - own:.2f} s; load {load:.1f}; status:",
                      " ".join(status.split()))
            decode = nb.log.events("decode")[0]["seconds"]
            print("kernel's venice_nb:", nb.log.events("decode")[0]["module"])
            owns = [e["seconds"] for e in nb.log.events("own")]
            calls = nb.log.events("call")
            browser.close()
    finally:
        server.stop()
    over = [c - o for c, o in zip(clicks, owns, strict=True)]
    call = min(e["seconds"] for e in calls)
    call_over = min(e["seconds"] - e["backend"] for e in calls)
    print(
        f"page 33 Mpx JPEG region edit: Run click -> full-res result visible "
        f"{min(clicks):.2f}-{max(clicks):.2f} s; over the run's own backend time "
        f"{min(over):.2f}-{max(over):.2f} s (goal <= 1.0 s) = {min(over) / decode:.1f}x one "
        f"decode of the JPEG ({decode:.2f} s, same kernel); client.edit_region alone best "
        f"{call:.2f} s ({call_over:.2f} s over its backend time); the page adds "
        f"{min(clicks) - call:.2f} s over it"
    )


def main() -> None:
    if "--page" in sys.argv:
        bench_page()
        return
    with venice_nb.Client() as client:
        big = photo_like(7000, 4700)
        bench_construction(client, "1 Mpx", photo_like(1224, 816))
        bench_construction(client, "30 Mpx", big)
        bench_run(client, big)


if __name__ == "__main__":
    main()
