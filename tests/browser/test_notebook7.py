"""The painter also works in Notebook 7 (its own server, shared by this module)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import JupyterServer, canvas_box, drag, final_shot, open_notebook, start_server

pytestmark = pytest.mark.browser

SETUP = """
import numpy as np
from venice_nb.widgets import MaskPainter
painter = MaskPainter(np.full((480, 640, 3), 90, np.uint8), brush_size=20)
painter.observe(lambda ch: log("mask", version=ch.new, area=int((painter.mask > 0).sum())),
                names="mask_version")
painter
"""


@pytest.fixture(scope="module")
def nb7_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    server = start_server("notebook", tmp_path_factory.mktemp("nb7"))
    yield server
    server.stop()


def test_painter_in_notebook7(
    nb7_server: JupyterServer, page: Any, request: pytest.FixtureRequest
) -> None:
    try:
        nb = open_notebook(page, nb7_server, "nb7_painter", [SETUP])
        assert "/notebooks/" in page.url
        box = canvas_box(page, "canvas.venice-painter-canvas")
        x, y = box["x"] + 100, box["y"] + 100
        drag(page, [(x, y), (x + 100, y)])
        stroke = nb.log.wait_for(lambda e: e["version"] == 1, kind="mask", what="a stroke")
        expected = 100 * 20 + 3.1416 * 10**2  # 100 px long, 20 px wide, round ends
        assert abs(stroke["area"] - expected) < 0.1 * expected, stroke
        # Notebook 7 takes Ctrl+Z itself (it handles shortcuts in the capture phase): the
        # Undo button does the same job everywhere.
        page.locator(".venice-mask-painter button", has_text=re.compile(r"^\s*Undo\s*$")).click()
        nb.log.wait_for(lambda e: e["version"] == 2 and e["area"] == 0, kind="mask", what="undo")
        nb.assert_widgets_healthy()
        nb.shot("painted")
    finally:
        final_shot(page, request)
        nb7_server.shutdown_kernels()
