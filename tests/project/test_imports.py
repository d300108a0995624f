"""The layout holds: no import circles among the project's own modules, and the packages the
tests import are the project's real ones (not a same-named folder under tests/).

The import graph is read from the source with ast, without importing anything: every import
statement counts, at module level or inside a function, under `if TYPE_CHECKING:` too, since a
circle that only a lazy import hides still ties two modules together.
"""

from __future__ import annotations

import ast
import importlib
import tomllib
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

import processors
from tests.support import ROOT

SKIP_DIRS = {"tests", ".venv", ".git", ".stack", ".build", "node_modules", "build", "dist"}
PACKAGES = sorted(
    {
        name.split(".")[0]
        for name in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
            "packages"
        ]
    }
)


def project_modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py of the checkout outside tests and caches."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if any(part in SKIP_DIRS or part.startswith(".") for part in rel.parts[:-1]):
            continue
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if parts:
            modules[".".join(parts)] = path
    return modules


def imported_names(module: str, path: Path, tree: ast.AST) -> set[str]:
    """Every dotted name an import statement of the module may refer to."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph(root: Path) -> dict[str, set[str]]:
    """module -> the project modules it imports (the deepest module each name resolves to)."""
    modules = project_modules(root)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        edges = set()
        for name in imported_names(module, path, ast.parse(path.read_text(), str(path))):
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module:
                edges.add(name)
        graph[module] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        return list(exc.args[1])
    return None


def test_no_import_circles_among_the_projects_modules() -> None:
    graph = import_graph(ROOT)
    assert {"streams.worker", "config.names", "simulator.scenarios.sex"} <= set(graph)
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_the_check_finds_a_circle(tmp_path: Path) -> None:
    """The same check on a made-up tree with a lazy, relative and TYPE_CHECKING import."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text("from .b import thing\n")
    (tmp_path / "pkg" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.c import x\n"
    )
    (tmp_path / "pkg" / "c.py").write_text("def f():\n    import pkg.a\n")
    cycle = find_cycle(import_graph(tmp_path))
    assert cycle is not None and set(cycle) == {"pkg.a", "pkg.b", "pkg.c"}
    (tmp_path / "pkg" / "c.py").write_text("def f():\n    import json\n")
    assert find_cycle(import_graph(tmp_path)) is None


@pytest.mark.parametrize("package", PACKAGES)
def test_tests_import_the_real_package(package: str) -> None:
    """tests/<package>/ mirrors <package>/ without shadowing it on sys.path."""
    module = importlib.import_module(package)
    assert Path(module.__file__ or "").resolve().parent == ROOT / package


def test_processors_runs_the_compiled_build_when_there_is_a_current_one() -> None:
    """A test folder named processors must not hide the package, nor its native build."""
    if processors.native_build_id() != processors.source_digest():
        pytest.skip(f"no current native build here: {processors.RUNS_AS}")
    if processors.RUNS_AS.startswith("interpreted (CB_NATIVE=off"):
        pytest.skip("CB_NATIVE=off")
    assert processors.RUNS_AS == "compiled (mypyc)"
    engine = importlib.import_module("processors.engine")
    assert str(processors.NATIVE_DIR) in (engine.__file__ or "")
