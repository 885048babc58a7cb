"""Speed to lead: from the event that makes a lead hot to its rep's notification.

Runs the embedded stack in one process: the Temporal dev server, a Leadflow worker and the API
app (over ASGI, no sockets), on a fresh SQLite database with the outbox e-mail backend. Each lead
starts warm (a senior title, a company address and a webinar); the timed ``POST /api/events`` of
``demo.requested`` makes it hot, enrols it in a flow that branches on temperature into a
handoff, and the clock stops at ``sent_at`` of the rep's e-mail in the outbox.

The baseline is the least any Temporal-based implementation must do: start a bare workflow
that runs one activity writing and "sending" the same kind of outbox row.

Leads are fired in waves of ``WAVE`` at a time (a small burst of hot leads).
Run ``python bench/speed_to_lead.py [--quick]``; ``bench/run`` picks it up through :func:`run`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlmodel import col, select
from temporalio import activity, workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from bench.common import Row, percentile, print_table

# Hot leads fired together. Kept small because each ``POST /api/events`` holds two pooled
# database connections at once (the auth dependency's session and the route's own), and the
# API shares the worker's 15-connection pool in the embedded stack.
WAVE = 5
ADMIN_KEY = "bench-admin-key-0123456789abcdef"
FLOW: dict[str, Any] = {
    "id": "hot-to-sales",
    "name": "Hot leads to sales",
    "entry": {"event": "demo.requested"},
    "start": "check",
    "steps": {
        "check": {"type": "branch", "on": "temperature", "hot": "to-sales", "warm": "end",
                  "cold": "end"},
        "to-sales": {"type": "handoff", "team": "inside", "sla": "PT4H", "next": "end"},
        "end": {"type": "exit"},
    },
}


@dataclass
class BareInput:
    """The baseline's one activity input: an outbox row to write and send."""

    send_id: str
    db_url: str


@activity.defn(name="bench_bare_notify")
async def bare_notify(inp: BareInput) -> None:
    """Write one outbox row and mark it sent: the floor of any notification."""
    from leadflow.db import session_scope
    from leadflow.models import EmailMessage, utcnow

    def write() -> None:
        with session_scope(inp.db_url) as session:
            session.add(EmailMessage(send_id=inp.send_id, to="rep@example.com", subject="Hot",
                                     text="hot lead", status="sent", sent_at=utcnow()))

    await asyncio.to_thread(write)


@workflow.defn(name="BenchBareNotify")
class BareNotify:
    """The baseline workflow: one activity, nothing else."""

    @workflow.run
    async def run(self, inp: BareInput) -> None:
        await workflow.execute_activity("bench_bare_notify", inp,
                                        start_to_close_timeout=timedelta(seconds=30))


def _setup(db_url: str, leads: int) -> tuple[dict[str, str], list[str]]:
    """Reps, team, the flow and ``leads`` warm leads; returns the marketer key and e-mails."""
    from leadflow.auth import create_key
    from leadflow.db import create_schema, session_scope
    from leadflow.journeys.flows import publish, save_draft
    from leadflow.leads.records import LeadCreate, upsert_lead
    from leadflow.sales.admin import save_rep, save_team
    from leadflow.usecases.events import EventIn, ingest_events

    create_schema(db_url)
    with session_scope(db_url) as session:
        reps = [f"rep{i}" for i in range(5)]
        for rid in reps:
            save_rep(session, {"id": rid, "email": f"{rid}@sales.example.com", "name": rid,
                               "capacity": 10_000}, create=True)
        save_team(session, {"id": "inside", "name": "Inside", "members": reps}, create=True)
        save_draft(session, FLOW, create=True)
        publish(session, FLOW["id"])
        key = create_key(session, role="marketer")
    emails = [f"lead{i}@acme{i}.example" for i in range(leads)]
    with session_scope(db_url) as session:
        for email in emails:
            upsert_lead(session, LeadCreate(email=email, first_name="Bench", company="Acme",
                                            title="VP Sales"))
        # Warm, not hot: no flow starts on a webinar, so nothing is dispatched.
        ingest_events(session, [EventIn(email=e, type="webinar.attended") for e in emails])
    return {"Authorization": f"Bearer {key}"}, emails


def _notified_at(db_url: str, lead_ids: set[str]) -> dict[str, float]:
    """Lead id → when its rep's assignment e-mail was sent (epoch seconds), for ``lead_ids``."""
    from leadflow.db import session_scope
    from leadflow.models import EmailMessage, Handoff

    with session_scope(db_url) as session:
        handoffs = dict(session.exec(select(Handoff.id, Handoff.lead_id).where(
            col(Handoff.lead_id).in_(lead_ids))).all())
        # The workflow's first notice is number 1; its e-mail's send id says so.
        keys = {f"{hid}.assigned.1.email": lead for hid, lead in handoffs.items()}
        rows = session.exec(select(EmailMessage.send_id, EmailMessage.sent_at).where(
            col(EmailMessage.send_id).in_(keys), EmailMessage.status == "sent")).all()
    return {keys[sid]: sent.timestamp() for sid, sent in rows if sent is not None}


def _lead_ids(db_url: str) -> dict[str, str]:
    from leadflow.db import session_scope
    from leadflow.models import Lead

    with session_scope(db_url) as session:
        return {e: i for i, e in session.exec(select(Lead.id, Lead.email)).all() if e}


