"""The package's import graph: no cycles, and no run-time import from a lower layer into a higher one.

A unit is a subpackage (``core``, ``algos``, ``engine``, ``tools``, ...) or a top-level module (``__main__``),
except that each module of ``run/`` is a unit of its own (``run.console``, ``run.train``, ...). ``core/`` is the
ground floor (errors, seeding, the config files on disk). ``run/`` is the run's orchestration and its
plumbing: the plumbing (console, checks, scaling, resume, csv_log) sits low, while ``run.config`` (which
composes on the algorithms' typed schemas), ``run.checkpoint_io`` and ``run.train`` read or build algorithm
configs and modules and so sit above ``algos``; counted per module the graph is honest, and
``run/__init__.py`` imports nothing (``test_run_package_init_imports_nothing``). ``tools/`` (the command-line tools and their shared parser and
checkpoint loader) sits above ``run.train``; its tools are console scripts (``evogan-<tool>``), with no thin
modules at the package top; ``__main__`` (``python -m evogan_lightning``) forms the top layer.

Imports under ``if TYPE_CHECKING:`` are type hints, not run-time dependencies, and are not counted.
"""

from __future__ import annotations

import ast
from collections import defaultdict

from conftest import REPO

PACKAGE = REPO / "evogan_lightning"
SPLIT = {"run"}  # subpackages whose modules are units of their own (see the module docstring)

# Low to high. A unit may import its own layer or lower ones only.
LAYERS: list[set[str]] = [
    {"core"},  # the ground floor: errors, seeding, the config files on disk; imports nothing above it
    {  # run plumbing and network families that the algorithms and the rest stand on
        "run.console",
        "run.checks",
        "run.scaling",
        "run.resume",
        "run.csv_log",
        "nets",
    },
    {"run.rundir", "data", "evolution"},  # run folders and locks; toy/image data; the papers' operators
    {"engine", "metrics"},  # population store, backends, CUDA graphs; FID/IS/toy metrics
    {"algos"},  # one LightningModule per paper, its typed config and its memory check
    {"callbacks", "run.checkpoint_io", "run.config"},  # during training (and its figure helpers); reading a
    # checkpoint (algos.checkpointing); composing the Hydra config (on the algorithms' typed schemas)
    {"run.train"},  # one training run
    {"tools"},  # the command-line tools, their argument parser and checkpoint loader (tools/cli_common.py)
    {"evogan_lightning"},  # the package's own __init__ (exports the algorithms)
    {
        "__main__"
    },  # python -m evogan_lightning (the tools are console scripts over tools/, no top-level shims)
]


def _unit(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 2 and parts[1] in SPLIT:
        return f"{parts[1]}.{parts[2]}"
    return parts[1] if len(parts) > 1 else parts[0]


def _is_module(dotted: str) -> bool:
    path = REPO.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


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


def test_the_checker_sees_imports_and_skips_type_hints():
    graph = import_graph()
    assert "evolution" in graph["engine"]  # engine/backend.py uses the operators
    assert "engine" not in graph.get("evolution", set())  # genetic.py: Population under TYPE_CHECKING only
    assert "algos" in graph["run.train"] and "run.train" in graph["tools"] and "tools" in graph["__main__"]
    assert "core" in graph["algos"]  # algos stands on core (errors), run.train on algos


def test_every_unit_is_in_a_layer():
    """Every top-level module, subpackage and ``run`` module has a layer (so a new one must be placed)."""
    units = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    units |= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file() and p.name not in SPLIT}
    units |= {f"run.{p.stem}" for p in (PACKAGE / "run").glob("*.py") if p.stem != "__init__"}
    for unit, targets in import_graph().items():
        units |= {unit, *targets}
    assert sorted(u for u in units if not any(u in layer for layer in LAYERS)) == []


def test_run_package_init_imports_nothing():
    """``run/__init__.py`` stays empty of imports: an import of ``run.train`` here would make every
    ``run.<module>`` import pull in ``algos`` and the whole training stack."""
    tree = ast.parse((PACKAGE / "run" / "__init__.py").read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert "run" not in import_graph()
