"""End to end on `leadflow dev`: the embedded stack over HTTP, stopped and started again."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e
KEY = "e2e-admin-key"
FLOW = {
    "id": "two-mails",
    "name": "Two mails, a pause between",
    "entry": {"event": "lead.created"},
    "start": "first",
    "steps": {
        "first": {"type": "email", "template": "trial-welcome", "next": "pause"},
        "pause": {"type": "wait", "duration": "PT8S", "next": "second"},
        "second": {"type": "email", "template": "trial-tips", "next": "end"},
        "end": {"type": "exit"},
    },
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Stack:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.temporal_port = free_port()
        self.proc: subprocess.Popen[str] | None = None
        self.base = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "LEADFLOW_HOME": str(self.home), "LEADFLOW_ADMIN_KEY": KEY}
        for var in ("LEADFLOW_DATABASE_URL", "LEADFLOW_TEMPORAL_ADDRESS", "LEADFLOW_TASK_QUEUE"):
            env.pop(var, None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "leadflow.cli", "dev", "--skip-ui", "--port", str(self.port),
             "--temporal-port", str(self.temporal_port)],
            env=env, stdout=open(self.home / "dev.out", "a"), stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/api/health", timeout=2).json()["status"] == "ok":
                    return
            except (httpx.HTTPError, ValueError):
                pass
            assert self.proc.poll() is None, (self.home / "dev.out").read_text()
            time.sleep(0.3)
        raise AssertionError("leadflow dev did not become healthy:\n" + (self.home / "dev.out").read_text())

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        assert self.proc.returncode == 0, (self.home / "dev.out").read_text()

    def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return httpx.request(method, self.base + path, headers={"Authorization": f"Bearer {KEY}"},
                             timeout=30, **kw)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path)
    s.start()
    yield s
    if s.proc and s.proc.poll() is None:
        s.proc.kill()


def wait_until(check: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError("condition not met in time")


def test_journeys_survive_a_restart_of_the_whole_stack(stack: Stack) -> None:
    out = (stack.home / "dev.out").read_text()
    assert KEY in out and "/docs" in out and "Temporal Web UI" in out
    assert stack.call("POST", "/api/flows", json=FLOW).status_code == 201
    assert stack.call("POST", "/api/flows/two-mails/publish").status_code == 201
    lead = stack.call("POST", "/api/leads", json={"email": "eve@example.com", "first_name": "Eve"}).json()
    wait_until(lambda: [m for m in stack.call("GET", "/api/outbox").json() if m["step"] == "first"])
    wait_until(lambda: stack.call("GET", f"/api/leads/{lead['id']}").json()["flows"][0]["step"] == "pause")

    stack.stop()  # the lead is waiting in a durable timer while nothing runs
    time.sleep(2)
    stack.start()

    def second_sent() -> list[dict[str, Any]]:
        return [m for m in stack.call("GET", "/api/outbox").json() if m["step"] == "second"]

    wait_until(second_sent, timeout=60)
    def completed() -> dict[str, Any] | None:
        flow = stack.call("GET", f"/api/leads/{lead['id']}").json()["flows"][0]
        return flow if flow["status"] == "completed" else None

    journey = wait_until(completed)
    assert journey["step"] == "end"
    mails = stack.call("GET", f"/api/outbox?lead_id={lead['id']}").json()
    assert sorted(m["step"] for m in mails) == ["first", "second"], "each mail exactly once"
    assert (stack.home / "temporal.db").is_file() and (stack.home / "leadflow.db").is_file()
    stack.stop()
