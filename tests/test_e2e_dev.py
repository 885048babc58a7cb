"""End to end on `leadflow dev`: the embedded stack over HTTP, stopped and started again."""

from __future__ import annotations

import os
import re
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
    """``leadflow dev`` in a subprocess, on free ports, with its own LEADFLOW_HOME.

    ``examples``: let it load the shipped examples on a fresh home (by default it starts with
    ``--empty``, so a test sees only what it creates).
    """

    def __init__(self, home: Path, *, examples: bool = False,
                 env: dict[str, str] | None = None) -> None:
        self.home = home
        self.extra_env = env or {}
        self.port = free_port()
        self.temporal_port = free_port()
        self.examples = examples
        self.proc: subprocess.Popen[str] | None = None
        self.base = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        # the port through LEADFLOW_PORT, as `.ci/run` gives it to the README's run line
        env = {**os.environ, "LEADFLOW_HOME": str(self.home), "LEADFLOW_ADMIN_KEY": KEY,
               "LEADFLOW_PORT": str(self.port)}
        for var in ("LEADFLOW_DATABASE_URL", "LEADFLOW_TEMPORAL_ADDRESS", "LEADFLOW_TASK_QUEUE",
                    "LEADFLOW_PUBLIC_URL"):
            env.pop(var, None)
        env.update(self.extra_env)
        args = [sys.executable, "-m", "leadflow.cli", "dev", "--skip-ui",
                "--temporal-port", str(self.temporal_port)]
        with open(self.home / "dev.out", "a") as out:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(args + ([] if self.examples else ["--empty"]),
                                         env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
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
    lead = stack.call("POST", "/api/leads", json={"email": "eve@example.com", "first_name": "Eve",
                                                             "consent": {"status": "granted", "source": "test"}}).json()
    [first] = wait_until(lambda: [m for m in stack.call("GET", "/api/outbox").json()
                                  if m["step"] == "first"])
    # LEADFLOW_PUBLIC_URL defaults to where `leadflow dev` listens (a free port here, not 8000)
    links = re.findall(r'(?:href|src)="(http[^"]+)"', first["html"])
    assert any("/u/" in link for link in links) and any("/t/o/" in link for link in links)
    assert all(link.startswith(stack.base + "/") for link in links if "127.0.0.1" in link), links
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


def temporal_servers(home: Path) -> list[int]:
    """Pids of the Temporal dev servers keeping their state in ``home``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0") if entry.name.isdigit() else []
        except OSError:
            continue
        if b"start-dev" in args and str(home / "temporal.db").encode() in args:
            found.append(int(entry.name))
    return found


def test_a_killed_dev_leaves_no_orphan_temporal_server_on_the_next_start(tmp_path: Path) -> None:
    # PATH without this venv: the Temporal CLI is found next to the interpreter
    stack = Stack(tmp_path, examples=True, env={"PATH": "/usr/bin:/bin"})
    shipped = sorted(p.stem for p in (Path(__file__).parent.parent / "flows").glob("*.json"))
    try:
        stack.start()
        assert sorted(f["id"] for f in stack.call("GET", "/api/flows").json()) == shipped
        first = temporal_servers(tmp_path)
        assert len(first) == 1
        assert stack.proc is not None
        stack.proc.kill()  # SIGKILL: no chance to stop the server
        stack.proc.wait(timeout=10)
        assert temporal_servers(tmp_path) == first, "the server outlives a SIGKILLed parent"

        stack.start()
        servers = temporal_servers(tmp_path)
        assert len(servers) == 1 and servers != first, "replaced, not a second one beside it"
        out = (tmp_path / "dev.out").read_text()
        assert f"pid {first[0]}" in out and "replacing it" in out
        assert stack.call("GET", "/api/health").json()["status"] == "ok"
        flows = stack.call("GET", "/api/flows").json()
        assert sorted(f["id"] for f in flows) == shipped and {f["latest_version"] for f in flows} == {1}
        stack.stop()
        assert wait_until(lambda: not temporal_servers(tmp_path), timeout=20)
        assert not (tmp_path / "temporal.pid").exists()
    finally:
        if stack.proc is not None and stack.proc.poll() is None:
            stack.proc.kill()
        for pid in temporal_servers(tmp_path):
            os.kill(pid, signal.SIGKILL)
