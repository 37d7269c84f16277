"""The package's import graph: no cycles, and no run-time import from a lower layer into a higher one.

A unit is a subpackage (``algos``, ``engine``, ...) or a top-level module (``train``, ``study``, ...). Imports
under ``if TYPE_CHECKING:`` are type hints, not run-time dependencies, and are not counted.
"""

from __future__ import annotations

import ast
from collections import defaultdict

from conftest import REPO

PACKAGE = REPO / "evogan_lightning"

# Low to high. A unit may import its own layer or lower ones only.
LAYERS: list[set[str]] = [
    {"errors", "console", "config", "checks", "memory", "scaling", "resume", "csv_log", "figures", "nets"},
    {"rundir", "data", "evolution"},  # toy/image data; the papers' operators (pure tensor functions)
    {"engine", "metrics"},  # population store, backends, CUDA graphs; FID/IS/toy metrics
    {"algos"},  # one LightningModule per paper
    {"callbacks", "checkpoint_io", "cli_common"},
    {"train"},
    {"__main__", "benchmark", "evaluate", "sample", "study", "summarize", "train_classifier"},  # the tools
    {"evogan_lightning"},  # the package's own __init__ (exports the algorithms)
]


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def import_graph() -> dict[str, set[str]]:
    """unit -> the units it imports at run time (function-level imports included)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]

        def visit(node: ast.AST, module=module, package=package) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                    continue
                targets: list[str] = []
                if isinstance(child, ast.ImportFrom):
                    if child.level:
                        base = package.split(".")[: len(package.split(".")) - child.level + 1]
                        target = ".".join(base + ([child.module] if child.module else []))
                    else:
                        target = child.module or ""
                    if target == "evogan_lightning":  # from evogan_lightning import x / from . import x
                        targets = [f"{target}.{a.name}" for a in child.names]
                    else:
                        targets = [target]
                elif isinstance(child, ast.Import):
                    targets = [a.name for a in child.names]
                for target in targets:
                    if target.startswith("evogan_lightning"):
                        edges[_unit(module)].add(_unit(target))
                visit(child)

        visit(ast.parse(path.read_text()))
    return {unit: targets - {unit} for unit, targets in edges.items()}


def layer_of(unit: str) -> int:
    for i, units in enumerate(LAYERS):
        if unit in units:
            return i
    raise AssertionError(f"{unit!r} is in no layer of tests/unit/test_layers.py; add it where it belongs")


def test_every_import_goes_to_the_same_or_a_lower_layer():
    upward = [
        f"{unit} (layer {layer_of(unit)}) imports {target} (layer {layer_of(target)})"
        for unit, targets in sorted(import_graph().items())
        for target in sorted(targets)
        if layer_of(target) > layer_of(unit)
    ]
    assert upward == []


def test_the_import_graph_has_no_cycles():
    graph = import_graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def cycle_from(unit: str, path: list[str]) -> list[str] | None:
        state[unit] = 1
        for target in sorted(graph.get(unit, ())):
            if state.get(target) == 1:
                return [*path, unit, target]
            if target not in state and (found := cycle_from(target, [*path, unit])):
                return found
        state[unit] = 2
        return None

    for unit in sorted(graph):
        if unit not in state:
            cycle = cycle_from(unit, [])
            assert cycle is None, " -> ".join(cycle or [])


def test_the_checker_sees_imports_and_skips_type_hints():
    graph = import_graph()
    assert "evolution" in graph["engine"]  # engine/backend.py uses the operators
    assert "engine" not in graph.get("evolution", set())  # genetic.py: Population under TYPE_CHECKING only
    assert "algos" in graph["train"] and "train" in graph["__main__"]
