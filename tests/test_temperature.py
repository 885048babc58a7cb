"""Temperature that moves by itself, MQLs and stage goals, on the Temporal time-skipping server.

Events are stamped with the test server's clock (which earlier tests have pushed ahead of the
wall clock), so the maths and the durable timers agree on what "now" is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from sqlmodel import col, select
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from leadflow.api.main import create_app
from leadflow.config import reset_settings
from leadflow.db import session_scope
from leadflow.dispatch import run_dispatch
from leadflow.models import Event, Journey, Lead, StageChange, utcnow
from leadflow.scoring.model import DEFAULT_SCORING_MODEL, EventView, next_temperature_change
from leadflow.temporal import score_workflow_id
from leadflow.usecases.events import EventIn, ingest_events
from tests.helpers import (
    at_step,
    ended,
    enrol_lead,
    eventually,
    journey,
    lead,
    make_lead,
    publish_flow,
    running_worker,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

ADMIN = "test-admin-key"
# Default model: no fit points for a lead without company or title; 40 + 15 + 10 = 65 is hot
# (>= 60), and it falls below 60 after 30 days * log2(65 / 60), about 3.46 days.
HOT_EVENTS = ("demo.requested", "webinar.attended", "form.submitted")


async def send(client: Client, db_url: str, lead_id: str, types: tuple[str, ...],
               at: datetime) -> None:
    """What ``POST /api/events`` does, with the events stamped ``at``."""
    with session_scope(db_url) as session:
        _, plan = ingest_events(session, [EventIn(lead_id=lead_id, type=t, occurred_at=at)
                                          for t in types])
    await run_dispatch(client, plan, db_url)


def cooling_moment(db_url: str, lead_id: str, now: datetime) -> datetime:
    with session_scope(db_url) as session:
        events = [EventView.of(e) for e in session.exec(
            select(Event).where(Event.lead_id == lead_id)).all()]
    moment = next_temperature_change({}, events, DEFAULT_SCORING_MODEL, now)
    assert moment is not None
    return moment


def events_of(db_url: str, lead_id: str, type_: str) -> list[Event]:
    with session_scope(db_url) as session:
        return list(session.exec(select(Event).where(Event.lead_id == lead_id, Event.type == type_)
                                 .order_by(col(Event.occurred_at))).all())


async def stop_timers(client: Client, db_url: str) -> None:
    """Terminate the leads' timers this test armed, so the shared server stays quiet."""
    with session_scope(db_url) as session:
        ids = list(session.exec(select(Lead.id)).all())
    for lead_id in ids:
        try:
            await client.get_workflow_handle(score_workflow_id(lead_id)).terminate("test done")
        except RPCError:
            pass


@pytest_asyncio.fixture(loop_scope="session")
async def worker(time_env: WorkflowEnvironment, db_url: str, task_queue: str
                 ) -> AsyncIterator[WorkflowEnvironment]:
    async with running_worker(time_env.client, db_url, task_queue):
        try:
            yield time_env
        finally:
            await stop_timers(time_env.client, db_url)


async def test_hot_lead_cools_to_warm_on_schedule_without_any_event(
        worker: WorkflowEnvironment, db_url: str) -> None:
    env = worker
    lead_id = make_lead(db_url)
    start = await env.get_current_time()
    await send(env.client, db_url, lead_id, HOT_EVENTS, start)
    assert lead(db_url, lead_id).temperature == "hot"
    moment = cooling_moment(db_url, lead_id, start)
    assert timedelta(days=3.4) < moment - start < timedelta(days=3.5)

    await env.sleep(moment - start - timedelta(minutes=1))
    assert lead(db_url, lead_id).temperature == "hot", "a minute before the maths says, still hot"
    await env.sleep(timedelta(minutes=2))
    await eventually(lambda: lead(db_url, lead_id).temperature == "warm", what="lead to cool")

    # cold -> hot as the batch of three events came in (a batch is scored once), then
    # hot -> warm by decay alone
    changed = events_of(db_url, lead_id, "temperature.changed")
    assert [e.properties["new"] for e in changed] == ["hot", "warm"]
    assert abs(changed[-1].occurred_at - moment) < timedelta(minutes=1)
    cooled = lead(db_url, lead_id)
    assert 59 < cooled.score < 60 and cooled.score_model_version == 0


async def test_wait_for_temperature_changed_wakes_the_journey(
        worker: WorkflowEnvironment, db_url: str) -> None:
    env = worker
    publish_flow(db_url, {
        "id": "cooling", "name": "Cooling", "start": "await-cool",
        "steps": {
            "await-cool": {"type": "wait_for", "event": "temperature.changed",
                           "where": {"field": "properties.new", "op": "eq", "value": "warm"},
                           "timeout": "P60D", "next": "tag", "on_timeout": "end"},
            "tag": {"type": "update", "add_tags": ["cooled"], "next": "end"},
            "end": {"type": "exit"},
        },
    })
    lead_id = make_lead(db_url)
    start = await env.get_current_time()
    await send(env.client, db_url, lead_id, HOT_EVENTS, start)
    jid = await enrol_lead(env.client, db_url, "cooling", lead_id)
    await at_step(db_url, jid, "await-cool")
    moment = cooling_moment(db_url, lead_id, start)

    await env.sleep(moment - start + timedelta(seconds=30))
    done = await ended(db_url, jid)
    assert done.status == "completed"
    assert "cooled" in lead(db_url, lead_id).tags, "woken by the event, not by the timeout"
    assert done.ended_at is not None and done.ended_at - moment < timedelta(minutes=1)


