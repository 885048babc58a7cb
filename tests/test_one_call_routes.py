"""Routes that are one call into the core: publish, manual enrolment, tracked clicks, unsubscribe
links, capture and its confirmation link answer as they always did, and what they set going
reaches Temporal (through the real app, a worker and the Temporal test server).
"""

from __future__ import annotations

import asyncio
import copy
import re
from datetime import datetime
from typing import Any

import pytest
from sqlmodel import select
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from leadflow.db import session_scope
from leadflow.models import EmailMessage, Event, Journey, Lead
from leadflow.usecases.capture import submission_limiter
from tests.fakes.api_client import admin, app_client
from tests.helpers import at_step, ended, engagement_wait_flow

pytestmark = pytest.mark.asyncio(loop_scope="session")

FLOW: dict[str, Any] = {
    "id": "by-hand",
    "name": "By hand",
    "start": "hello",
    "steps": {
        "hello": {"type": "email", "template": "trial-welcome", "next": "pause"},
        "pause": {"type": "wait", "duration": "P7D", "next": "end"},
        "end": {"type": "exit"},
    },
}
GRANTED = {"status": "granted", "source": "test"}
# A mail with a link to another site (links to our own public site are not tracked).
LINKED = {"subject": "Tips", "text": "Tips: https://docs.example/tips {{ unsubscribe_url }}",
          "html": '<p><a href="https://docs.example/tips">Tips</a></p><p>{{ postal_address }}</p>'
                  '<a href="{{ unsubscribe_url }}">Unsubscribe</a>'}


async def _started(env: WorkflowEnvironment, workflow_id: str) -> None:
    """The workflow runs on Temporal (delivery may finish just after the answer)."""
    for _ in range(100):
        try:
            desc = await env.client.get_workflow_handle(workflow_id).describe()
        except RPCError:
            await asyncio.sleep(0.1)
            continue
        assert desc.status == WorkflowExecutionStatus.RUNNING, desc.status
        return
    raise AssertionError(f"no workflow {workflow_id} on Temporal")


def _journeys(db_url: str, lead_id: str) -> list[Journey]:
    with session_scope(db_url) as session:
        return list(session.exec(select(Journey).where(Journey.lead_id == lead_id)).all())


def _lead(db_url: str, email: str) -> Lead:
    with session_scope(db_url) as session:
        return session.exec(select(Lead).where(Lead.email == email)).one()


