"""Export and erasure of a lead through the API, with the lead in the middle of a journey."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from leadflow.db import session_scope
from leadflow.leads.consent import address_hash
from leadflow.models import EmailMessage, Erasure, Event, Lead, Suppression, TimelineEntry
from tests.fakes.api_client import admin, app_client
from tests.helpers import at_step, ended, enrol_lead, make_lead, post_event, publish_flow

pytestmark = pytest.mark.asyncio(loop_scope="session")

FLOW: dict[str, Any] = {
    "id": "long-nurture", "name": "Long nurture", "start": "hello",
    "steps": {
        "hello": {"type": "email", "template": "trial-welcome", "next": "pause"},
        "pause": {"type": "wait", "duration": "P3D", "next": "tips"},
        "tips": {"type": "email", "template": "trial-tips", "next": "end"},
        "end": {"type": "exit"},
    },
}


async def test_erasure_mid_journey(time_env: WorkflowEnvironment, db_url: str, task_queue: str,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    publish_flow(db_url, FLOW)
    lead_id = make_lead(db_url, email="erin@example.com", first_name="Erin", company="Acme")
    async with app_client(time_env.client, db_url, task_queue, monkeypatch) as http:
        jid = await enrol_lead(time_env.client, db_url, "long-nurture", lead_id)
        await at_step(db_url, jid, "pause")
        await post_event(time_env.client, db_url, lead_id, "page.viewed", url="/pricing")

        r = await http.get(f"/api/leads/{lead_id}/export", headers=admin())
        assert r.status_code == 200
        data = r.json()
        assert data["profile"]["email"] == "erin@example.com"
        assert [m["template"] for m in data["emails"]] == ["trial-welcome"]
        assert "Erin" in data["emails"][0]["subject"]
        assert "page.viewed" in {e["type"] for e in data["events"]}
        assert data["journeys"][0]["id"] == jid and data["timeline"]
        assert set(data) >= {"consent", "handoffs", "stage_changes"}

        r = await http.delete(f"/api/leads/{lead_id}", headers=admin())
        assert r.status_code == 204
        done = await ended(db_url, jid)
        assert (done.status, done.exit_reason) == ("exited", "erased")
        assert (await http.get(f"/api/leads/{lead_id}", headers=admin())).status_code == 404
        assert (await http.get(f"/api/leads/{lead_id}/export",
                               headers=admin())).status_code == 404
        assert (await http.delete(f"/api/leads/{lead_id}", headers=admin())).status_code == 404

        with session_scope(db_url) as session:
            lead = session.get(Lead, lead_id)
            assert lead is not None and lead.email is None and lead.first_name is None
            assert lead.company is None and lead.erased_at is not None
            mail = session.exec(select(EmailMessage).where(EmailMessage.lead_id == lead_id)).one()
            assert mail.to is None and mail.html is None and mail.subject is None
            assert all(e.properties == {} for e in session.exec(
                select(Event).where(Event.lead_id == lead_id)).all())
            # entries written after the erasure (the journey's exit) carry ids only
            left = " ".join(str(t.data) for t in session.exec(
                select(TimelineEntry).where(TimelineEntry.lead_id == lead_id)).all())
            assert not re.search(r"erin|Erin|Acme|pricing", left)
            erasure = session.exec(select(Erasure).where(Erasure.lead_id == lead_id)).one()
            assert erasure.address_hash == address_hash("erin@example.com")
            assert session.get(Suppression, address_hash("erin@example.com")) is not None

        # the address comes back as a new lead: it is never mailed again
        again = make_lead(db_url, email="erin@example.com")
        assert again != lead_id
        j2 = await enrol_lead(time_env.client, db_url, "long-nurture", again)
        await at_step(db_url, j2, "pause")
        with session_scope(db_url) as session:
            mail = session.exec(select(EmailMessage).where(EmailMessage.lead_id == again)).one()
        assert (mail.status, mail.reason) == ("skipped", "suppressed")


async def test_privacy_routes_need_an_admin(time_env: WorkflowEnvironment, db_url: str,
                                            task_queue: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    lead_id = make_lead(db_url, email="x@example.com")
    async with app_client(time_env.client, db_url, task_queue, monkeypatch) as http:
        r = await http.post("/api/keys", headers=admin(), json={"role": "marketer"})
        marketer = {"Authorization": f"Bearer {r.json()['key']}"}
        assert (await http.get(f"/api/leads/{lead_id}/export", headers=marketer)).status_code == 403
        assert (await http.delete(f"/api/leads/{lead_id}", headers=marketer)).status_code == 403
        assert (await http.delete(f"/api/leads/{lead_id}")).status_code == 401
