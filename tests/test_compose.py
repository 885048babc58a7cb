"""The production topology in docker-compose.yml, checked without a Docker engine.

What a broken file would cost an operator: a worker that cannot scale, an API that starts before
its tables exist, a setting silently ignored because its name is misspelt, journeys that cannot be
searched in the Temporal UI.
"""

from __future__ import annotations

import re
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

import pytest
import yaml

from leadflow.config import PROJECT_ROOT, Settings

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
DOCKERIGNORE = PROJECT_ROOT / ".dockerignore"

APP_SERVICES = ("migrate", "api", "worker")
ONE_SHOT = ("temporal-schema", "temporal-init", "migrate")
LONG_RUNNING = ("postgres", "temporal", "temporal-ui", "api", "worker")
SEARCH_ATTRIBUTES = ("LeadflowFlow", "LeadflowStep", "LeadflowTemperature", "LeadflowStage")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _command(service: dict[str, Any]) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else str(command)


def _depends(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on", {})
    assert isinstance(deps, dict), "depends_on must use the long form with a condition"
    return {name: spec.get("condition", "") for name, spec in deps.items()}


def test_every_part_of_the_stack_is_there(services: dict[str, dict[str, Any]]) -> None:
    assert set(ONE_SHOT + LONG_RUNNING) <= set(services)
    assert services["temporal"]["image"].startswith("temporalio/server:")
    assert services["temporal-schema"]["image"].startswith("temporalio/admin-tools:")
    assert services["temporal-init"]["image"].startswith("temporalio/admin-tools:")
    assert services["temporal-ui"]["image"].startswith("temporalio/ui:")
    assert services["postgres"]["image"].startswith("postgres:")
    # Temporal keeps its state on the same PostgreSQL server, not in an embedded database.
    assert services["temporal"]["environment"]["DB"] == "postgres12"
    assert services["temporal"]["environment"]["POSTGRES_SEEDS"] == "postgres"
    assert "pgdata" in (services["postgres"]["volumes"][0])


def test_app_services_run_the_leadflow_commands(services: dict[str, dict[str, Any]]) -> None:
    assert _command(services["migrate"]).startswith("leadflow db upgrade")
    assert _command(services["api"]).startswith("leadflow api")
    assert _command(services["worker"]).startswith("leadflow worker")
    images = {services[name]["image"] for name in APP_SERVICES}
    assert len(images) == 1, "api, worker and migrate must run the same image"
    for name in APP_SERVICES:
        assert services[name]["build"] == "."
        assert services[name]["env_file"] == ".env"
        assert services[name]["environment"]["LEADFLOW_ENV"] == "production"
        assert services[name]["environment"]["LEADFLOW_TEMPORAL_ADDRESS"] == "temporal:7233"
        assert services[name]["environment"]["LEADFLOW_DATABASE_URL"].startswith(
            "postgresql+psycopg://"
        )


def test_worker_can_be_scaled(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    # A fixed name or a published host port would make `--scale worker=3` fail on the 2nd copy.
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker.get("restart") == "unless-stopped"
    # Its metrics port is not published: each replica is scraped on the compose network.
    assert worker["environment"]["LEADFLOW_WORKER_METRICS_BIND"].startswith("0.0.0.0:")
    assert all("container_name" not in s for s in services.values())


def test_long_running_services_have_health_checks(services: dict[str, dict[str, Any]]) -> None:
    for name in ("postgres", "temporal", "api", "worker"):
        assert services[name]["healthcheck"]["test"], name
    assert "/api/health" in " ".join(services["api"]["healthcheck"]["test"])
    assert any(p.endswith(":8000") for p in services["api"]["ports"])


def test_dependencies_wait_for_health_or_completion(services: dict[str, dict[str, Any]]) -> None:
    healthy = {n for n, s in services.items() if "healthcheck" in s}
    for name, service in services.items():
        for dep, condition in _depends(service).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            if dep in ONE_SHOT:
                assert condition == "service_completed_successfully", (name, dep)
            else:
                assert condition == "service_healthy", (name, dep)
                assert dep in healthy, f"{name} waits for {dep} to be healthy but it has no check"
    for name in ONE_SHOT:
        assert services[name]["restart"] == "no", f"one-shot {name} must not restart forever"


def test_migrations_and_search_attributes_come_before_api_and_worker(
    services: dict[str, dict[str, Any]],
) -> None:
    graph = {name: set(_depends(s)) for name, s in services.items()}
    order = list(TopologicalSorter(graph).static_order())  # raises on a cycle

    def before(a: str, b: str) -> bool:
        seen, todo = set(), [b]
        while todo:  # is a among b's transitive dependencies?
            for dep in graph[todo.pop()]:
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return a in seen

    for app in ("api", "worker"):
        assert before("migrate", app)
        assert before("temporal-init", app)
        assert before("postgres", app)
    assert before("temporal-schema", "temporal")
    assert before("temporal", "temporal-init")
    assert order.index("migrate") < order.index("api")


def test_search_attributes_are_registered(services: dict[str, dict[str, Any]]) -> None:
    script = _command(services["temporal-init"])
    for name in SEARCH_ATTRIBUTES:
        assert re.search(rf"\b{name}\b", script), name
    assert "temporal operator search-attribute create" in script
    assert "--type Keyword" in script
    assert "temporal operator namespace create" in script


def _settings_env_names() -> set[str]:
    prefix = Settings.model_config.get("env_prefix", "")
    names = set()
    for field_name, field in Settings.model_fields.items():
        names.add(f"{prefix}{field_name}".upper())
        alias = field.validation_alias
        for choice in getattr(alias, "choices", [alias] if isinstance(alias, str) else []):
            if isinstance(choice, str):
                names.add(choice.upper())
    return names


def _env_names_read_directly() -> set[str]:
    """``LEADFLOW_*`` variables the code reads from ``os.environ`` itself (CLI defaults)."""
    names: set[str] = set()
    for folder in ("leadflow", "api", "workflows", "activities"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            names |= set(re.findall(r"""environ\.get\(\s*["'](LEADFLOW_[A-Z0-9_]+)""",
                                    path.read_text()))
    return names


def _env_example_names() -> set[str]:
    # Commented-out lines count too: they document optional settings.
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.M))


def test_leadflow_variables_are_ones_the_app_reads(services: dict[str, dict[str, Any]]) -> None:
    known = _settings_env_names() | _env_names_read_directly()
    used = set(_env_example_names())
    for name in APP_SERVICES:
        used |= set(services[name]["environment"])
    app_vars = {v for v in used if v.startswith("LEADFLOW_") or v.startswith("SENDGRID_")}
    assert app_vars, "no Leadflow settings found"
    unknown = sorted(app_vars - known)
    assert not unknown, f"not read by leadflow/config.py (misspelt?): {unknown}"


def test_every_compose_variable_is_documented_in_env_example() -> None:
    referenced = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE.read_text()))
    missing = sorted(referenced - _env_example_names())
    assert not missing, f"add to .env.example: {missing}"
    # The secrets must be required, not silently defaulted.
    text = COMPOSE.read_text()
    assert "${POSTGRES_PASSWORD:?" in text
    assert "${LEADFLOW_SECRET_KEY:?" in text


def test_dockerfile_builds_ui_and_runs_unprivileged() -> None:
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert stages[-1] == "python:3.11-slim"
    assert any(s.startswith("node:20") for s in stages)
    assert "npm ci" in text and "npm run build" in text
    assert re.search(r"COPY --from=ui \S*dist", text)
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0")
    assert "pip install" in text


def test_secrets_and_local_state_stay_out_of_the_image() -> None:
    ignored = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()}
    for entry in (".env", ".git", ".leadflow", "ui/node_modules"):
        assert entry in ignored, entry
    assert "!.env.example" in ignored


def test_env_example_has_no_real_secrets() -> None:
    values = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE.read_text(), re.M))
    assert values["POSTGRES_PASSWORD"] == ""
    assert values["LEADFLOW_SECRET_KEY"] == ""
    assert Path(ENV_EXAMPLE).name == ".env.example"
