"""Proof of durability: crashes everywhere, and still every mail exactly once, no event lost.

The production topology runs as processes (PostgreSQL, a Temporal dev server on its SQLite
file, ``leadflow api``, two ``leadflow worker``) against a local server playing SendGrid that
refuses 30% of sends (429 or 500) and sometimes takes a mail but drops the connection, so the
sender cannot know. Meanwhile:

(a) a worker is SIGKILLed and restarted while mails go out;
(b) the Temporal server is SIGKILLed and restarted on the same SQLite file;
(c) the API is SIGKILLed, twice, while events are being posted; the poster retries each event
    with the same id until it gets a 2xx, as an integration should.

At the end every lead has received each of the flow's three mails exactly once, counted by send
id at the fake provider, and every event the API acknowledged is stored and was dispatched:
every lead took the branch its event asked for.

Ambiguous sends (dropped connections, a worker killed mid-call) are reconciled by SendGrid's
``processed`` events, which the fake posts back, signed, to ``/api/webhooks/sendgrid``.

CI runs 60 leads (about two minutes); the full proof is 1,000::

    LEADFLOW_DURABILITY_LEADS=1000 python -m pytest tests/test_durability.py -q
"""

from __future__ import annotations

import itertools
import os
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from leadflow.db import create_schema
from leadflow.models import EmailMessage, Event, Journey
from tests.fakes.sendgrid_server import FakeSendGrid, Reply, running_fake_sendgrid
from tests.fakes.sendgrid_webhook import WebhookSigner
from tests.native_stack import NativeStack
from tests.pg import throwaway_postgres

pytestmark = pytest.mark.postgres

LEADS = int(os.environ.get("LEADFLOW_DURABILITY_LEADS", "60"))
FAILURE_RATE = 0.30  # half 429, half 500
DROP_RATE = 0.05  # accepted, then the connection is dropped: the outcome is unknown
FLOW: dict[str, Any] = {
    "id": "durable",
    "name": "Three mails, waits and a branch on an event",
    "entry": {"event": "lead.created"},
    "start": "welcome",
    "steps": {
        "welcome": {"type": "email", "template": "trial-welcome", "next": "pause"},
        "pause": {"type": "wait", "duration": "PT2S", "next": "case-study"},
        "case-study": {"type": "email", "template": "case-study", "next": "await-use"},
        # Generous timeout: the timeout path (tips) means an event was lost.
        "await-use": {"type": "wait_for", "event": "app.used", "timeout": "PT5M",
                      "next": "pause-2", "on_timeout": "tips"},
        "pause-2": {"type": "wait", "duration": "PT3S", "next": "invite"},
        "invite": {"type": "email", "template": "demo-invite", "next": "end"},
        "tips": {"type": "email", "template": "trial-tips", "next": "end"},
        "end": {"type": "exit"},
    },
}
EXPECTED = ["case-study", "demo-invite", "trial-welcome"]


class ChaosProvider:
    """Scripts the fake's answers at random and posts ``processed`` events back, signed."""

    def __init__(self, fake: FakeSendGrid, signer: WebhookSigner, seed: int = 7) -> None:
        self.fake, self.signer = fake, signer
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.webhook_url: str | None = None
        self.stop = threading.Event()
        self.posted = 0
        fake.next_reply = self.next_reply  # type: ignore[method-assign]

    def next_reply(self) -> Reply:
        with self.lock:
            roll = self.random.random()
        if roll < FAILURE_RATE / 2:
            return Reply.rate_limited(reset_in=1)
        if roll < FAILURE_RATE:
            return Reply.server_error(500)
        if roll < FAILURE_RATE + DROP_RATE:
            return Reply(crash=True)
        return Reply.accepted()

    def post_back(self) -> None:
        """Thread body: every accepted mail becomes a ``processed`` event at the webhook."""
        done = 0
        ids = itertools.count(1)
        while not self.stop.is_set():
            accepted = [r for r in list(self.fake.requests)[done:]]
            done += len(accepted)
            events = []
            for request in accepted:
                if not request.accepted:
                    continue
                args: dict[str, Any] = dict(request.body.get("custom_args") or {})
                for p in request.body.get("personalizations") or []:
                    args.update(p.get("custom_args") or {})
                to = (request.body.get("personalizations") or [{}])[0].get("to", [{}])[0]
                events.append({"email": to.get("email"), "timestamp": int(time.time()),
                               "event": "processed", "sg_event_id": f"chaos-{next(ids)}-{uuid.uuid4().hex}",
                               "sg_message_id": f"chaos-msg-{uuid.uuid4().hex}", **args})
            while events and not self.stop.is_set():
                body, headers = self.signer.signed_batch(events)
                try:
                    if httpx.post(self.webhook_url or "", content=body, headers=headers,
                                  timeout=10).status_code < 300:
                        self.posted += len(events)
                        break
                except httpx.HTTPError:
                    pass  # the API is down: SendGrid retries too
                time.sleep(0.5)
            time.sleep(0.3)


