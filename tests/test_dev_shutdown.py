"""Ctrl-C of ``leadflow dev`` while its Temporal server is gone returns (it used to hang for
minutes), and what was accepted meanwhile stays in the outbox for the next start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlmodel import Session, col, create_engine, select

from leadflow.models import TemporalIntent
from tests.native_stack import NativeStack, free_port

# Far above the bounded shutdown (a few seconds): only a hang exceeds it.
HANG = 60


def test_ctrl_c_returns_while_temporal_is_down(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'dev.db'}"
    temporal = NativeStack(home=tmp_path / "temporal", database_url=db_url)
    (tmp_path / "temporal").mkdir()
    temporal.start_temporal()
    port = free_port()
    env = {**os.environ, "LEADFLOW_HOME": str(tmp_path / "home"), "LEADFLOW_ENV": "development",
           "LEADFLOW_DATABASE_URL": db_url, "LEADFLOW_TEMPORAL_ADDRESS": temporal.temporal_address,
           "LEADFLOW_ADMIN_KEY": "lf_admin_dev_shutdown_test_0123456789"}
    env.pop("LEADFLOW_SECRET_KEY", None)
    log = open(tmp_path / "dev.out", "w")  # noqa: SIM115 - the process writes to it
    proc = subprocess.Popen([sys.executable, "-m", "leadflow.cli", "dev", "--skip-ui",
                             "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {env['LEADFLOW_ADMIN_KEY']}"}
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (tmp_path / "dev.out").read_text()
            try:
                if httpx.get(f"{base}/api/health", timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "dev.out").read_text()
            time.sleep(0.5)
        flow = {"id": "hello", "name": "Hello", "entry": {"event": "lead.created"},
                "start": "end", "steps": {"end": {"type": "exit"}}}
        assert httpx.post(f"{base}/api/flows", headers=headers, json=flow,
                          timeout=30).status_code == 201
        assert httpx.post(f"{base}/api/flows/hello/publish", headers=headers,
                          timeout=30).status_code == 201
        temporal.kill("temporal")
        # accepted while Temporal is gone: its journey's start is kept in the outbox
        lead = httpx.post(f"{base}/api/leads", headers=headers, timeout=30,
                          json={"email": "shutdown@example.com"})
        assert lead.status_code == 201, lead.text
        time.sleep(1)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=HANG)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        temporal.stop_all()
    engine = create_engine(db_url)
    with Session(engine) as session:
        waiting = session.exec(select(TemporalIntent).where(
            col(TemporalIntent.delivered_at).is_(None))).all()
    engine.dispose()
    assert waiting, "the event's effects wait in the outbox for the next start"
