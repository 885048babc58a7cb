"""Unsubscribing through the link in a mail while the lead waits: the later mail is skipped."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import col, select
from temporalio.testing import WorkflowEnvironment

from leadflow.db import session_scope
from leadflow.leads.consent import address_hash
from leadflow.models import ConsentRecord, EmailMessage, Lead, Suppression, TimelineEntry
from tests.fakes.api_client import app_client
from tests.helpers import at_step, ended, enrol_lead, make_lead, publish_flow
from tests.test_privacy import FLOW

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_unsubscribe_during_a_wait_skips_the_next_mail(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    publish_flow(db_url, FLOW)
    lead_id = make_lead(db_url, email="una@example.com")
    async with app_client(time_env.client, db_url, task_queue, monkeypatch) as http:
        jid = await enrol_lead(time_env.client, db_url, "long-nurture", lead_id)
        await at_step(db_url, jid, "pause")
        with session_scope(db_url) as session:
            first = session.exec(select(EmailMessage).where(EmailMessage.lead_id == lead_id)).one()
        match = re.search(r'href="http://[^/"]+(/u/[^"]+)"', first.html or "")
        assert match, "the unsubscribe link is in the mail"
        path = match.group(1)

        page = await http.get(path)
        assert page.status_code == 200 and "<form" in page.text and 'method="post"' in page.text
        with session_scope(db_url) as session:
            assert not session.get(Lead, lead_id).unsubscribed, "GET alone changes nothing"  # type: ignore[union-attr]
        assert (await http.get(path[:-4] + "AAAA")).status_code == 403

        one_click = {"content": b"List-Unsubscribe=One-Click",
                     "headers": {"Content-Type": "application/x-www-form-urlencoded"}}
        assert (await http.post(path, **one_click)).status_code == 200
        assert (await http.post(path, **one_click)).status_code == 200  # idempotent

        await time_env.sleep(timedelta(days=3, minutes=1))
        done = await ended(db_url, jid)
    assert done.status == "completed"
    with session_scope(db_url) as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None and lead.unsubscribed and lead.consent["status"] == "withdrawn"  # type: ignore[index]
        records = session.exec(select(ConsentRecord).where(ConsentRecord.lead_id == lead_id)).all()
        assert [r.status for r in records] == ["withdrawn"], "recorded once"
        assert records[0].ip == "203.0.113.7"
        assert session.get(Suppression, address_hash("una@example.com")) is not None
        mails = session.exec(select(EmailMessage).where(EmailMessage.lead_id == lead_id)
                             .order_by(col(EmailMessage.id))).all()
        assert [(m.template, m.status, m.reason) for m in mails] == [
            ("trial-welcome", "sent", None), ("trial-tips", "skipped", "unsubscribed")]
        skipped = session.exec(select(TimelineEntry).where(
            TimelineEntry.lead_id == lead_id, TimelineEntry.type == "email.skipped")).one()
        assert skipped.data["reason"] == "unsubscribed" and skipped.data["step"] == "tips"
