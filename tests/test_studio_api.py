"""API additions the studio's screens use: notes, workspace settings, template drafts and test
sends, why leads wait at a step, branch transitions, unpublished drafts, names on handoffs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from leadflow.db import session_scope
from leadflow.journeys.validate import validate_flow
from leadflow.leads.records import add_timeline
from leadflow.models import Handoff, Journey
from leadflow.sales.notifications import due_in_words
from tests.helpers import at_step
from tests.test_api import Api
from tests.test_api import api as api  # noqa: PLC0414  (the fixture, used by name)

ASYNC = pytest.mark.asyncio(loop_scope="session")

FLOW: dict[str, Any] = {
    "id": "studio-api", "name": "Studio API", "start": "pause",
    "steps": {"pause": {"type": "wait", "duration": "P2D", "next": "route"},
              "route": {"type": "branch", "on": "temperature", "hot": "end", "warm": "end", "cold": "end"},
              "end": {"type": "exit"}},
}


async def _lead(api: Api, email: str = "nia@example.com") -> str:
    r = await api.call("POST", "/api/leads", json={"email": email, "first_name": "Nia", "last_name": "Long"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


@ASYNC
async def test_a_note_lands_on_the_timeline(api: Api) -> None:
    lead_id = await _lead(api)
    r = await api.call("POST", f"/api/leads/{lead_id}/notes", json={"text": "  Called, call back Friday "})
    assert r.status_code == 201, r.text
    timeline = (await api.call("GET", f"/api/leads/{lead_id}/timeline")).json()
    notes = [t for t in timeline if t["type"] == "note.added"]
    assert notes == [{"at": notes[0]["at"], "kind": "note", "type": "note.added",
                      "data": {"text": "Called, call back Friday", "by": "admin"}}]
    for bad in ({"text": "   "}, {"text": ""}, {}, {"text": "x", "extra": 1}):
        r = await api.call("POST", f"/api/leads/{lead_id}/notes", json=bad)
        assert r.status_code in (400, 422) and r.json()["error"], r.text
    assert (await api.call("POST", "/api/leads/nope/notes", json={"text": "x"})).status_code == 404


@ASYNC
async def test_workspace_settings_are_stored_checked_and_used_in_mail(api: Api) -> None:
    r = await api.call("GET", "/api/settings/workspace")
    assert r.status_code == 200 and r.json()["send_window"] is None and r.json()["postal_address"]
    r = await api.call("PUT", "/api/settings/workspace", json={
        "sender_name": "Acme News", "sender_address": "news@acme.example",
        "postal_address": "Acme GmbH, Hauptstr. 1, Berlin",
        "send_window": {"days": ["mon", "tue"], "from": "09:00", "to": "17:00"}})
    assert r.status_code == 200, r.text
    preview = (await api.call("GET", "/api/templates/trial-welcome/preview")).json()
    assert "Hauptstr. 1" in preview["html"]
    bad = await api.call("PUT", "/api/settings/workspace", json={
        "sender_address": "not an address", "postal_address": " ", "send_window": {"days": ["funday"]},
        "colour": "red"})
    assert bad.status_code == 422
    paths = {p["path"] for p in bad.json()["problems"]}
    assert {"sender_address", "postal_address", "colour"} <= paths and any(p.startswith("send_window") for p in paths)
    assert (await api.call("GET", "/api/settings/workspace")).json()["sender_name"] == "Acme News"
    marketer = await api.key("marketer")
    assert (await api.call("GET", "/api/settings/workspace", key=marketer)).status_code == 403


@ASYNC
async def test_template_drafts_preview_and_test_send(api: Api) -> None:
    html = '{% extends "_layout.html.j2" %}{% block body %}<p>Hi {{ lead.first_name }}</p>{% endblock %}'
    r = await api.call("POST", "/api/templates/draft/preview", json={"subject": "Hey {{ lead.first_name }}", "html": html})
    assert r.status_code == 200, r.text
    assert r.json()["subject"] == "Hey Jamie" and "Hi Jamie" in r.json()["html"] and "Hi Jamie" in r.json()["text"]
    r = await api.call("POST", "/api/templates/draft/preview", json={"subject": "{{ oops", "html": html})
    assert r.status_code == 422 and r.json()["problems"][0]["path"] == "subject"
    r = await api.call("POST", "/api/templates/trial-welcome/test-send", json={"to": "me@example.com"})
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "sent"
    mails = [m for m in (await api.call("GET", "/api/outbox")).json() if m["to"] == "me@example.com"]
    assert mails and mails[0]["subject"].startswith("[Test] ") and mails[0]["lead_id"] is None
    bad = await api.call("POST", "/api/templates/trial-welcome/test-send", json={"to": "nobody"})
    assert bad.status_code in (400, 422)
    assert (await api.call("POST", "/api/templates/no-such/test-send", json={"to": "me@example.com"})).status_code == 404


@ASYNC
async def test_the_live_map_says_why_leads_wait_and_where_they_went(api: Api, any_db_url: str) -> None:
    assert (await api.call("POST", "/api/flows", json=FLOW)).status_code == 201
    flows = (await api.call("GET", "/api/flows")).json()
    assert [f["draft_changed"] for f in flows if f["id"] == "studio-api"] == [True]
    assert (await api.call("POST", "/api/flows/studio-api/publish", json={})).status_code == 201
    flows = (await api.call("GET", "/api/flows")).json()
    assert [f["draft_changed"] for f in flows if f["id"] == "studio-api"] == [False]
    lead_id = await _lead(api, "wait@example.com")
    r = await api.call("POST", "/api/flows/studio-api/enroll", json={"lead_id": lead_id})
    journey_id = r.json()["journey_id"]
    await at_step(any_db_url, journey_id, "pause")
    leads = (await api.call("GET", "/api/flows/studio-api/steps/pause/leads")).json()
    assert leads[0]["name"] == "Nia Long" and leads[0]["waiting"]["kind"] == "wait"
    assert leads[0]["waiting"]["until"]
    # A send held by the send window says so, until when.
    retry = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    with session_scope(any_db_url) as session:
        add_timeline(session, lead_id, "email", "email.postponed", reason="send window",
                     retry_at=retry, flow_id="studio-api", step="route", send_id="s")
        j = session.get(Journey, journey_id)
        assert j is not None
        j.current_step = "route"
        session.add(j)
    held = (await api.call("GET", "/api/flows/studio-api/steps/route/leads")).json()
    assert held[0]["waiting"] == {"kind": "held", "until": retry, "reason": "send window"}
    stats = (await api.call("GET", "/api/flows/studio-api/stats")).json()
    assert stats["transitions"] == {}
    # At a hand-off: waiting for the rep who has it, until the SLA is due (the open handoff's).
    assert (await api.call("POST", "/api/reps", json={"id": "rita-studio", "email": "rita@example.com",
                                                      "name": "Rita Rep"})).status_code == 201
    assert (await api.call("POST", "/api/teams", json={"id": "studio-team", "name": "Studio team",
                                                       "members": ["rita-studio"]})).status_code == 201
    steps = {**FLOW["steps"], "ask": {"type": "handoff", "team": "studio-team", "sla": "PT4H", "next": "end"},
             "route": {**FLOW["steps"]["route"], "hot": "ask"}}
    r = await api.call("PUT", "/api/flows/studio-api", json=dict(FLOW, steps=steps))
    assert r.status_code == 200, r.text
    assert (await api.call("POST", "/api/flows/studio-api/publish", json={})).status_code == 201
    due = datetime.now(UTC) + timedelta(hours=4)
    with session_scope(any_db_url) as session:
        session.add(Handoff(lead_id=lead_id, flow_id="studio-api", step="ask", rep_id="rita-studio", sla_due_at=due))
        session.add(Handoff(lead_id=lead_id, flow_id="studio-api", step="ask", status="rejected"))
        j = session.get(Journey, journey_id)
        assert j is not None
        j.current_step, j.version = "ask", 2
        session.add(j)
    with_sales = (await api.call("GET", "/api/flows/studio-api/steps/ask/leads")).json()
    assert with_sales[0]["waiting"]["kind"] == "handoff" and with_sales[0]["waiting"]["rep"] == "Rita Rep"
    assert with_sales[0]["waiting"]["until"].startswith(due.isoformat()[:19])
    draft = dict(FLOW, name="Studio API v2")
    assert (await api.call("PUT", "/api/flows/studio-api", json=draft)).status_code == 200
    flows = (await api.call("GET", "/api/flows")).json()
    assert [f["draft_changed"] for f in flows if f["id"] == "studio-api"] == [True]


def test_an_update_step_without_next_is_described_with_the_right_article() -> None:
    doc = {"id": "f", "name": "f", "start": "u", "steps": {"u": {"type": "update", "add_score": 1}}}
    messages = [p["message"] for p in validate_flow(doc)]
    assert "An update step needs next: the step that follows it." in messages


def test_sla_deadlines_are_written_in_the_readers_zone() -> None:
    now = datetime(2026, 12, 3, 7, 55, tzinfo=UTC)
    assert due_in_words(now + timedelta(hours=2, minutes=10), now, "Europe/Berlin") == \
        "Thu 3 Dec, 11:05 (Europe/Berlin), in 2 h 10 min"
    assert due_in_words(now - timedelta(minutes=5), now, "nowhere/at-all") == "Thu 3 Dec, 07:50 (UTC), 5 min ago"


@ASYNC
async def test_the_live_map_counts_each_edge_even_where_outcomes_share_a_target(api: Api, any_db_url: str) -> None:
    """Warm and cold go to one step, both cases of a branch meet, both split paths meet: each
    edge still gets the leads that took it (per edge, not per target)."""
    from leadflow.journeys.engine import split_choice
    from tests.helpers import ended

    flow = {"id": "edges", "name": "Edges", "start": "route", "steps": {
        "route": {"type": "branch", "on": "temperature", "hot": "end", "warm": "pick", "cold": "pick"},
        "pick": {"type": "branch", "cases": [{"when": {"field": "company", "op": "eq", "value": "Acme"},
                                              "next": "ab"}], "else": "ab"},
        "ab": {"type": "split", "paths": [{"weight": 50, "next": "end"}, {"weight": 50, "next": "end"}]},
        "end": {"type": "exit"}}}
    assert (await api.call("POST", "/api/flows", json=flow)).status_code == 201
    assert (await api.call("POST", "/api/flows/edges/publish", json={})).status_code == 201
    leads = []
    for i, company in enumerate(("Acme", "Acme", "Other")):
        r = await api.call("POST", "/api/leads", json={"email": f"edge{i}@example.com", "company": company})
        lead_id = r.json()["id"]
        leads.append(lead_id)
        r = await api.call("POST", "/api/flows/edges/enroll", json={"lead_id": lead_id})
        assert r.status_code == 201, r.text
        await ended(any_db_url, r.json()["journey_id"])
    stats = (await api.call("GET", "/api/flows/edges/stats", params={"version": 1})).json()
    paths = [0, 0]
    for lead_id in leads:
        paths[split_choice(lead_id, "ab", [50, 50])] += 1
    expected = {"route:cold": 3, "pick:cases.0": 2, "pick:else": 1,
                **{f"ab:paths.{i}": n for i, n in enumerate(paths) if n}}
    assert stats["edges"] == expected
    assert stats["transitions"]["route"] == {"pick": 3}  # the step-to-step view cannot tell them apart