async def test_publish_and_manual_enrolment_answer_as_before_and_start_the_journey(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    async with app_client(time_env.client, db_url, task_queue, monkeypatch) as http:
        assert (await http.post("/api/flows", headers=admin(), json=FLOW)).status_code == 201
        r = await http.post("/api/flows/by-hand/publish", headers=admin(), json={"note": "first"})
        assert r.status_code == 201, r.text
        body = r.json()
        assert set(body) == {"flow_id", "version", "note", "published_at"}
        assert (body["flow_id"], body["version"], body["note"]) == ("by-hand", 1, "first")
        assert datetime.fromisoformat(body["published_at"])
        r = await http.post("/api/flows/by-hand/publish", headers=admin())  # no body: no note
        assert r.status_code == 201 and (r.json()["version"], r.json()["note"]) == (2, None)

        broken = copy.deepcopy(FLOW)
        broken["steps"]["hello"]["next"] = "nowhere"
        r = await http.put("/api/flows/by-hand?allow_invalid=true", headers=admin(), json=broken)
        assert r.status_code == 200
        r = await http.post("/api/flows/by-hand/publish", headers=admin(), json={"note": "x"})
        assert r.status_code == 422 and r.json()["error"] == "Invalid"
        assert any("nowhere" in p["message"] or "hello" in p["path"]
                   for p in r.json()["problems"]), r.json()
        versions = (await http.get("/api/flows/by-hand/versions", headers=admin())).json()
        assert [v["version"] for v in versions] == [1, 2], "nothing published"
        r = await http.post("/api/flows/no-such-flow/publish", headers=admin())
        assert r.status_code == 404 and r.json()["error"] == "NotFound"

        r = await http.post("/api/leads", headers=admin(),
                            json={"email": "hand@example.com", "consent": GRANTED})
        lead_id = r.json()["id"]
        r = await http.post("/api/flows/by-hand/enroll", headers=admin(), json={"lead_id": lead_id})
        assert r.status_code == 201, r.text
        enrolled = r.json()
        jid = enrolled["journey_id"]
        assert enrolled == {"journey_id": jid, "workflow_id": jid, "lead_id": lead_id,
                            "flow_id": "by-hand", "version": 2, "status": "running"}
        await _started(time_env, jid)
        await at_step(db_url, jid, "pause")  # the worker ran it: the welcome mail went out

        r = await http.post("/api/flows/by-hand/enroll", headers=admin(), json={"lead_id": lead_id})
        assert r.status_code == 409 and r.json()["error"] == "Conflict"
        r = await http.post("/api/flows/by-hand/enroll", headers=admin(), json={"lead_id": "nope"})
        assert r.status_code == 404 and r.json()["error"] == "NotFound"
        assert [j.id for j in _journeys(db_url, lead_id)] == [jid], "one journey, no orphan row"


async def test_a_tracked_click_redirects_and_wakes_the_journey_waiting_for_it(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    async with app_client(time_env.client, db_url, task_queue, monkeypatch) as http:
        assert (await http.put("/api/templates/linked", headers=admin(),
                               json=LINKED)).status_code == 200
        flow = engagement_wait_flow("click-wait", "email.clicked")
        flow["steps"]["welcome"]["template"] = "linked"
        assert (await http.post("/api/flows", headers=admin(), json=flow)).status_code == 201
        assert (await http.post("/api/flows/click-wait/publish",
                                headers=admin())).status_code == 201
        r = await http.post("/api/leads", headers=admin(),
                            json={"email": "clicker@example.com", "consent": GRANTED})
        lead_id = r.json()["id"]
        r = await http.post("/api/flows/click-wait/enroll", headers=admin(),
                            json={"lead_id": lead_id})
        jid = r.json()["journey_id"]
        await at_step(db_url, jid, "await")
        with session_scope(db_url) as session:
            mail = session.exec(select(EmailMessage).where(EmailMessage.journey_id == jid)).one()
        [click] = re.findall(r'href="https?://[^/"]+(/t/c/[^"]+)"', mail.html or "")

        forged = await http.get(click[:-4] + "AAAA")
        assert forged.status_code == 403 and "location" not in forged.headers
        r = await http.get(click)
        assert r.status_code == 302 and r.headers["location"] == "https://docs.example/tips"
        assert r.headers["cache-control"] == "no-store, private"
        done = await ended(db_url, jid)
        assert done.status == "completed" and done.current_step == "end"
        assert "engaged" in _lead(db_url, "clicker@example.com").tags, "the wait woke up"
        with session_scope(db_url) as session:
            [event] = session.exec(select(Event).where(Event.lead_id == lead_id,
                                                       Event.type == "email.clicked")).all()
        assert event.dispatched and event.properties["url"] == "https://docs.example/tips"

        # the unsubscribe link: a forged one changes nothing
        [unsub] = re.findall(r'href="https?://[^/"]+(/u/[^"]+)"', mail.html or "")
        assert (await http.post(unsub[:-4] + "AAAA")).status_code == 403
        assert not _lead(db_url, "clicker@example.com").unsubscribed
        r = await http.post(unsub)
        assert r.status_code == 200 and "You are unsubscribed" in r.text
        assert _lead(db_url, "clicker@example.com").unsubscribed


async def test_capture_and_its_confirmation_link_start_the_flow_on_temporal(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    submission_limiter.reset()
    flow = {**copy.deepcopy(FLOW), "id": "from-form", "entry": {
        "event": "form.submitted",
        "where": {"field": "properties.form", "op": "eq", "value": "newsletter"}}}
    async with app_client(time_env.client, db_url, task_queue, monkeypatch) as http:
        assert (await http.post("/api/flows", headers=admin(), json=flow)).status_code == 201
        assert (await http.post("/api/flows/from-form/publish",
                                headers=admin())).status_code == 201
        r = await http.post("/api/capture/newsletter",
                            json={"email": "sub@example.com", "consent": True})
        assert r.status_code == 202 and r.json() == {"status": "accepted"}
        [journey] = _journeys(db_url, _lead(db_url, "sub@example.com").id)
        await _started(time_env, journey.id)

        # double opt-in with a thank-you page: the mail goes out at once, the link enrols
        r = await http.put("/api/forms/newsletter", headers=admin(), json={
            "double_opt_in": True, "redirect_url": "https://example.com/thanks"})
        assert r.status_code == 200
        declared = r.json()
        assert (declared["form"], declared["double_opt_in"], declared["redirect_url"]) == (
            "newsletter", True, "https://example.com/thanks")
        assert declared["rate_limit"] >= 1 and declared["rate_window_seconds"] >= 1
        r = await http.get("/api/forms/newsletter", headers=admin())
        assert r.status_code == 200 and r.json() == declared
        assert declared in (await http.get("/api/forms", headers=admin())).json()
        r = await http.put("/api/forms/Not_A_Slug", headers=admin(), json={})
        assert r.status_code == 422 and r.json()["error"] == "Invalid"
        assert r.json()["problems"] == [{"path": "form", "message": "Use a name such as trial."}]
        r = await http.post("/api/capture/newsletter",
                            json={"email": "twice@example.com", "consent": True})
        assert r.status_code == 202 and r.json() == {"status": "confirmation_sent"}
        r = await http.post("/api/capture/newsletter",
                            data={"email": "browser@example.com", "consent": "on"})
        assert r.status_code == 303 and r.headers["location"] == "https://example.com/thanks"
        lead = _lead(db_url, "twice@example.com")
        assert _journeys(db_url, lead.id) == [], "not before the link is opened"
        with session_scope(db_url) as session:
            mail = session.exec(select(EmailMessage).where(
                EmailMessage.lead_id == lead.id, EmailMessage.template == "_confirm")).one()
        assert mail.status == "sent"
        link = re.search(r"http://[^/]+(/api/capture/confirm/[^\s\"<]+)", mail.text or "")
        assert link is not None
        assert (await http.get(link.group(1)[:-3] + "xyz")).status_code == 403
        r = await http.get(link.group(1))
        assert r.status_code == 303 and r.headers["location"] == "https://example.com/thanks"
        [journey] = _journeys(db_url, lead.id)
        await _started(time_env, journey.id)
