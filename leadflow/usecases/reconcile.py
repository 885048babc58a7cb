"""The reconciler: finds where the database and Temporal disagree, and repairs it.

Run on demand by ``leadflow doctor`` (``--dry-run`` only reports) and every few minutes by the
outbox drainer in the API and worker processes (:func:`leadflow.intents.drain_forever`).

What it looks for, oldest first and each bounded per run:

* **undelivered intents** (outbox rows waiting longer than ``stale_after``): delivered now;
* **stored events never dispatched** (written before the outbox, or by a path that does not
  record its plan): their effects are planned and delivered;
* **journeys ``running`` in the database without a live workflow**: never started (the
  start is sent again; e-mails are keyed by send id, so nothing is sent twice), or ended
  without telling the database (the row takes the workflow's outcome, or ``failed`` with the
  reason when it was terminated, timed out or failed);
* **journeys ended in the database whose workflow still runs** (an exit recorded while
  Temporal was down, whose signal was lost): the exit is sent again;
* **open handoffs of journeys that have ended**: withdrawn.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from leadflow.models import Event, Handoff, Journey, TemporalIntent, utcnow

__all__ = ["Finding", "ReconcileReport", "reconcile"]

STALE_AFTER = timedelta(minutes=1)
RPC_TIMEOUT = timedelta(seconds=5)


@dataclass
class Finding:
    kind: str  # undelivered_intent | undispatched_event | no_workflow | workflow_ended | ...
    subject: str  # a workflow, journey, event or handoff id
    detail: str
    fixed: bool = False

    def line(self) -> str:
        mark = "fixed" if self.fixed else "found"
        return f"{mark:5}  {self.kind:22} {self.subject}  {self.detail}"


@dataclass
class ReconcileReport:
    checked_journeys: int = 0
    findings: list[Finding] = field(default_factory=list)
    pending_intents: int = 0

    @property
    def fixed(self) -> int:
        return sum(1 for f in self.findings if f.fixed)

    def summary(self) -> str:
        kinds: dict[str, int] = {}
        for f in self.findings:
            kinds[f.kind] = kinds.get(f.kind, 0) + 1
        found = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "nothing"
        return (f"checked {self.checked_journeys} running journeys; found {found}; "
                f"fixed {self.fixed}; {self.pending_intents} intents still pending")

    def as_dict(self) -> dict[str, Any]:
        return {"checked_journeys": self.checked_journeys, "fixed": self.fixed,
                "pending_intents": self.pending_intents,
                "findings": [f.__dict__ for f in self.findings]}


async def _describe(client: Any, wid: str) -> tuple[str, Any]:
    """``("missing", None)``, or the workflow's status name and its handle."""
    from temporalio.service import RPCError, RPCStatusCode

    handle = client.get_workflow_handle(wid)
    try:
        desc = await handle.describe(rpc_timeout=RPC_TIMEOUT)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return "missing", None
        raise
    status = desc.status.name if desc.status is not None else "UNKNOWN"
    return status, handle


