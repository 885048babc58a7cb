"""Declared dependencies are the whole truth.

A fresh ``pip install .`` must bring every module the product imports at run time, and
``pip install '.[test]'`` every module the tests import. Two checks, both fast:

- every module of the product is imported in a subprocess that can see only the distributions
  reachable from ``[project.dependencies]`` (the rest of this environment is hidden, as if it
  were a clean venv). This also catches imports a library makes on our behalf, such as
  pydantic's ``EmailStr`` needing ``email-validator``;
- every ``import`` statement in the sources and the tests (found by parsing them) names a
  module of the standard library, of this project, or of a declared distribution.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
FIRST_PARTY = {"leadflow", "api", "workflows", "activities", "tests", "bench"}
# Where the product's code lives, whether or not these install under the leadflow package.
SOURCE_DIRS = [ROOT / name for name in ("leadflow", "api", "workflows", "activities")
               if (ROOT / name).is_dir()]
# Modules that run when imported: alembic's env.py (under `alembic`), `python -m` entry points.
NOT_IMPORTABLE_ALONE = ("migrations.env", "__main__")


def _importable_packages() -> list[str]:
    """The top-level packages as installed: leadflow, plus directories mapped into it
    (``[tool.setuptools.package-dir]``, e.g. api/ as leadflow.api) or installed on their own."""
    package_dir = PYPROJECT.get("tool", {}).get("setuptools", {}).get("package-dir", {})
    mapped = {directory: name for name, directory in package_dir.items() if name}
    return [mapped.get(p.name, p.name) for p in SOURCE_DIRS if (p / "__init__.py").is_file()]


def _requirements(extra: str | None = None) -> list[Requirement]:
    project = PYPROJECT["project"]
    lines = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


def _closure(requirements: Iterable[Requirement]) -> set[str]:
    """Canonical names of the distributions these requirements bring, transitively."""
    seen: set[str] = set()
    todo = [(req, frozenset(req.extras)) for req in requirements]
    while todo:
        req, extras = todo.pop()
        name = canonicalize_name(req.name)
        key = name + "[" + ",".join(sorted(extras)) + "]"
        if key in seen:
            continue
        seen.add(key)
        seen.add(name)
        try:
            requires = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:
            continue  # a requirement for another platform or Python
        for line in requires:
            sub = Requirement(line)
            envs = [{"extra": e} for e in extras] or [{"extra": ""}]
            if sub.marker is None or any(sub.marker.evaluate(env) for env in envs):
                todo.append((sub, frozenset(sub.extras)))
    return {n for n in seen if "[" not in n}


def _module_owners() -> dict[str, set[str]]:
    return {mod: {canonicalize_name(d) for d in dists}
            for mod, dists in metadata.packages_distributions().items()}


def _imported_top_level(paths: Iterable[Path]) -> dict[str, str]:
    """Top-level module name -> one file importing it, for every absolute import in ``paths``."""
    found: dict[str, str] = {}
    for base in paths:
        files = [base] if base.is_file() else sorted(base.rglob("*.py"))
        for path in files:
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def _undeclared(imports: dict[str, str], allowed: set[str]) -> list[str]:
    owners = _module_owners()
    problems = []
    for module, where in sorted(imports.items()):
        if module in FIRST_PARTY or module in sys.stdlib_module_names or module == "__future__":
            continue
        dists = owners.get(module, set())
        if not dists & allowed:
            problems.append(f"{module} (imported in {where}; installed by {sorted(dists) or 'nothing'})")
    return problems


def test_product_imports_name_only_declared_runtime_dependencies() -> None:
    allowed = {canonicalize_name(r.name) for r in _requirements()}
    problems = _undeclared(_imported_top_level(SOURCE_DIRS), allowed)
    assert not problems, "add these to [project.dependencies]:\n" + "\n".join(problems)


def test_test_imports_name_only_declared_dependencies() -> None:
    allowed = {canonicalize_name(r.name) for r in _requirements() + _requirements("test")}
    problems = _undeclared(_imported_top_level([ROOT / "tests"]), allowed)
    assert not problems, "add these to the `test` extra:\n" + "\n".join(problems)


# Run in a subprocess: hide every installed distribution the runtime requirements do not bring,
# then import every module of the product (and build the app, which builds every model).
_IMPORT_ALL = r"""
import importlib, json, pkgutil, sys
blocked = set(json.loads(sys.argv[1]))
skip = tuple(json.loads(sys.argv[2]))
packages = json.loads(sys.argv[3])

class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (not a declared dependency)",
                                      name=name)
        return None

sys.meta_path.insert(0, Hide())
failures = []
for package in packages:
    mod = importlib.import_module(package)
    names = [package] + [m.name for m in pkgutil.walk_packages(mod.__path__, package + ".")]
    for name in names:
        if name.endswith(skip):
            continue
        try:
            importlib.import_module(name)
        except Exception as exc:
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
try:
    from leadflow.config import get_settings
    app_module = importlib.import_module("leadflow.api.main" if "leadflow.api" in sys.modules
                                         else "api.main")
    app_module.create_app(get_settings()).openapi()
except Exception as exc:
    failures.append(f"create_app: {type(exc).__name__}: {exc}")
print("\n".join(failures))
sys.exit(1 if failures else 0)
"""


def test_every_module_imports_with_runtime_dependencies_alone(tmp_path: Path) -> None:
    reachable = _closure(_requirements())
    owners = _module_owners()
    blocked = sorted(mod for mod, dists in owners.items()
                     if mod not in FIRST_PARTY and not dists & reachable
                     and mod not in sys.stdlib_module_names and not mod.startswith("_"))
    assert "pytest" in blocked, "the test itself must hide the test tools"
    packages = _importable_packages()
    env = {"LEADFLOW_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "LEADFLOW_ENV": "test",
           "LEADFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}"}
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL, json.dumps(blocked),
         json.dumps(list(NOT_IMPORTABLE_ALONE)), json.dumps(packages)],
        check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (
        "modules that do not import from [project.dependencies] alone:\n"
        + proc.stdout + proc.stderr[-3000:])


def test_the_checks_see_a_missing_dependency() -> None:
    """The scan itself works: a module nobody declares is reported."""
    problems = _undeclared({"pytest": "example.py"}, {"fastapi"})
    assert problems and problems[0].startswith("pytest")
