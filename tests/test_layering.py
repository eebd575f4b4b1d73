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


def test_the_backend_imports_form_no_cycle() -> None:
    """Every ``from . import x`` / ``from ._x import y`` in venice_nb/_backend, at module level
    or inside a function (a function-level import does not make a cycle go away), read with
    ``ast``; a depth-first search over them must find no way back to where it started. Imports
    under ``if TYPE_CHECKING:`` never run and are left out."""
    import ast
    from pathlib import Path

    import venice_nb._backend as backend

    root = Path(backend.__file__).parent
    names = {p.stem for p in root.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in root.glob("*.py"):
        deps: set[str] = set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for inner in ast.walk(node)
        }
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:  # from ._x import y
                    deps.add(node.module.split(".")[0])
                else:  # from . import _x, _y
                    deps.update(a.name for a in node.names if a.name in names)
        graph[path.stem] = deps & names
    assert {"_imageops", "_regions", "_matte", "_subject"} <= graph.keys()

    def cycle_from(start: str) -> list[str] | None:
        stack: list[tuple[str, list[str]]] = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for dep in sorted(graph[node]):
                if dep == start:
                    return [*path, dep]
                if dep not in path:
                    stack.append((dep, [*path, dep]))
        return None

    cycles = [c for name in sorted(graph) if (c := cycle_from(name))]
    assert cycles == [], " -> ".join(cycles[0])
