"""End to end on the Temporal dev server: a lead turns hot through the API and its rep hears."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import pytest
from leadflow.api.main import create_app
from temporalio.testing import WorkflowEnvironment

from leadflow.auth import create_key
from leadflow.config import reset_settings
from leadflow.db import session_scope
from tests.handoff_support import mails_to, rep, seed_team, the_handoff
from tests.helpers import eventually, publish_flow, running_worker

pytestmark = pytest.mark.asyncio(loop_scope="session")

HOT_FLOW: dict[str, Any] = {
    "id": "hot-to-sales",
    "name": "Hot leads to sales",
    "entry": {"event": "demo.requested"},
    "start": "check",
    "steps": {
        "check": {"type": "branch", "on": "temperature", "hot": "to-sales", "warm": "end",
                  "cold": "end"},
        "to-sales": {"type": "handoff", "team": "inside", "sla": "PT4H", "next": "end"},
        "end": {"type": "exit"},
    },
}


@pytest.fixture
def slack() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A local HTTP server standing in for a Slack incoming webhook."""
    received: list[dict[str, Any]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/services/T/B/X", received
    server.shutdown()
    server.server_close()


async def test_a_lead_that_turns_hot_reaches_its_rep(
        dev_env: WorkflowEnvironment, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch, slack: tuple[str, list[dict[str, Any]]]) -> None:
    slack_url, slack_posts = slack
    monkeypatch.setenv("LEADFLOW_ADMIN_KEY", "admin-key-for-tests-0123456789")
    monkeypatch.setenv("LEADFLOW_ALLOWED_HOOK_HOSTS", "127.0.0.1")  # the local stand-in
    reset_settings()
    seed_team(db_url, [rep("ann", slack_webhook=slack_url)], calendar={})
    publish_flow(db_url, HOT_FLOW)
    with session_scope(db_url) as session:
        key = {"Authorization": f"Bearer {create_key(session, role='marketer')}"}
    app = create_app(temporal_client=dev_env.client)
    async with running_worker(dev_env.client, db_url, task_queue), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test") as api:
        created = await api.post("/api/leads", headers=key, json={
            "email": "grace@acme.example", "first_name": "Grace", "company": "Acme",
            "title": "VP Engineering", "consent": {"status": "granted", "source": "test"}})
        assert created.status_code == 201, created.text
        for event in ({"type": "webinar.attended"},
                      {"type": "page.viewed", "properties": {"path": "/pricing"}},
                      {"type": "demo.requested"}):
            posted = await api.post("/api/events", headers=key,
                                    json={"email": "grace@acme.example", **event})
            assert posted.status_code in (200, 201, 202), posted.text

        mail = (await eventually(lambda: mails_to(db_url, "ann@sales.example.com"),
                                 what="the rep's e-mail"))[0]
        await eventually(lambda: slack_posts, what="the Slack post")
    assert "Grace" in (mail.subject or "") and "hot" in (mail.text or "")
    assert "Grace" in slack_posts[0]["text"]
    handoff = the_handoff(db_url)
    assert handoff is not None and handoff.rep_id == "ann" and handoff.sla_due_at is not None