@pytest.fixture
def pg_database() -> Iterator[str]:
    with throwaway_postgres("leadflow_durable") as url:
        create_schema(url)
        yield url


def _post_until_2xx(stack: NativeStack, path: str, body: Any, give_up: float = 120) -> httpx.Response:
    """POST like a well-behaved integration: same body (and event id), retried until 2xx."""
    deadline = time.monotonic() + give_up
    while True:
        try:
            response = httpx.post(f"{stack.api_url}{path}", json=body, timeout=15,
                                  headers={"Authorization": f"Bearer {stack.admin_key}"})
            if response.status_code < 300:
                return response
            assert response.status_code >= 500, response.text  # 4xx would be our bug
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{path} never answered 2xx"
        time.sleep(0.2)


def _wait(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def _stuck(engine: sa.Engine, lead_ids: set[str]) -> str:
    """Where the leads that did not get on are, and their mails, for the failure message."""
    lines = [f"{len(lead_ids)} lead(s) stuck:"]
    with Session(engine) as session:
        for lead_id in sorted(lead_ids):
            for j in session.exec(select(Journey).where(Journey.lead_id == lead_id)).all():
                lines.append(f"  {lead_id}: journey {j.id} {j.status} at {j.current_step}")
            for m in session.exec(select(EmailMessage).where(EmailMessage.lead_id == lead_id)):
                lines.append(f"    mail {m.send_id} {m.template} {m.status} x{m.attempts} {m.reason}")
    return "\n".join(lines)


def test_crashes_lose_and_duplicate_nothing(pg_database: str, tmp_path: Path) -> None:
    engine = sa.create_engine(pg_database, poolclass=sa.pool.NullPool)

    def count(stmt: Any) -> int:
        with Session(engine) as session:
            return len(session.exec(stmt).all())

    signer = WebhookSigner.generate()
    fakes = running_fake_sendgrid()
    fake = next(fakes)
    chaos = ChaosProvider(fake, signer)
    stack = NativeStack(home=tmp_path, database_url=pg_database, env={
        "LEADFLOW_EMAIL_BACKEND": "sendgrid",
        "LEADFLOW_SENDGRID_HOST": fake.host,
        "SENDGRID_API_KEY": "SG.test-durability-not-a-real-key",
        "LEADFLOW_SENDGRID_WEBHOOK_PUBLIC_KEY": signer.public_key,
        # Wait this long for a provider event before re-sending a mail whose fate is unknown.
        "LEADFLOW_EMAIL_RECONCILE_WINDOW_SECONDS": "60",
        "LEADFLOW_FREQUENCY_CAP": "100",
    })
    chaos.webhook_url = f"{stack.api_url}/api/webhooks/sendgrid"
    poster = threading.Thread(target=chaos.post_back, daemon=True)
    poster.start()
    try:
        stack.start_temporal()
        stack.start_worker("worker-1")
        stack.start_worker("worker-2")
        stack.start_api()
        with stack.client() as http:
            assert http.post("/api/flows", json=FLOW).status_code == 201
            assert http.post(f"/api/flows/{FLOW['id']}/publish").status_code == 201

        lead_ids = [
            _post_until_2xx(stack, "/api/leads", {"email": f"durable{i}@example.com",
                                               "consent": {"status": "granted", "source": "test"}}).json()["id"]
            for i in range(LEADS)
        ]

        # (a) a worker dies while the first mails go out.
        _wait(lambda: fake.requests, 30, "the first send")
        stack.kill("worker-1")
        time.sleep(1)
        stack.start_worker("worker-1")

        # (b) the Temporal server dies; it comes back on its SQLite file.
        _wait(lambda: count(select(EmailMessage.id)) >= LEADS // 2, 120, "half the welcome mails")
        stack.kill("temporal")
        time.sleep(2)
        stack.start_temporal()

        # (c) events for leads waiting at await-use, posted while the API is killed twice.
        accepted_events: set[str] = set()
        posted: set[str] = set()
        kills = 0

        def waiting() -> list[str]:
            with Session(engine) as session:
                return list(session.exec(select(Journey.lead_id).where(
                    Journey.current_step == "await-use", Journey.status == "running")).all())

        # A send lost with a killed worker is retried after its activity timeout (2 minutes).
        deadline = time.monotonic() + 420
        while len(posted) < LEADS:
            assert time.monotonic() < deadline, _stuck(engine, set(lead_ids) - posted)
            for lead_id in waiting():
                if lead_id in posted:
                    continue
                event_id = f"use-{lead_id}"
                response = _post_until_2xx(stack, "/api/events", {
                    "id": event_id, "lead_id": lead_id, "type": "app.used"})
                assert response.json()["id"] == event_id
                accepted_events.add(event_id)
                posted.add(lead_id)
                if kills < 2 and len(posted) in (LEADS // 4, LEADS // 2):
                    # The next POST finds the API gone and retries until it is back.
                    stack.kill("api")
                    threading.Timer(1.0, stack.start_api).start()
                    kills += 1
            time.sleep(0.3)

        with Session(engine) as session:
            journey_ids = session.exec(select(Journey.id)).all()
        assert len(journey_ids) == LEADS
        _wait(lambda: count(select(Journey.id).where(Journey.status == "running")) == 0,
              300, "every journey to finish")

        with Session(engine) as session:
            journeys = session.exec(select(Journey)).all()
            mails = session.exec(select(EmailMessage)).all()
            events = {e.id: e for e in session.exec(
                select(Event).where(col(Event.id).in_(accepted_events))).all()}

        assert {j.status for j in journeys} == {"completed"}
        # No accepted event lost: stored, dispatched, and it moved its lead down its branch.
        assert set(events) == accepted_events
        assert all(e.dispatched for e in events.values())
        by_lead: dict[str, list[EmailMessage]] = {}
        for mail in mails:
            by_lead.setdefault(mail.lead_id or "", []).append(mail)
        for lead_id in lead_ids:
            assert sorted(m.template for m in by_lead[lead_id]) == EXPECTED, lead_id
            assert {m.status for m in by_lead[lead_id]} == {"sent"}, lead_id
        # Exactly once, counted where it matters: at the provider, by send id.
        accepted = Counter(r.send_id for r in fake.requests if r.accepted)
        assert len(accepted) == 3 * LEADS
        assert {m.send_id for m in mails} == set(accepted)
        assert set(accepted.values()) == {1}, [s for s, n in accepted.items() if n > 1]
        refused = sum(1 for r in fake.requests if not r.accepted)
        assert refused > 0.15 * len(fake.requests)  # the provider really was unreliable
        for name in ("worker-1", "temporal", "api"):
            assert stack.procs[name].starts >= 2, name
    finally:
        chaos.stop.set()
        stack.stop_all()
        poster.join(timeout=10)
        next(fakes, None)
        engine.dispose()