async def reconcile(client: Any, db_url: str | None = None, *, dry_run: bool = False,
                    stale_after: timedelta = STALE_AFTER, limit: int = 2000) -> ReconcileReport:
    """Find and (unless ``dry_run``) repair disagreements; see the module doc."""
    from leadflow.db import session_scope
    from leadflow.dispatch import Dispatch
    from leadflow.intents import deliver, pending_count
    from leadflow.journeys.enrolment import close_journey, journey_input, withdraw_open_handoffs
    from leadflow.temporal import EXIT_SIGNAL
    from leadflow.usecases.events import dispatch_stored_events

    report = ReconcileReport()
    now = utcnow()
    cutoff = now - stale_after

    # 1. intents waiting too long: due now
    with session_scope(db_url) as session:
        stale = list(session.exec(select(TemporalIntent).where(
            col(TemporalIntent.delivered_at).is_(None), col(TemporalIntent.created_at) < cutoff)
            .order_by(col(TemporalIntent.id)).limit(limit)).all())
        for row in stale:
            report.findings.append(Finding(
                "undelivered_intent", row.workflow_id,
                f"{row.kind} {row.name or ''} waiting since {row.created_at:%Y-%m-%d %H:%M:%S} "
                f"({row.attempts} attempts{', ' + row.last_error if row.last_error else ''})"))
            if not dry_run:
                row.next_attempt_at = now
                session.add(row)
    # 2. events stored but never dispatched
    with session_scope(db_url) as session:
        events = list(session.exec(select(Event).where(
            col(Event.dispatched).is_(False), col(Event.received_at) < cutoff)
            .order_by(col(Event.received_at)).limit(limit)).all())
        for event in events:
            report.findings.append(Finding("undispatched_event", event.id,
                                           f"{event.type} of lead {event.lead_id}",
                                           fixed=not dry_run))
        replayed = None
        if events and not dry_run:
            replayed = dispatch_stored_events(session, events).record(session)
    if not dry_run and (stale or events):
        await deliver(client, db_url)
        if replayed is not None:  # its starts are leased to this call (see intents.record)
            await deliver(client, db_url, ids=replayed.intent_ids, leased=replayed.leased)
        with session_scope(db_url) as session:
            still = {r.id for r in session.exec(select(TemporalIntent).where(
                col(TemporalIntent.id).in_([r.id for r in stale]),
                col(TemporalIntent.delivered_at).is_(None))).all()}
        for finding, row in zip(report.findings, stale, strict=False):
            finding.fixed = row.id not in still

    # 3. running rows without a live workflow
    with session_scope(db_url) as session:
        waiting = set(session.exec(select(TemporalIntent.workflow_id).where(
            col(TemporalIntent.delivered_at).is_(None))).all())
        running = [j for j in session.exec(select(Journey).where(
            Journey.status == "running", col(Journey.started_at) < cutoff)
            .order_by(col(Journey.started_at)).limit(limit)).all() if j.id not in waiting]
        ended = [j for j in session.exec(select(Journey).where(
            col(Journey.status).in_(["exited", "completed"]),
            col(Journey.ended_at) > now - timedelta(days=1), col(Journey.ended_at) < cutoff)
            .limit(limit)).all() if j.id not in waiting]
        for j in running + ended:
            session.expunge(j)
    report.checked_journeys = len(running)
    gate = asyncio.Semaphore(16)

    async def look(j: Journey) -> tuple[Journey, str, Any]:
        async with gate:
            try:
                status, handle = await _describe(client, j.id)
            except Exception:  # noqa: BLE001
                return j, "UNREACHABLE", None  # Temporal did not answer: judged next time
            result = None
            if status == "COMPLETED" and j.status == "running":
                try:
                    result = await handle.result(follow_runs=False, rpc_timeout=RPC_TIMEOUT)
                except Exception:  # noqa: BLE001
                    result = None
            return j, status, result

    looked = await asyncio.gather(*(look(j) for j in running + ended))
    repairs = Dispatch()
    with session_scope(db_url) as session:
        for j, status, result in looked:
            row = session.get(Journey, j.id)
            if row is None or row.status != j.status:
                continue  # changed meanwhile: not ours to judge now
            if status == "UNREACHABLE":
                continue
            if row.status == "running":
                if status == "missing":
                    report.findings.append(Finding("no_workflow", row.id,
                                                   "running in the database, unknown to "
                                                   "Temporal: started again", not dry_run))
                    repairs.starts.append(journey_input(row))
                elif status != "RUNNING":
                    outcome = result if isinstance(result, dict) else {}
                    new_status = outcome.get("status") or "failed"
                    reason = outcome.get("reason") or f"its workflow was {status.lower()}"
                    report.findings.append(Finding(
                        "workflow_ended", row.id,
                        f"workflow {status.lower()}, database said running: now {new_status}",
                        not dry_run))
                    if not dry_run:
                        close_journey(session, row, new_status, reason)
                        withdraw_open_handoffs(session, row.id, "the journey ended")
            elif status == "RUNNING":
                report.findings.append(Finding(
                    "workflow_still_running", row.id,
                    f"{row.status} in the database, still running in Temporal: exit sent again",
                    not dry_run))
                repairs.signals.append((row.id, EXIT_SIGNAL, {"reason": row.exit_reason
                                                              or "manual"}))
        # 4. handoffs left open by journeys that ended
        orphans = session.exec(select(Handoff).join(Journey, Journey.id == Handoff.journey_id)
                               .where(col(Handoff.status).in_(["open", "accepted", "contacted"]),
                                      Journey.status != "running").limit(limit)).all()
        for h in orphans:
            report.findings.append(Finding("orphan_handoff", h.id,
                                           "open handoff of an ended journey: withdrawn",
                                           not dry_run))
        if not dry_run:
            for jid in sorted({h.journey_id for h in orphans if h.journey_id}):
                withdraw_open_handoffs(session, jid, "the journey ended")
            if repairs.starts or repairs.signals:
                repairs.record(session)
    if not dry_run and (repairs.starts or repairs.signals):
        await deliver(client, db_url, ids=repairs.intent_ids, leased=repairs.leased)
    with session_scope(db_url) as session:
        report.pending_intents = pending_count(session)[0]
    return report
