"""The package's import graph: no cycles, and no import from a lower layer into a higher one.

A unit is a subpackage (``core``, ``algos``, ``engine``, ``run``, ``tools``, ...) or a top-level module
(``__main__``). ``core/`` is the ground floor (errors, seeding, the config files on disk); ``run/`` is the
orchestration of one training run, above the algorithms and callbacks it assembles; ``tools/`` (the
command-line tools, console scripts ``evogan-<tool>``) sits above ``run``; ``__main__``
(``python -m evogan_lightning``) forms the top layer. Every import counts, those under
``if TYPE_CHECKING:`` and inside functions included: a type hint that points up is still a dependency
that points up.
"""

from __future__ import annotations

import ast
from collections import defaultdict

from conftest import REPO

PACKAGE = REPO / "evogan_lightning"

# Low to high. A unit may import its own layer or lower ones only.
LAYERS: list[set[str]] = [
    {"core", "nets"},  # errors, seeding, config files on disk; the network families
    {"data", "evolution"},  # toy/image data; the papers' operators (pure functions on tensors)
    {"engine", "metrics"},  # population store, backends, CUDA graphs; FID/IS/toy metrics
    {"algos", "callbacks"},  # one LightningModule per paper (typed config, memory check); Lightning callbacks
    {"run"},  # one training run: config composition, checks, run folder, resume, scaling, checkpoint reading
    {"tools"},  # the command-line tools, their argument parser and checkpoint loader (tools/cli_common.py)
    {"evogan_lightning"},  # the package's own __init__ (exports the algorithms and the Python API)
    {"__main__"},  # python -m evogan_lightning
]


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _is_module(dotted: str) -> bool:
    path = REPO.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def import_graph() -> dict[str, set[str]]:
    """unit -> the units it imports (function-level and ``TYPE_CHECKING`` imports included)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]

        def visit(node: ast.AST, module=module, package=package) -> None:
            for child in ast.iter_child_nodes(node):
                targets: list[str] = []
                if isinstance(child, ast.ImportFrom):
                    if child.level:
                        base = package.split(".")[: len(package.split(".")) - child.level + 1]
                        target = ".".join(base + ([child.module] if child.module else []))
                    else:
                        target = child.module or ""
                    # from evogan_lightning import x / from . import x / from .core import errors: the modules
                    targets = [
                        f"{target}.{a.name}" if _is_module(f"{target}.{a.name}") else target
                        for a in child.names
                    ]
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


def test_the_checker_sees_every_kind_of_import():
    graph = import_graph()
    assert "evolution" in graph["engine"]  # engine/backend.py uses the operators
    assert "engine" not in graph.get("evolution", set())  # the operators plan, the population applies
    assert "algos" in graph["run"] and "run" in graph["tools"] and "tools" in graph["__main__"]
    assert "core" in graph["algos"]  # algos stands on core (errors), run on algos
    source = (PACKAGE / "engine" / "population.py").read_text()
    assert "if TYPE_CHECKING:\n    from ..evolution.genetic import GAStep" in source  # counted, not skipped


def test_every_unit_is_in_a_layer():
    """Every top-level module and subpackage has a layer (so a new one must be placed)."""
    units = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    units |= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    for unit, targets in import_graph().items():
        units |= {unit, *targets}
    assert sorted(u for u in units if not any(u in layer for layer in LAYERS)) == []


def test_run_package_init_imports_nothing():
    """``run/__init__.py`` stays empty of imports: an import of ``run.train`` there would make an import of
    a small ``run`` module (``run.console``) pull in the whole training stack."""
    tree = ast.parse((PACKAGE / "run" / "__init__.py").read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
