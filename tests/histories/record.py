"""Record workflow histories for the replay test: ``python -m tests.histories.record [NAME...]``.

Each scenario below drives real workflows on the time-skipping test server (with the real
activities on a throwaway SQLite database) and writes the histories of every workflow it ran to
``tests/histories/<scenario>__<workflow>.json``. ``tests/test_replay.py`` replays every file in
this folder against the current workflow code, so a change that would break journeys already
running in production (non-determinism) fails CI instead.

Run it only to ADD recordings: for a new scenario, or after a deliberate change made behind
``workflow.patched(...)`` whose new path deserves a recording of its own (record it under a new
scenario name and keep the old files: they are the journeys still running on the old code).
``--list`` names the scenarios; without names it records the scenarios that have no files yet.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

HERE = Path(__file__).parent
GRANTED = {"status": "granted", "source": "recording"}

Scenario = Callable[["Recorder"], Awaitable[list[tuple[str, str | None]]]]
SCENARIOS: dict[str, Scenario] = {}


def scenario(fn: Scenario) -> Scenario:
    SCENARIOS[fn.__name__] = fn
    return fn


class Recorder:
    """What a scenario needs: the test server, the database and the shared helpers."""

    def __init__(self, env: WorkflowEnvironment, url: str) -> None:
        self.env, self.url = env, url

    @property
    def client(self) -> Client:
        return self.env.client

    def lead(self, email: str, **fields: Any) -> str:
        from tests.helpers import make_lead

        return make_lead(self.url, email, consent=GRANTED, **fields)

    def flow(self, doc: dict[str, Any]) -> int:
        from tests.helpers import publish_flow

        return publish_flow(self.url, doc)

    async def enrol(self, flow_id: str, lead_id: str) -> str:
        from tests.helpers import enrol_lead

        return await enrol_lead(self.client, self.url, flow_id, lead_id)

    async def event(self, lead_id: str, type_: str, **props: Any) -> None:
        from tests.helpers import post_event

        await post_event(self.client, self.url, lead_id, type_, **props)

    async def ended(self, jid: str) -> Any:
        from tests.helpers import ended

        return await ended(self.url, jid, timeout=30)

    async def at_step(self, jid: str, step: str) -> Any:
        from tests.helpers import at_step

        return await at_step(self.url, jid, step, timeout=30)


def _nurture(flow_id: str, **extra: Any) -> dict[str, Any]:
    from tests.test_journey_workflow import NURTURE

    return {**NURTURE, "id": flow_id, **extra}


@scenario
async def journey_clicked(r: Recorder) -> list[tuple[str, str | None]]:
    """email, wait, wait_for matched (from_step), update, exit."""
    from tests.helpers import sent_mails

    r.flow(_nurture("rec-clicked", exit_when={"has_tag": "stop"}))
    lead_id = r.lead("clicked@example.com")
    jid = await r.enrol("rec-clicked", lead_id)
    await r.at_step(jid, "wait-2d")
    await r.env.sleep(timedelta(days=2, minutes=1))
    await r.at_step(jid, "await-click")
    mail = next(m for m in sent_mails(r.url, lead_id) if m.step == "case-study")
    await r.event(lead_id, "email.clicked", send_id=mail.send_id)
    await r.ended(jid)
    return [(jid, None)]


@scenario
async def journey_timed_out(r: Recorder) -> list[tuple[str, str | None]]:
    """wait_for that times out and takes on_timeout."""
    r.flow(_nurture("rec-timeout", exit_when={"has_tag": "stop"}))
    jid = await r.enrol("rec-timeout", r.lead("timeout@example.com"))
    await r.at_step(jid, "wait-2d")
    await r.env.sleep(timedelta(days=2, minutes=1))
    await r.at_step(jid, "await-click")
    await r.env.sleep(timedelta(days=5, minutes=1))
    await r.ended(jid)
    return [(jid, None)]


@scenario
async def journey_late_event(r: Recorder) -> list[tuple[str, str | None]]:
    """wait_for times out while the signal of an event accepted in time never arrived: the
    journey finds it (patch journey-late-events-count); another with no event times out."""
    from leadflow.db import session_scope
    from leadflow.usecases.events import EventIn, ingest_events

    r.flow({"id": "rec-late", "name": "Late", "start": "await", "steps": {
        "await": {"type": "wait_for", "event": "app.used", "timeout": "P1D",
                  "next": "invite", "on_timeout": "tips"},
        "invite": {"type": "email", "template": "demo-invite", "next": "end"},
        "tips": {"type": "email", "template": "trial-tips", "next": "end"},
        "end": {"type": "exit"}}})
    late = await r.enrol("rec-late", lead_id := r.lead("late@example.com"))
    none = await r.enrol("rec-late", r.lead("none@example.com"))
    await r.at_step(late, "await")
    await r.at_step(none, "await")
    with session_scope(r.url) as session:
        _, plan = ingest_events(session, [EventIn(lead_id=lead_id, type="app.used")])
        plan.record(session)  # queued, never delivered: Temporal "away"
    await r.env.sleep(timedelta(days=2))
    await r.ended(late)
    await r.ended(none)
    return [(late, "late"), (none, "timed_out")]


@scenario
async def journey_wait_for_where(r: Recorder) -> list[tuple[str, str | None]]:
    """wait_for with a ``where``: one event that does not match, then one that does."""
    r.flow({"id": "rec-where", "name": "Where", "start": "await",
            "steps": {"await": {"type": "wait_for", "event": "order.placed", "timeout": "P3D",
                                "where": {"field": "properties.amount", "op": "gt", "value": 100},
                                "next": "big", "on_timeout": "end"},
                      "big": {"type": "update", "add_tags": ["big-spender"], "next": "end"},
                      "end": {"type": "exit"}}})
    lead_id = r.lead("where@example.com")
    jid = await r.enrol("rec-where", lead_id)
    await r.at_step(jid, "await")
    await r.event(lead_id, "order.placed", amount=5)
    await r.event(lead_id, "order.placed", amount=500)
    await r.ended(jid)
    return [(jid, None)]


@scenario
async def journey_branches(r: Recorder) -> list[tuple[str, str | None]]:
    """branch on temperature (hot, warm, cold) and on cases (match and else)."""
    from tests.helpers import SIMPLE_MODEL, set_scoring_model

    r.flow({"id": "rec-router", "name": "Router", "start": "route", "steps": {
        "route": {"type": "branch", "on": "temperature", "hot": "vip", "warm": "by-country",
                  "cold": "by-country"},
        "by-country": {"type": "branch", "cases": [
            {"when": {"field": "country", "op": "in", "value": ["DE", "AT"]},
             "next": "case-study"}], "else": "tips"},
        "vip": {"type": "email", "template": "demo-invite", "next": "end"},
        "case-study": {"type": "email", "template": "case-study", "next": "end"},
        "tips": {"type": "email", "template": "trial-tips", "next": "end"},
        "end": {"type": "exit"}}})
    set_scoring_model(r.url, SIMPLE_MODEL)
    cold = r.lead("cold@example.com")
    warm_de = r.lead("warm@example.com", country="de")
    hot = r.lead("hot@example.com")
    for type_ in ("form.submitted", "form.submitted", "email.clicked"):
        await r.event(warm_de, type_)
    for type_ in ("demo.requested", "form.submitted", "form.submitted"):
        await r.event(hot, type_)
    out = []
    for name, lead_id in (("cold", cold), ("warm", warm_de), ("hot", hot)):
        jid = await r.enrol("rec-router", lead_id)
        await r.ended(jid)
        out.append((jid, name))
    return out


@scenario
async def journey_split(r: Recorder) -> list[tuple[str, str | None]]:
    """split into weighted paths."""
    r.flow({"id": "rec-ab", "name": "A/B", "start": "split", "steps": {
        "split": {"type": "split", "paths": [{"weight": 50, "next": "a"},
                                             {"weight": 50, "next": "b"}]},
        "a": {"type": "email", "template": "case-study", "next": "end"},
        "b": {"type": "email", "template": "trial-tips", "next": "end"},
        "end": {"type": "exit"}}})
    jid = await r.enrol("rec-ab", r.lead("split@example.com"))
    await r.ended(jid)
    return [(jid, None)]


@scenario
async def journey_update_notify(r: Recorder) -> list[tuple[str, str | None]]:
    """update (tags, fields) and notify (internal e-mail)."""
    r.flow({"id": "rec-notify", "name": "Notify", "start": "tag", "steps": {
        "tag": {"type": "update", "add_tags": ["vip"], "set": {"fields.segment": "a"}, "add_score": 5, "next": "tell"},
        "tell": {"type": "notify", "channel": "email", "to": "ops@example.com",
                 "message": "{{ lead.first_name }} entered the flow", "next": "end"},
        "end": {"type": "exit"}}})
    jid = await r.enrol("rec-notify", r.lead("notify@example.com", first_name="Nora"))
    await r.ended(jid)
    return [(jid, None)]


@scenario
async def journey_exit_when(r: Recorder) -> list[tuple[str, str | None]]:
    """exit_when checked at the start and again when the lead changes during a wait."""
    from tests.helpers import update_lead

    r.flow(_nurture("rec-goal", exit_when={"has_tag": "customer"}))
    jid = await r.enrol("rec-goal", r.lead("goal@example.com"))
    await r.at_step(jid, "wait-2d")
    await update_lead(r.client, r.url, "goal@example.com", tags=["customer"])
    await r.ended(jid)
    return [(jid, None)]


@scenario
async def journey_manual_exit(r: Recorder) -> list[tuple[str, str | None]]:
    """The exit signal during a wait."""
    from leadflow.temporal import EXIT_SIGNAL, signal_journey

    r.flow(_nurture("rec-exit"))
    jid = await r.enrol("rec-exit", r.lead("exit@example.com"))
    await r.at_step(jid, "wait-2d")
    await signal_journey(r.client, jid, EXIT_SIGNAL, {"reason": "manual"})
    await r.ended(jid)
    return [(jid, None)]


@scenario
async def journey_continue_as_new(r: Recorder) -> list[tuple[str, str | None]]:
    """A looping journey that continues as new, carrying its state: both runs recorded."""
    from leadflow.config import get_settings
    from leadflow.db import session_scope
    from leadflow.journeys.enrolment import enrol
    from leadflow.temporal import JOURNEY_WORKFLOW, JourneyInput
    from tests.helpers import eventually, sent_mails

    r.flow({"id": "rec-loop", "name": "Loop", "start": "mail", "steps": {
        "mail": {"type": "email", "template": "trial-tips", "next": "pause"},
        "pause": {"type": "wait", "duration": "P3D", "next": "mail"}}})
    lead_id = r.lead("loop@example.com")
    with session_scope(r.url) as session:
        jid = enrol(session, lead_id=lead_id, flow_id="rec-loop").id
    handle = await r.client.start_workflow(
        JOURNEY_WORKFLOW, JourneyInput(journey_id=jid, lead_id=lead_id, flow_id="rec-loop",
                                       version=1, history_limit=40),
        id=jid, task_queue=get_settings().task_queue)
    for n in range(1, 5):
        await eventually(lambda n=n: len(sent_mails(r.url, lead_id)) >= n, 30, f"mail {n}")
        await r.env.sleep(timedelta(days=3, minutes=1))
    desc = await handle.describe()
    assert desc.run_id != handle.first_execution_run_id, "the journey continued as new"
    await handle.terminate("recorded")
    return [(jid, "run1"), (jid, "latest")]


async def _opened(r: Recorder) -> Any:
    from tests.handoff_support import the_handoff
    from tests.helpers import eventually

    return await eventually(lambda: (h if (h := the_handoff(r.url)) and
                                     (h.rep_id is not None or h.assignment_reason) else None),
                            30, "the handoff to open")


async def _act(r: Recorder, hid: str, action: str, rep_id: str, reason: str | None = None) -> None:
    from leadflow.auth import Principal
    from leadflow.db import session_scope
    from leadflow.models import Handoff
    from leadflow.sales.loop import apply_action
    from leadflow.temporal import HANDOFF_SIGNAL, signal_journey

    with session_scope(r.url) as session:
        h = session.get(Handoff, hid)
        assert h is not None
        signal = apply_action(session, h, action, principal=Principal("sales", rep_id),
                              reason=reason)
    await signal_journey(r.client, hid, HANDOFF_SIGNAL, signal)


def _handoff_flow(flow_id: str, sla: str = "PT4H") -> dict[str, Any]:
    from tests.handoff_support import HANDOFF_FLOW

    return {**HANDOFF_FLOW, "id": flow_id, "steps": {
        **HANDOFF_FLOW["steps"], "route": {**HANDOFF_FLOW["steps"]["route"], "sla": sla}}}


@scenario
async def handoff_accepted(r: Recorder) -> list[tuple[str, str | None]]:
    """Handoff opened, accepted: the journey goes on at ``next``."""
    from tests.handoff_support import rep, seed_team

    seed_team(r.url, [rep("ann")], calendar={})
    r.flow(_handoff_flow("rec-accept"))
    jid = await r.enrol("rec-accept", r.lead("accept@example.com"))
    h = await _opened(r)
    await _act(r, h.id, "accept", "ann")
    await r.ended(jid)
    return [(jid, "journey"), (h.id, "handoff")]


@scenario
async def handoff_rejected(r: Recorder) -> list[tuple[str, str | None]]:
    """Handoff rejected: the journey goes on at ``on_rejected``."""
    from tests.handoff_support import rep, seed_team

    seed_team(r.url, [rep("ann")], calendar={})
    r.flow(_handoff_flow("rec-reject"))
    jid = await r.enrol("rec-reject", r.lead("reject@example.com"))
    h = await _opened(r)
    await _act(r, h.id, "reject", "ann", reason="no budget")
    await r.ended(jid)
    return [(jid, "journey"), (h.id, "handoff")]


@scenario
async def handoff_reminders_escalation(r: Recorder) -> list[tuple[str, str | None]]:
    """Reminders, an out-of-office reassignment, the escalation ladder, then contacted."""
    from temporalio.client import WorkflowHandle

    from leadflow.sales.business_calendar import as_utc
    from leadflow.temporal import HANDOFF_SIGNAL
    from tests.handoff_support import rep, seed_team, skip_to, sleep_until, the_handoff
    from tests.helpers import eventually

    seed_team(r.url, [rep("boss", member=False), rep("ann", manager_id="boss"), rep("bob"),
                      rep("cy")])
    r.flow(_handoff_flow("rec-ladder"))
    await skip_to(r.env, 1, 9)
    jid = await r.enrol("rec-ladder", r.lead("ladder@example.com", company="Acme"))
    h = await _opened(r)
    first = h.rep_id
    handle: WorkflowHandle[Any, Any] = r.client.get_workflow_handle(h.id)
    await handle.signal(HANDOFF_SIGNAL, {"action": "reassign", "rep_id": first,
                                         "reason": "out of office"})
    await eventually(lambda: the_handoff(r.url).rep_id != first, 30, "the reassignment")
    due = as_utc(h.sla_due_at)
    await sleep_until(r.env, due + timedelta(minutes=1))
    await eventually(lambda: the_handoff(r.url).escalations, 30, "the first rung")
    for _ in range(72):  # the next rung comes one SLA period of business time later
        if len(the_handoff(r.url).escalations) >= 2:
            break
        await r.env.sleep(timedelta(hours=1))
        await asyncio.sleep(0.2)
    await eventually(lambda: len(the_handoff(r.url).escalations) >= 2, 30, "the second rung")
    holder = the_handoff(r.url).rep_id or "ann"
    await _act(r, h.id, "contacted", holder)
    await r.ended(jid)
    return [(jid, "journey"), (h.id, "handoff")]


@scenario
async def score_timer(r: Recorder) -> list[tuple[str, str | None]]:
    """A lead's temperature timer: armed by hot events, wakes, cools the lead, ends."""
    from leadflow.temporal import score_workflow_id
    from tests.helpers import eventually, lead

    lead_id = r.lead("timer@example.com")
    for type_ in ("demo.requested", "webinar.attended", "form.submitted"):
        await r.event(lead_id, type_)
    await r.env.sleep(timedelta(days=4))
    await eventually(lambda: lead(r.url, lead_id).temperature == "warm", 30, "cooling")
    await r.env.sleep(timedelta(days=60))
    handle = r.client.get_workflow_handle(score_workflow_id(lead_id))
    await asyncio.wait_for(handle.result(), 30)
    return [(score_workflow_id(lead_id), None)]


