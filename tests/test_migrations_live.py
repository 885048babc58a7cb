"""Moving waiting leads to a new flow version, end to end on the Temporal dev server.

The preview and the move run the same planner; these tests hold the move to the preview lead by
lead, and check the invariants: busy leads move only once they wait, no template twice, SLA
deadlines stay, A/B arms stay, counts stay with the version they happened in.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from leadflow.api.main import create_app
from sqlmodel import col, select
from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bench.migration import STEP_MAP, V1, edited
from leadflow.auth import create_key
from leadflow.db import session_scope
from leadflow.journeys.actions import StepInput
from leadflow.journeys.engine import split_choice
from leadflow.journeys.flow_changes import preview
from leadflow.journeys.migration import Request
from leadflow.models import EmailMessage, Journey, JourneyStep
from tests.helpers import enrol_lead, eventually, make_lead, publish_flow, running_worker

pytestmark = pytest.mark.asyncio(loop_scope="session")

GRANTED = {"status": "granted", "source": "test"}

FLOW = V1["id"]


MAP = STEP_MAP


@asynccontextmanager
async def stack(env: WorkflowEnvironment, db_url: str, task_queue: str,
                **worker: Any) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    with session_scope(db_url) as session:
        key = {"Authorization": f"Bearer {create_key(session, role='marketer')}"}
    app = create_app(temporal_client=env.client)
    async with running_worker(env.client, db_url, task_queue, **worker), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test") as api:
        yield api, key


def journeys(db_url: str) -> dict[str, Journey]:
    with session_scope(db_url) as session:
        return {j.lead_id: j for j in session.exec(select(Journey)).all()}


def waiting_count(db_url: str) -> int:
    return sum(1 for j in journeys(db_url).values()
               if j.current_step and j.current_step.startswith("wait") and j.waiting_until)


async def migrate_and_wait(api: httpx.AsyncClient, key: dict[str, str], body: dict[str, Any],
                           flow_id: str = "drip", timeout: float = 60) -> dict[str, Any]:
    started = await api.post(f"/api/flows/{flow_id}/migrations", headers=key, json=body)
    assert started.status_code == 202, started.text
    mid = started.json()["id"]

    async def done() -> dict[str, Any] | None:
        report = (await api.get(f"/api/flows/{flow_id}/migrations/{mid}", headers=key)).json()
        return report if report["status"] == "done" else None

    return await eventually_async(done, timeout)


async def eventually_async(check: Any, timeout: float) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


async def test_the_preview_is_what_the_migration_does_lead_by_lead(
        dev_env: WorkflowEnvironment, any_db_url: str, task_queue: str) -> None:
    """On SQLite and PostgreSQL (batches report into one row at once)."""
    db_url = any_db_url
    publish_flow(db_url, V1)
    leads = [make_lead(db_url, f"lead{i}@example.com", consent=GRANTED) for i in range(60)]
    async with stack(dev_env, db_url, task_queue) as (api, key):
        await asyncio.gather(*(enrol_lead(dev_env.client, db_url, FLOW, lead) for lead in leads))
        await eventually(lambda: waiting_count(db_url) == 60, timeout=60, what="60 leads waiting")
        publish_flow(db_url, edited())
        await asyncio.sleep(1.2)  # wait-b's new delay (1 s) is past for every lead waiting there

        unmapped = (await api.post(f"/api/flows/{FLOW}/migrations/preview", headers=key,
                                   json={"to_version": 2})).json()
        assert {p["path"] for p in unmapped["problems"]} == {"step_map.wait-a", "step_map.wait-c"}
        refused = await api.post(f"/api/flows/{FLOW}/migrations", headers=key, json={"to_version": 2})
        assert refused.status_code == 422 and refused.json()["problems"] == unmapped["problems"]

        body = {"to_version": 2, "step_map": MAP}
        shown = (await api.post(f"/api/flows/{FLOW}/migrations/preview", headers=key,
                                json=body)).json()
        assert shown["problems"] == []
        with session_scope(db_url) as session:
            expected = {m.lead_id: m.to_step for m in preview(session, FLOW, Request(2, step_map=MAP)).moves}
        assert len(expected) == 60
        by_step = {(m["from_step"], m["to_step"]): m for m in shown["moves"]}
        assert set(by_step) == {("wait-a", "pause-a"), ("wait-b", "wait-b"), ("wait-c", "pause-a")}
        assert sum(m["leads"] for m in shown["moves"]) == 60
        assert by_step[("wait-b", "wait-b")]["sends_at_once"] == by_step[("wait-b", "wait-b")]["leads"]
        assert by_step[("wait-a", "pause-a")]["sends_at_once"] == 0
        assert len(shown["sample"]) == 10 and shown["sample"][0]["next_action_at"]
        sent_before = {m.send_id for m in mails(db_url)}

        report = await migrate_and_wait(api, key, body, FLOW)
        assert (report["moved"], report["skipped"], report["failed"]) == (60, [], 0)
        listed = (await api.get(f"/api/flows/{FLOW}/migrations", headers=key)).json()
        assert [(m["id"], m["status"], m["moved"]) for m in listed] == [(report["id"], "done", 60)]
        # the wait-b leads are due at once: their next mail (mail-d) goes, and then they finish
        await eventually(lambda: sum(1 for j in journeys(db_url).values()
                                     if j.status == "completed") == by_step[("wait-b", "wait-b")]["leads"],
                         timeout=60, what="wait-b leads to mail and finish")

    after = journeys(db_url)
    for lead, to_step in expected.items():
        j = after[lead]
        assert j.version == 2
        assert j.current_step == to_step or (to_step == "wait-b" and j.status == "completed")
    new_mails = [m for m in mails(db_url) if m.send_id not in sent_before]
    assert {m.template for m in new_mails} == {"trial-tips"}
    assert len(new_mails) == by_step[("wait-b", "wait-b")]["sends_at_once"]
    # what happened on version 1 stays counted there
    with session_scope(db_url) as session:
        v1_mails = session.exec(select(EmailMessage).where(EmailMessage.version == 1)).all()
        migrated = session.exec(select(JourneyStep).where(JourneyStep.outcome == "migrated")).all()
    assert len(v1_mails) == 60 and len(migrated) == 60 and {s.version for s in migrated} == {1}


def mails(db_url: str) -> list[EmailMessage]:
    with session_scope(db_url) as session:
        return list(session.exec(select(EmailMessage).order_by(col(EmailMessage.id))).all())


async def test_a_lead_mid_send_moves_once_it_waits_and_never_gets_a_template_twice(
        dev_env: WorkflowEnvironment, db_url: str, task_queue: str) -> None:
    """Held in its send while the migration runs: refused as busy, moved on the next try; the
    new version's first mail repeats the template it already had, which it does not get again."""
    flow = {"id": "drip", "name": "Drip", "start": "hello", "steps": {
        "hello": {"type": "email", "template": "trial-welcome", "next": "wait"},
        "wait": {"type": "wait", "duration": "P3D", "next": "end"},
        "end": {"type": "exit"}}}
    publish_flow(db_url, flow)
    v2 = copy.deepcopy(flow)
    v2["steps"]["wait"]["next"] = "again"
    v2["steps"]["wait"]["duration"] = "PT1S"
    v2["steps"]["again"] = {"type": "email", "template": "trial-welcome", "next": "tips"}
    v2["steps"]["tips"] = {"type": "email", "template": "trial-tips", "next": "end"}
    lead = make_lead(db_url, consent=GRANTED)
    from leadflow.activities.journey import JourneyActivities

    release, sending = asyncio.Event(), asyncio.Event()
    real = JourneyActivities(db_url, dev_env.client)

    @activity.defn(name="send_email")
    async def slow_send(inp: StepInput) -> dict[str, Any]:
        sending.set()
        await release.wait()
        return await real.send_email(inp)

    from leadflow.cli.wiring import WORKFLOWS, activities_for

    acts = [a for a in activities_for(db_url, dev_env.client)
            if a.__temporal_activity_definition.name != "send_email"]
    with session_scope(db_url) as session:
        key = {"Authorization": f"Bearer {create_key(session, role='marketer')}"}
    app = create_app(temporal_client=dev_env.client)
    worker = Worker(dev_env.client, task_queue=task_queue, workflows=WORKFLOWS(),
                    activities=[*acts, slow_send])
    async with worker, httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                         base_url="http://test") as api:
        jid = await enrol_lead(dev_env.client, db_url, "drip", lead)
        await asyncio.wait_for(sending.wait(), 15)
        publish_flow(db_url, v2)
        started = await api.post("/api/flows/drip/migrations", headers=key,
                                 json={"to_version": 2})
        assert started.status_code == 202, started.text
        await asyncio.sleep(0.5)
        assert journeys(db_url)[lead].version == 1, "a lead mid-send does not move"
        release.set()
        report = await eventually_async(lambda: _report(api, key, started.json()["id"]), 30)
        assert report["moved"] == 1, report
        await eventually(lambda: journeys(db_url)[lead].status == "completed", timeout=30,
                         what="the journey to finish on version 2")
        await dev_env.client.get_workflow_handle(jid).result()
    assert [m.template for m in mails(db_url)] == ["trial-welcome", "trial-tips"]
    assert journeys(db_url)[lead].version == 2


