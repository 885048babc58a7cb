"""The HTTP API of issue 2 through the real app, a real worker and the Temporal test server."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlmodel import col, func, select
from temporalio.testing import WorkflowEnvironment

from leadflow.api.main import create_app
from leadflow.config import reset_settings
from leadflow.db import session_scope
from leadflow.models import Event, Flow, FlowVersion, TemporalIntent
from tests.helpers import at_step, running_worker

pytestmark = pytest.mark.asyncio(loop_scope="session")

ADMIN = "test-admin-key"
FLOW: dict[str, Any] = {
    "id": "welcome-series",
    "name": "Welcome series",
    "entry": {"event": "lead.created"},
    "start": "hello",
    "steps": {
        "hello": {"type": "email", "template": "trial-welcome", "next": "pause"},
        "pause": {"type": "wait", "duration": "P1D", "next": "tips"},
        "tips": {"type": "email", "template": "trial-tips", "next": "end"},
        "end": {"type": "exit"},
    },
}


class Api:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.http = client

    async def call(self, method: str, path: str, key: str | None = ADMIN, **kw: Any) -> httpx.Response:
        headers = kw.pop("headers", {})
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return await self.http.request(method, path, headers=headers, **kw)

    async def key(self, role: str, rep_id: str | None = None) -> str:
        r = await self.call("POST", "/api/keys", json={"role": role, "rep_id": rep_id})
        assert r.status_code == 201, r.text
        return str(r.json()["key"])


@pytest_asyncio.fixture(loop_scope="session")
async def api(time_env: WorkflowEnvironment, any_db_url: str, task_queue: str,
              monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Api]:
    monkeypatch.setenv("LEADFLOW_ADMIN_KEY", ADMIN)
    reset_settings()
    app = create_app(temporal_client=time_env.client, create_tables=True)
    async with running_worker(time_env.client, any_db_url, task_queue):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Api(client)


def count(any_db_url: str, model: Any) -> int:
    with session_scope(any_db_url) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def assert_error(r: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == error and isinstance(body["detail"], str) and body["detail"]
    return dict(body)


async def test_no_marketing_mail_without_consent_and_the_timeline_says_why(
        api: Api, any_db_url: str) -> None:
    flow = {**copy.deepcopy(FLOW), "id": "consent-check"}
    assert (await api.call("POST", "/api/flows", json=flow)).status_code == 201
    assert (await api.call("POST", "/api/flows/consent-check/publish")).status_code == 201
    leads = {}
    for name, consent in (("none", None), ("granted", "granted"), ("denied", "denied"),
                          ("pending", "pending")):
        body: dict[str, Any] = {"email": f"{name}@example.com"}
        if consent:
            body["consent"] = {"status": consent, "source": "test"}
        leads[name] = (await api.call("POST", "/api/leads", json=body)).json()
        await at_step(any_db_url, leads[name]["flows"][0]["journey_id"], "pause")

    def outbox(name: str) -> Any:
        return api.call("GET", f"/api/outbox?lead_id={leads[name]['id']}")

    assert [m["template"] for m in (await outbox("granted")).json()] == ["trial-welcome"]
    for name in ("none", "denied", "pending"):
        assert (await outbox(name)).json() == [], f"{name}: no marketing mail"
    timeline = (await api.call("GET", f"/api/leads/{leads['none']['id']}/timeline")).json()
    [skipped] = [t for t in timeline if t["type"] == "email.skipped"]
    assert skipped["data"]["reason"] == "no_consent" and skipped["data"]["step"] == "hello"
    hello = (await api.call("GET", "/api/flows/consent-check/stats")).json()["steps"]["hello"]
    assert hello["emails_sent"] == 1 and hello["emails_skipped"] == 3
    assert hello["skipped"] == {"no_consent": 1, "consent_denied": 1, "consent_pending": 1}


async def test_flow_lifecycle_and_a_lead_walking_it(api: Api, any_db_url: str) -> None:
    r = await api.call("POST", "/api/flows", json=FLOW)
    assert r.status_code == 201 and r.json() == FLOW
    assert (await api.call("GET", "/api/flows/welcome-series")).json() == FLOW
    r = await api.call("POST", "/api/flows/welcome-series/publish", json={"note": "first"})
    assert r.status_code == 201 and r.json()["version"] == 1
    r = await api.call("POST", "/api/leads", json={"email": "Ann@Example.com", "first_name": "Ann",
                                                   "consent": {"status": "granted", "source": "test"}})
    assert r.status_code == 201
    lead = r.json()
    assert lead["email"] == "ann@example.com" and lead["stage"] == "lead"
    journey_id = lead["flows"][0]["journey_id"]
    await at_step(any_db_url, journey_id, "pause")
    lead = (await api.call("GET", f"/api/leads/{lead['id']}")).json()
    assert lead["flows"] == [
        {**lead["flows"][0], "flow_id": "welcome-series", "version": 1, "step": "pause",
         "status": "running"}]
    outbox = (await api.call("GET", f"/api/outbox?lead_id={lead['id']}")).json()
    assert [m["template"] for m in outbox] == ["trial-welcome"]
    assert outbox[0]["to"] == "ann@example.com" and "Ann" in outbox[0]["subject"]
    assert outbox[0]["flow_id"] == "welcome-series" and outbox[0]["step"] == "hello"
    assert "Unsubscribe" in outbox[0]["html"] and outbox[0]["text"].strip()
    stats = (await api.call("GET", "/api/flows/welcome-series/stats")).json()
    assert stats["steps"]["hello"]["emails_sent"] == 1 and stats["steps"]["hello"]["passed"] == 1
    assert stats["steps"]["pause"]["waiting"] == 1 and stats["journeys"]["running"] == 1
    versions = (await api.call("GET", "/api/flows/welcome-series/versions")).json()
    assert versions[0]["version"] == 1 and versions[0]["note"] == "first" and versions[0]["running"] == 1
    timeline = (await api.call("GET", f"/api/leads/{lead['id']}/timeline")).json()
    types = [t["type"] for t in timeline]
    assert "lead.created" in types and "step.entered" in types and "email.sent" in types
    # updating the same e-mail updates the lead, and enrols nothing new
    r = await api.call("POST", "/api/leads", json={"email": "ann@example.com", "company": "Acme"})
    assert r.status_code == 200 and r.json()["company"] == "Acme" and len(r.json()["flows"]) == 1


async def test_invalid_flow_gets_422_with_every_problem_and_nothing_saved(api: Api, any_db_url: str) -> None:
    bad = copy.deepcopy(FLOW)
    bad["steps"]["hello"]["template"] = "no-such-template"
    bad["steps"]["pause"]["duration"] = "two days"
    bad["steps"]["tips"]["next"] = "nowhere"
    bad["steps"]["orphan"] = {"type": "exit"}
    r = await api.call("POST", "/api/flows", json=bad)
    body = assert_error(r, 422, "Invalid")
    paths = {p["path"] for p in body["problems"]}
    assert {"steps.hello.template", "steps.pause.duration", "steps.tips.next",
            "steps.orphan"} <= paths
    assert all(p["message"] for p in body["problems"])
    assert count(any_db_url, Flow) == 0, "nothing half-written"
    r = await api.call("POST", "/api/flows/validate", json=bad)
    assert r.status_code == 200 and r.json()["valid"] is False and len(r.json()["problems"]) >= 4
    # a draft may be saved as work in progress, but never published while invalid
    assert (await api.call("POST", "/api/flows?allow_invalid=true", json=bad)).status_code == 201
    body = assert_error(await api.call("POST", f"/api/flows/{FLOW['id']}/publish"), 422, "Invalid")
    assert {"steps.hello.template", "steps.pause.duration"} <= {p["path"] for p in body["problems"]}
    assert count(any_db_url, FlowVersion) == 0


async def test_bad_input_never_gives_500(api: Api, any_db_url: str) -> None:
    assert_error(await api.call("POST", "/api/flows", content=b"{not json",
                                headers={"Content-Type": "application/json"}), 400, "BadRequest")
    assert_error(await api.call("POST", "/api/events", content=b"[{]",
                                headers={"Content-Type": "application/json"}), 400, "BadRequest")
    assert_error(await api.call("GET", "/api/leads/nope"), 404, "NotFound")
    assert_error(await api.call("GET", "/api/flows/nope"), 404, "NotFound")
    assert_error(await api.call("POST", "/api/flows/nope/publish"), 404, "NotFound")
    assert_error(await api.call("GET", "/api/templates/nope"), 404, "NotFound")
    body = assert_error(await api.call("POST", "/api/leads", json={"email": "not-an-email"}), 422, "Invalid")
    assert body["problems"][0]["path"] == "email"
    assert_error(await api.call("POST", "/api/events", json={"type": "x.y"}), 422, "Invalid")
    assert_error(await api.call("POST", "/api/events", json={"lead_id": "ghost", "type": "x.y"}),
                 404, "NotFound")
    assert (await api.call("POST", "/api/flows", json=FLOW)).status_code == 201
    assert_error(await api.call("POST", "/api/flows", json=FLOW), 409, "Conflict")
    assert_error(await api.call("PUT", "/api/flows/other", json=FLOW), 409, "Conflict")
    assert_error(await api.call("POST", "/api/flows/welcome-series/enroll", json={"lead_id": "x"}),
                 404, "NotFound")


async def test_auth_roles(api: Api) -> None:
    assert_error(await api.call("GET", "/api/flows", key=None), 401, "Unauthorized")
    assert_error(await api.call("GET", "/api/flows", key="wrong"), 401, "Unauthorized")
    marketer = await api.key("marketer")
    assert (await api.call("GET", "/api/flows", key=marketer)).status_code == 200
    assert_error(await api.call("POST", "/api/keys", key=marketer, json={"role": "admin"}),
                 403, "Forbidden")
    r = await api.call("POST", "/api/keys", json={"role": "sales"})
    assert_error(r, 422, "Invalid")
    assert (await api.call("GET", "/api/health", key=None)).json()["status"] == "ok"


async def test_events_batch_dedup_and_all_or_nothing(api: Api, any_db_url: str) -> None:
    lead = (await api.call("POST", "/api/leads", json={"email": "bo@example.com"})).json()
    batch = [{"id": "e-1", "lead_id": lead["id"], "type": "email.clicked"},
             {"id": "e-2", "email": "bo@example.com", "type": "form.submitted",
              "properties": {"form": "contact"}}]
    r = await api.call("POST", "/api/events", json=batch)
    assert r.status_code == 202 and r.json()["accepted"] == 2
    r = await api.call("POST", "/api/events", json=batch)
    assert r.status_code == 202 and r.json()["accepted"] == 0 and r.json()["duplicates"] == 2
    before = count(any_db_url, Event)
    r = await api.call("POST", "/api/events", json=[
        {"id": "e-3", "lead_id": lead["id"], "type": "email.opened"},
        {"id": "e-4", "lead_id": "ghost", "type": "email.opened"}])
    body = assert_error(r, 404, "NotFound")
    assert "Event 1" in body["detail"]
    assert count(any_db_url, Event) == before, "a rejected batch stores nothing"
    lead = (await api.call("GET", f"/api/leads/{lead['id']}")).json()
    assert lead["score"] == 15 and lead["temperature"] == "cold"  # 5 (click) + 10 (form)


async def test_manual_enrolment_and_entry_rules(api: Api, any_db_url: str) -> None:
    flow = copy.deepcopy(FLOW)
    flow["id"], flow["entry"] = "contact-follow-up", {
        "event": "form.submitted", "where": {"field": "properties.form", "op": "eq", "value": "contact"}}
    assert (await api.call("POST", "/api/flows", json=flow)).status_code == 201
    lead = (await api.call("POST", "/api/leads", json={"email": "cy@example.com"})).json()
    assert_error(await api.call("POST", "/api/flows/contact-follow-up/enroll",
                                json={"lead_id": lead["id"]}), 409, "Conflict")  # not published
    await api.call("POST", "/api/flows/contact-follow-up/publish")
    await api.call("POST", "/api/events", json={"lead_id": lead["id"], "type": "form.submitted",
                                                "properties": {"form": "newsletter"}})
    assert (await api.call("GET", f"/api/leads/{lead['id']}")).json()["flows"] == []
    await api.call("POST", "/api/events", json={"lead_id": lead["id"], "type": "form.submitted",
                                                "properties": {"form": "contact"}})
    flows = (await api.call("GET", f"/api/leads/{lead['id']}")).json()["flows"]
    assert [f["flow_id"] for f in flows] == ["contact-follow-up"]
    # reentry "never": a second matching event does not enrol again
    await api.call("POST", "/api/events", json={"lead_id": lead["id"], "type": "form.submitted",
                                                "properties": {"form": "contact"}})
    assert len((await api.call("GET", f"/api/leads/{lead['id']}")).json()["flows"]) == 1
    other = (await api.call("POST", "/api/leads", json={"email": "di@example.com"})).json()
    r = await api.call("POST", "/api/flows/contact-follow-up/enroll", json={"lead_id": other["id"]})
    assert r.status_code == 201 and r.json()["version"] == 1
    assert_error(await api.call("POST", "/api/flows/contact-follow-up/enroll",
                                json={"lead_id": other["id"]}), 409, "Conflict")


async def test_a_new_lead_is_answered_as_stored(api: Api, any_db_url: str) -> None:
    """POST /api/leads answers a new lead from what its one transaction wrote (no read-back):
    the answer is what GET reads from the database, for a lead whose score changes at once
    (the score.changed flow enrols it too), and everything commits together."""
    for flow_id, entry in (("on-create", {"event": "lead.created"}),
                           ("on-score", {"event": "score.changed"})):
        flow = {**copy.deepcopy(FLOW), "id": flow_id, "entry": entry}
        assert (await api.call("POST", "/api/flows", json=flow)).status_code == 201
        assert (await api.call("POST", f"/api/flows/{flow_id}/publish")).status_code == 201
    bodies = [
        {"email": "Plain@Example.com"},
        {"email": "vp@acme.example", "first_name": "Vera", "last_name": "Park",
         "company": "Acme", "title": "VP Sales", "country": "DE", "timezone": "Europe/Berlin",
         "source": "webinar", "utm": {"utm_source": "news", "utm_campaign": "q4"},
         "fields": {"seats": 12, "ratio": 0.1, "big": 1e16, "nested": {"a": [1, 2.5, None]},
                    "flag": True, "text": "é ✓"},
         "tags": ["b", "a", "b"],
         "consent": {"status": "granted", "source": "form", "text_version": "v2",
                     "extra": {"ip": "203.0.113.7"}}},
    ]
    for body in bodies:
        r = await api.call("POST", "/api/leads", json=body)
        assert r.status_code == 201, r.text
        created = r.json()
        stored = (await api.call("GET", f"/api/leads/{created['id']}")).json()
        assert created == {k: stored[k] for k in created}, body["email"]
        expected = {"on-create", "on-score"} if "title" in body else {"on-create"}
        assert {f["flow_id"] for f in created["flows"]} == expected
        with session_scope(any_db_url) as session:
            events = session.exec(select(Event).where(Event.lead_id == created["id"])).all()
            assert events and all(e.dispatched for e in events)
            starts = session.exec(select(TemporalIntent).where(
                col(TemporalIntent.workflow_id).in_([f["journey_id"] for f in created["flows"]]),
                TemporalIntent.kind == "start")).all()
            assert len(starts) == len(expected)
    assert created["score"] == 20 and created["tags"] == ["a", "b"]
    r = await api.call("POST", "/api/leads", json={"email": "plain@example.com", "company": "X"})
    assert r.status_code == 200 and r.json()["company"] == "X"


async def test_templates_api(api: Api) -> None:
    names = {t["name"] for t in (await api.call("GET", "/api/templates")).json()}
    assert {"trial-welcome", "case-study", "trial-tips"} <= names
    r = await api.call("PUT", "/api/templates/promo", json={
        "subject": "Hi {{ lead.first_name", "html": "<p>{{ lead.nope.deeper }}</p>"})
    body = assert_error(r, 422, "Invalid")
    assert {p["path"] for p in body["problems"]} == {"subject", "html"}
    r = await api.call("PUT", "/api/templates/promo", json={
        "subject": "Hi {{ lead.first_name or 'there' }}",
        "html": "{% extends '_layout.html.j2' %}{% block body %}<p>{{ lead.company }}</p>{% endblock %}"})
    assert r.status_code == 200
    r = await api.call("GET", "/api/templates/promo/preview")
    assert r.status_code == 200 and "Example Corp" in r.json()["html"] and r.json()["subject"] == "Hi Jamie"
    # autoescaped and sandboxed
    r = await api.call("PUT", "/api/templates/evil", json={
        "subject": "x", "html": "{{ ''.__class__.__mro__ }}"})
    assert r.status_code == 422


async def test_a_template_without_unsubscribe_link_is_refused(api: Api) -> None:
    r = await api.call("PUT", "/api/templates/bare", json={
        "subject": "Hello", "html": "<p>Buy now, {{ lead.first_name }}</p>"})
    body = assert_error(r, 422, "Invalid")
    assert any("unsubscribe" in p["message"] for p in body["problems"])
    assert any("postal address" in p["message"] for p in body["problems"])
    lead = (await api.call("POST", "/api/leads", json={"email": "pre@example.com",
                                                       "first_name": "Pre"})).json()
    r = await api.call("GET", f"/api/templates/trial-welcome/preview?lead_id={lead['id']}")
    assert r.status_code == 200 and "Pre" in r.json()["subject"]
    assert "/u/" in r.json()["html"] and "/u/preview" not in r.json()["html"]


async def test_csv_import_reports_each_row(api: Api, any_db_url: str) -> None:
    csv_text = ("Email,First Name,Company,tags,plan,utm_source\n"
                "ann@example.com,Ann,Acme,vip;trial,pro,linkedin\n"
                "not-an-address,Bob,Bobco,,,\n"
                "cy@example.com,Cy,,,,\n"
                "ANN@example.com,,Acme Corp,,,\n")
    r = await api.call("POST", "/api/leads/import",
                       files={"file": ("leads.csv", csv_text.encode(), "text/csv")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["created"], body["updated"], body["rejected_count"]) == (2, 1, 1)
    assert body["rejected"][0]["row"] == 3 and "email" in body["rejected"][0]["errors"][0]
    leads = (await api.call("GET", "/api/leads?q=ann")).json()["items"]
    ann = (await api.call("GET", f"/api/leads/{leads[0]['id']}")).json()
    assert ann["company"] == "Acme Corp" and ann["fields"] == {"plan": "pro"}
    assert set(ann["tags"]) == {"vip", "trial"} and ann["source"] == "linkedin"
    r = await api.call("POST", "/api/leads/import", content=b"name,company\nx,y\n",
                       headers={"Content-Type": "text/csv"})
    assert_error(r, 422, "Invalid")
    r = await api.call("POST", "/api/leads/import", content=b"\xff\xfe\x00bad",
                       headers={"Content-Type": "text/csv"})
    assert_error(r, 400, "BadRequest")
