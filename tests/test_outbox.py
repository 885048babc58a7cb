"""Every intent reaches its workflow: writes made while Temporal is down are accepted, kept in
the outbox with the change, and delivered once it is back; the reconciler repairs the rest.

The outage is an API whose Temporal address is dead (nothing listens there); "Temporal is
back" is the drainer delivering with a live client to the time-skipping server.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlmodel import col, select
from temporalio.testing import WorkflowEnvironment

from leadflow.api.main import create_app
from leadflow.auth import create_key
from leadflow.config import reset_settings
from leadflow.db import session_scope
from leadflow.intents import deliver, drain_forever
from leadflow.journeys.enrolment import enrol
from leadflow.models import Event, TemporalIntent
from leadflow.usecases.reconcile import reconcile
from tests.handoff_support import HANDOFF_FLOW, rep, seed_team, the_handoff
from tests.helpers import (
    ended,
    enrol_lead,
    eventually,
    journey,
    make_lead,
    publish_flow,
    running_worker,
    sent_mails,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")
ADMIN = "admin-key-for-tests-0123456789"
GRANTED = {"status": "granted", "source": "test"}
FLOW: dict[str, Any] = {
    "id": "hello", "name": "Hello", "entry": {"event": "trial.started"}, "start": "mail",
    "steps": {"mail": {"type": "email", "template": "trial-welcome", "next": "end"},
              "end": {"type": "exit"}}}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def dead_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


@pytest_asyncio.fixture(loop_scope="session")
async def down_api(db_url: str, monkeypatch: pytest.MonkeyPatch
                   ) -> AsyncIterator[httpx.AsyncClient]:
    """The API while Temporal is unreachable."""
    monkeypatch.setenv("LEADFLOW_ADMIN_KEY", ADMIN)
    monkeypatch.setenv("LEADFLOW_TEMPORAL_ADDRESS", dead_address())
    monkeypatch.setenv("LEADFLOW_OUTBOX_DRAIN", "false")
    reset_settings()
    app = create_app()
    app.state.temporal.CONNECT_TIMEOUT = 2.0
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as client:
        yield client


def pending(db_url: str) -> list[TemporalIntent]:
    with session_scope(db_url) as session:
        return list(session.exec(select(TemporalIntent).where(
            col(TemporalIntent.delivered_at).is_(None))).all())


async def temporal_back(env: WorkflowEnvironment, db_url: str, until: Any) -> None:
    """Run the outbox drainer with a live client until ``until()`` holds."""
    stop = asyncio.Event()

    async def client() -> Any:
        return env.client

    task = asyncio.create_task(drain_forever(client, db_url, every=0.2, reconcile_every=None,
                                             stop=stop))
    try:
        await eventually(until, timeout=30, what="delivery after the outage")
    finally:
        stop.set()
        await task


async def test_a_sales_action_while_temporal_is_down_is_accepted_and_delivered_later(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        down_api: httpx.AsyncClient) -> None:
    seed_team(db_url, [rep("ann")], calendar={})
    publish_flow(db_url, HANDOFF_FLOW)
    lead_id = make_lead(db_url, consent=GRANTED)
    with session_scope(db_url) as session:
        ann = create_key(session, role="sales", rep_id="ann")
    async with running_worker(time_env.client, db_url, task_queue):
        jid = await enrol_lead(time_env.client, db_url, "to-sales", lead_id)
        h = await eventually(lambda: (x if (x := the_handoff(db_url)) and x.rep_id else None),
                             what="the handoff")
        answer = await down_api.post(f"/api/handoffs/{h.id}/accept", headers=bearer(ann))
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "accepted"
        assert journey(db_url, jid).status == "running", "the workflow has not heard yet"
        assert next(i.workflow_id for i in pending(db_url)) == h.id
        await temporal_back(time_env, db_url, lambda: not pending(db_url))
        done = await ended(db_url, jid)
    assert done.status == "completed", "the accept reached the handoff: the journey went on"


async def test_events_and_enrolments_while_temporal_is_down_reach_their_journeys(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        down_api: httpx.AsyncClient) -> None:
    publish_flow(db_url, FLOW)
    publish_flow(db_url, {k: v for k, v in {**FLOW, "id": "manual"}.items() if k != "entry"})
    leads = [make_lead(db_url, f"o{i}@example.com", consent=GRANTED) for i in range(5)]
    with session_scope(db_url) as session:
        key = create_key(session, role="marketer")
    posted = await down_api.post("/api/events", headers=bearer(key), json=[
        {"lead_id": lead_id, "type": "trial.started"} for lead_id in leads])
    assert posted.status_code == 202, posted.text
    enrolled = await down_api.post("/api/flows/manual/enroll", headers=bearer(key),
                                   json={"lead_id": leads[0]})
    assert enrolled.status_code == 201, enrolled.text
    again = await down_api.post("/api/flows/manual/enroll", headers=bearer(key),
                                json={"lead_id": leads[0]})
    assert again.status_code == 409, "the first enrolment stands and will start"
    with session_scope(db_url) as session:
        assert all(e.dispatched for e in session.exec(select(Event)).all()), \
            "stored with what they set in motion"
    assert len(pending(db_url)) == 6
    async with running_worker(time_env.client, db_url, task_queue):
        await temporal_back(time_env, db_url, lambda: not pending(db_url))
        for lead_id in leads:
            # the first lead is in both flows: a mail from each
            want = 2 if lead_id == leads[0] else 1
            await eventually(lambda lead_id=lead_id, want=want:
                             len(sent_mails(db_url, lead_id)) >= want, what="each lead's mail")
    assert len(sent_mails(db_url, leads[0])) == 2, "one per flow"


async def test_the_reconciler_repairs_rows_and_workflows_that_disagree(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str) -> None:
    from datetime import timedelta

    publish_flow(db_url, {**FLOW, "steps": {
        "mail": {"type": "email", "template": "trial-welcome", "next": "pause"},
        "pause": {"type": "wait", "duration": "P3D", "next": "end"},
        "end": {"type": "exit"}}})
    orphan_lead, killed_lead, event_lead = (make_lead(db_url, f"r{i}@example.com",
                                                      consent=GRANTED) for i in range(3))
    with session_scope(db_url) as session:
        # a row whose start never reached Temporal (written before the outbox existed)
        orphan = enrol(session, lead_id=orphan_lead, flow_id="hello").id
        # an event stored but never dispatched
        session.add(Event(id="old-event", lead_id=event_lead, type="trial.started"))
    async with running_worker(time_env.client, db_url, task_queue):
        killed = await enrol_lead(time_env.client, db_url, "hello", killed_lead)
        await eventually(lambda: sent_mails(db_url, killed_lead), what="the first mail")
        await time_env.client.get_workflow_handle(killed).terminate("operator error")
        found = await reconcile(time_env.client, db_url, dry_run=True,
                                stale_after=timedelta(0))
        kinds = sorted(f.kind for f in found.findings)
        assert kinds == ["no_workflow", "undispatched_event", "workflow_ended"], found.summary()
        assert journey(db_url, orphan).status == "running", "a dry run changes nothing"
        fixed = await reconcile(time_env.client, db_url, stale_after=timedelta(0))
        assert fixed.fixed == 3, fixed.summary()
        assert journey(db_url, killed).status == "failed"
        assert "terminated" in (journey(db_url, killed).exit_reason or "")
        await eventually(lambda: sent_mails(db_url, orphan_lead), what="the orphan started")
        await eventually(lambda: sent_mails(db_url, event_lead), what="the event dispatched")
        again = await reconcile(time_env.client, db_url, stale_after=timedelta(0))
        assert again.findings == [], again.summary()
    assert len(sent_mails(db_url, killed_lead)) == 1


async def test_leadflow_doctor_reports_and_repairs(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str) -> None:
    publish_flow(db_url, FLOW)
    lead_id = make_lead(db_url, consent=GRANTED)
    with session_scope(db_url) as session:
        jid = enrol(session, lead_id=lead_id, flow_id="hello").id
    target = time_env.client.service_client.config.target_host
    env = {**os.environ, "LEADFLOW_TEMPORAL_ADDRESS": target, "LEADFLOW_DATABASE_URL": db_url}

    def doctor(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([shutil.which("leadflow") or "leadflow", "doctor",
                               "--stale-after", "0", *args],
                              env=env, capture_output=True, text=True, timeout=120, check=False)

    dry = await asyncio.to_thread(doctor, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "no_workflow" in dry.stdout and jid in dry.stdout and "dry run" in dry.stdout
    async with running_worker(time_env.client, db_url, task_queue):
        real = await asyncio.to_thread(doctor)
        assert real.returncode == 0, real.stderr
        assert "fixed" in real.stdout and "fixed 1" in real.stdout
        await eventually(lambda: sent_mails(db_url, lead_id), what="the journey started")
    env["LEADFLOW_TEMPORAL_ADDRESS"] = dead_address()
    down = await asyncio.to_thread(doctor)
    assert down.returncode == 2 and "not reachable" in down.stdout


async def test_delivery_keeps_the_order_of_one_workflow(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str) -> None:
    """A signal never overtakes its journey's start, even when delivered separately."""
    from leadflow.dispatch import Dispatch
    from leadflow.journeys.enrolment import journey_input
    from leadflow.temporal import EVENT_SIGNAL

    publish_flow(db_url, {**FLOW, "steps": {
        "await": {"type": "wait_for", "event": "app.used", "timeout": "P1D", "next": "mail",
                  "on_timeout": "end"},
        "mail": {"type": "email", "template": "trial-welcome", "next": "end"},
        "end": {"type": "exit"}}, "start": "await"})
    lead_id = make_lead(db_url, consent=GRANTED)
    with session_scope(db_url) as session:
        j = enrol(session, lead_id=lead_id, flow_id="hello")
        start = Dispatch(starts=[journey_input(j)]).record(session)
        signal = Dispatch(signals=[(j.id, EVENT_SIGNAL, {"kind": "event", "type": "app.used",
                                                         "event_id": "e1"})]).record(session)
    async with running_worker(time_env.client, db_url, task_queue):
        # only the signal asked for: it must wait for the start, not be lost as "gone"
        first = await deliver(time_env.client, db_url, ids=signal.intent_ids)
        assert first.delivered == 0 and first.gone == 0
        # the start was leased to the plan that recorded it (intents.SELF_LEASE)
        await deliver(time_env.client, db_url, ids=start.intent_ids, leased=start.leased)
        await deliver(time_env.client, db_url, ids=signal.intent_ids)
        done = await ended(db_url, j.id)
    assert done.status == "completed" and len(sent_mails(db_url, lead_id)) == 1


