"""Journeys on the Temporal time-skipping server: days of waiting pass in milliseconds."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.testing import WorkflowEnvironment

from leadflow.journeys.actions import StepInput
from leadflow.journeys.engine import split_choice
from leadflow.temporal import STEP_QUERY
from tests.helpers import (
    SIMPLE_MODEL,
    at_step,
    ended,
    enrol_lead,
    eventually,
    journey,
    make_lead,
    post_event,
    publish_flow,
    running_worker,
    sent_mails,
    set_scoring_model,
    update_lead,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

NURTURE: dict[str, Any] = {
    "id": "nurture",
    "name": "Nurture",
    "start": "welcome",
    "steps": {
        "welcome": {"type": "email", "template": "trial-welcome", "next": "wait-2d"},
        "wait-2d": {"type": "wait", "duration": "P2D", "next": "case-study"},
        "case-study": {"type": "email", "template": "case-study", "next": "await-click"},
        "await-click": {"type": "wait_for", "event": "email.clicked", "from_step": "case-study",
                        "timeout": "P5D", "next": "clicked", "on_timeout": "tips"},
        "clicked": {"type": "update", "add_tags": ["engaged"], "next": "end"},
        "tips": {"type": "email", "template": "trial-tips", "next": "end"},
        "end": {"type": "exit"},
    },
}


def templates_of(mails: list[Any]) -> list[str]:
    return [m.template for m in mails]


async def test_multi_day_wait_then_timeout_path(time_env: WorkflowEnvironment, db_url: str,
                                                task_queue: str) -> None:
    publish_flow(db_url, NURTURE)
    lead_id = make_lead(db_url, first_name="Ada")
    async with running_worker(time_env.client, db_url, task_queue):
        jid = await enrol_lead(time_env.client, db_url, "nurture", lead_id)
        await at_step(db_url, jid, "wait-2d")
        assert templates_of(sent_mails(db_url, lead_id)) == ["trial-welcome"]
        await time_env.sleep(timedelta(days=1, hours=23))
        assert journey(db_url, jid).current_step == "wait-2d", "two days have not passed yet"
        await time_env.sleep(timedelta(hours=2))
        await at_step(db_url, jid, "await-click")
        assert templates_of(sent_mails(db_url, lead_id)) == ["trial-welcome", "case-study"]
        await time_env.sleep(timedelta(days=5, minutes=1))
        done = await ended(db_url, jid)
    assert done.status == "completed"
    assert templates_of(sent_mails(db_url, lead_id)) == ["trial-welcome", "case-study", "trial-tips"]
    welcome = sent_mails(db_url, lead_id)[0]
    assert welcome.to == "ada@example.com" and "Ada" in (welcome.subject or "")


async def test_wait_for_event_from_the_right_email(time_env: WorkflowEnvironment, db_url: str,
                                                   task_queue: str) -> None:
    publish_flow(db_url, NURTURE)
    lead_id = make_lead(db_url)
    async with running_worker(time_env.client, db_url, task_queue):
        jid = await enrol_lead(time_env.client, db_url, "nurture", lead_id)
        await at_step(db_url, jid, "wait-2d")
        await time_env.sleep(timedelta(days=2, minutes=1))
        await at_step(db_url, jid, "await-click")
        welcome, case_study = sent_mails(db_url, lead_id)
        # A click on the welcome mail is not the engagement this step waits for.
        await post_event(time_env.client, db_url, lead_id, "email.clicked", send_id=welcome.send_id)
        await time_env.sleep(timedelta(hours=1))
        assert journey(db_url, jid).current_step == "await-click"
        await post_event(time_env.client, db_url, lead_id, "email.clicked", send_id=case_study.send_id)
        done = await ended(db_url, jid)
    assert done.status == "completed"
    assert "trial-tips" not in templates_of(sent_mails(db_url, lead_id))
    from tests.helpers import lead

    assert "engaged" in lead(db_url, lead_id).tags


async def test_branch_on_temperature_and_cases(time_env: WorkflowEnvironment, db_url: str,
                                               task_queue: str) -> None:
    flow = {
        "id": "router", "name": "Router", "start": "route",
        "steps": {
            "route": {"type": "branch", "on": "temperature", "hot": "vip", "warm": "by-country",
                      "cold": "tips"},
            "by-country": {"type": "branch", "cases": [
                {"when": {"field": "country", "op": "in", "value": ["DE", "AT"]}, "next": "case-study"}],
                "else": "tips"},
            "vip": {"type": "email", "template": "demo-invite", "next": "end"},
            "case-study": {"type": "email", "template": "case-study", "next": "end"},
            "tips": {"type": "email", "template": "trial-tips", "next": "end"},
            "end": {"type": "exit"},
        },
    }
    publish_flow(db_url, flow)
    set_scoring_model(db_url, SIMPLE_MODEL)  # no decay: temperatures stay put during the test
    cold = make_lead(db_url, "cold@example.com")
    warm_de = make_lead(db_url, "warm@example.com", country="de")
    hot = make_lead(db_url, "hot@example.com")
    async with running_worker(time_env.client, db_url, task_queue):
        await post_event(time_env.client, db_url, warm_de, "form.submitted")
        await post_event(time_env.client, db_url, warm_de, "form.submitted")
        await post_event(time_env.client, db_url, warm_de, "email.clicked")
        await post_event(time_env.client, db_url, hot, "demo.requested")
        await post_event(time_env.client, db_url, hot, "form.submitted")
        await post_event(time_env.client, db_url, hot, "form.submitted")
        jids = [await enrol_lead(time_env.client, db_url, "router", x) for x in (cold, warm_de, hot)]
        for jid in jids:
            await ended(db_url, jid)
    assert templates_of(sent_mails(db_url, cold)) == ["trial-tips"]
    assert templates_of(sent_mails(db_url, warm_de)) == ["case-study"]
    assert templates_of(sent_mails(db_url, hot)) == ["demo-invite"]


async def test_split_is_stable_per_lead(time_env: WorkflowEnvironment, db_url: str,
                                        task_queue: str) -> None:
    flow = {
        "id": "ab", "name": "A/B", "start": "split", "entry": {"event": "ab.start",
                                                              "reentry": "after_exit"},
        "steps": {
            "split": {"type": "split", "paths": [{"weight": 50, "next": "a"},
                                                 {"weight": 50, "next": "b"}]},
            "a": {"type": "email", "template": "case-study", "next": "end"},
            "b": {"type": "email", "template": "trial-tips", "next": "end"},
            "end": {"type": "exit"},
        },
    }
    publish_flow(db_url, flow)
    leads = [make_lead(db_url, f"l{i}@example.com") for i in range(12)]
    async with running_worker(time_env.client, db_url, task_queue):
        for round_ in range(2):  # the same lead enrolled twice takes the same path twice
            for lead_id in leads:
                await post_event(time_env.client, db_url, lead_id, "ab.start")
            for lead_id in leads:
                await ended(db_url, f"journey-ab-{lead_id}-{round_ + 1}")
    paths = {}
    for lead_id in leads:
        got = templates_of(sent_mails(db_url, lead_id))
        assert len(got) == 2 and got[0] == got[1], "a lead's path never changes"
        paths[lead_id] = got[0]
        expected = ["case-study", "trial-tips"][split_choice(lead_id, "split", [50, 50])]
        assert got[0] == expected
    assert set(paths.values()) == {"case-study", "trial-tips"}, "12 leads use both paths"


async def test_exit_when_interrupts_a_wait(time_env: WorkflowEnvironment, db_url: str,
                                           task_queue: str) -> None:
    flow = copy.deepcopy(NURTURE)
    flow["id"] = "goal"
    flow["exit_when"] = {"has_tag": "customer-signed"}
    publish_flow(db_url, flow)
    lead_id = make_lead(db_url)
    async with running_worker(time_env.client, db_url, task_queue):
        jid = await enrol_lead(time_env.client, db_url, "goal", lead_id)
        await at_step(db_url, jid, "wait-2d")
        await update_lead(time_env.client, db_url, "ada@example.com", tags=["customer-signed"])
        done = await ended(db_url, jid)
    assert done.status == "exited" and done.exit_reason == "goal" and done.converted
    assert done.current_step == "wait-2d", "it left from where it waited"
    assert templates_of(sent_mails(db_url, lead_id)) == ["trial-welcome"]


async def test_a_published_edit_does_not_change_a_running_lead(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str) -> None:
    assert publish_flow(db_url, NURTURE) == 1
    lead_id = make_lead(db_url)
    async with running_worker(time_env.client, db_url, task_queue):
        jid = await enrol_lead(time_env.client, db_url, "nurture", lead_id)
        await at_step(db_url, jid, "wait-2d")
        edited = copy.deepcopy(NURTURE)
        edited["steps"]["case-study"]["template"] = "demo-invite"
        assert publish_flow(db_url, edited) == 2
        await time_env.sleep(timedelta(days=2, minutes=1))
        await at_step(db_url, jid, "await-click")
        later = make_lead(db_url, "late@example.com")
        jid2 = await enrol_lead(time_env.client, db_url, "nurture", later)
        await at_step(db_url, jid2, "wait-2d")
        await time_env.sleep(timedelta(days=2, minutes=1))
        await at_step(db_url, jid2, "await-click")
    assert journey(db_url, jid).version == 1 and journey(db_url, jid2).version == 2
    assert templates_of(sent_mails(db_url, lead_id)) == ["trial-welcome", "case-study"]
    assert templates_of(sent_mails(db_url, later)) == ["trial-welcome", "demo-invite"]


async def test_current_step_is_queryable(time_env: WorkflowEnvironment, db_url: str,
                                         task_queue: str) -> None:
    publish_flow(db_url, NURTURE)
    lead_id = make_lead(db_url)
    async with running_worker(time_env.client, db_url, task_queue):
        jid = await enrol_lead(time_env.client, db_url, "nurture", lead_id)
        await at_step(db_url, jid, "wait-2d")
        state = await time_env.client.get_workflow_handle(jid).query(STEP_QUERY)
    assert state["step"] == "wait-2d" and state["waiting"] == "timer"


async def test_exactly_once_email_across_a_worker_crash(dev_env: WorkflowEnvironment, db_url: str,
                                                        task_queue: str) -> None:
    """The worker dies after the mail went out but before Temporal heard of it."""
    from leadflow.activities.journey import JourneyActivities

    publish_flow(db_url, NURTURE)
    lead_id = make_lead(db_url)
    crashes: list[str] = []
    real = JourneyActivities(db_url, dev_env.client)

    @activity.defn(name="send_email")
    async def send_then_crash(inp: StepInput) -> dict[str, Any]:
        await real.send_email(inp)  # the mail is delivered ...
        crashes.append(inp.send_id or "")
        raise RuntimeError("worker process killed")  # ... and the completion never reported

    from leadflow.cli.wiring import activities_for

    crashing = [a for a in activities_for(db_url, dev_env.client)
                if getattr(a, "__temporal_activity_definition").name != "send_email"]
    from temporalio.worker import Worker

    from leadflow.cli.wiring import WORKFLOWS

    first = Worker(dev_env.client, task_queue=task_queue, workflows=WORKFLOWS(),
                   activities=[*crashing, send_then_crash])
    async with first:
        jid = await enrol_lead(dev_env.client, db_url, "nurture", lead_id)
        await eventually(lambda: crashes, what="the first delivery")
    # a new worker picks up the retried activity
    async with running_worker(dev_env.client, db_url, task_queue):
        await at_step(db_url, jid, "wait-2d", timeout=30)
        history = await dev_env.client.get_workflow_handle(jid).fetch_history()
    mails = sent_mails(db_url, lead_id)
    assert templates_of(mails) == ["trial-welcome"], "sent once, not twice"
    assert crashes[0] == mails[0].send_id
    # the local attempt failed, so the send went on as a regular activity (server retries)
    scheduled = [e.activity_task_scheduled_event_attributes.activity_type.name
                 for e in history.events if e.HasField("activity_task_scheduled_event_attributes")]
    assert scheduled == ["send_email"]


def looping_flow(flow_id: str, every: str) -> dict[str, Any]:
    """A mail, a wait, and back to the mail: forever."""
    return {
        "id": flow_id, "name": flow_id.capitalize(), "start": "mail",
        "steps": {
            "mail": {"type": "email", "template": "trial-tips", "next": "pause"},
            "pause": {"type": "wait", "duration": every, "next": "mail"},
        },
    }


async def test_a_loop_sends_again_on_purpose(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str) -> None:
    publish_flow(db_url, looping_flow("digest", "P7D"))
    lead_id = make_lead(db_url)
    async with running_worker(time_env.client, db_url, task_queue):
        jid = await enrol_lead(time_env.client, db_url, "digest", lead_id)
        for week in range(1, 6):
            await eventually(lambda w=week: len(sent_mails(db_url, lead_id)) == w,
                             what=f"mail of week {week}")
            await time_env.sleep(timedelta(days=7, minutes=1))
    mails = sent_mails(db_url, lead_id)
    assert len(mails) >= 5 and len({m.send_id for m in mails}) == len(mails)
    assert journey(db_url, jid).status == "running"


async def test_continue_as_new_keeps_the_journey_going(time_env: WorkflowEnvironment, db_url: str,
                                                       task_queue: str) -> None:
    """A looping journey restarts its history and carries its state (visits, deadlines) over."""
    from leadflow.temporal import JourneyInput, start_journey

    publish_flow(db_url, looping_flow("daily", "P3D"))
    lead_id = make_lead(db_url)
    async with running_worker(time_env.client, db_url, task_queue):
        jid = "journey-daily-small-limit"
        # a journey driven by a workflow with a tiny history limit, to see it roll over
        await start_journey(time_env.client, JourneyInput(
            journey_id=jid + "-small", lead_id=lead_id, flow_id="daily", version=1,
            history_limit=40))
        for n in range(1, 5):
            await eventually(lambda n=n: len([m for m in sent_mails(db_url, lead_id)
                                              if m.send_id.startswith(jid + "-small")]) >= n,
                             what=f"mail {n}")
            await time_env.sleep(timedelta(days=3, minutes=1))
        handle = time_env.client.get_workflow_handle(jid + "-small")
        history = await handle.fetch_history()  # the latest run's
        await handle.terminate("done")
    mails = [m for m in sent_mails(db_url, lead_id) if m.send_id.startswith(jid + "-small")]
    assert len(mails) >= 4
    assert [m.send_id.rsplit(".", 1)[1] for m in mails[:4]] == ["1", "2", "3", "4"], \
        "visit counters carried across runs: every send id is new"
    started = history.events[0].workflow_execution_started_event_attributes
    assert started.continued_execution_run_id, "the journey continued as new"
    assert len(history.events) < 60, "the current run's history stays small"


async def test_the_last_email_records_the_end_without_a_finish_activity(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str) -> None:
    """Three e-mails, then the exit: the last send records the end in its own transaction. A
    new journey (code generation 1) runs its steps as local activities: the whole journey is
    one workflow task, with no activity task, patch marker or search-attribute upsert; the
    flow's document comes with the start, so nothing loads it."""
    from sqlmodel import select

    from leadflow.db import session_scope
    from leadflow.models import JourneyStep, TimelineEntry

    publish_flow(db_url, {"id": "three", "name": "Three", "start": "one", "steps": {
        "one": {"type": "email", "template": "trial-welcome", "next": "two"},
        "two": {"type": "email", "template": "case-study", "next": "three"},
        "three": {"type": "email", "template": "trial-tips", "next": "end"},
        "end": {"type": "exit"}}})
    lead_id = make_lead(db_url)
    async with running_worker(time_env.client, db_url, task_queue):
        jid = await enrol_lead(time_env.client, db_url, "three", lead_id)
        result = await time_env.client.get_workflow_handle(jid).result()
        history = await time_env.client.get_workflow_handle(jid).fetch_history()
    assert result["status"] == "completed"
    done = journey(db_url, jid)
    assert (done.status, done.exit_reason, done.current_step) == ("completed", "exit", "end")
    assert templates_of(sent_mails(db_url, lead_id)) == ["trial-welcome", "case-study",
                                                         "trial-tips"]
    kinds = [e.WhichOneof("attributes") for e in history.events]
    assert "activity_task_scheduled_event_attributes" not in kinds
    assert "upsert_workflow_search_attributes_event_attributes" not in kinds
    assert kinds.count("workflow_task_completed_event_attributes") == 1
    local = [json.loads(e.marker_recorded_event_attributes.details["data"].payloads[0].data)
             ["activity_type"] for e in history.events
             if e.HasField("marker_recorded_event_attributes")]
    assert local == ["send_email", "send_email", "send_email"], \
        "the start carried the flow's document: no load_flow"
    started = json.loads(history.events[0].workflow_execution_started_event_attributes
                         .input.payloads[0].data)
    assert started["flow"]["steps"]["three"]["template"] == "trial-tips"
    with session_scope(db_url) as session:
        kinds = [t.type for t in session.exec(select(TimelineEntry).where(
            TimelineEntry.lead_id == lead_id)).all()]
        steps = session.exec(select(JourneyStep).where(JourneyStep.journey_id == jid)).all()
    assert kinds.count("journey.completed") == 1 and kinds.count("email.sent") == 3
    assert [s.step_id for s in steps] == ["one", "two", "three", "end"]
    assert all(s.left_at is not None for s in steps), "the end closes the open step"
