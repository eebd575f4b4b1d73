"""The core never loads the widgets layer (nor ipywidgets): scripts and servers run without it."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

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


def test_importing_and_running_the_core_loads_no_widgets(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", _CHECK], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120, env=_env(tmp_path))
    assert out.returncode == 0, out.stderr
    counted, loaded = out.stdout.splitlines()
    modules, ran = map(int, counted.split())
    assert modules > 15 and ran == 1
    assert loaded == "[]"


def _env(tmp_path: Path) -> dict[str, str]:
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
    assert {"_imageops", "_regions", "_matte", "_objects"} <= graph.keys()

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


# ------------------------------------------------------------- import graph at load time
PACKAGE = Path(__file__).resolve().parents[1] / "venice_nb"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _load_time_imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports a module runs when it is loaded: not those in functions (lazy on purpose)
    nor under ``if TYPE_CHECKING:`` (never run)."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If):
            if "TYPE_CHECKING" not in ast.unparse(node.test):
                yield from _load_time_imports(node.body)
            yield from _load_time_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody,
                          *(handler.body for handler in node.handlers)):
                yield from _load_time_imports(block)


def _unit(module: str) -> str:
    """What a layer is: a subpackage (``_client``, ``widgets``…) or a top-level module."""
    return module.split(".")[1] if "." in module else module


def _layer_graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {_unit(m): set() for m in modules}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        for node in _load_time_imports(ast.parse(path.read_text(encoding="utf-8")).body):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parent = ".".join(parts[: len(parts) - node.level + 1])
                    base = f"{parent}.{base}" if base else parent
                targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            graph[_unit(module)] |= {
                _unit(t) for t in targets if t in modules and _unit(t) != _unit(module)
            }
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected group of more than one layer (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while (member := stack.pop()) != node:
                group.append(member)
            if group:
                found.append(sorted([node, *group]))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_layers_import_each_other_without_cycles_at_load_time() -> None:
    graph = _layer_graph()
    assert {"_client", "_store", "_experiment", "_backend", "widgets"} <= set(graph)
    assert graph["_experiment"] >= {"_client", "_store"}  # the graph sees real imports
    assert _cycles(graph) == []


def test_no_core_layer_imports_the_widgets_at_load_time() -> None:
    graph = _layer_graph()
    assert [unit for unit, uses in graph.items() if "widgets" in uses] == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The check above could only pass vacuously if this failed."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_selection_loads_no_backend_module() -> None:
    """``masks.select_subject`` shares the backend's subject estimate through ``_vision``: a
    selection must not start loading the server's modules (a notebook only painting a mask)."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from venice_nb import masks\n"
        "img = np.zeros((300, 400, 3), np.uint8); img[100:200, 150:250] = (200, 40, 40)\n"
        "masks.select_subject(img)\n"
        "print(sorted(m for m in sys.modules if m.startswith('venice_nb._backend')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stdout