@scenario
async def recycle(r: Recorder) -> list[tuple[str, str | None]]:
    """A lead sales sent back rests for its cooldown, then enters the recycle flow."""
    from leadflow.db import session_scope
    from leadflow.models import Lead
    from leadflow.temporal import RecycleInput, recycle_id, start_recycle

    r.flow({"id": "win-back", "name": "Win back", "start": "end",
            "steps": {"end": {"type": "exit"}}})
    lead_id = r.lead("recycled@example.com")
    with session_scope(r.url) as session:
        session.get(Lead, lead_id).stage = "recycled"  # type: ignore[union-attr]
    inp = RecycleInput(lead_id=lead_id, flow_id="win-back", cooldown_seconds=30 * 86400,
                       handoff_id="h-recorded")
    await start_recycle(r.client, inp)
    await r.env.sleep(timedelta(days=31))
    await asyncio.wait_for(r.client.get_workflow_handle(recycle_id("h-recorded")).result(), 30)
    return [(recycle_id("h-recorded"), None)]


@scenario
async def housekeeping(r: Recorder) -> list[tuple[str, str | None]]:
    """One hourly housekeeping run (what the schedule starts): old deliveries pruned."""
    from leadflow.config import get_settings
    from leadflow.db import session_scope
    from leadflow.models import TemporalIntent, utcnow
    from leadflow.temporal import HOUSEKEEPING_WORKFLOW

    old = utcnow() - timedelta(days=30)
    with session_scope(r.url) as session:
        session.add(TemporalIntent(kind="signal", workflow_id="w", payload={}, created_at=old,
                                   delivered_at=old, outcome="delivered"))
    wid = "leadflow-housekeeping-recorded"
    await r.client.execute_workflow(HOUSEKEEPING_WORKFLOW, id=wid,
                                    task_queue=get_settings().task_queue)
    return [(wid, None)]