async def test_an_exit_while_temporal_is_down_holds_even_if_a_timer_fires_first(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        down_api: httpx.AsyncClient) -> None:
    from datetime import timedelta

    publish_flow(db_url, {**FLOW, "steps": {
        "mail": {"type": "email", "template": "trial-welcome", "next": "pause"},
        "pause": {"type": "wait", "duration": "P1D", "next": "again"},
        "again": {"type": "email", "template": "trial-tips", "next": "end"},
        "end": {"type": "exit"}}})
    lead_id = make_lead(db_url, consent=GRANTED)
    with session_scope(db_url) as session:
        key = create_key(session, role="marketer")
    async with running_worker(time_env.client, db_url, task_queue):
        jid = await enrol_lead(time_env.client, db_url, "hello", lead_id)
        await eventually(lambda: journey(db_url, jid).current_step == "pause", what="the wait")
        out = await down_api.post(f"/api/leads/{lead_id}/flows/hello/exit", headers=bearer(key))
        assert out.status_code == 200, out.text
        assert journey(db_url, jid).status == "exited", "recorded at once"
        await time_env.sleep(timedelta(days=1, minutes=1))  # the wait ends before the exit arrives
        await eventually(lambda: journey(db_url, jid).current_step == "end", what="the rest")
        await temporal_back(time_env, db_url, lambda: not pending(db_url))
        result = await time_env.client.get_workflow_handle(jid).result()
    assert [m.template for m in sent_mails(db_url, lead_id)] == ["trial-welcome"]
    assert journey(db_url, jid).status == "exited" and result["status"] in ("exited", "completed")
