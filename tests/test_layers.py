"""Imports point down only (DESIGN section 1): this walks every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "eventsvc"

LAYERS = {
    # L0 domain: pure
    "errors": 0, "bounds": 0, "ids": 0, "events": 0, "chain": 0, "invocations": 0, "graph": 0,
    "execution": 0, "batches": 0, "sessions": 0, "stats": 0, "views": 0,
    # L1 adapters: disk, network, OS, clocks, process memory, and the SQL folded beside the log
    "clock": 1, "config": 1, "store": 1, "projections": 1, "cache": 1, "leases": 1,
    "artifacts": 1, "sampling": 1, "instruments": 1, "tracing": 1, "isolation": 1,
    "artifact_retention": 1, "webhooks": 1, "archive_files": 1,
    # L2 orchestration
    "service": 2, "executor": 2, "attempt": 2, "append_ahead": 2, "progress": 2, "audit": 2,
    "replay": 2, "audit_jobs": 2, "metrics": 2, "archive": 2,
    # L3 edges, and the fakes for tests that nothing else imports
    "api": 3, "cli": 3, "client": 3, "schemas": 3, "testing": 3, "__main__": 3, "examples": 3,
}  # fmt: skip


def concept(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "eventsvc" and len(parts) > 1 else None


def modules() -> list[Path]:
    return sorted(
        p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE
    )


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path: Path) -> None:
    relative = path.relative_to(PACKAGE)
    own = relative.parts[0].removesuffix(".py")
    assert own in LAYERS, f"{relative}: classify {own!r} in a layer (DESIGN section 1)"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported = [node.module]
        elif isinstance(node, ast.Import):
            imported = [alias.name for alias in node.names]
        else:
            continue
        for module in imported:
            target = concept(module)
            if target is None or target == own:
                continue
            assert LAYERS[target] <= LAYERS[own], (
                f"{relative} (L{LAYERS[own]}) imports {module} (L{LAYERS[target]})"
            )


# Node and graph ids default to a fresh uuid4 when built by hand in Python (the domain issue
# asks for it); parsed graphs carry their ids and no pure function draws one.
ALLOWED = {(name, "uuid.uuid4") for name in ("invocations/base.py", "graph.py", "batches.py")}


def test_the_domain_reads_no_clock_and_draws_no_randomness() -> None:
    banned = {"time", "random", "secrets", "os", "anyio", "asyncio", "uuid.uuid4", "uuid.uuid1",
              "datetime.now", "datetime.utcnow"}  # fmt: skip
    for path in modules():
        own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        if LAYERS.get(own) != 0:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                names = {node.module or ""} | {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                names = {f"{node.value.id}.{node.attr}"}
            else:
                continue
            relative = str(path.relative_to(PACKAGE))
            used = {name for name in names & banned if (relative, name) not in ALLOWED}
            assert not used, f"{relative} uses {used} in the pure domain"


def imports_of(path: Path) -> set[Path]:
    """The package's own modules ``path`` imports (at any depth of its code), as files."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from eventsvc import bounds`` imports the module bounds; ``from eventsvc.store
            # import ANY`` the package store.
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            modules = [name for name in names if _module_file(name) is not None]
            targets = modules if len(modules) == len(names) else [node.module, *modules]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        for target in targets:
            module = _module_file(target)
            if module is not None and module != path:
                found.add(module)
    return found


def _module_file(name: str) -> Path | None:
    parts = name.split(".")
    if parts[0] != "eventsvc":
        return None
    base = PACKAGE.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def test_no_module_imports_itself_through_others() -> None:
    graph = {path: imports_of(path) for path in PACKAGE.rglob("*.py")}
    state: dict[Path, str] = {}
    cycles = []

    def visit(path: Path, trail: list[Path]) -> None:
        state[path] = "open"
        for target in sorted(graph.get(path, ())):
            if state.get(target) == "open":
                cycle = [*trail[trail.index(target) :], target]
                cycles.append(" -> ".join(str(p.relative_to(PACKAGE)) for p in cycle))
            elif target not in state:
                visit(target, [*trail, target])
        state[path] = "done"

    for path in sorted(graph):
        if path not in state:
            visit(path, [path])
    assert cycles == []
