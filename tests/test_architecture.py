"""The shape of the code holds: no import cycle, small modules, no registries filled from afar.

The layers themselves are import-linter contracts in pyproject.toml (`lint-imports`, run by .ci/run); these checks
cover what import-linter does not: cycles among modules (lazy imports inside functions count), module size, and
mutable module-level state that other modules fill in at start-up.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "devtools")
MAX_LINES = 500
MUTATORS = {"append", "extend", "insert", "add", "update", "setdefault", "pop", "remove", "discard", "clear"}


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            found[name] = path
    return found


def imported(module: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """Every project module this one imports, at the top or inside a function."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        for name in names:
            if name in known and name != module:
                yield name


def test_no_import_cycle_among_the_projects_modules() -> None:
    known = modules()
    graph = {name: set(imported(name, path, known)) for name, path in known.items()}
    # A package's __init__ is not a dependency of its modules' import order unless it imports them itself.
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == [], "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_no_module_is_longer_than_a_newcomer_can_read() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in modules().values()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}, f"modules over {MAX_LINES} lines: {long}"


def test_no_module_level_registry_is_filled_from_functions() -> None:
    """Module-level containers that functions (or other modules) mutate are hooks installed from afar."""
    offenders = []
    for name, path in modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        globals_ = {
            target.id
            for node in tree.body
            if isinstance(node, ast.Assign | ast.AnnAssign)
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(target, ast.Name)
        }
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                mutated = None
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    if node.func.attr in MUTATORS and isinstance(node.func.value, ast.Name):
                        mutated = node.func.value.id
                elif isinstance(node, ast.Assign | ast.Delete):
                    for target in node.targets:
                        if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
                            mutated = target.value.id
                if mutated in globals_:
                    offenders.append(f"{name}.{function.name} changes module-level {mutated}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign | ast.Delete | ast.AugAssign):
                targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
                for target in targets:
                    inner = target.value if isinstance(target, ast.Subscript) else target
                    if isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name):
                        if f"bot.{inner.value.id}" in modules() or inner.attr.isupper():
                            offenders.append(f"{name} sets {inner.value.id}.{inner.attr} of another module")
    assert offenders == [], "\n".join(offenders)
    assert not any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "install"
        for path in modules().values()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
    ), "an install() wires behaviour from afar"
