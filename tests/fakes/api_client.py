"""The real app in-process (ASGI) with a worker on the Temporal test server, for route tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from leadflow.api.main import create_app
from temporalio.client import Client

from leadflow.config import reset_settings
from tests.helpers import running_worker

__all__ = ["ADMIN_KEY", "app_client", "app_only_client"]

ADMIN_KEY = "test-admin-key"


@asynccontextmanager
async def app_client(client: Client, db_url: str, task_queue: str, monkeypatch: pytest.MonkeyPatch,
                     **env: str) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on the app (admin key ``ADMIN_KEY``), with a worker running.

    ``env`` sets extra ``LEADFLOW_<NAME>`` variables before the app is built.
    """
    monkeypatch.setenv("LEADFLOW_ADMIN_KEY", ADMIN_KEY)
    for name, value in env.items():
        monkeypatch.setenv(f"LEADFLOW_{name.upper()}", value)
    reset_settings()
    app = create_app(temporal_client=client, create_tables=True)
    async with running_worker(client, db_url, task_queue):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


@asynccontextmanager
async def app_only_client(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on the app (admin key ``ADMIN_KEY``) without Temporal or a worker, for
    routes that never reach a workflow."""
    monkeypatch.setenv("LEADFLOW_ADMIN_KEY", ADMIN_KEY)
    reset_settings()
    transport = httpx.ASGITransport(app=create_app(create_tables=True))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


def admin(**headers: Any) -> dict[str, Any]:
    """Headers with the admin key."""
    return {"Authorization": f"Bearer {ADMIN_KEY}", **headers}
