"""Money reads as text wherever it is shown in JupyterLab.

JupyterLab typesets ``$…$`` in HTML outputs and in ipywidgets' HTML as maths, so "$0.04 at
Venice · $0 here" turned into italic maths ("0.04atVenice·") unless the markup opts out.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser

CELLS = [
    """
import venice_nb as vnb
from venice_nb.widgets import EditStudio, ResultBrowser
client = vnb.Client(store={folder!r})
res = client.edit(vnb.sample("cat"), "make it snowy", model="firered-image-edit")
res
""",
    """
results = vnb.experiment(vnb.sample("cat"), ["make it snowy", "a red hat"], "firered-image-edit",
                         client=client, progress=False)
results
""",
    "ResultBrowser(client)",
    "client.models()[0]",
    'vnb.estimate_experiment(vnb.sample("cat"), ["a", "b"], "firered-image-edit", client=client)',
    "EditStudio(vnb.sample('cat'), client=client)",
]


def test_money_is_text_not_maths_in_every_output(lab: tuple[Any, Any]) -> None:
    from .conftest import open_notebook

    page, server = lab
    folder = repr(str(server.root / "st"))
    nb = open_notebook(page, server, "money", [c.replace("{folder!r}", folder) for c in CELLS])
    nb.assert_widgets_healthy()
    outputs = page.locator(".jp-OutputArea-output")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-OutputArea-output')]"
        ".filter(o => o.innerText.includes('here')).length >= 4")
    nb.shot("money")
    typeset = page.locator(".jp-OutputArea-output mjx-container, .jp-OutputArea-output .MathJax")
    around = "e => (e.closest('.jp-OutputArea-output') || e).innerText.slice(0, 300)"
    assert typeset.count() == 0, [t.evaluate(around) for t in typeset.all()[:5]]
    texts = "\n".join(o.inner_text() for o in outputs.all())
    assert texts.count("$0 here") >= 4, texts