async def _wait_for(check: Any, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("notifications did not arrive in time")
        await asyncio.sleep(0.05)


async def _ours(env: WorkflowEnvironment, db_url: str, task_queue: str,
                leads: int) -> list[float]:
    from leadflow.api.main import create_app
    from leadflow.cli.wiring import build_worker

    headers, emails = _setup(db_url, leads)
    ids = _lead_ids(db_url)
    fired: dict[str, float] = {}
    app = create_app(temporal_client=env.client)
    async with build_worker(env.client, task_queue=task_queue, db_url=db_url), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                              base_url="http://bench") as api:

        async def fire(email: str) -> None:
            fired[ids[email]] = time.time()
            response = await api.post("/api/events", headers=headers,
                                      json={"email": email, "type": "demo.requested"})
            response.raise_for_status()

        for start in range(0, leads, WAVE):
            wave = emails[start:start + WAVE]
            await asyncio.gather(*(fire(e) for e in wave))
            wanted = {ids[e] for e in wave}
            await _wait_for(lambda wanted=wanted: len(_notified_at(db_url, wanted)) == len(wanted))
        done = _notified_at(db_url, set(fired))
        for handle_id in list(_running(db_url)):
            await env.client.get_workflow_handle(handle_id).terminate("benchmark over")
    return [done[lead] - at for lead, at in fired.items()]


def _running(db_url: str) -> list[str]:
    from leadflow.db import session_scope
    from leadflow.models import Journey

    with session_scope(db_url) as session:
        return list(session.exec(select(Journey.id).where(Journey.status == "running")).all())


async def _baseline(env: WorkflowEnvironment, db_url: str, leads: int) -> list[float]:
    from leadflow.db import session_scope
    from leadflow.models import EmailMessage

    queue = f"bench-bare-{uuid.uuid4().hex[:6]}"
    started: dict[str, float] = {}
    async with Worker(env.client, task_queue=queue, workflows=[BareNotify],
                      activities=[bare_notify], workflow_runner=UnsandboxedWorkflowRunner()):

        async def fire(send_id: str) -> None:
            started[send_id] = time.time()
            await env.client.start_workflow(BareNotify.run, BareInput(send_id, db_url),
                                            id=send_id, task_queue=queue)

        ids = [f"bare-{uuid.uuid4().hex}" for _ in range(leads)]
        for start in range(0, leads, WAVE):
            await asyncio.gather(*(fire(s) for s in ids[start:start + WAVE]))
            wave = set(ids[start:start + WAVE])

            def arrived(wave: set[str] = wave) -> bool:
                with session_scope(db_url) as session:
                    got = session.exec(select(EmailMessage.send_id).where(
                        col(EmailMessage.send_id).in_(wave))).all()
                return len(got) == len(wave)

            await _wait_for(arrived)
    with session_scope(db_url) as session:
        rows = session.exec(select(EmailMessage.send_id, EmailMessage.sent_at).where(
            col(EmailMessage.send_id).startswith("bare-"))).all()
    return [sent.timestamp() - started[sid] for sid, sent in rows if sent is not None]


async def _run(quick: bool) -> list[Row]:
    from leadflow.config import reset_settings
    from leadflow.db import reset_engine

    leads = 50 if quick else 500
    from bench._env import bench_database

    home = tempfile.mkdtemp(prefix="leadflow-bench-")
    database = bench_database(home)
    db_url = database.__enter__()
    task_queue = f"bench-{uuid.uuid4().hex[:6]}"
    saved = {k: os.environ.get(k) for k in ("LEADFLOW_DATABASE_URL", "LEADFLOW_TASK_QUEUE",
                                            "LEADFLOW_HOME", "LEADFLOW_ADMIN_KEY",
                                            "LEADFLOW_SECRET_KEY")}
    os.environ.update(LEADFLOW_DATABASE_URL=db_url, LEADFLOW_TASK_QUEUE=task_queue,
                      LEADFLOW_HOME=home, LEADFLOW_ADMIN_KEY=ADMIN_KEY,
                      LEADFLOW_SECRET_KEY="bench-secret-key-" + uuid.uuid4().hex)
    reset_settings()
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=shutil.which("temporal"),
        dev_server_extra_args=["--log-level", "error"])
    try:
        ours = await _ours(env, db_url, task_queue, leads)
        base = await _baseline(env, db_url, leads)
    finally:
        await env.shutdown()
        reset_engine()
        database.__exit__(None, None, None)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        reset_settings()
        shutil.rmtree(home, ignore_errors=True)
    note = f"{leads} leads in waves of {WAVE}; baseline: bare workflow + one notify activity"
    return [Row("speed to lead p50", percentile(ours, 50), percentile(base, 50), "s",
                note=note),
            Row("speed to lead p99", percentile(ours, 99), percentile(base, 99), "s",
                note="goal p99 < 2 s; ratio = times slower than the baseline")]


def run(quick: bool) -> list[Row]:
    """Speed-to-lead p50 and p99 beside the bare-workflow baseline (quick: 50 leads)."""
    return asyncio.run(_run(quick))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 leads instead of 500")
    print_table(run(parser.parse_args().quick), title="speed to lead")