@scenario
async def rescore_all(r: Recorder) -> list[tuple[str, str | None]]:
    """Re-scoring every lead after a model change, in batches."""
    from leadflow.db import session_scope
    from leadflow.models import ScoringModel
    from leadflow.temporal import start_rescore_all
    from tests.helpers import SIMPLE_MODEL

    for i in range(5):
        r.lead(f"rescore{i}@example.com")
    with session_scope(r.url) as session:
        model = ScoringModel(document=SIMPLE_MODEL)
        session.add(model)
        session.flush()
        version = model.version
    wid = await start_rescore_all(r.client, version, batch_size=2)
    await asyncio.wait_for(r.client.get_workflow_handle(wid).result(), 30)
    return [(wid, None)]


@scenario
async def journey_migrated(r: Recorder) -> list[tuple[str, str | None]]:
    """A waiting lead moved to a new version (migrate Update, continue-as-new) by the job."""
    from leadflow.db import session_scope
    from leadflow.journeys.flow_changes import create_migration
    from leadflow.journeys.migration import Request
    from leadflow.temporal import MigrationJobInput, start_migration_job

    v1 = {"id": "rec-move", "name": "Move", "start": "mail", "steps": {
        "mail": {"type": "email", "template": "trial-welcome", "next": "pause"},
        "pause": {"type": "wait", "duration": "P10D", "next": "end"},
        "end": {"type": "exit"}}}
    r.flow(v1)
    lead_id = r.lead("move@example.com")
    jid = await r.enrol("rec-move", lead_id)
    await r.at_step(jid, "pause")
    v2 = {**v1, "steps": {**v1["steps"], "rest": {**v1["steps"]["pause"], "duration": "P1D",
                                                  "next": "tips"},
                          "tips": {"type": "email", "template": "trial-tips", "next": "end"}}}
    del v2["steps"]["pause"]
    v2["steps"]["mail"] = {**v1["steps"]["mail"], "next": "rest"}
    r.flow(v2)
    with session_scope(r.url) as session:
        mid = create_migration(session, "rec-move", Request(2, step_map={"pause": "rest"})).id
    await start_migration_job(r.client, MigrationJobInput(mid, "rec-move", retry_after=[]))
    await asyncio.wait_for(r.client.get_workflow_handle(f"migration-{mid}").result(), 30)
    await r.env.sleep(timedelta(days=1, minutes=1))
    await r.ended(jid)
    return [(f"migration-{mid}", None), (jid, "run1"), (jid, "latest")]


