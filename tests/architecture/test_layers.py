"""The import graph of zspace: one-way layers, no cycles, no import hidden in a function to dodge one.

Every ``import zspace...`` / ``from zspace... import`` statement of every module
is read with ``ast`` (including those inside functions), so a lazy import
counts exactly like a top-level one. docs/architecture.md draws the same layers.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

import zspace

PACKAGE_ROOT = Path(zspace.__file__).parent

#: top-level unit -> layer; a unit may import only from units of strictly lower layers (and from itself)
LAYERS = {
    "core": 0,
    "data": 1, "models": 1,
    "pipeline": 2, "analysis": 2,
    "science": 3, "exports": 3,  # exports: runs' and Z files' points written for other programs (the Projector)
    "plots": 4, "factors": 4,  # factors: reads science's cached training codes; its figures come from plots, passed in
    "report": 5, "explore": 5,  # explore: the live explorer's server over runs and the science
    "demo": 6, "notebook": 6,
    "commands": 7,
    "cli": 8, "__main__": 9,
    "__init__": 10,  # the lazy public API names everything
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def unit_of(module: str) -> str:
    """``zspace.science.samplers.flow`` -> ``science``; the package itself -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def zspace_imports(path: Path) -> list[tuple[str, int]]:
    """(imported zspace module, line) for every import statement in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "zspace"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != "zspace":
                continue
            for alias in node.names:
                # `from zspace.core import io` imports the submodule zspace.core.io
                candidate = f"{node.module}.{alias.name}"
                is_module = (PACKAGE_ROOT.parent / Path(*candidate.split("."))).with_suffix(".py").exists() or \
                    (PACKAGE_ROOT.parent / Path(*candidate.split("."))).is_dir()
                found.append((candidate if is_module else node.module, node.lineno))
    return found


@functools.lru_cache(maxsize=1)
def graph() -> dict[str, list[tuple[str, int]]]:
    return {module_name(p): zspace_imports(p) for p in sorted(PACKAGE_ROOT.rglob("*.py"))}


def test_every_unit_has_a_layer():
    units = {unit_of(m) for m in graph()}
    assert units <= set(LAYERS), f"give these a layer in LAYERS and docs/architecture.md: {units - set(LAYERS)}"


def test_imports_only_point_down():
    upward = []
    for module, imports in graph().items():
        own = unit_of(module)
        for target, line in imports:
            other = unit_of(target)
            if other != own and LAYERS[other] >= LAYERS[own]:
                upward.append(f"{module}:{line} imports {target} ({own} layer {LAYERS[own]} -> "
                              f"{other} layer {LAYERS[other]})")
    assert not upward, "imports that point up or sideways:\n" + "\n".join(upward)


def find_cycle(edges: dict[str, set[str]]) -> list[str]:
    """A list of modules that import each other in a circle (first == last), or [] when there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str]:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if nxt == node:
                continue
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [node, nxt] if nxt in path else [node, nxt]
            if state.get(nxt) is None:
                found = visit(nxt, path + [node])
                if found:
                    return found
        state[node] = 2
        return []

    for module in sorted(edges):
        if state.get(module) is None:
            found = visit(module, [])
            if found:
                return found
    return []


def test_no_import_cycle_between_modules():
    modules = set(graph())
    edges = {m: {t for t, _ in imports if t in modules} for m, imports in graph().items()}
    cycle = find_cycle(edges)
    assert not cycle, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "d": {"a", "c"}}) == []


@pytest.mark.parametrize("source, expected", [
    ("from zspace.core import io\n", [("zspace.core.io", 1)]),
    ("def f():\n    from zspace.report import build_report\n", [("zspace.report", 2)]),
    ("import zspace.science.samplers.flow\n", [("zspace.science.samplers.flow", 1)]),
])
def test_the_reader_sees_every_kind_of_import(tmp_path, source, expected):
    path = tmp_path / "m.py"
    path.write_text(source)
    assert zspace_imports(path) == expected