async def test_temperature_exit_when_ends_the_journey_when_the_lead_cools(
        worker: WorkflowEnvironment, db_url: str) -> None:
    env = worker
    publish_flow(db_url, {
        "id": "while-hot", "name": "While hot", "start": "pause",
        "exit_when": {"not": {"temperature": "hot"}},
        "steps": {"pause": {"type": "wait", "duration": "P30D", "next": "end"},
                  "end": {"type": "exit"}},
    })
    lead_id = make_lead(db_url)
    start = await env.get_current_time()
    await send(env.client, db_url, lead_id, HOT_EVENTS, start)
    jid = await enrol_lead(env.client, db_url, "while-hot", lead_id)
    await at_step(db_url, jid, "pause")
    moment = cooling_moment(db_url, lead_id, start)

    await env.sleep(moment - start - timedelta(minutes=1))
    assert journey(db_url, jid).status == "running"
    await env.sleep(timedelta(minutes=2))
    done = await ended(db_url, jid)
    assert (done.status, done.exit_reason) == ("exited", "goal")


async def test_mql_is_created_the_moment_the_threshold_is_crossed(
        worker: WorkflowEnvironment, db_url: str) -> None:
    env = worker
    publish_flow(db_url, {
        "id": "new-mql", "name": "New MQL",
        "entry": {"event": "stage.changed",
                  "where": {"field": "properties.new", "op": "eq", "value": "MQL"}},
        "start": "pause",
        "steps": {"pause": {"type": "wait", "duration": "P1D", "next": "end"},
                  "end": {"type": "exit"}},
    })
    lead_id = make_lead(db_url)
    start = await env.get_current_time()
    await send(env.client, db_url, lead_id, ("demo.requested", "form.submitted"), start)
    assert (lead(db_url, lead_id).score, lead(db_url, lead_id).stage) == (50, "lead")

    await env.sleep(timedelta(days=2))
    await send(env.client, db_url, lead_id, ("webinar.attended",), await env.get_current_time())
    # Scored as the event is taken in (the wall clock), not by some later sweep.
    crossing = utcnow()
    row = lead(db_url, lead_id)
    assert row.stage == "MQL" and row.score >= 60
    with session_scope(db_url) as session:
        change = session.exec(select(StageChange).where(StageChange.lead_id == lead_id)).one()
        journeys = session.exec(select(Journey).where(Journey.lead_id == lead_id)).all()
    assert (change.from_stage, change.to_stage, change.actor) == ("lead", "MQL", "scoring")
    assert "mql_at 60" in (change.cause or "")
    assert abs(change.at - crossing) < timedelta(seconds=2)
    [derived] = events_of(db_url, lead_id, "stage.changed")
    assert abs(derived.occurred_at - crossing) < timedelta(seconds=2)
    assert derived.properties["new"] == "MQL"
    assert [j.flow_id for j in journeys] == ["new-mql"], "stage.changed started the flow"
    await at_step(db_url, journeys[0].id, "pause")


async def test_stage_move_through_the_api_ends_a_journey_by_its_exit_when(
        worker: WorkflowEnvironment, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    env = worker
    monkeypatch.setenv("LEADFLOW_ADMIN_KEY", ADMIN)
    reset_settings()
    publish_flow(db_url, {
        "id": "until-opportunity", "name": "Until opportunity", "start": "pause",
        "exit_when": {"stage_at_least": "opportunity"},
        "steps": {"pause": {"type": "wait", "duration": "P10D", "next": "end"},
                  "end": {"type": "exit"}},
    })
    lead_id = make_lead(db_url)
    jid = await enrol_lead(env.client, db_url, "until-opportunity", lead_id)
    await at_step(db_url, jid, "pause")
    app = create_app(temporal_client=env.client)
    headers = {"Authorization": f"Bearer {ADMIN}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as http:
        refused = await http.post(f"/api/leads/{lead_id}/stage", headers=headers,
                                  json={"stage": "subscriber", "reason": "oops"})
        assert refused.status_code == 409
        assert journey(db_url, jid).status == "running"
        moved = await http.post(f"/api/leads/{lead_id}/stage", headers=headers,
                                json={"stage": "opportunity", "reason": "CRM deal opened"})
        assert moved.status_code == 200, moved.text
        assert moved.json()["stage"] == "opportunity"
    done = await ended(db_url, jid)
    assert (done.status, done.exit_reason, done.converted) == ("exited", "goal", True)
    with session_scope(db_url) as session:
        change = session.exec(select(StageChange).where(StageChange.lead_id == lead_id)).one()
    assert (change.to_stage, change.cause) == ("opportunity", "CRM deal opened")