@scenario
async def journey_local_steps(r: Recorder) -> list[tuple[str, str | None]]:
    """Quick database work as local activities: a branch, a wait_for ``where`` checked twice,
    an e-mail, progress before a wait, ``exit_when`` on a lead change, and the finish."""
    r.flow({"id": "rec-local", "name": "Local", "start": "route",
            "exit_when": {"has_tag": "stop"},
            "steps": {"route": {"type": "branch", "cases": [
                {"when": {"field": "country", "op": "in", "value": ["DE"]}, "next": "await"}],
                "else": "await"},
                "await": {"type": "wait_for", "event": "order.placed", "timeout": "P3D",
                          "where": {"field": "properties.amount", "op": "gt", "value": 100},
                          "next": "thanks", "on_timeout": "end"},
                "thanks": {"type": "email", "template": "trial-welcome", "next": "rest"},
                "rest": {"type": "wait", "duration": "P1D", "next": "end"},
                "end": {"type": "exit"}}})
    lead_id = r.lead("local@example.com", country="de")
    jid = await r.enrol("rec-local", lead_id)
    await r.at_step(jid, "await")
    await r.event(lead_id, "order.placed", amount=5)
    await r.event(lead_id, "order.placed", amount=500)
    await r.at_step(jid, "rest")
    await r.env.sleep(timedelta(days=1, minutes=1))
    await r.ended(jid)
    return [(jid, None)]


