"""The first run shows a working product: a new database gets the shipped examples, once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from leadflow.api.main import create_app
from sqlmodel import select

from leadflow.config import PROJECT_ROOT, reset_settings
from leadflow.db import session_scope
from leadflow.examples import EXAMPLE_TEAM, examples_public, seed_examples
from leadflow.journeys.flows import list_flows
from leadflow.models import Rep, ScoringModel, Team

ADMIN = "admin-key-for-tests-0123456789"
H = {"Authorization": f"Bearer {ADMIN}"}
SHIPPED = sorted(p.stem for p in (PROJECT_ROOT / "flows").glob("*.json"))


def seed(db_url: str) -> dict[str, object]:
    with session_scope(db_url) as session:
        return seed_examples(session)


@pytest_asyncio.fixture(loop_scope="session")
async def api(db_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("LEADFLOW_ADMIN_KEY", ADMIN)
    reset_settings()
    app = create_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test", headers=H) as client:
        yield client


def test_a_new_database_gets_every_shipped_flow_published_a_team_a_rep_and_the_model(
        db_url: str) -> None:
    loaded = seed(db_url)
    assert sorted(loaded["flows"]) == SHIPPED  # type: ignore[arg-type]
    with session_scope(db_url) as session:
        flows = {f["id"]: f for f in list_flows(session)}
        assert sorted(flows) == SHIPPED
        assert all(f["latest_version"] == 1 for f in flows.values()), flows
        team = session.get(Team, "inside-sales")
        assert team is not None and team.members == ["example-rep"]
        assert session.get(Rep, "example-rep") is not None
        assert session.exec(select(ScoringModel.version)).all() == [1]
        marks = examples_public(session)
    assert marks["seeded"] and marks["teams"] == ["inside-sales"]
    assert marks["reps"] == ["example-rep"] and sorted(marks["flows"]) == SHIPPED
    assert seed(db_url)["flows"] == [], "seeded once"


def test_a_database_in_use_is_never_seeded(db_url: str) -> None:
    with session_scope(db_url) as session:
        session.add(Team(id="field-sales", name="Field sales"))
    assert seed(db_url)["flows"] == []
    with session_scope(db_url) as session:
        session.delete(session.get(Team, "field-sales"))
    assert seed(db_url)["flows"] == [], "it was in use when first seen: not later either"
    with session_scope(db_url) as session:
        assert list_flows(session) == [] and session.get(Team, "inside-sales") is None


@pytest.mark.asyncio(loop_scope="session")
async def test_a_removed_example_is_not_created_again_and_publish_then_refuses_it(
        api: httpx.AsyncClient, db_url: str) -> None:
    seed(db_url)
    flows = (await api.get("/api/flows")).json()
    assert sorted(f["id"] for f in flows) == SHIPPED
    assert (await api.get("/api/examples")).json()["teams"] == ["inside-sales"]

    assert (await api.delete("/api/teams/inside-sales")).status_code == 204
    assert (await api.delete("/api/reps/example-rep")).status_code == 204
    assert (await api.get("/api/teams/inside-sales")).status_code == 404
    assert seed(db_url)["teams"] == []  # the next start
    assert (await api.get("/api/teams")).json() == []
    assert (await api.get("/api/examples")).json()["teams"] == []

    # the live publish still refuses a handoff to a team that does not exist
    refused = await api.post("/api/flows/trial-nurture/publish")
    assert refused.status_code == 422
    assert any(p["path"].endswith(".team") for p in refused.json()["problems"])


@pytest.mark.asyncio(loop_scope="session")
async def test_creating_under_an_example_id_replaces_the_untouched_example(
        api: httpx.AsyncClient, db_url: str) -> None:
    seed(db_url)
    rep = {"id": "ann", "name": "Ann", "email": "ann@example.com"}
    assert (await api.post("/api/reps", json=rep)).status_code == 201
    team = {"id": "inside-sales", "name": "Our inside sales", "members": ["ann"]}
    created = await api.post("/api/teams", json=team)
    assert created.status_code == 201 and created.json()["members"] == ["ann"]
    assert (await api.post("/api/teams", json=team)).status_code == 409, "ours is not an example"

    doc = json.loads((PROJECT_ROOT / "flows" / "webinar-follow-up.json").read_text())
    assert (await api.post("/api/flows", json=doc)).status_code == 201
    published = await api.post("/api/flows/webinar-follow-up/publish")
    assert published.status_code == 201 and published.json()["version"] == 1
    marks = (await api.get("/api/examples")).json()
    assert marks["teams"] == [] and "webinar-follow-up" not in marks["flows"]


def _validate(home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}
    env["LEADFLOW_HOME"] = str(home)
    files = [str(p) for p in sorted((PROJECT_ROOT / "flows").glob("*.json"))]
    return subprocess.run([sys.executable, "-m", "leadflow.cli", "flows", "validate", *files],
                          env=env, capture_output=True, text=True, check=False, timeout=120)


def test_shipped_flows_validate_on_a_fresh_install(tmp_path: Path) -> None:
    from leadflow.db import create_schema, reset_engine

    home = tmp_path / "fresh"
    home.mkdir()
    assert _validate(home).returncode == 0, "no database at all"
    url = f"sqlite:///{home / 'leadflow.db'}"
    create_schema(url)  # as `leadflow dev --empty` leaves it: tables, no teams
    result = _validate(home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "team names are not checked" in result.stderr

    with session_scope(url) as session:  # teams exist, but not the one the flow names
        session.add(Team(id="field-sales", name="Field sales"))
    result = _validate(home)
    assert result.returncode == 1 and "inside-sales" in result.stdout
    reset_engine()


def test_example_team_is_valid_for_the_shipped_flows() -> None:
    assert EXAMPLE_TEAM["id"] == "inside-sales"