async def _report(api: httpx.AsyncClient, key: dict[str, str], mid: str) -> dict[str, Any] | None:
    report = (await api.get(f"/api/flows/drip/migrations/{mid}", headers=key)).json()
    return report if report["status"] == "done" else None


SALES: dict[str, Any] = {
    "id": "drip",
    "name": "Drip with sales",
    "start": "ab",
    "steps": {
        "ab": {"type": "split", "paths": [{"weight": 50, "next": "arm-a"},
                                          {"weight": 50, "next": "arm-b"}]},
        "arm-a": {"type": "wait", "duration": "P5D", "next": "end"},
        "arm-b": {"type": "wait", "duration": "P5D", "next": "to-sales"},
        "to-sales": {"type": "handoff", "team": "inside", "sla": "PT4H", "next": "end"},
        "end": {"type": "exit"},
    },
}


async def test_handoffs_keep_their_sla_and_leads_keep_their_arm(
        dev_env: WorkflowEnvironment, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from leadflow import temporal
    from tests.handoff_support import rep, seed_team, the_handoff

    monkeypatch.setattr(temporal, "MIGRATION_RETRY_AFTER", (0.2, 0.5))
    seed_team(db_url, [rep("ann")], calendar={})
    publish_flow(db_url, SALES)
    with_sales = copy.deepcopy(SALES)
    with_sales["start"] = "who"
    with_sales["steps"]["who"] = {"type": "branch", "cases": [
        {"when": {"has_tag": "hot"}, "next": "to-sales"}], "else": "ab"}
    leads = [make_lead(db_url, f"ab{i}@example.com", consent=GRANTED) for i in range(8)]
    async with stack(dev_env, db_url, task_queue) as (api, key):
        for lead in leads:
            await enrol_lead(dev_env.client, db_url, "drip", lead)
        await eventually(lambda: waiting_count(db_url) == 0 and all(
            j.waiting_until for j in journeys(db_url).values()), what="leads in their arms")
        arms = {lead: j.current_step for lead, j in journeys(db_url).items()}
        assert set(arms.values()) == {"arm-a", "arm-b"}
        # one more lead goes straight to sales on version 2 of the flow
        publish_flow(db_url, with_sales)
        seller = make_lead(db_url, "hot@example.com", consent=GRANTED, tags=["hot"])
        await enrol_lead(dev_env.client, db_url, "drip", seller)
        handoff = await eventually(lambda: the_handoff(db_url), what="the handoff")
        due = handoff.sla_due_at
        assert due is not None
        v3 = copy.deepcopy(with_sales)
        v3["steps"]["ab"]["paths"] = [{"weight": 99, "next": "arm-a"},
                                      {"weight": 1, "next": "arm-b"}]
        v3["steps"]["arm-a"]["duration"] = v3["steps"]["arm-b"]["duration"] = "P9D"
        publish_flow(db_url, v3)
        shown = (await api.post("/api/flows/drip/migrations/preview", headers=key,
                                json={"to_version": 3})).json()
        assert (shown["leads"], shown["handoff"], shown["busy"]) == (8, 1, 0)
        report = await migrate_and_wait(api, key, {"to_version": 3})
        assert report["moved"] == 8
        assert report["skipped"] == [{"lead_id": seller, "journey_id": journeys(db_url)[seller].id,
                                      "reason": report["skipped"][0]["reason"]}]
        assert "with sales" in report["skipped"][0]["reason"]
    after = journeys(db_url)
    assert {lead: after[lead].current_step for lead in leads} == arms, "every lead kept its arm"
    assert {after[lead].version for lead in leads} == {3}
    assert after[seller].version == 2 and after[seller].current_step == "to-sales"
    handoff = the_handoff(db_url)
    assert handoff is not None and handoff.sla_due_at == due, "the SLA deadline did not move"


async def test_exit_while_in_a_handoff(dev_env: WorkflowEnvironment, db_url: str,
                                       task_queue: str) -> None:
    from tests.handoff_support import HANDOFF_FLOW, rep, seed_team, the_handoff

    seed_team(db_url, [rep("ann")], calendar={})
    publish_flow(db_url, HANDOFF_FLOW)
    lead = make_lead(db_url, consent=GRANTED)
    async with stack(dev_env, db_url, task_queue) as (api, key):
        jid = await enrol_lead(dev_env.client, db_url, "to-sales", lead)
        await eventually(lambda: the_handoff(db_url), what="the handoff")
        out = await api.post(f"/api/leads/{lead}/flows/to-sales/exit", headers=key)
        assert out.status_code == 200, out.text
        await eventually(lambda: journeys(db_url)[lead].status == "exited", timeout=10,
                         what="the journey to exit during its handoff")
    assert journeys(db_url)[lead].exit_reason == "manual" and jid
    handoff = the_handoff(db_url)
    assert handoff is not None and handoff.status == "withdrawn"


async def test_the_cli_previews_then_moves(dev_env: WorkflowEnvironment, db_url: str,
                                           task_queue: str, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from leadflow.cli import build_parser
    from leadflow.config import reset_settings

    monkeypatch.setenv("LEADFLOW_TEMPORAL_ADDRESS", dev_env.client.service_client.config.target_host)
    reset_settings()
    publish_flow(db_url, V1)
    # Two leads on each path of the split (a lead's path is a function of its id), so both
    # removed steps have leads waiting whatever ids the leads get.
    leads: list[str] = []
    per_arm = {0: 0, 1: 0, 2: 0}
    for i in range(200):
        lead_id = make_lead(db_url, f"cli{i}@example.com", consent=GRANTED)
        arm = split_choice(lead_id, "fork", [1, 1, 1])
        if per_arm[arm] < 2:
            per_arm[arm] += 1
            leads.append(lead_id)
        if len(leads) == 6:
            break

    def cli(*argv: str) -> int:
        args = build_parser().parse_args(["flows", "migrate", *argv])
        return args.func(args)  # type: ignore[no-any-return]

    async with stack(dev_env, db_url, task_queue):
        for lead in leads:
            await enrol_lead(dev_env.client, db_url, FLOW, lead)
        await eventually(lambda: waiting_count(db_url) == 6, timeout=30, what="6 leads waiting")
        publish_flow(db_url, edited())
        assert await asyncio.to_thread(cli, FLOW, "--to", "2") == 1
        problems = capsys.readouterr().out
        assert "step_map.wait-a" in problems and "step_map.wait-c" in problems
        maps = ["--map", "wait-a=pause-a", "--map", "wait-c=pause-a", "--timers", "keep_deadline"]
        assert await asyncio.to_thread(cli, FLOW, "--to", "2", *maps, "--dry-run") == 0
        dry = capsys.readouterr().out
        assert "dry run" in dry and "pause-a" in dry
        assert {j.version for j in journeys(db_url).values()} == {1}
        assert await asyncio.to_thread(cli, FLOW, "--to", "2", *maps) == 0
        assert "6 moved, 0 skipped, 0 failed" in capsys.readouterr().out
    assert {j.version for j in journeys(db_url).values()} == {2}