@scenario
async def journey_progress_activity(r: Recorder) -> list[tuple[str, str | None]]:
    """As journey_local_steps, with the progress before a wait an activity again."""
    return await journey_local_steps(r)


@scenario
async def journey_activities_again(r: Recorder) -> list[tuple[str, str | None]]:
    """As journey_local_steps, with every activity through the server again."""
    return await journey_local_steps(r)


@scenario
async def journey_finish_with_last_send(r: Recorder) -> list[tuple[str, str | None]]:
    """Three e-mails and the exit: the last send records the end (no finish activity)."""
    r.flow({"id": "rec-three", "name": "Three mails", "start": "one",
            "steps": {"one": {"type": "email", "template": "trial-welcome", "next": "two"},
                      "two": {"type": "email", "template": "case-study", "next": "three"},
                      "three": {"type": "email", "template": "trial-tips", "next": "end"},
                      "end": {"type": "exit"}}})
    jid = await r.enrol("rec-three", r.lead("three@example.com"))
    await r.ended(jid)
    await r.client.get_workflow_handle(jid).result()  # the database says so before it ends
    return [(jid, None)]


# Code generation 1 (``JourneyInput.code``, every journey enrolled since): the changes above
# apply without patch markers, and the idempotent step work runs as local activities first. The
# journey paths again, recorded on it (the files above stay: journeys of generation 0).
def _on_code_1(old: str) -> Scenario:
    async def again(r: Recorder) -> list[tuple[str, str | None]]:
        return await SCENARIOS[old](r)

    again.__doc__ = f"As {old}, on journey code generation 1 (local activities, no markers)."
    return again


