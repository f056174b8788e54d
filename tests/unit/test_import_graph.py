"""The packages import each other without a circle, and connectors lean on few core modules.

The graph is read from the source with ``ast`` (nothing is imported), counting every
``import`` and ``from … import`` of a module of ours, lazy ones inside functions included:
a circle hidden in a function is still a circle to a reader.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.paths import REPOSITORY

PACKAGES = ("scheduler", "connectors")

# What connectors may use of the core: time, logs and config value types. Never the
# dispatcher, the database or the CLI (connectors/base.py says why).
CORE_FOR_CONNECTORS = {"scheduler", "scheduler.clock", "scheduler.logs", "scheduler.durations"}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPOSITORY).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def our_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in (REPOSITORY / package).rglob("*.py")
        if "migrations" not in path.parts
    }


def imports_of(path: Path, known: set[str]) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from pkg import module` imports pkg.module when it is one of ours
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            names = [name if name in known else node.module for name in names]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                yield name


def import_graph() -> dict[str, set[str]]:
    modules = our_modules()
    known = set(modules)
    return {name: set(imports_of(path, known)) - {name} for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in visiting:
            return [*visiting[visiting.index(node) :], node]
        if node in done:
            return None
        visiting.append(node)
        for target in sorted(graph[node]):
            cycle = visit(target)
            if cycle:
                return cycle
        visiting.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start)
        if cycle:
            return cycle
    return None


def test_no_module_imports_itself_through_others() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_connectors_use_only_the_small_core() -> None:
    graph = import_graph()
    leaks = {
        (module, target)
        for module, targets in graph.items()
        if module.startswith("connectors")
        for target in targets
        if target.startswith("scheduler") and target not in CORE_FOR_CONNECTORS
    }
    assert not leaks, sorted(leaks)


def test_a_cycle_is_found_when_there_is_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
