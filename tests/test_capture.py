"""POST /api/capture/{form}: consent with IP and wording, honeypot, rate limit, double opt-in."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from leadflow.db import session_scope
from leadflow.models import ConsentRecord, EmailMessage, Event, Journey, Lead
from leadflow.usecases.capture import submission_limiter
from tests.fakes.api_client import admin, app_client
from tests.helpers import eventually, publish_flow

pytestmark = pytest.mark.asyncio(loop_scope="session")
# The entry rule of the shipped trial-nurture flow, in front of a plain wait.
TRIAL: dict[str, Any] = {
    "id": "trial-nurture", "name": "Trial nurture",
    "entry": json.loads((Path(__file__).parent.parent / "flows" / "trial-nurture.json")
                        .read_text())["entry"],
    "start": "pause",
    "steps": {"pause": {"type": "wait", "duration": "P7D", "next": "end"}, "end": {"type": "exit"}},
}


@pytest.fixture(autouse=True)
def _fresh_limits() -> Iterator[None]:
    submission_limiter.reset()
    yield
    submission_limiter.reset()


def _lead(db_url: str, email: str) -> Lead | None:
    with session_scope(db_url) as session:
        return session.exec(select(Lead).where(Lead.email == email)).first()


def _events(db_url: str, lead_id: str, type_: str) -> list[Event]:
    with session_scope(db_url) as session:
        return list(session.exec(select(Event).where(Event.lead_id == lead_id,
                                                     Event.type == type_)).all())


async def test_browser_form_enrols_records_consent_and_ignores_bots(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    publish_flow(db_url, TRIAL)
    async with app_client(time_env.client, db_url, task_queue, monkeypatch) as http:
        r = await http.put("/api/forms/trial-signup", headers=admin(), json={
            "consent_text_version": "2025-01", "redirect_url": "https://example.com/thanks"})
        assert r.status_code == 200 and r.json()["double_opt_in"] is False
        r = await http.post("/api/capture/trial-signup", headers={"User-Agent": "Firefox/130"},
                            data={"email": "Kim@Example.com", "first_name": "Kim",
                                  "company": "Acme", "plan": "pro", "consent": "on",
                                  "website": ""})
        assert r.status_code == 303 and r.headers["location"] == "https://example.com/thanks"
        lead = _lead(db_url, "kim@example.com")
        assert lead is not None and lead.first_name == "Kim" and lead.fields["plan"] == "pro"
        assert lead.consent and lead.consent["status"] == "granted"
        with session_scope(db_url) as session:
            [record] = session.exec(select(ConsentRecord).where(
                ConsentRecord.lead_id == lead.id)).all()
        assert (record.status, record.source, record.text_version, record.ip,
                record.user_agent) == ("granted", "form:trial-signup", "2025-01",
                                       "203.0.113.7", "Firefox/130")
        [submitted] = _events(db_url, lead.id, "form.submitted")
        assert submitted.properties["form"] == "trial-signup"

        def enrolled() -> list[Journey]:
            with session_scope(db_url) as session:
                return list(session.exec(select(Journey).where(Journey.lead_id == lead.id)).all())
        [journey] = await eventually(enrolled, what="the trial-nurture journey")
        assert journey.flow_id == "trial-nurture"

        # a bot fills the hidden field: accepted as far as it can tell, nothing stored
        r = await http.post("/api/capture/trial-signup", json={
            "email": "bot@example.com", "website": "http://spam.example"})
        assert r.status_code == 202 and r.json() == {"status": "accepted"}
        assert _lead(db_url, "bot@example.com") is None

        r = await http.post("/api/capture/trial-signup", json={"first_name": "No mail"})
        assert r.status_code == 422 and r.json()["error"] == "Invalid"


async def test_rate_limit_per_form_and_client_address(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    async with app_client(time_env.client, db_url, task_queue, monkeypatch) as http:
        r = await http.put("/api/forms/news", headers=admin(), json={
            "rate_limit": 3, "rate_window_seconds": 600})
        assert r.status_code == 200 and r.json()["rate_limit"] == 3
        codes = [(await http.post("/api/capture/news", json={
            "email": f"p{i}@example.com"})).status_code for i in range(5)]
        assert codes == [202, 202, 202, 429, 429]
        r = await http.post("/api/capture/news", json={"email": "late@example.com"})
        assert r.json()["error"] == "RateLimited"
        assert 1 <= int(r.headers["Retry-After"]) <= 600
        # A forged X-Forwarded-For from an untrusted peer changes nothing.
        r = await http.post("/api/capture/news", json={"email": "spoof@example.com"},
                            headers={"X-Forwarded-For": "198.51.100.99"})
        assert r.status_code == 429
        # Another form has its own budget (the default of 10 per minute).
        r = await http.post("/api/capture/newsletter", json={"email": "other@example.com"})
        assert r.status_code == 202
    assert _lead(db_url, "p3@example.com") is None


async def test_forwarded_for_is_believed_only_from_trusted_proxies(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The test client connects from 203.0.113.7: here that is the operator's load balancer.
    async with app_client(time_env.client, db_url, task_queue, monkeypatch,
                          trusted_proxies="203.0.113.0/24, 10.0.0.0/8") as http:
        await http.put("/api/forms/news", headers=admin(), json={"rate_limit": 1})
        for i, chain in enumerate(["198.51.100.1", "198.51.100.2, 10.1.2.3"]):
            r = await http.post("/api/capture/news", headers={"X-Forwarded-For": chain},
                                json={"email": f"v{i}@example.com", "consent": True})
            assert r.status_code == 202, r.text
        # The client is the first untrusted hop from the right, whatever it claims before it.
        r = await http.post("/api/capture/news", json={"email": "v9@example.com"},
                            headers={"X-Forwarded-For": "1.2.3.4, 198.51.100.1"})
        assert r.status_code == 429
        with session_scope(db_url) as session:
            ips = sorted(r.ip for r in session.exec(select(ConsentRecord)).all())
        assert ips == ["198.51.100.1", "198.51.100.2"]


async def test_undeclared_forms_are_404_and_shipped_ones_exist(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    entries = [json.loads(p.read_text())["entry"]
               for p in (Path(__file__).parent.parent / "flows").glob("*.json")]
    shipped = {e["where"]["value"] for e in entries
               if e.get("event") == "form.submitted" and e.get("where", {}).get("field")
               == "properties.form"}
    async with app_client(time_env.client, db_url, task_queue, monkeypatch) as http:
        r = await http.get("/api/forms", headers=admin())
        assert r.status_code == 200
        assert shipped <= {f["form"] for f in r.json()} and "trial-signup" in shipped
        for name in ("no-such-form", "Bad Name!"):
            r = await http.post(f"/api/capture/{name}", json={"email": "x@example.com"})
            assert r.status_code == 404 and r.json()["error"] == "NotFound"
        assert (await http.get("/api/forms/no-such-form", headers=admin())).status_code == 404
        r = await http.put("/api/forms/webinar-signup", headers=admin(), json={})
        assert r.status_code == 200
        r = await http.post("/api/capture/webinar-signup", json={"email": "x@example.com"})
        assert r.status_code == 202
        # Publishing a flow that enrols by a form declares that form.
        assert (await http.post("/api/capture/partner-signup", json={
            "email": "p@example.com"})).status_code == 404
        doc = {**TRIAL, "id": "partners", "entry": {"event": "form.submitted", "where": {
            "any": [{"field": "properties.form", "op": "eq", "value": "partner-signup"},
                    {"field": "properties.form", "op": "in", "value": ["reseller"]}]}}}
        assert (await http.post("/api/flows", headers=admin(), json=doc)).status_code == 201
        assert (await http.post("/api/flows/partners/publish",
                                headers=admin())).status_code == 201
        for form in ("partner-signup", "reseller"):
            r = await http.post(f"/api/capture/{form}", json={"email": "p@example.com"})
            assert r.status_code == 202, form
    assert _lead(db_url, "x@example.com") is not None


async def test_a_submission_never_overwrites_a_known_lead(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    async with app_client(time_env.client, db_url, task_queue, monkeypatch) as http:
        r = await http.post("/api/leads", headers=admin(), json={
            "email": "kim@example.com", "first_name": "Kim", "company": "Acme",
            "fields": {"plan": "pro", "size": ""},
            "consent": {"status": "granted", "source": "crm"}})
        lead_id = r.json()["id"]
        r = await http.post("/api/capture/trial-signup", json={
            "email": "KIM@example.com", "first_name": "Mallory", "company": "Evil Corp",
            "last_name": "Kay", "plan": "free", "size": "50", "consent": "0"})
        assert r.status_code == 202
        lead = _lead(db_url, "kim@example.com")
        assert lead is not None and lead.id == lead_id
        assert (lead.first_name, lead.company, lead.last_name) == ("Kim", "Acme", "Kay")
        assert lead.fields == {"plan": "pro", "size": "50"}, "only empty fields are filled"
        assert lead.consent and lead.consent["status"] == "granted", "no denial by a stranger"
        [submitted] = _events(db_url, lead_id, "form.submitted")
        assert submitted.properties == {"form": "trial-signup", "first_name": "Mallory",
                                        "company": "Evil Corp", "last_name": "Kay",
                                        "plan": "free", "size": "50"}

        # A double opt-in form does not turn a granted consent into "pending" either.
        await http.put("/api/forms/trial-signup", headers=admin(), json={"double_opt_in": True})
        r = await http.post("/api/capture/trial-signup",
                            json={"email": "kim@example.com", "consent": True})
        assert r.status_code == 202
        lead = _lead(db_url, "kim@example.com")
        assert lead is not None and lead.consent and lead.consent["status"] == "granted"
        assert lead.stage == "lead"
        # Nor a lead mailed without a consent record (legitimate interest) into "pending".
        await http.post("/api/leads", headers=admin(), json={"email": "li@example.com"})
        r = await http.post("/api/capture/trial-signup", json={"email": "li@example.com",
                                                               "consent": True})
        assert r.status_code == 202
        lead = _lead(db_url, "li@example.com")
        assert lead is not None and lead.consent is None


async def test_only_a_confirmed_opt_in_lifts_an_unsubscribe_or_a_denial(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    async with app_client(time_env.client, db_url, task_queue, monkeypatch) as http:
        r = await http.post("/api/leads", headers=admin(), json={
            "email": "una@example.com", "consent": {"status": "granted"}})
        lead_id = r.json()["id"]
        await http.post("/api/leads", headers=admin(), json={
            "email": "den@example.com", "consent": {"status": "denied"}})
        with session_scope(db_url) as session:
            from leadflow.leads.consent import unsubscribe_lead

            row = session.get(Lead, lead_id)
            assert row is not None
            unsubscribe_lead(session, row)
        for email in ("una@example.com", "den@example.com"):
            r = await http.post("/api/capture/newsletter", data={"email": email, "consent": "on"})
            assert r.status_code == 202 and r.json() == {"status": "accepted"}
        # Submitting again (a stranger flooding the inbox) sends no second confirmation today.
        r = await http.post("/api/capture/contact", data={"email": "una@example.com",
                                                          "consent": "on"})
        assert r.status_code == 202
        una, den = _lead(db_url, "una@example.com"), _lead(db_url, "den@example.com")
        assert una is not None and una.unsubscribed and una.consent
        assert una.consent["status"] == "withdrawn"
        assert den is not None and den.consent and den.consent["status"] == "denied"

        # The address's owner gets a confirmation; only the link lifts the unsubscribe.
        with session_scope(db_url) as session:
            mail = session.exec(select(EmailMessage).where(
                EmailMessage.lead_id == lead_id, EmailMessage.template == "_confirm")).one()
        assert mail.status == "sent" and mail.to == "una@example.com"
        link = re.search(r"http://[^/]+(/api/capture/confirm/[^\s\"<]+)", mail.text or "")
        assert link is not None
        assert (await http.get(link.group(1))).status_code == 200
        una = _lead(db_url, "una@example.com")
        assert una is not None and not una.unsubscribed and una.consent
        assert una.consent["status"] == "granted"


async def test_double_opt_in_waits_for_the_signed_link(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    publish_flow(db_url, TRIAL)
    async with app_client(time_env.client, db_url, task_queue, monkeypatch) as http:
        await http.put("/api/forms/trial-signup", headers=admin(),
                       json={"double_opt_in": True, "consent_text_version": "v7"})
        r = await http.post("/api/capture/trial-signup",
                            json={"email": "dee@example.com", "consent": True})
        assert r.status_code == 202 and r.json() == {"status": "confirmation_sent"}
        lead = _lead(db_url, "dee@example.com")
        assert lead is not None and lead.stage == "subscriber"
        assert lead.consent and lead.consent["status"] == "pending"
        assert _events(db_url, lead.id, "form.submitted") == [], "not before confirmation"
        with session_scope(db_url) as session:
            mail = session.exec(select(EmailMessage).where(
                EmailMessage.lead_id == lead.id, EmailMessage.template == "_confirm")).one()
        assert mail.status == "sent" and mail.to == "dee@example.com"
        link = re.search(r"http://[^/]+(/api/capture/confirm/[^\s\"<]+)", mail.text or "")
        assert link is not None

        assert (await http.get(link.group(1)[:-3] + "xyz")).status_code == 403, "forged link"
        r = await http.get(link.group(1))
        assert r.status_code == 200 and "confirmed" in r.text
        r = await http.get(link.group(1))  # clicked twice: nothing new
        assert r.status_code == 200
        lead = _lead(db_url, "dee@example.com")
        assert lead is not None and lead.stage == "lead"
        assert lead.consent and lead.consent["status"] == "granted"
        assert lead.consent["text_version"] == "v7"
        [submitted] = _events(db_url, lead.id, "form.submitted")
        assert submitted.properties == {"form": "trial-signup", "confirmed": True}

        def enrolled() -> Any:
            with session_scope(db_url) as session:
                return session.exec(select(Journey).where(Journey.lead_id == lead.id)).first()
        assert (await eventually(enrolled, what="enrolment")).flow_id == "trial-nurture"
