"""The house plan, checked on the source (AST, every import including those inside functions).

- The core (``leadflow/`` except ``leadflow/cli/``, which wires the app and the worker) never
  imports the adapters: ``leadflow.api``, ``leadflow.workflows``, ``leadflow.activities``.
- ``api/`` never imports ``workflows/`` or ``activities/`` (Temporal contracts live in
  ``leadflow.temporal``).
- No import cycles between the core's modules (module-level imports).
- Domain packages are layered, lowest first: ``leads``, ``mail``, ``journeys``, ``scoring``,
  ``sales``, and on top ``usecases`` (what one happening sets going across them). A package
  imports only packages below it; an import that goes upwards would have to be listed in
  ``UPWARD`` as known debt, which may only shrink (a new upward import fails, and so does an
  entry that is no longer needed). It is empty.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from leadflow.journeys.validate import _cycles as strongly_connected

ROOT = Path(__file__).resolve().parent.parent
ADAPTERS = ("leadflow.api", "leadflow.workflows", "leadflow.activities")
LAYERS = ("leads", "mail", "journeys", "scoring", "sales", "usecases")
# (importing module, imported module) pairs that go up the layers: debt, to be paid down.
# Empty since the events pipeline, capture, privacy, CSV import, score timers, the update
# step, the reconciler and the simulator moved up into leadflow.usecases.
UPWARD: set[tuple[str, str]] = set()


def _modules() -> dict[str, Path]:
    """Every Python module of the product by its installed name (``leadflow.api.main``, ...)."""
    found: dict[str, Path] = {}
    for top, prefix in (("leadflow", "leadflow"), ("api", "leadflow.api"),
                        ("workflows", "leadflow.workflows"), ("activities", "leadflow.activities")):
        for path in (ROOT / top).rglob("*.py"):
            rel = path.relative_to(ROOT / top).with_suffix("").parts
            if "migrations" in rel:
                continue
            parts = rel[:-1] if rel[-1] == "__init__" else rel
            found[".".join((prefix, *parts))] = path
    return found


MODULES = _modules()


def _imports(path: Path, *, top_level_only: bool = False) -> Iterator[tuple[str, int]]:
    """``(module, line)`` for each import of ``path``; ``from a import b`` yields ``a`` and,
    when ``a.b`` is a module, ``a.b``."""
    tree = ast.parse(path.read_text(), str(path))
    nodes = tree.body if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno
            for alias in node.names:
                if f"{node.module}.{alias.name}" in MODULES:
                    yield f"{node.module}.{alias.name}", node.lineno


def _under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_the_core_never_imports_the_adapters() -> None:
    bad = [f"{mod} line {line} imports {target}"
           for mod, path in MODULES.items()
           if _under(mod, "leadflow") and not any(_under(mod, a) for a in ADAPTERS)
           and not _under(mod, "leadflow.cli")
           for target, line in _imports(path)
           if any(_under(target, a) for a in ADAPTERS) or _under(target, "leadflow.cli")
           or target.split(".")[0] in ("api", "workflows", "activities")]
    assert not bad, "the core imports an adapter:\n" + "\n".join(bad)


def test_the_api_never_imports_workflows_or_activities() -> None:
    bad = [f"{mod} line {line} imports {target}"
           for mod, path in MODULES.items() if _under(mod, "leadflow.api")
           for target, line in _imports(path)
           if _under(target, "leadflow.workflows") or _under(target, "leadflow.activities")
           or target.split(".")[0] in ("workflows", "activities")]
    assert not bad, "the API imports workflow code:\n" + "\n".join(bad)


def test_no_import_cycles_between_core_modules() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    core = [m for m in MODULES if not any(_under(m, a) for a in ADAPTERS)]
    for mod in core:
        graph[mod] |= {t for t, _ in _imports(MODULES[mod], top_level_only=True)
                       if t in MODULES and t != mod and t in core}
    cycles = strongly_connected({m: sorted(graph[m]) for m in core})
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def _layer(mod: str) -> int | None:
    parts = mod.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 2 and parts[1] in LAYERS else None


def test_domain_packages_import_only_downwards() -> None:
    upward: dict[tuple[str, str], int] = {}
    for mod, path in MODULES.items():
        here = _layer(mod)
        if here is None:
            continue
        for target, line in _imports(path):
            there = _layer(target) if target in MODULES else None
            if there is not None and there > here:
                upward.setdefault((mod, target), line)
    new = sorted(set(upward) - UPWARD)
    assert not new, "imports up the layers " + " < ".join(LAYERS) + ":\n" + "\n".join(
        f"{a} line {upward[(a, b)]} imports {b}" for a, b in new)
    paid = sorted(UPWARD - set(upward))
    assert not paid, f"no longer needed, remove from UPWARD: {paid}"
