"""The core never loads the widgets layer (nor ipywidgets): scripts and servers run without it."""

from __future__ import annotations

import subprocess
import sys

_CHECK = r"""
import importlib, pkgutil, sys
import venice_nb

core, todo = [], [venice_nb]
while todo:  # walk_packages would import venice_nb.widgets itself to look inside
    package = todo.pop()
    for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        if info.name != "venice_nb.widgets":
            core.append(info.name)
            module = importlib.import_module(info.name)
            if info.ispkg:
                todo.append(module)
results = venice_nb.experiment(venice_nb.sample("cat"), "a red hat", progress="plain")
print(len(core), results.counts["done"] + results.counts["cached"])
print(sorted(m for m in sys.modules if m.startswith(("venice_nb.widgets", "ipywidgets"))))
"""


def test_importing_and_running_the_core_loads_no_widgets(tmp_path):
    out = subprocess.run([sys.executable, "-c", _CHECK], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120, env=_env(tmp_path))
    assert out.returncode == 0, out.stderr
    counted, loaded = out.stdout.splitlines()
    modules, ran = map(int, counted.split())
    assert modules > 15 and ran == 1
    assert loaded == "[]"


def _env(tmp_path) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("VENICE")}
    env["VENICE_NB_STORE"] = str(tmp_path / "store")
    return env
