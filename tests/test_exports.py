"""The package's public surface is stated once and kept in step: ``__all__``, the lazy-import
table and the ``TYPE_CHECKING`` imports (what IDEs and type checkers see) name the same things,
and every public signature that takes edit options takes exactly ``_params.EDIT_OPTIONS``."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

import venice_nb as vnb
from venice_nb import _params
from venice_nb._client import _request
from venice_nb._exceptions import __all__ as error_names

INIT = Path(vnb.__file__)


def _type_checking_imports() -> dict[str, str | None]:
    """Each name the ``TYPE_CHECKING`` block imports -> the module it names (None: ``from .``)."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    block = next(
        node for node in tree.body
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
    )
    names: dict[str, str | None] = {}
    for stmt in block.body:
        assert isinstance(stmt, ast.ImportFrom), ast.dump(stmt)
        for alias in stmt.names:
            if alias.name == "*":  # star import: the module's own __all__
                assert stmt.module == "_exceptions"
                names.update(dict.fromkeys((n for n in error_names if n[0].isupper()),
                                           "_exceptions"))
            else:
                names[alias.asname or alias.name] = stmt.module
    return names


def test_all_lazy_table_and_type_checking_imports_agree() -> None:
    lazy = set(vnb._LAZY) | set(vnb._SUBMODULES)
    assert set(vnb.__all__) - {"sample", "samples"} == lazy
    imports = _type_checking_imports()
    assert set(imports) == lazy
    assert {n: m for n, m in imports.items() if n in vnb._LAZY} == vnb._LAZY
    assert len(vnb.__all__) == len(set(vnb.__all__)), "a name is exported twice"


@pytest.mark.parametrize("name", sorted(vnb._LAZY))
def test_lazy_table_names_the_defining_module(name: str) -> None:
    """Not a module that merely imports it: so the table says where to read the code."""
    module = f"venice_nb.{vnb._LAZY[name]}"
    value = getattr(vnb, name)
    if module == "venice_nb._types":  # type aliases carry typing's module, not their own
        assert getattr(importlib.import_module(module), name) == value
        return
    defined_in = value.__module__
    is_package = hasattr(importlib.import_module(module), "__path__")
    assert defined_in == module or (is_package and defined_in.startswith(module + "."))


@pytest.mark.parametrize("name", sorted(vnb.__all__))
def test_every_exported_name_resolves(name: str) -> None:
    assert getattr(vnb, name) is not None
    assert name in dir(vnb)


def test_version_has_one_source() -> None:
    from venice_nb.__version__ import __version__

    assert vnb.__version__ == __version__  # type: ignore[attr-defined]
    pyproject = (INIT.parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in pyproject
    assert not re.search(r"^version\s*=", pyproject, re.MULTILINE), "a second version source"


def _options_of(func: object) -> dict[str, object]:
    params = inspect.signature(func).parameters.values()
    return {
        p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY and p.name != "model"
    }


EDIT_SIGNATURES = [
    vnb.Client.edit,
    vnb.AsyncClient.edit,
    _request.prepare_edit,
]
MULTI_EDIT_SIGNATURES = [
    vnb.Client.multi_edit,
    vnb.AsyncClient.multi_edit,
    _request.prepare_multi_edit,
]


@pytest.mark.parametrize(
    "func", EDIT_SIGNATURES + MULTI_EDIT_SIGNATURES, ids=lambda f: f.__qualname__
)
def test_every_edit_signature_takes_exactly_the_edit_options(func: object) -> None:
    expected = {
        name: default
        for name, default in _params.DEFAULTS.items()
        if func in MULTI_EDIT_SIGNATURES or name not in _params.MULTI_EDIT_ONLY
    }
    assert _options_of(func) == expected


def test_edit_options_picks_only_options() -> None:
    assert _params.edit_options({"self": 1, "image": 2, "fit": True, "quality": None}) == {
        "quality": None,
        "fit": True,
    }


def _keywords(func: object) -> dict[str, object]:
    params = inspect.signature(func).parameters.values()
    return {p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY}


@pytest.mark.parametrize("cls", [vnb.Client, vnb.AsyncClient], ids=lambda c: c.__name__)
def test_both_clients_spell_out_the_same_constructor_options(cls: type) -> None:
    """The twins repeat the base's options (no ``**kwargs``: IDEs and mypy see each one)."""
    from venice_nb._client._client import _BaseClient

    params = inspect.signature(cls).parameters.values()
    assert not [p for p in params if p.kind is p.VAR_KEYWORD]
    assert _keywords(cls) == {**_keywords(_BaseClient), "http_client": None}


@pytest.mark.parametrize("func", [vnb.experiment, vnb.experiment_async, vnb.estimate_experiment,
                                  vnb.estimate_experiment_async], ids=lambda f: f.__name__)
def test_experiments_take_edit_options_and_no_private_or_builtin_names(func: object) -> None:
    params = inspect.signature(func).parameters
    assert "vars" not in params and "variables" in params
    assert not [name for name in params if name.startswith("_")]
    assert params["params"].annotation == "Unpack[EditOptions]"


def test_type_checkers_see_the_public_surface(tmp_path: Path) -> None:
    """What a user's ``mypy --strict`` says: the names resolve, the options are checked."""
    from mypy import api

    user = tmp_path / "user_code.py"
    user.write_text(
        "import venice_nb as vnb\n"
        "ok = vnb.Client(base_url='http://127.0.0.1:1/api/v1', max_retries=2, store=False)\n"
        "either: vnb.ClientLike = ok\n"
        "image: vnb.ImageInput = vnb.sample('cat')\n"
        "bad = vnb.Client(base_urll='x')\n"
        "vnb.estimate_experiment(image, 'x', client=ok, resolutionn='1K')\n"
        "limits: vnb.AccountLimits = ok.rate_limits()\n",
        encoding="utf-8",
    )
    cache = INIT.parents[1] / ".mypy_cache"
    out, err, status = api.run([str(user), "--strict", "--cache-dir", str(cache),
                                "--no-error-summary", "--follow-imports=silent"])
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert status == 1, err
    assert len(errors) == 2, out
    assert 'user_code.py:5: error: Unexpected keyword argument "base_urll"' in errors[0]
    assert 'user_code.py:6: error: Unexpected keyword argument "resolutionn"' in errors[1]
