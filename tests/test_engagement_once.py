"""Engagement counts once: repeated opens and clicks, privacy proxies, staff mail, foreign links.

Through the real app (tracking routes, scoring) with a worker on the Temporal test server, and
the SendGrid webhook's ingestion for the provider's events.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from leadflow.db import session_scope
from leadflow.mail import deliver
from leadflow.mail.clock import now_utc
from leadflow.mail.tracking import make_token
from leadflow.mail.webhook import ingest_batch
from leadflow.models import EmailMessage, Event, Lead
from tests.fakes.api_client import admin, app_client
from tests.fakes.sendgrid_webhook import sendgrid_event

asyncio = pytest.mark.asyncio(loop_scope="session")
MODEL: dict[str, Any] = {"behavior": {"email.opened": 20, "email.clicked": 20},
                         "temperature": {"hot": 60, "warm": 25}, "mql_at": 1000}
HTML = ('<html><body><p>Hi</p><a href="https://docs.example/tips">Tips</a>'
        '<a href="https://docs.example/pricing">Pricing</a></body></html>')


def _mail(db_url: str, lead_id: str, send_id: str, *, minutes_ago: float = 10,
          internal: bool = False) -> EmailMessage:
    """A mail delivered through the outbox ``minutes_ago`` (tracked as sent)."""
    with session_scope(db_url) as session:
        session.add(EmailMessage(send_id=send_id, lead_id=lead_id, to="x@example.com",
                                 subject="Tips", html=HTML, text="Tips", flow_id="f",
                                 journey_id=None if internal else "journey-f-x-1",
                                 step="tips", internal=internal))
    assert deliver(send_id, db_url=db_url) == "sent"
    with session_scope(db_url) as session:
        msg = session.exec(select(EmailMessage).where(EmailMessage.send_id == send_id)).one()
        msg.sent_at = now_utc() - timedelta(minutes=minutes_ago)
        session.add(msg)
        return msg


def _events(db_url: str, lead_id: str, type_: str) -> list[Event]:
    with session_scope(db_url) as session:
        return list(session.exec(select(Event).where(Event.lead_id == lead_id,
                                                     Event.type == type_)).all())


def _lead(db_url: str, lead_id: str) -> Lead:
    with session_scope(db_url) as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        return lead


@asyncio
async def test_a_forwarded_mail_loaded_fifty_times_does_not_make_the_lead_hot(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    async with app_client(time_env.client, db_url, task_queue, monkeypatch) as http:
        assert (await http.put("/api/scoring", headers=admin(), json=MODEL)).status_code == 200
        r = await http.post("/api/leads", headers=admin(), json={
            "email": "fwd@example.com", "consent": {"status": "granted"}})
        lead_id = r.json()["id"]
        msg = _mail(db_url, lead_id, "send-fwd-1")
        [pixel] = re.findall(r'src="https?://[^/]+(/t/o/[^"]+)"', msg.html or "")
        clicks = re.findall(r'href="https?://[^/]+(/t/c/[^"]+)"', msg.html or "")
        assert len(clicks) == 2
        for _ in range(50):
            r = await http.get(pixel, headers={"User-Agent": "Thunderbird/128"})
            assert r.status_code == 200 and r.headers["content-type"] == "image/gif"
        for _ in range(10):
            r = await http.get(clicks[0])
            assert r.status_code == 302 and r.headers["location"] == "https://docs.example/tips"
        assert len(_events(db_url, lead_id, "email.opened")) == 1
        assert len(_events(db_url, lead_id, "email.clicked")) == 1
        lead = _lead(db_url, lead_id)
        assert lead.score == pytest.approx(40, abs=0.5) and lead.temperature == "warm"
        # The first click on another link of the mail counts.
        assert (await http.get(clicks[1])).headers["location"] == "https://docs.example/pricing"
        assert _lead(db_url, lead_id).score == pytest.approx(60, abs=0.5)


@asyncio
async def test_privacy_proxy_and_instant_opens_are_machine_opens(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    agents = {"apple": "Mozilla/5.0",
              "gmail": "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 "
                       "(via ggpht.com GoogleImageProxy)",
              "yahoo": "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html",
              "instant": "Thunderbird/128"}
    async with app_client(time_env.client, db_url, task_queue, monkeypatch) as http:
        assert (await http.put("/api/scoring", headers=admin(), json=MODEL)).status_code == 200
        r = await http.post("/api/leads", headers=admin(), json={
            "email": "mpp@example.com", "consent": {"status": "granted"}})
        lead_id = r.json()["id"]
        for name, agent in agents.items():
            msg = _mail(db_url, lead_id, f"send-{name}",
                        minutes_ago=0.01 if name == "instant" else 10)
            [pixel] = re.findall(r'src="https?://[^/]+(/t/o/[^"]+)"', msg.html or "")
            assert (await http.get(pixel, headers={"User-Agent": agent})).status_code == 200
        opens = _events(db_url, lead_id, "email.opened")
        assert {e.send_id: e.properties["machine_open"] for e in opens} == {
            f"send-{name}": True for name in agents}
        assert _lead(db_url, lead_id).score == 0


def test_sendgrid_opens_count_once_and_machine_opens_earn_nothing(db_url: str) -> None:
    with session_scope(db_url) as session:
        session.add(Lead(id="L1", email="lead1@example.com", consent={"status": "granted"}))
    _mail(db_url, "L1", "journey-1-welcome-1")
    with session_scope(db_url) as session:
        sent = session.exec(select(EmailMessage)).one().sent_at
    assert sent is not None
    t0 = int(sent.timestamp())
    batch = [sendgrid_event("open", 1, sg_event_id=f"o{i}", timestamp=t0 + 60 + i)
             for i in range(20)]
    batch.append(sendgrid_event("open", 1, sg_event_id="late", timestamp=t0 + 60 + 7200))
    batch += [sendgrid_event("click", 1, sg_event_id=f"c{i}", url="https://docs.example/tips",
                             timestamp=t0 + 90 + i) for i in range(5)]
    with session_scope(db_url) as session:
        result = ingest_batch(session, batch)
    opens = sorted((e for e in result.new_events if e.type == "email.opened"),
                   key=lambda e: e.occurred_at)
    assert len(opens) == 2 and result.duplicates == 23
    assert not opens[0].properties.get("repeat") and opens[1].properties["repeat"] is True
    assert len([e for e in result.new_events if e.type == "email.clicked"]) == 1
    # Re-posting the batch stores nothing more; a proxy's or an instant open is a machine open.
    with session_scope(db_url) as session:
        assert ingest_batch(session, batch).new_events == []
    _mail(db_url, "L1", "journey-2-welcome-1", minutes_ago=0)
    with session_scope(db_url) as session:
        sent = session.exec(select(EmailMessage).where(
            EmailMessage.send_id == "journey-2-welcome-1")).one().sent_at
    assert sent is not None
    with session_scope(db_url) as session:
        [instant, proxied] = ingest_batch(session, [
            sendgrid_event("open", 1, sg_event_id="i1", send_id="journey-2-welcome-1",
                           timestamp=int(sent.timestamp()) + 1),
            sendgrid_event("open", 1, sg_event_id="g1", send_id="journey-1-welcome-1",
                           timestamp=t0 + 20_000, useragent="Mozilla/5.0 (via ggpht.com "
                           "GoogleImageProxy)")]).new_events
    assert instant.properties["machine_open"] is True
    assert proxied.properties["machine_open"] is True


@asyncio
async def test_click_links_lead_only_where_the_mail_did(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    async with app_client(time_env.client, db_url, task_queue, monkeypatch) as http:
        r = await http.post("/api/leads", headers=admin(), json={"email": "cl@example.com",
                                                                "consent": {"status": "granted"}})
        lead_id = r.json()["id"]
        _mail(db_url, lead_id, "send-links")
        # Signed with the right secret (as with a leaked or development one) but not in the mail.
        for target in ("javascript:alert(document.cookie)", "https://evil.example/phish",
                       "//evil.example/", "data:text/html,<script>alert(1)</script>"):
            token = make_token("click", send_id="send-links", url=target)
            r = await http.get(f"/t/c/{token}")
            assert r.status_code == 403, target
            assert "location" not in r.headers
        token = make_token("click", send_id="no-such-send", url="https://evil.example/")
        r = await http.get(f"/t/c/{token}")
        assert r.status_code == 302 and r.headers["location"].startswith("http://127.0.0.1")
        r = await http.get("/t/c/" + make_token("click", send_id="send-links",
                                                url="https://docs.example/tips")[:-2] + "AA")
        assert r.status_code == 403
        assert _events(db_url, lead_id, "email.clicked") == []


@asyncio
async def test_staff_mail_is_not_the_leads_mail(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    async with app_client(time_env.client, db_url, task_queue, monkeypatch,
                          frequency_cap="1") as http:
        assert (await http.put("/api/scoring", headers=admin(), json=MODEL)).status_code == 200
        r = await http.post("/api/leads", headers=admin(), json={
            "email": "gone@example.com", "consent": {"status": "granted"}})
        lead_id = r.json()["id"]
        with session_scope(db_url) as session:
            from leadflow.leads.consent import unsubscribe_lead

            lead = session.get(Lead, lead_id)
            assert lead is not None
            unsubscribe_lead(session, lead)
        # A notice to sales about an unsubscribed lead still goes, untracked, without the
        # lead's unsubscribe header.
        msg = _mail(db_url, lead_id, "notify.journey-f-x-1.tell.1", internal=True)
        assert msg.status == "sent" and "/t/o/" not in (msg.html or "")
        assert "/t/c/" not in (msg.html or "")
        r = await http.get("/api/outbox", headers=admin())
        assert any(m["subject"] == "Tips" for m in r.json())
        with session_scope(db_url) as session:
            from leadflow.mail.policy import cap_reopens_at

            assert cap_reopens_at(session, lead_id, now_utc(), exclude_send_id="other") is None
            from leadflow.config import get_settings
            from leadflow.mail.delivery import build_outgoing

            outgoing = build_outgoing(msg, get_settings(), track=True)
        assert "List-Unsubscribe" not in outgoing.headers
        assert "lead_id" not in outgoing.custom_args
        # Staff opening it through SendGrid (the lead's address known) credits nothing.
        with session_scope(db_url) as session:
            result = ingest_batch(session, [sendgrid_event(
                "open", 1, send_id=msg.send_id, lead_id=lead_id, email="gone@example.com",
                timestamp=int(now_utc().timestamp()))])
        assert result.new_events == []
        assert _lead(db_url, lead_id).score == 0


@asyncio
async def test_a_notify_step_mails_staff_about_an_unsubscribed_lead_untracked(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str) -> None:
    from leadflow.leads.consent import unsubscribe_lead
    from tests.helpers import enrol_lead, eventually, make_lead, publish_flow, running_worker

    publish_flow(db_url, {
        "id": "tell-sales", "name": "Tell sales", "entry": {"event": "manual"}, "start": "tell",
        "steps": {"tell": {"type": "notify", "channel": "email", "to": "sales@company.example",
                           "message": "{{ lead.email }} looked at pricing", "next": "end"},
                  "end": {"type": "exit"}}})
    lead_id = make_lead(db_url, "quiet@example.com")
    with session_scope(db_url) as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        unsubscribe_lead(session, lead)

    def notice() -> EmailMessage | None:
        with session_scope(db_url) as session:
            return session.exec(select(EmailMessage).where(
                EmailMessage.to == "sales@company.example",
                EmailMessage.status != "pending")).first()

    async with running_worker(time_env.client, db_url, task_queue):
        await enrol_lead(time_env.client, db_url, "tell-sales", lead_id)
        msg = await eventually(notice, what="the notice to sales")
    assert (msg.status, msg.internal, msg.lead_id) == ("sent", True, lead_id)
    assert "/t/o/" not in (msg.html or "") and "/t/c/" not in (msg.html or "")


@asyncio
async def test_a_machine_open_neither_wakes_an_open_wait_nor_scores(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A privacy proxy fetching the pixel is no reader: the journey waiting for the open keeps
    waiting (and times out), the lead earns nothing, the timeline still shows the machine open;
    a person's open of the same kind of mail wakes the wait at once."""
    from leadflow.intents import pending_count
    from tests.helpers import at_step, ended, engagement_wait_flow, enrol_lead, publish_flow

    publish_flow(db_url, engagement_wait_flow("open-wait", "email.opened"))
    async with app_client(time_env.client, db_url, task_queue, monkeypatch) as http:
        assert (await http.put("/api/scoring", headers=admin(), json=MODEL)).status_code == 200
        journeys: dict[str, tuple[str, str]] = {}
        for who, agent in (("proxy", "Mozilla/5.0"), ("person", "Thunderbird/128")):
            r = await http.post("/api/leads", headers=admin(), json={
                "email": f"{who}@example.com", "consent": {"status": "granted"}})
            lead_id = r.json()["id"]
            jid = await enrol_lead(time_env.client, db_url, "open-wait", lead_id)
            await at_step(db_url, jid, "await")
            with session_scope(db_url) as session:
                msg = session.exec(select(EmailMessage).where(
                    EmailMessage.journey_id == jid)).one()
                msg.sent_at = now_utc() - timedelta(minutes=10)  # not an instant open
                session.add(msg)
            [pixel] = re.findall(r'src="https?://[^/]+(/t/o/[^"]+)"', msg.html or "")
            assert (await http.get(pixel, headers={"User-Agent": agent})).status_code == 200
            journeys[who] = (lead_id, jid)

        person_lead, person_jid = journeys["person"]
        done = await ended(db_url, person_jid)
        assert done.status == "completed" and "engaged" in _lead(db_url, person_lead).tags
        assert _lead(db_url, person_lead).score == pytest.approx(20, abs=0.5)

        proxy_lead, proxy_jid = journeys["proxy"]
        [machine] = _events(db_url, proxy_lead, "email.opened")
        assert machine.properties["machine_open"] is True and machine.dispatched
        with session_scope(db_url) as session:
            assert pending_count(session)[0] == 0  # nothing on its way to the journey
        assert (await at_step(db_url, proxy_jid, "await")).status == "running"
        await time_env.sleep(timedelta(days=6))
        done = await ended(db_url, proxy_jid)
        assert done.status == "completed" and done.current_step == "end"
        lead = _lead(db_url, proxy_lead)
        assert "engaged" not in lead.tags and lead.score == 0
        r = await http.get(f"/api/leads/{proxy_lead}/timeline", headers=admin())
        assert r.status_code == 200
        [shown] = [e for e in r.json() if e["type"] == "email.opened"]
        assert shown["kind"] == "email" and shown["data"]["machine_open"] is True
