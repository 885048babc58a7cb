"""The production topology as separate OS processes, for tests that kill and restart its parts.

A Temporal dev server on its own SQLite file, ``leadflow api`` and any number of ``leadflow
worker`` processes, all configured through the environment as a production deployment would be
(``LEADFLOW_ENV=production``). Each process writes to its own log file under ``home``; a
restarted process appends to the same file, so a test can read what every incarnation did.

Used by tests/test_production_native.py and tests/test_durability.py.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from leadflow.cli import SEARCH_ATTRIBUTES
from leadflow.config import PROJECT_ROOT

__all__ = ["NativeStack", "bring_schema_to_models", "free_port"]

# Test-only secrets: never valid anywhere else.
ADMIN_KEY = "lf_admin_native_stack_test_key_0123456789abcdef"
SECRET_KEY = "native-stack-test-secret-key-0123456789abcdef0123456789"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def bring_schema_to_models(url: str) -> list[str]:
    """Apply what the shipped migrations miss of ``leadflow/models.py``; return what was done.

    While several engineers add tables, the initial migration is regenerated only now and then;
    until it is, a freshly upgraded database lacks the newest columns. Applying the difference
    here keeps the multi-process tests about processes, not about that lag. Once the migration
    is current this does nothing.
    """
    from alembic.autogenerate import produce_migrations
    from alembic.operations import Operations
    from alembic.operations.ops import ModifyTableOps
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine, pool
    from sqlmodel import SQLModel

    from leadflow import models  # noqa: F401  (registers every table)

    engine = create_engine(url, poolclass=pool.NullPool)
    done: list[str] = []
    try:
        with engine.begin() as conn:
            context = MigrationContext.configure(conn)
            operations = Operations(context)
            script = produce_migrations(context, SQLModel.metadata)
            for op in script.upgrade_ops.ops if script.upgrade_ops else []:
                for single in op.ops if isinstance(op, ModifyTableOps) else [op]:
                    operations.invoke(single)
                    done.append(type(single).__name__)
    finally:
        engine.dispose()
    return done


@dataclass
class _Proc:
    args: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None
    starts: int = 0


@dataclass
class NativeStack:
    """Temporal dev server, API and workers as child processes sharing one configuration.

    Args:
        home: a scratch directory (logs, Temporal's SQLite file).
        database_url: the application database, already migrated.
        env: extra environment for every Leadflow process (e-mail backend, settings).
    """

    home: Path
    database_url: str
    env: Mapping[str, str] = field(default_factory=dict)
    task_queue: str = field(default_factory=lambda: f"native-{os.getpid()}-{time.time_ns()}")
    temporal_port: int = field(default_factory=free_port)
    temporal_http_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    admin_key: str = ADMIN_KEY
    procs: dict[str, _Proc] = field(default_factory=dict)

    # ------------------------------------------------------------------ configuration

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.temporal_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def leadflow_env(self) -> dict[str, str]:
        """The environment every Leadflow process gets: a production configuration."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LEADFLOW_", "SENDGRID_"))}
        env.update({
            "LEADFLOW_ENV": "production",
            "LEADFLOW_HOME": str(self.home),
            "LEADFLOW_SECRET_KEY": SECRET_KEY,
            "LEADFLOW_ADMIN_KEY": self.admin_key,
            "LEADFLOW_DATABASE_URL": self.database_url,
            "LEADFLOW_TEMPORAL_ADDRESS": self.temporal_address,
            "LEADFLOW_TASK_QUEUE": self.task_queue,
            "PYTHONUNBUFFERED": "1",
        })
        env.update(self.env)
        return env

    # ------------------------------------------------------------------ processes

    def _spawn(self, name: str, args: list[str], env: Mapping[str, str] | None) -> _Proc:
        proc = self.procs.get(name) or _Proc(args=args, log_path=self.home / f"{name}.log")
        if proc.popen is not None and proc.popen.poll() is None:
            raise RuntimeError(f"{name} is already running")
        proc.log = proc.log or open(proc.log_path, "ab")  # noqa: SIM115 - closed in stop_all
        proc.log.write(f"\n=== start {proc.starts + 1} of {name} ===\n".encode())
        proc.log.flush()
        proc.popen = subprocess.Popen(
            proc.args, stdout=proc.log, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT,
            env=dict(env) if env is not None else self.leadflow_env(), start_new_session=True)
        proc.starts += 1
        self.procs[name] = proc
        return proc

    def start_temporal(self, timeout: float = 60.0) -> None:
        """Start (or restart, on the same SQLite file and ports) the Temporal dev server."""
        args = ["temporal", "server", "start-dev", "--ip", "127.0.0.1", "--headless",
                "--port", str(self.temporal_port), "--http-port", str(self.temporal_http_port),
                "--db-filename", str(self.home / "temporal.db"), "--log-level", "error"]
        for name in SEARCH_ATTRIBUTES:
            args += ["--search-attribute", f"{name}=Keyword"]
        self._spawn("temporal", args, os.environ)
        self._wait(lambda: _port_open(self.temporal_port), timeout, "temporal")

    def start_api(self, timeout: float = 60.0) -> None:
        """Start (or restart) ``leadflow api`` and wait until /api/health answers."""
        self._spawn("api", [sys.executable, "-m", "leadflow.cli", "api", "--host", "127.0.0.1",
                            "--port", str(self.api_port)], None)

        def healthy() -> bool:
            try:
                return httpx.get(f"{self.api_url}/api/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        self._wait(healthy, timeout, "api")

    def start_worker(self, name: str = "worker-1", metrics_port: int | None = None,
                     timeout: float = 60.0) -> None:
        """Start (or restart) a ``leadflow worker`` and wait until it polls the task queue."""
        args = [sys.executable, "-m", "leadflow.cli", "worker", "--connect-timeout", "60"]
        if metrics_port:
            args += ["--metrics-bind", f"127.0.0.1:{metrics_port}"]
        proc = self.procs.get(name)
        polling_before = self.log(name).count("worker polling task queue") if proc else 0
        self._spawn(name, args, None)
        self._wait(lambda: self.log(name).count("worker polling task queue") > polling_before,
                   timeout, name)

    def _wait(self, ready: Any, timeout: float, name: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            popen = self.procs[name].popen
            if popen is not None and popen.poll() is not None:
                raise RuntimeError(f"{name} exited with {popen.returncode}:\n{self.log(name)[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} not ready in {timeout} s:\n{self.log(name)[-3000:]}")
            time.sleep(0.1)

    def kill(self, name: str) -> None:
        """SIGKILL the process ``name`` (and its children): a crash, no clean shutdown."""
        popen = self.procs[name].popen
        if popen is None or popen.poll() is not None:
            return
        os.killpg(popen.pid, signal.SIGKILL)
        popen.wait(timeout=10)

    def pid(self, name: str) -> int:
        popen = self.procs[name].popen
        assert popen is not None
        return popen.pid

    def running(self, name: str) -> bool:
        popen = self.procs.get(name) and self.procs[name].popen
        return bool(popen) and popen.poll() is None  # type: ignore[union-attr]

    def log(self, name: str) -> str:
        """Everything process ``name`` wrote, over all its starts."""
        path = self.home / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop_all(self) -> None:
        """Stop Leadflow processes with SIGTERM, then Temporal; SIGKILL what lingers."""
        order = [n for n in self.procs if n != "temporal"] + (["temporal"] if "temporal" in self.procs else [])
        for name in order:
            popen = self.procs[name].popen
            if popen is not None and popen.poll() is None:
                os.killpg(popen.pid, signal.SIGTERM)
                try:
                    popen.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(popen.pid, signal.SIGKILL)
                    popen.wait(timeout=10)
            log = self.procs[name].log
            if log is not None:
                log.close()
                self.procs[name].log = None

    # ------------------------------------------------------------------ HTTP

    def client(self, timeout: float = 30.0) -> httpx.Client:
        """An HTTP client for the API, authenticated as admin."""
        return httpx.Client(base_url=self.api_url, timeout=timeout,
                            headers={"Authorization": f"Bearer {self.admin_key}"})