for _old in ("journey_clicked", "journey_timed_out", "journey_late_event",
             "journey_wait_for_where", "journey_branches", "journey_split",
             "journey_update_notify", "journey_exit_when", "journey_manual_exit",
             "journey_continue_as_new", "handoff_accepted", "journey_migrated",
             "journey_local_steps", "journey_finish_with_last_send"):
    SCENARIOS[f"code1_{_old}"] = _on_code_1(_old)


async def _record(names: list[str]) -> None:
    tmp = tempfile.mkdtemp()
    url = f"sqlite:///{tmp}/app.db"
    os.environ.update(LEADFLOW_DATABASE_URL=url, LEADFLOW_TASK_QUEUE="record",
                      LEADFLOW_ENV="test", LEADFLOW_HOME=f"{tmp}/home",
                      LEADFLOW_SECRET_KEY="test-secret-key-for-signing-0123456789")
    from leadflow.config import reset_settings
    from leadflow.db import create_schema, reset_engine
    from tests.helpers import running_worker, terminate_running

    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=shutil.which("temporal-test-server"))
    try:
        for name in names:
            # each scenario on a fresh database, so their flows, reps and models never meet
            url = f"sqlite:///{tmp}/{name}.db"
            os.environ["LEADFLOW_DATABASE_URL"] = url
            reset_settings()
            reset_engine()
            create_schema(url)
            async with running_worker(env.client, url, "record"):
                ran = await SCENARIOS[name](Recorder(env, url))
                for wid, label in ran:
                    handle = env.client.get_workflow_handle(wid)
                    if label == "run1":
                        handle = env.client.get_workflow_handle(
                            wid, run_id=(await handle.describe()).raw_description
                            .workflow_execution_info.first_run_id or None)
                    history = await handle.fetch_history()
                    path = HERE / (f"{name}__{label}.json" if label else f"{name}.json")
                    path.write_text(history.to_json())
                    print("recorded", path.name, len(history.events), "events")
                await terminate_running(env.client, url)
    finally:
        await env.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="scenarios to record (default: new ones)")
    parser.add_argument("--list", action="store_true", help="list the scenarios")
    args = parser.parse_args()
    if args.list:
        for name, fn in SCENARIOS.items():
            print(f"{name:32} {(fn.__doc__ or '').strip()}")
        return
    unknown = [n for n in args.names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    names = args.names or [n for n in SCENARIOS if not list(HERE.glob(f"{n}*.json"))]
    asyncio.run(_record(names))


if __name__ == "__main__":
    main()
