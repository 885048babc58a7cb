"""What the Temporal benchmarks share: a dev server, a fresh database, settings pointing at both."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment

ADMIN_KEY = "lf_admin_bench_key_0123456789abcdef0123"
# ``bench/run --database URL``: a PostgreSQL server to run on instead of a SQLite file; each
# benchmark gets a fresh database on it, named after the URL's, dropped afterwards.
DATABASE_ENV = "LEADFLOW_BENCH_DATABASE"


def database_kind() -> str:
    """``sqlite`` or ``postgresql``: what the benchmarks of this run use."""
    return "postgresql" if os.environ.get(DATABASE_ENV) else "sqlite"


@contextmanager
def bench_database(home: Path | str) -> Iterator[str]:
    """A fresh database URL for one benchmark: a SQLite file in ``home``, or (``--database``)
    a new PostgreSQL database, dropped afterwards."""
    url = os.environ.get(DATABASE_ENV)
    if not url:
        yield f"sqlite:///{Path(home) / 'bench.db'}"
        return
    import sqlalchemy as sa

    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    base, name = url.rsplit("/", 1)
    name = f"{name or 'leadflow_bench'}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT",
                             poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{base}/{name}"
    finally:
        from leadflow.db import reset_engine

        reset_engine()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class BenchEnv:
    """A running Temporal dev server and a fresh database (SQLite, or PostgreSQL with
    ``bench/run --database``), set in the environment."""

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


def _server_file(home: Path) -> Path:
    """Where a file-backed dev server keeps its state: in RAM (/dev/shm) where there is one,
    so the server's fsyncs do not make the disk the bottleneck of a long run."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return Path(tempfile.mkdtemp(prefix="leadflow-bench-temporal-", dir=shm)) / "temporal.db"
    return home / "temporal.db"


@asynccontextmanager
async def bench_env(server_file: bool = False) -> AsyncIterator[BenchEnv]:
    """Start a Temporal dev server and a fresh database; restore the env after.

    The dev server keeps its state in memory, or with ``server_file`` in a SQLite file (as
    ``leadflow dev`` runs it; on /dev/shm where there is one): the in-memory server crashed at
    about 70,000 open workflows."""
    from leadflow.config import reset_settings
    from leadflow.db import create_schema

    home = Path(tempfile.mkdtemp(prefix="leadflow-bench-"))
    database = bench_database(home)
    db_url = database.__enter__()
    task_queue = f"bench-{uuid.uuid4().hex[:8]}"
    saved = dict(os.environ)
    os.environ.update({"LEADFLOW_DATABASE_URL": db_url, "LEADFLOW_TASK_QUEUE": task_queue,
                       "LEADFLOW_HOME": str(home), "LEADFLOW_EMAIL_BACKEND": "outbox",
                       "LEADFLOW_ADMIN_KEY": ADMIN_KEY, "LEADFLOW_FREQUENCY_CAP": "1000",
                       "LEADFLOW_SECRET_KEY": "bench-secret-key-" + uuid.uuid4().hex})
    reset_settings()
    create_schema(db_url)
    server_db = _server_file(home) if server_file else home / "temporal.db"
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=shutil.which("temporal"),
        dev_server_database_filename=str(server_db) if server_file else None,
        dev_server_extra_args=["--log-level", "error",
                               "--dynamic-config-value", "frontend.namespaceCount=100000"])
    try:
        yield BenchEnv(env, db_url, task_queue, home)
    finally:
        await env.shutdown()
        database.__exit__(None, None, None)
        os.environ.clear()
        os.environ.update(saved)
        reset_settings()
        shutil.rmtree(home, ignore_errors=True)
        if server_file:
            shutil.rmtree(server_db.parent, ignore_errors=True)


def publish(db_url: str, doc: dict[str, Any]) -> None:
    """Save and publish a flow document."""
    from leadflow.db import session_scope
    from leadflow.journeys.flows import publish as publish_version
    from leadflow.journeys.flows import save_draft

    with session_scope(db_url) as session:
        save_draft(session, doc, create=True)
        publish_version(session, doc["id"])
