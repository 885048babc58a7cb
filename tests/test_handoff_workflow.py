"""The handoff runtime on the time-skipping server: SLA clock, escalation, the sales answer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from leadflow.auth import Principal
from leadflow.db import session_scope
from leadflow.models import Handoff
from leadflow.sales.business_calendar import as_utc
from leadflow.sales.loop import apply_action
from leadflow.temporal import HANDOFF_SIGNAL, signal_journey
from tests.handoff_support import (
    HANDOFF_FLOW,
    assignments,
    mails_to,
    rep,
    seed_team,
    skip_to,
    sleep_until,
    the_handoff,
    timeline_types,
)
from tests.helpers import (
    ended,
    enrol_lead,
    eventually,
    lead,
    make_lead,
    publish_flow,
    running_worker,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def act(client: Client, db_url: str, hid: str, action: str, rep_id: str | None,
              reason: str | None = None) -> None:
    """What ``POST /api/handoffs/{id}/{action}`` does: store, then signal."""
    with session_scope(db_url) as session:
        h = session.get(Handoff, hid)
        assert h is not None
        signal = apply_action(session, h, action, principal=Principal("sales", rep_id),
                              reason=reason)
    await signal_journey(client, hid, HANDOFF_SIGNAL, signal)


async def opened(db_url: str) -> Handoff:
    return await eventually(lambda: (h if (h := the_handoff(db_url)) and h.rep_id is not None
                                     or (h and h.assignment_reason) else None),
                            what="the handoff to be opened")


async def test_breach_over_a_weekend_escalates_on_monday_not_saturday(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str) -> None:
    seed_team(db_url, [rep("boss", member=False), rep("ann", manager_id="boss"), rep("bob")])
    publish_flow(db_url, HANDOFF_FLOW)
    lead_id = make_lead(db_url, company="Acme")
    async with running_worker(time_env.client, db_url, task_queue):
        friday = await skip_to(time_env, 4, 15)
        await enrol_lead(time_env.client, db_url, "to-sales", lead_id)
        h = await opened(db_url)
        assert h.rep_id == "ann"
        due = as_utc(h.sla_due_at)
        # Two business hours on Friday (15-17), two on Monday (9-11).
        assert due.weekday() == 0 and due.hour == 11 and due - friday < timedelta(days=3, hours=1)
        await eventually(lambda: mails_to(db_url, "ann@sales.example.com"), what="rep's mail")

        await sleep_until(time_env, friday + timedelta(days=1, hours=-3))  # Saturday noon
        assert the_handoff(db_url).escalations == []
        await sleep_until(time_env, due - timedelta(minutes=1))
        assert the_handoff(db_url).escalations == []
        assert "sla.reminder" in timeline_types(db_url, lead_id)

        await sleep_until(time_env, due + timedelta(minutes=1))
        h = await eventually(lambda: (x if (x := the_handoff(db_url)).escalations else None),
                             what="the first rung")
        first = h.escalations[0]
        assert first["rung"] == 1 and first["action"] == "manager_notified"
        assert first["manager_id"] == "boss"
        assert as_utc(h.sla_breached_at).weekday() == 0, "breached on Monday"
        await eventually(lambda: mails_to(db_url, "boss@sales.example.com"), what="boss's mail")

        # Another 4 business hours (Monday 15:00): the lead goes to the idle rep, bob.
        await sleep_until(time_env, due + timedelta(hours=4, minutes=1))
        h = await eventually(lambda: (x if len((x := the_handoff(db_url)).escalations) == 2
                                      else None), what="the second rung")
        assert h.rep_id == "bob" and h.escalations[1]["from_rep"] == "ann"
        await eventually(lambda: any(m.template == "handoff-escalated"
                                     for m in mails_to(db_url, "bob@sales.example.com")))
        # Four more hours cross the night: Tuesday 11:00 the lead returns to the pool.
        await sleep_until(time_env, due + timedelta(days=1, minutes=1))
        h = await eventually(lambda: (x if len((x := the_handoff(db_url)).escalations) == 3
                                      else None), what="the third rung")
        assert h.rep_id is None and h.escalations[2]["action"] == "returned_to_pool"
        assert [a.method for a in assignments(db_url, h.id)] == [
            "round_robin", "escalation", "unassigned"]
        kinds = timeline_types(db_url, lead_id)
        assert kinds.count("sla.escalated") == 3 and "sla.breached" in kinds


async def test_accept_before_the_deadline_cancels_the_escalation(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str) -> None:
    seed_team(db_url, [rep("boss", member=False), rep("ann", manager_id="boss")])
    publish_flow(db_url, HANDOFF_FLOW)
    lead_id = make_lead(db_url)
    async with running_worker(time_env.client, db_url, task_queue):
        await skip_to(time_env, 1, 10)
        jid = await enrol_lead(time_env.client, db_url, "to-sales", lead_id)
        h = await opened(db_url)
        await act(time_env.client, db_url, h.id, "accept", "ann")
        done = await ended(db_url, jid)
        assert done.status == "completed"
        await sleep_until(time_env, as_utc(h.sla_due_at) + timedelta(days=2))
        h = the_handoff(db_url)
    assert h.status == "accepted" and h.escalations == [] and h.sla_breached_at is None
    assert lead(db_url, lead_id).stage == "SAL"
    assert "sales-accepted" in lead(db_url, lead_id).tags
    assert mails_to(db_url, "boss@sales.example.com") == []


async def test_reject_resumes_the_journey_at_on_rejected(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str) -> None:
    seed_team(db_url, [rep("ann")])
    publish_flow(db_url, HANDOFF_FLOW)
    lead_id = make_lead(db_url)
    async with running_worker(time_env.client, db_url, task_queue):
        jid = await enrol_lead(time_env.client, db_url, "to-sales", lead_id)
        h = await opened(db_url)
        await act(time_env.client, db_url, h.id, "reject", "ann", reason="not-a-fit")
        done = await ended(db_url, jid)
    assert done.status == "completed"
    after = lead(db_url, lead_id)
    assert after.stage == "recycled"
    assert "back-to-nurture" in after.tags and "sales-accepted" not in after.tags
    assert the_handoff(db_url).rejection_reason == "Not a fit"
    assert "handoff.rejected" in timeline_types(db_url, lead_id)


async def test_capacity_holds_under_200_simultaneous_hot_leads(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str) -> None:
    from leadflow.models import Lead
    from leadflow.temporal import HANDOFF_WORKFLOW, HandoffInput

    seed_team(db_url, [rep("ann", capacity=70), rep("bob", capacity=50), rep("cy", capacity=30)])
    flow = {**HANDOFF_FLOW, "id": "burst",
            "steps": {**HANDOFF_FLOW["steps"], "route": {**HANDOFF_FLOW["steps"]["route"],
                                                         "sla": "P30D"}}}
    version = publish_flow(db_url, flow)
    with session_scope(db_url) as session:
        ids = [f"hot{i:03d}" for i in range(200)]
        session.add_all([Lead(id=i, email=f"{i}@example.com", temperature="hot", score=80)
                         for i in ids])
    async with running_worker(time_env.client, db_url, task_queue):
        handles = [await time_env.client.start_workflow(
            HANDOFF_WORKFLOW, HandoffInput(journey_id=f"burst-{i}", lead_id=i, flow_id="burst",
                                           version=version, step="route"),
            id=f"handoff-burst-{i}-route-1", task_queue=task_queue) for i in ids]
        try:
            rows = await eventually(lambda: (r if len(r := handoffs_of(db_url)) == 200 else None),
                                    timeout=60, what="200 handoffs")
        finally:
            for handle in handles:
                await handle.terminate("test finished")
    load: dict[str | None, int] = {}
    for row in rows:
        load[row.rep_id] = load.get(row.rep_id, 0) + 1
    assert load == {"ann": 70, "bob": 50, "cy": 30, None: 50}
    pooled = next(r for r in rows if r.rep_id is None)
    assert "at capacity" in (pooled.assignment_reason or "")


def handoffs_of(db_url: str) -> list[Handoff]:
    from tests.handoff_support import handoffs

    return handoffs(db_url)


async def test_crm_webhook_is_signed_retried_and_never_holds_the_clock(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from leadflow.channels import sign_webhook
    from leadflow.config import reset_settings

    received: list[tuple[bytes, dict[str, str]]] = []
    failures = {"left": 3}

    class Crm(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if failures["left"] > 0:
                failures["left"] -= 1
                self.send_response(503)
            else:
                received.append((body, dict(self.headers)))
                self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Crm)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("LEADFLOW_HANDOFF_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/")
    monkeypatch.setenv("LEADFLOW_ALLOWED_HOOK_HOSTS", "127.0.0.1")  # the local stand-in
    reset_settings()
    try:
        seed_team(db_url, [rep("ann")], calendar={})
        flow = {**HANDOFF_FLOW, "steps": {**HANDOFF_FLOW["steps"], "route": {
            **HANDOFF_FLOW["steps"]["route"], "sla": "PT1H"}}}
        publish_flow(db_url, flow)
        lead_id = make_lead(db_url)
        async with running_worker(time_env.client, db_url, task_queue):
            await enrol_lead(time_env.client, db_url, "to-sales", lead_id)
            h = await opened(db_url)
            # The CRM is down, yet the deadline passes and the ladder starts on time.
            await sleep_until(time_env, as_utc(h.sla_due_at) + timedelta(minutes=1))
            h = await eventually(lambda: (x if (x := the_handoff(db_url)).escalations else None),
                                 what="the breach")
            assert as_utc(h.sla_breached_at) - as_utc(h.sla_due_at) < timedelta(minutes=1)
            await eventually(lambda: received, timeout=30, what="the webhook after retries")
    finally:
        server.shutdown()
        server.server_close()
    body, headers = next((b, hd) for b, hd in received
                         if json.loads(b)["type"] == "handoff.assigned")
    assert headers["X-Leadflow-Signature"] == sign_webhook(
        body, headers["X-Leadflow-Timestamp"], "test-secret-key-for-signing-0123456789")
    payload = json.loads(body)
    assert payload["lead_id"] == lead_id and payload["rep_id"] == "ann"
    assert "email" not in json.dumps(payload), "no personal data leaves for the CRM"
