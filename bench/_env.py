"""What the Temporal benchmarks share: a dev server, a fresh database, settings pointing at both."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment

ADMIN_KEY = "lf_admin_bench_key_0123456789abcdef0123"


@dataclass
class BenchEnv:
    """A running Temporal dev server and a fresh SQLite database, set in the environment."""

    env: WorkflowEnvironment
    db_url: str
    task_queue: str
    home: Path

    @property
    def client(self) -> Any:
        return self.env.client

    @property
    def temporal_address(self) -> str:
        return str(self.env.client.service_client.config.target_host)


@asynccontextmanager
async def bench_env() -> AsyncIterator[BenchEnv]:
    """Start a Temporal dev server (in memory) and a fresh database; restore the env after."""
    from leadflow.config import reset_settings
    from leadflow.db import create_schema

    home = Path(tempfile.mkdtemp(prefix="leadflow-bench-"))
    db_url = f"sqlite:///{home / 'bench.db'}"
    task_queue = f"bench-{uuid.uuid4().hex[:8]}"
    saved = dict(os.environ)
    os.environ.update({"LEADFLOW_DATABASE_URL": db_url, "LEADFLOW_TASK_QUEUE": task_queue,
                       "LEADFLOW_HOME": str(home), "LEADFLOW_EMAIL_BACKEND": "outbox",
                       "LEADFLOW_ADMIN_KEY": ADMIN_KEY, "LEADFLOW_FREQUENCY_CAP": "1000",
                       "LEADFLOW_SECRET_KEY": "bench-secret-key-" + uuid.uuid4().hex})
    reset_settings()
    create_schema(db_url)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=shutil.which("temporal"),
        dev_server_extra_args=["--log-level", "error",
                               "--dynamic-config-value", "frontend.namespaceCount=100000"])
    try:
        yield BenchEnv(env, db_url, task_queue, home)
    finally:
        await env.shutdown()
        os.environ.clear()
        os.environ.update(saved)
        reset_settings()
        shutil.rmtree(home, ignore_errors=True)


def publish(db_url: str, doc: dict[str, Any]) -> None:
    """Save and publish a flow document."""
    from leadflow.db import session_scope
    from leadflow.journeys.flows import publish as publish_version
    from leadflow.journeys.flows import save_draft

    with session_scope(db_url) as session:
        save_draft(session, doc, create=True)
        publish_version(session, doc["id"])
