"""The one-way house (docs/architecture.md): the import graph, computed from the code.

Every ``import`` and ``from ... import`` counts, at module level, inside functions and under
``TYPE_CHECKING`` alike, and so do the lazy tables (``_LAZY``) and ``import_module("...")``
calls that name a module in a string. Each arrow must point down the layers; no module may
reach itself again; built-in plugins never import each other; nothing inside the package
imports a deprecated path.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Where each part of the package lives in the product's layout.
SOURCES = {"cohortpress": ROOT / "core", "cohortpress.plugins": ROOT / "plugins",
           "cohortpress.templates": ROOT / "templates"}

#: Top to bottom. A module may import its own layer and the layers below it.
LAYERS = (
    ("cli", "testing"),
    ("app",),
    ("plugins",),
    ("render",),
    ("kit",),
    ("api",),
    ("stats",),
    ("data",),
    ("config",),
    ("common", "templates"),
)
RANK = {name: len(LAYERS) - i for i, names in enumerate(LAYERS) for name in names}
#: Old flat paths kept for one release (cohortpress._compat); above everything, used by nothing.
COMPAT_RANK = len(LAYERS) + 1
#: The package root exports the plugin author's API lazily from api/, data/ and common/.
ROOT_RANK = RANK["api"]


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    where: str

    def __str__(self) -> str:
        return f"{self.where}: {self.source} -> {self.target}"


def _modules() -> dict[str, Path]:
    found = {}
    for package, folder in SOURCES.items():
        for path in sorted(folder.rglob("*.py")):
            if "scaffold" in path.relative_to(folder).parts:  # a template, not package code
                continue
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join([package, *parts])
            if package == "cohortpress" and parts and parts[0] in ("plugins", "templates"):
                continue
            found[name] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The module an imported name stands for: itself, or the longest module prefix."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imported_names(tree: ast.AST, module: str, is_package: bool) -> list[tuple[str, int]]:
    names: list[tuple[str, int]] = []
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
            names.append((base, node.lineno))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(
                node.func, "id", None)) == "import_module" and node.args and \
                isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            names.append((node.args[0].value, node.lineno))
        elif isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_LAZY"
                                                  for t in node.targets):
            if isinstance(node.value, ast.Dict):
                names += [(v.value, node.lineno) for v in node.value.values
                          if isinstance(v, ast.Constant) and isinstance(v.value, str)]
    return names


def _edges() -> list[Edge]:
    edges = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        is_package = path.name == "__init__.py"
        for name, line in _imported_names(tree, module, is_package):
            if not name.startswith("cohortpress"):
                continue
            target = _resolve(name)
            if target is not None and target != module:
                edges.append(Edge(module, target, f"{path.relative_to(ROOT)}:{line}"))
    return sorted(set(edges), key=str)


EDGES = _edges()


def _is_compat(module: str) -> bool:
    path = MODULES[module]
    return module == "cohortpress._compat" or "cohortpress._compat" in \
        path.read_text(encoding="utf-8") and path.parent == SOURCES["cohortpress"]


def rank(module: str) -> int:
    if module in ("cohortpress", "cohortpress.__main__"):
        return ROOT_RANK if module == "cohortpress" else RANK["cli"]
    if _is_compat(module):
        return COMPAT_RANK
    layer = module.split(".")[1]
    if layer not in RANK:
        raise AssertionError(f"{module} belongs to no layer: add it to docs/architecture.md "
                             f"and to LAYERS here, or move it into a layer")
    return RANK[layer]


def test_the_graph_is_not_empty():
    # A parser that found nothing would pass every test below.
    assert len(MODULES) > 60
    assert any(e.source == "cohortpress.app.build" and e.target == "cohortpress.render.write"
               for e in EDGES)
    assert any(e.source == "cohortpress.app.run" and e.target == "cohortpress.data.conditions"
               for e in EDGES)


def test_every_module_belongs_to_a_layer():
    for module in MODULES:
        rank(module)


def test_every_arrow_points_down_the_layers():
    upward = [str(e) for e in EDGES if rank(e.target) > rank(e.source)]
    assert not upward, "imports that point up the layers:\n" + "\n".join(upward)


def test_built_in_plugins_never_import_each_other():
    crossing = [str(e) for e in EDGES if e.source.startswith("cohortpress.plugins.")
                and e.target.startswith("cohortpress.plugins.")]
    assert not crossing, "\n".join(crossing)


def test_nothing_inside_imports_a_deprecated_path():
    inside = [str(e) for e in EDGES if _is_compat(e.target) and not _is_compat(e.source)
              and e.target != "cohortpress._compat"]
    assert not inside, "\n".join(inside)


def _cycles(edges: list[Edge]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for e in edges:
        graph[e.source].add(e.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_including_imports_inside_functions():
    # A package's __init__ that re-exports its modules is not a cycle of the code: the
    # modules do not import their package. Lazy tables are counted like any import.
    cycles = _cycles(EDGES)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_a_cycle():
    a, b = sorted(MODULES)[:2]
    assert _cycles([Edge(a, b, ""), Edge(b, a, "")]) == [sorted([a, b])]


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not _is_compat(m)))
def test_no_module_over_600_lines_and_each_says_its_job(module):
    path = MODULES[module]
    text = path.read_text(encoding="utf-8")
    lines = text.count("\n")
    assert lines <= 600, f"{path.relative_to(ROOT)} has {lines} lines: split it by job"
    if path.name != "__main__.py" and text.strip():
        assert ast.get_docstring(ast.parse(text)), \
            f"{path.relative_to(ROOT)} has no module docstring saying its one job"
