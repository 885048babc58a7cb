"""POST /api/webhooks/sendgrid end to end: signed batches wake waiting journeys; bad ones store nothing."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlmodel import func, select
from temporalio.testing import WorkflowEnvironment

from leadflow.db import session_scope
from leadflow.models import EmailMessage, Event, Lead
from tests.fakes import WebhookSigner
from tests.fakes.api_client import app_client
from tests.helpers import at_step, ended, engagement_wait_flow, enrol_lead, make_lead, publish_flow

pytestmark = pytest.mark.asyncio(loop_scope="session")

FLOW = engagement_wait_flow("click-wait", "email.clicked")


def _click(msg: EmailMessage, **extra: Any) -> dict[str, Any]:
    return {"email": msg.to, "timestamp": int(time.time()), "event": "click",
            "url": "https://example.com/pricing", "sg_event_id": f"click-{msg.send_id}",
            "sg_message_id": "m1.filter", "send_id": msg.send_id, "lead_id": msg.lead_id,
            "flow_id": msg.flow_id, "version": str(msg.version), "step": msg.step, **extra}


def _events(db_url: str) -> int:
    with session_scope(db_url) as session:
        return int(session.exec(select(func.count()).select_from(Event)
                                .where(Event.type.startswith("email."))).one())  # type: ignore[attr-defined]


async def test_signed_click_wakes_the_wait_for_that_email(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    signer = WebhookSigner.generate()
    publish_flow(db_url, FLOW)
    lead_id = make_lead(db_url, email="clicker@example.com")
    async with app_client(time_env.client, db_url, task_queue, monkeypatch,
                          sendgrid_webhook_public_key=signer.public_key) as http:
        jid = await enrol_lead(time_env.client, db_url, "click-wait", lead_id)
        await at_step(db_url, jid, "await")
        with session_scope(db_url) as session:
            msg = session.exec(select(EmailMessage).where(EmailMessage.journey_id == jid)).one()

        # a bad signature: 403, nothing stored, the journey keeps waiting
        click = _click(msg)
        body, headers = signer.signed_batch([click])
        forged = WebhookSigner.generate().signed_batch([click])[1]
        r = await http.post("/api/webhooks/sendgrid", content=body, headers=forged)
        assert r.status_code == 403 and r.json()["error"] == "Forbidden"
        stale = signer.signed_batch([click], timestamp=str(int(time.time()) - 3600))
        r = await http.post("/api/webhooks/sendgrid", content=stale[0], headers=stale[1])
        assert r.status_code == 403
        assert _events(db_url) == 0

        not_a_list, h = signer.signed_batch({"event": "click"})  # type: ignore[arg-type]
        assert (await http.post("/api/webhooks/sendgrid", content=not_a_list,
                                headers=h)).status_code == 400

        r = await http.post("/api/webhooks/sendgrid", content=body, headers=headers)
        assert r.status_code == 200 and r.json()["accepted"] == 1
        done = await ended(db_url, jid)
        assert done.status == "completed" and done.current_step == "end"
        with session_scope(db_url) as session:
            lead = session.get(Lead, lead_id)
            assert lead is not None and "engaged" in lead.tags
            assert lead.score > 0, "the click was scored"
            event = session.exec(select(Event).where(Event.type == "email.clicked")).one()
            assert event.dispatched

        # SendGrid retries the batch: a duplicate, nothing new
        body2, headers2 = signer.signed_batch([click])
        r = await http.post("/api/webhooks/sendgrid", content=body2, headers=headers2)
        assert r.json() == {"accepted": 0, "duplicates": 1, "ignored": 0}
        assert _events(db_url) == 1


async def test_spam_report_suppresses_and_withdraws_consent(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    signer = WebhookSigner.generate()
    lead_id = make_lead(db_url, email="angry@example.com")
    async with app_client(time_env.client, db_url, task_queue, monkeypatch,
                          sendgrid_webhook_public_key=signer.public_key) as http:
        body, headers = signer.signed_batch([{
            "email": "angry@example.com", "timestamp": int(time.time()), "event": "spamreport",
            "sg_event_id": "spam-1", "sg_message_id": "m9.filter", "lead_id": lead_id}])
        r = await http.post("/api/webhooks/sendgrid", content=body, headers=headers)
        assert r.status_code == 200 and r.json()["accepted"] == 1
    from leadflow.leads.consent import is_suppressed

    with session_scope(db_url) as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None and lead.unsubscribed and lead.suppressed
        assert (lead.consent or {})["status"] == "withdrawn"
        assert is_suppressed(session, "Angry@Example.com ")
