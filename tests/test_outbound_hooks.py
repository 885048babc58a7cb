"""Webhook and Slack URLs never reach internal addresses: refused when saved and when sent."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpcore
import httpx
import pytest
import pytest_asyncio

from leadflow.channels import post_slack, post_webhook
from leadflow.config import reset_settings
from leadflow.outbound import UnsafeURL, url_problem
from tests.fakes.api_client import admin, app_only_client

asyncio = pytest.mark.asyncio(loop_scope="session")
ADMIN = admin()
INTERNAL = ["http://127.0.0.1:9/hook", "https://127.0.0.1/hook", "https://localhost/hook",
            "https://169.254.169.254/latest/meta-data/", "https://10.1.2.3/hook",
            "https://192.168.0.10/", "https://172.16.5.4/", "https://[::1]/hook",
            "https://[::ffff:127.0.0.1]/", "https://[fe80::1]/", "https://0.0.0.0/",
            "https://224.0.0.1/", "https://100.64.0.1/", "https://metadata.internal/",
            "ftp://hooks.example.com/", "javascript:alert(1)", "http://hooks.example.com/x"]


def flow(url: str, channel: str = "webhook") -> dict[str, Any]:
    return {"id": "tell-ops", "name": "Tell ops", "entry": {"event": "lead.created"},
            "start": "tell", "steps": {
                "tell": {"type": "notify", "channel": channel, "to": url,
                         "message": "New lead {{ lead.first_name or 'someone' }}", "next": "end"},
                "end": {"type": "exit"}}}


@pytest.fixture
def receiver() -> Iterator[tuple[int, list[bytes]]]:
    """A local HTTP server playing an internal service; records what reaches it."""
    got: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port, got
    server.shutdown()
    server.server_close()


@pytest_asyncio.fixture(loop_scope="session")
async def http(db_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    async with app_only_client(monkeypatch) as client:
        yield client


@asyncio
async def test_a_marketer_cannot_save_a_flow_that_posts_inside(http: httpx.AsyncClient) -> None:
    r = await http.post("/api/keys", headers=ADMIN, json={"role": "marketer"})
    marketer = {"Authorization": f"Bearer {r.json()['key']}"}
    for url in INTERNAL:
        for channel in ("webhook", "slack"):
            r = await http.post("/api/flows/validate", headers=marketer, json=flow(url, channel))
            assert r.status_code == 200 and r.json()["valid"] is False, url
            assert [p["path"] for p in r.json()["problems"]] == ["steps.tell.to"], url
        r = await http.post("/api/flows", headers=marketer, json=flow(url))
        assert r.status_code == 422, url
    r = await http.post("/api/flows/validate", headers=marketer,
                        json=flow("https://hooks.example.com/services/T/B/X"))
    assert r.json()["valid"] is True, r.json()
    r = await http.post("/api/reps", headers=ADMIN, json={
        "id": "ann", "email": "ann@sales.example", "name": "Ann",
        "slack_webhook": "https://169.254.169.254/latest/meta-data/"})
    assert r.status_code == 422 and r.json()["problems"][0]["path"] == "slack_webhook"


@pytest.mark.parametrize("url", ["https://127.0.0.1:{port}/hook", "http://127.0.0.1:{port}/hook",
                                 "https://[::ffff:127.0.0.1]:{port}/",
                                 "https://169.254.169.254/latest/meta-data/",
                                 "https://10.0.0.1/", "https://[::1]:{port}/"])
def test_sending_refuses_internal_addresses(url: str,
                                            receiver: tuple[int, list[bytes]]) -> None:
    port, got = receiver
    target = url.format(port=port)
    with pytest.raises(UnsafeURL):
        post_webhook(target, {"type": "leadflow.notify"}, event_id="n1")
    with pytest.raises(UnsafeURL):
        post_slack(target, "hello")
    assert got == []


def test_a_name_that_resolves_inside_is_refused_and_connects_to_the_checked_address(
        receiver: tuple[int, list[bytes]], monkeypatch: pytest.MonkeyPatch) -> None:
    port, got = receiver
    lookups: list[str] = []

    def resolve(host: str, *args: Any, **kwargs: Any) -> list[Any]:
        lookups.append(host)
        # First answer public, any later one internal: a DNS-rebinding server.
        ip = "93.184.216.34" if len(lookups) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    connected: list[str] = []

    def connect(self: Any, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        connected.append(host)
        raise httpcore.ConnectError("no network in tests")

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", connect)
    with pytest.raises(Exception, match="could not reach"):
        post_webhook("https://rebind.example.com/hook", {"x": 1}, event_id="n2")
    assert lookups == ["rebind.example.com"] and connected == ["93.184.216.34"]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))])
    with pytest.raises(UnsafeURL):
        post_webhook("https://mixed.example.com/hook", {"x": 1}, event_id="n3")
    assert got == []


def test_allowed_hook_hosts_may_use_http_and_local_addresses(
        receiver: tuple[int, list[bytes]], monkeypatch: pytest.MonkeyPatch) -> None:
    port, got = receiver
    monkeypatch.setenv("LEADFLOW_ALLOWED_HOOK_HOSTS", "127.0.0.1, crm.intranet")
    reset_settings()
    assert url_problem(f"http://127.0.0.1:{port}/hook") is None
    assert url_problem("http://crm.intranet/hook") is None
    assert url_problem("http://10.0.0.1/hook") is not None
    post_webhook(f"http://127.0.0.1:{port}/hook", {"type": "leadflow.notify"}, event_id="n4")
    assert [json.loads(b) for b in got] == [{"type": "leadflow.notify"}]


@asyncio
async def test_a_flow_saved_before_the_check_still_cannot_post_inside(
        time_env: Any, db_url: str, task_queue: str,
        receiver: tuple[int, list[bytes]]) -> None:
    from sqlmodel import select

    from leadflow.db import session_scope
    from leadflow.models import Flow, FlowVersion, Journey, TimelineEntry
    from tests.helpers import enrol_lead, eventually, make_lead, running_worker

    port, got = receiver
    doc = flow(f"https://127.0.0.1:{port}/hook")
    with session_scope(db_url) as session:  # as an old version would be: never validated
        session.add(Flow(id=doc["id"], name=doc["name"], draft=doc))
        session.add(FlowVersion(flow_id=doc["id"], version=1, document=doc))
    lead_id = make_lead(db_url, "ops-target@example.com")

    def finished() -> Journey | None:
        with session_scope(db_url) as session:
            j = session.exec(select(Journey).where(Journey.lead_id == lead_id)).first()
            return j if j is not None and j.status != "running" else None

    async with running_worker(time_env.client, db_url, task_queue):
        await enrol_lead(time_env.client, db_url, doc["id"], lead_id)
        journey = await eventually(finished, what="the journey to go on past the notify step")
    assert journey.status == "completed" and got == []
    with session_scope(db_url) as session:
        [failed] = session.exec(select(TimelineEntry).where(
            TimelineEntry.lead_id == lead_id, TimelineEntry.type == "notify.failed")).all()
    assert failed.data["reason"] == "refused"
