"""Helpers for tests that drive journeys through the same services the API uses."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlmodel import col, select
from temporalio.client import Client

from leadflow.cli.wiring import build_worker
from leadflow.db import session_scope
from leadflow.dispatch import Dispatch, run_dispatch
from leadflow.journeys.enrolment import enrol, journey_input
from leadflow.journeys.flows import publish, save_draft
from leadflow.leads.records import LeadCreate, upsert_lead
from leadflow.models import EmailMessage, Journey, Lead
from leadflow.usecases.events import EventIn, ingest_events


def publish_flow(db_url: str, doc: dict[str, Any]) -> int:
    """Save ``doc`` (create or replace) and publish it; returns the version."""
    with session_scope(db_url) as session:
        from leadflow.models import Flow

        exists = session.get(Flow, doc["id"]) is not None
        save_draft(session, doc, flow_id=doc["id"] if exists else None, create=not exists)
        return publish(session, doc["id"]).version


def engagement_wait_flow(flow_id: str, event: str) -> dict[str, Any]:
    """A flow that mails ``welcome`` (template trial-welcome), then waits at ``await`` up to
    5 days for ``event`` on that mail: the lead is tagged ``engaged`` if it comes; both paths
    end at ``end``."""
    return {
        "id": flow_id,
        "name": flow_id.replace("-", " ").capitalize(),
        "start": "welcome",
        "steps": {
            "welcome": {"type": "email", "template": "trial-welcome", "next": "await"},
            "await": {"type": "wait_for", "event": event, "from_step": "welcome",
                      "timeout": "P5D", "next": "engaged", "on_timeout": "end"},
            "engaged": {"type": "update", "add_tags": ["engaged"], "next": "end"},
            "end": {"type": "exit"},
        },
    }


# No marketing e-mail without consent: the leads tests make have granted it unless a test says
# otherwise (``consent=None`` for a lead with no consent record).
GRANTED: dict[str, Any] = {"status": "granted", "source": "test"}


def make_lead(db_url: str, email: str = "ada@example.com", **fields: Any) -> str:
    fields.setdefault("consent", GRANTED)
    with session_scope(db_url) as session:
        lead, _ = upsert_lead(session, LeadCreate(email=email, **fields))
        return lead.id


async def enrol_lead(client: Client, db_url: str, flow_id: str, lead_id: str) -> str:
    with session_scope(db_url) as session:
        inp = journey_input(enrol(session, lead_id=lead_id, flow_id=flow_id))
    await run_dispatch(client, Dispatch(starts=[inp]), db_url)
    return inp.journey_id


async def post_event(client: Client, db_url: str, lead_id: str, type_: str,
                     event_id: str | None = None, **properties: Any) -> list[dict[str, Any]]:
    with session_scope(db_url) as session:
        results, plan = ingest_events(session, [EventIn(lead_id=lead_id, type=type_, id=event_id,
                                                        properties=properties)])
    await run_dispatch(client, plan, db_url)
    return results


def journey(db_url: str, journey_id: str) -> Journey:
    with session_scope(db_url) as session:
        row = session.get(Journey, journey_id)
        assert row is not None
        return row


def sent_mails(db_url: str, lead_id: str | None = None) -> list[EmailMessage]:
    with session_scope(db_url) as session:
        stmt = select(EmailMessage).where(EmailMessage.status == "sent")
        if lead_id:
            stmt = stmt.where(EmailMessage.lead_id == lead_id)
        return list(session.exec(stmt.order_by(col(EmailMessage.id))).all())


def lead(db_url: str, lead_id: str) -> Lead:
    with session_scope(db_url) as session:
        row = session.get(Lead, lead_id)
        assert row is not None
        return row


async def eventually(check: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
    """Poll ``check`` until it returns something truthy (real time, not workflow time)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.05)


async def at_step(db_url: str, journey_id: str, step: str, timeout: float = 15.0) -> Journey:
    """Wait until the journey is recorded at ``step``."""
    return await eventually(
        lambda: (j if (j := journey(db_url, journey_id)).current_step == step else None),
        timeout, f"journey at step {step!r}")


async def ended(db_url: str, journey_id: str, timeout: float = 15.0) -> Journey:
    return await eventually(
        lambda: (j if (j := journey(db_url, journey_id)).status != "running" else None),
        timeout, "journey to end")


@asynccontextmanager
async def running_worker(client: Client, db_url: str, task_queue: str,
                         **kwargs: Any) -> AsyncIterator[Any]:
    # the strict sandbox: every workflow path the tests take is checked for clock, randomness
    # and I/O (the worker processes the end-to-end tests start run the default "fast" one)
    from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

    kwargs.setdefault("workflow_runner", SandboxedWorkflowRunner())
    worker = build_worker(client, task_queue=task_queue, db_url=db_url, **kwargs)
    try:
        async with worker:
            yield worker
    finally:
        await terminate_running(client, db_url)


async def terminate_running(client: Client, db_url: str) -> None:
    """End every journey this test left running, so the shared test server stays quiet."""
    from temporalio.service import RPCError

    with session_scope(db_url) as session:
        ids = list(session.exec(select(Journey.id).where(Journey.status == "running")).all())
        # each lead's temperature timer (leadflow.usecases.score_timers.score_workflow_id)
        ids += [f"score-{lead_id}" for lead_id in session.exec(select(Lead.id)).all()]
    for wid in ids:
        try:
            await client.get_workflow_handle(wid).terminate("test finished")
        except RPCError:
            pass


async def update_lead(client: Client, db_url: str, email: str, **fields: Any) -> None:
    """What ``POST /api/leads`` does for an existing lead."""
    from leadflow.usecases.events import ingest_lead

    with session_scope(db_url) as session:
        _, _, plan = ingest_lead(session, LeadCreate(email=email, **fields))
    await run_dispatch(client, plan, db_url)


def set_scoring_model(db_url: str, doc: dict[str, Any]) -> None:
    """Make ``doc`` the current scoring model (a new version)."""
    from leadflow.models import ScoringModel

    with session_scope(db_url) as session:
        session.add(ScoringModel(document=doc))


SIMPLE_MODEL: dict[str, Any] = {
    "fit": [],
    "behavior": {"email.opened": 1, "email.clicked": 5, "form.submitted": 10, "demo.requested": 40},
    "temperature": {"hot": 60, "warm": 25},
    "mql_at": 60,
}


ADMIN = "admin-key-for-tests-0123456789"
"""The admin key the ``api`` fixture's app honours (``LEADFLOW_ADMIN_KEY``)."""


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
