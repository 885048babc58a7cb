"""Journeys always finish: exits reach them whatever they do, failures end them with a reason
and can be retried, and no event of a batch is lost between enrolment and wait.

On the Temporal time-skipping server, with the real activities unless a test is about the
workflow alone.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlmodel import col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from leadflow.api.main import create_app
from leadflow.auth import create_key
from leadflow.config import reset_settings
from leadflow.db import session_scope
from leadflow.dispatch import run_dispatch
from leadflow.journeys.enrolment import exit_journey
from leadflow.models import EmailMessage, Handoff, Journey, TimelineEntry
from tests.handoff_support import HANDOFF_FLOW, mails_to, rep, seed_team, the_handoff
from tests.helpers import (
    ended,
    enrol_lead,
    eventually,
    journey,
    make_lead,
    publish_flow,
    running_worker,
    update_lead,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")
ADMIN = "admin-key-for-tests-0123456789"
GRANTED = {"status": "granted", "source": "test"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest_asyncio.fixture(loop_scope="session")
async def api(time_env: WorkflowEnvironment, db_url: str,
              monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("LEADFLOW_ADMIN_KEY", ADMIN)
    monkeypatch.setenv("LEADFLOW_OUTBOX_DRAIN", "false")  # the tests drive delivery
    reset_settings()
    app = create_app(temporal_client=time_env.client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as client:
        yield client


def timeline(db_url: str, lead_id: str) -> list[TimelineEntry]:
    with session_scope(db_url) as session:
        return list(session.exec(select(TimelineEntry).where(
            TimelineEntry.lead_id == lead_id).order_by(col(TimelineEntry.id))).all())


def guarded_handoff_flow() -> dict[str, Any]:
    flow = copy.deepcopy(HANDOFF_FLOW)
    flow["exit_when"] = {"has_tag": "customer"}
    return flow


async def _in_handoff(env: WorkflowEnvironment, db_url: str) -> tuple[str, str, Handoff]:
    seed_team(db_url, [rep("ann")], calendar={})
    publish_flow(db_url, guarded_handoff_flow())
    lead_id = make_lead(db_url, consent=GRANTED)
    jid = await enrol_lead(env.client, db_url, "to-sales", lead_id)
    h = await eventually(lambda: (x if (x := the_handoff(db_url)) and x.rep_id else None),
                         what="the handoff to be assigned")
    await eventually(lambda: mails_to(db_url, "ann@sales.example.com"), what="the rep's mail")
    return lead_id, jid, h


# ---------------------------------------------------------------- a handoff never blocks exit


@pytest.mark.parametrize("reason", ["manual", "stopped", "erased"])
async def test_an_exit_ends_a_journey_waiting_in_a_handoff_and_withdraws_it(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str, reason: str) -> None:
    async with running_worker(time_env.client, db_url, task_queue):
        lead_id, jid, h = await _in_handoff(time_env, db_url)
        with session_scope(db_url) as session:
            if reason == "erased":
                from leadflow.usecases.privacy import erase_lead

                plan = erase_lead(session, lead_id)
            else:
                plan = exit_journey(session, lead_id, "to-sales", reason)
        await run_dispatch(time_env.client, plan, db_url)
        done = journey(db_url, jid)
        assert done.status == "exited" and done.exit_reason == reason, "recorded at once"
        assert the_handoff(db_url).status == "withdrawn"
        # the workflow heard it although it sat in the handoff child: the rep is told
        await eventually(lambda: any(m.template == "handoff-withdrawn"
                                     for m in mails_to(db_url, "ann@sales.example.com")),
                         what="the rep told of the withdrawal")
        handle = time_env.client.get_workflow_handle(jid)
        result = await handle.result()
        assert result["status"] == "exited"
        child = await time_env.client.get_workflow_handle(h.id).result()
        assert child["outcome"] == "withdrawn"
        # no reminder or escalation for a lead that left
        await time_env.sleep(timedelta(days=3))
    assert the_handoff(db_url).escalations == []
    kinds = [t.type for t in timeline(db_url, lead_id)]
    assert "sla.reminder" not in kinds and "sla.escalated" not in kinds


async def test_exit_when_is_met_while_the_journey_sits_in_a_handoff(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str) -> None:
    async with running_worker(time_env.client, db_url, task_queue):
        _, jid, _ = await _in_handoff(time_env, db_url)
        await update_lead(time_env.client, db_url, "ada@example.com", tags=["customer"])
        done = await ended(db_url, jid)
        assert done.status == "exited" and done.exit_reason == "goal" and done.converted
        await eventually(lambda: the_handoff(db_url).status == "withdrawn",
                         what="the handoff withdrawn")


# ---------------------------------------------------------------- journeys finish


FLAKY: dict[str, Any] = {"fixed": False, "calls": 0}


@activity.defn(name="send_email")
async def send_until_fixed(inp: Any) -> dict[str, Any]:
    FLAKY["calls"] += 1
    if not FLAKY["fixed"]:
        raise ApplicationError("The e-mail of step 'welcome' cannot be rendered for this lead: "
                               "'plan' is undefined", type="TemplateError", non_retryable=True)
    return {"status": "sent"}


async def test_a_permanent_error_fails_the_journey_with_a_reason_and_retry_resumes_it(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        api: httpx.AsyncClient) -> None:
    from temporalio.worker import Worker

    from leadflow.cli.wiring import WORKFLOWS, activities_for

    FLAKY.update(fixed=False, calls=0)
    flow = {"id": "onboard", "name": "Onboard", "start": "welcome", "steps": {
        "welcome": {"type": "email", "template": "trial-welcome", "next": "tag"},
        "tag": {"type": "update", "add_tags": ["onboarded"], "next": "end"},
        "end": {"type": "exit"}}}
    publish_flow(db_url, flow)
    lead_id = make_lead(db_url, consent=GRANTED)
    others = [a for a in activities_for(db_url, time_env.client)
              if a.__temporal_activity_definition.name != "send_email"]
    async with Worker(time_env.client, task_queue=task_queue, workflows=WORKFLOWS(),
                      activities=[*others, send_until_fixed]):
        jid = await enrol_lead(time_env.client, db_url, "onboard", lead_id)
        failed = await ended(db_url, jid)
        assert failed.status == "failed" and failed.current_step == "welcome"
        assert "cannot be rendered" in (failed.exit_reason or "")
        assert FLAKY["calls"] == 1, "a non-retryable error is not retried"
        marketer = bearer(ADMIN)
        stats = (await api.get("/api/flows/onboard/stats", headers=marketer)).json()
        assert stats["journeys"]["failed"] == 1
        assert stats["steps"]["welcome"]["failed"] == 1
        assert "cannot be rendered" in stats["steps"]["welcome"]["failures"][0]["reason"]
        entry = next(t for t in timeline(db_url, lead_id) if t.type == "journey.failed")
        assert "cannot be rendered" in entry.data["reason"] and entry.data["step"] == "welcome"
        # not failed yet in another flow: 404 / 409 with a sentence
        assert (await api.post(f"/api/leads/{lead_id}/flows/nope/retry",
                               headers=marketer)).status_code == 404
        FLAKY["fixed"] = True  # the marketer fixes the template
        answer = await api.post(f"/api/leads/{lead_id}/flows/onboard/retry", headers=marketer)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "running" and answer.json()["step"] == "welcome"
        done = await ended(db_url, jid)
        assert done.status == "completed"
        again = await api.post(f"/api/leads/{lead_id}/flows/onboard/retry", headers=marketer)
        assert again.status_code == 409 and again.json()["error"] == "Conflict"
    assert [t.type for t in timeline(db_url, lead_id)].count("journey.retried") == 1


async def test_unfixable_errors_become_non_retryable_with_a_marketers_reason() -> None:
    from jinja2 import UndefinedError

    from leadflow.activities.journey import permanent_failure
    from leadflow.errors import Invalid, NotFound, TransientDeliveryError

    err = permanent_failure(UndefinedError("'plan' is undefined"), "e-mail of step 'welcome'")
    assert err is not None and err.non_retryable and err.type == "TemplateError"
    assert "cannot be rendered for this lead" in err.message
    assert permanent_failure(NotFound("There is no e-mail template named 'x'."), "e-mail")
    assert permanent_failure(Invalid("Template 'x' does not render"), "e-mail")
    assert permanent_failure(TransientDeliveryError("timeout"), "e-mail") is None
    assert permanent_failure(RuntimeError("database is locked"), "e-mail") is None


async def test_a_notify_target_that_refuses_does_not_hold_the_journey(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    hits: list[str] = []

    class Gone(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Gone)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("LEADFLOW_ALLOWED_HOOK_HOSTS", "127.0.0.1")
    reset_settings()
    try:
        publish_flow(db_url, {"id": "tell", "name": "Tell", "start": "hook", "steps": {
            "hook": {"type": "notify", "channel": "webhook",
                     "to": f"http://127.0.0.1:{server.server_port}/gone",
                     "message": "new lead", "next": "tag"},
            "tag": {"type": "update", "add_tags": ["told"], "next": "end"},
            "end": {"type": "exit"}}})
        lead_id = make_lead(db_url, consent=GRANTED)
        async with running_worker(time_env.client, db_url, task_queue):
            jid = await enrol_lead(time_env.client, db_url, "tell", lead_id)
            done = await ended(db_url, jid, timeout=30)
    finally:
        server.shutdown()
        server.server_close()
    assert done.status == "completed", "the journey went on"
    assert len(hits) == 1, "a target that refuses is not asked again"
    failed = [t for t in timeline(db_url, lead_id) if t.type == "notify.failed"]
    assert failed and failed[0].data["reason"] == "refused"


# ---------------------------------------------------------------- no event lost


WEBINAR: dict[str, Any] = json.loads(
    (__import__("pathlib").Path(__file__).parents[1] / "flows" / "webinar-follow-up.json")
    .read_text())


async def test_enrolling_and_awaited_events_in_one_batch_take_the_attended_path(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        api: httpx.AsyncClient) -> None:
    publish_flow(db_url, WEBINAR)
    with session_scope(db_url) as session:
        key = create_key(session, role="marketer")
    leads = [make_lead(db_url, f"w{i}@example.com", consent=GRANTED) for i in range(100)]
    batch = []
    for lead_id in leads:
        batch += [{"lead_id": lead_id, "type": "webinar.registered"},
                  {"lead_id": lead_id, "type": "webinar.attended"}]
    async with running_worker(time_env.client, db_url, task_queue):
        posted = await api.post("/api/events", headers=bearer(key), json=batch)
        assert posted.status_code == 202, posted.text
        assert posted.json()["accepted"] == 200

        def thanked() -> int:
            with session_scope(db_url) as session:
                return len(session.exec(select(EmailMessage).where(
                    EmailMessage.template == "webinar-thanks")).all())

        await eventually(lambda: thanked() == 100, timeout=120, what="100 thank-you mails")
    with session_scope(db_url) as session:
        missed = session.exec(select(EmailMessage).where(
            EmailMessage.template == "webinar-missed")).all()
        steps = {j.current_step for j in session.exec(select(Journey)).all()}
    assert missed == [], "no journey took the timeout path"
    assert "await-attendance" not in steps


async def test_an_event_kept_for_later_counts_only_within_the_steps_window() -> None:
    from leadflow.journeys.engine import JourneyState, advance

    flow = {"id": "f", "start": "mail", "steps": {
        "mail": {"type": "email", "template": "t", "next": "pause"},
        "pause": {"type": "wait", "duration": "PT1H", "next": "await"},
        "await": {"type": "wait_for", "event": "app.used", "timeout": "P1D", "next": "yes",
                  "on_timeout": "no"},
        "yes": {"type": "exit"}, "no": {"type": "exit"}}}

    def run(gap_before_wait: float, early: list[Any] | None) -> str | None:
        state = JourneyState(journey_id="j", lead_id="l", early=early)
        advance(flow, state, {"kind": "start"}, 0.0)
        # the event arrives while the journey sends its mail
        advance(flow, state, {"kind": "event", "type": "app.used", "event_id": "e1"}, 1.0)
        advance(flow, state, {"kind": "result", "value": {"status": "sent"}}, 2.0)
        cmd = advance(flow, state, {"kind": "timer"}, 2.0 + gap_before_wait)
        return cmd.step if cmd.kind == "finish" else state.step

    assert run(3600, []) == "yes", "kept, and counted by the wait_for"
    assert run(3 * 86400, []) == "await", "older than the step's window: not counted"
    assert run(3600, None) == "await", "journeys from before keep the old rule"


async def test_from_step_counts_only_engagement_with_that_steps_mail() -> None:
    from leadflow.journeys.engine import JourneyState, advance

    flow = {"id": "f", "start": "a", "steps": {
        "a": {"type": "email", "template": "t", "next": "b"},
        "b": {"type": "email", "template": "t", "next": "await"},
        "await": {"type": "wait_for", "event": "email.clicked", "from_step": "b",
                  "timeout": "P1D", "next": "yes", "on_timeout": "no"},
        "yes": {"type": "exit"}, "no": {"type": "exit"}}}
    state = JourneyState(journey_id="j", lead_id="l", early=[])
    advance(flow, state, {"kind": "start"}, 0.0)
    click_a = {"kind": "event", "type": "email.clicked", "journey_id": "j", "step": "a"}
    advance(flow, state, click_a, 1.0)  # while b is being sent
    advance(flow, state, {"kind": "result", "value": {"status": "sent"}}, 2.0)
    cmd = advance(flow, state, {"kind": "result", "value": {"status": "sent"}}, 3.0)
    assert cmd.kind == "sleep" and state.step == "await", "a click on a's mail does not count"
    state = JourneyState(journey_id="j", lead_id="l", early=[])
    advance(flow, state, {"kind": "start"}, 0.0)
    advance(flow, state, {"kind": "result", "value": {"status": "sent"}}, 1.0)
    advance(flow, state, {**click_a, "step": "b"}, 2.0)  # clicked before the wait began
    cmd = advance(flow, state, {"kind": "result", "value": {"status": "sent"}}, 3.0)
    assert cmd.kind == "finish" and cmd.step == "yes"


DOWN: dict[str, int] = {"calls": 0}


@activity.defn(name="send_email")
async def provider_down(inp: Any) -> dict[str, Any]:
    DOWN["calls"] += 1
    raise ApplicationError("the provider did not answer", type="TransientDeliveryError")


async def test_a_transient_error_retries_with_backoff_then_fails_the_journey_after_a_day(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str) -> None:
    from temporalio.worker import Worker

    from leadflow.cli.wiring import WORKFLOWS, activities_for

    DOWN["calls"] = 0
    publish_flow(db_url, {"id": "down", "name": "Down", "start": "welcome", "steps": {
        "welcome": {"type": "email", "template": "trial-welcome", "next": "end"},
        "end": {"type": "exit"}}})
    lead_id = make_lead(db_url, consent=GRANTED)
    others = [a for a in activities_for(db_url, time_env.client)
              if a.__temporal_activity_definition.name != "send_email"]
    async with Worker(time_env.client, task_queue=task_queue, workflows=WORKFLOWS(),
                      activities=[*others, provider_down]):
        jid = await enrol_lead(time_env.client, db_url, "down", lead_id)
        await eventually(lambda: DOWN["calls"] >= 3, what="a few attempts")
        assert journey(db_url, jid).status == "running", "transient: retried, not failed"
        await time_env.sleep(timedelta(days=1, hours=1))
        failed = await ended(db_url, jid, timeout=60)
    assert failed.status == "failed" and "kept failing" in (failed.exit_reason or "")
    assert 10 < DOWN["calls"] < 1000, "backoff: a bounded number of attempts over the day"
