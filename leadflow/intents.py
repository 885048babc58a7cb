"""Every intent reaches its workflow: a transactional outbox for what Temporal must be told.

Writes that must reach a workflow are recorded as :class:`~leadflow.models.TemporalIntent` rows
**in the same transaction as the change** (:func:`record`), then delivered from there
(:func:`deliver`): at once after the commit by the request that made them, and otherwise by a
background drainer (:func:`drain_forever`, running in the API and in the worker) that retries
with backoff until Temporal takes them. Rows of one workflow go out in the order they were
written (a journey's start before its signals), and a row another process is delivering is
leased, not sent twice (a duplicate would be harmless anyway: starts are idempotent, journeys
ignore an event id they have seen, exits and sales answers are idempotent).

Chosen per case:

* **Outbox** (the client's write is the fact; the workflow only has to learn it): events and
  the journeys they start or wake, lead changes (``exit_when``), manual enrolment (the journey
  row and its start commit together, so a failed start never leaves a ``running`` row without
  a workflow), sales actions on a handoff (the action is stored and answered 200 even while
  Temporal is down, then delivered: no 503-then-409), a rep going out of office, exits
  (manual, stopped, erased), and the leads' score timers.
* **Update** (the workflow is the single writer and the client needs its answer): retrying a
  failed journey (``RETRY_UPDATE``) only makes sense on the workflow's parked state, so the API
  waits for the workflow to accept it (or refuse: 409); likewise moving a journey to a new flow
  version (the ``migrate`` Update). These answer 503 while Temporal is down, and nothing is
  half-written.

:mod:`leadflow.usecases.reconcile` repairs what still disagrees (rows running without a workflow, a
workflow gone, intents undelivered for long).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from leadflow.models import Event, Journey, TemporalIntent, utcnow

__all__ = [
    "DeliveryReport",
    "HeldIntent",
    "deliver",
    "drain_forever",
    "pending_count",
    "prune_delivered",
    "record",
    "record_recycle",
]

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=30)  # a row being delivered is not picked up again before this
# A journey's start is leased to the request that records it, in the request's own transaction
# (no second transaction to claim it): that request delivers it right after its commit, and
# should it not (the process dies, Temporal is away), the drainer takes the row after this.
SELF_LEASE = timedelta(seconds=10)
RPC_TIMEOUT = timedelta(seconds=5)
MAX_BACKOFF = 60.0  # seconds between attempts, at most
# Temporal answers that will not change by asking again
_PERMANENT = ("INVALID_ARGUMENT", "PERMISSION_DENIED", "UNIMPLEMENTED")


@dataclass
class DeliveryReport:
    delivered: int = 0
    gone: int = 0  # the workflow had ended: nothing left to tell
    refused: int = 0
    failed: int = 0  # left for a later attempt
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class HeldIntent:
    """An outbox row as :func:`record` leased it to the recording request: what :func:`deliver`
    reads to send it (as from a :class:`~leadflow.models.TemporalIntent`), free of any session."""

    id: int
    kind: str
    workflow_id: str
    name: str | None
    payload: dict[str, Any]


def record(session: Session, plan: Any) -> list[int]:
    """Write ``plan`` (a :class:`leadflow.dispatch.Dispatch`) into the outbox in ``session``'s
    transaction and mark its events dispatched; returns the new rows' ids (``plan.intent_ids``).
    """
    now = utcnow()
    rows: list[TemporalIntent] = []
    seen: set[str] = set()
    for inp in plan.starts:
        if inp.journey_id in seen:
            continue
        seen.add(inp.journey_id)
        # a start is the first row of its (new) workflow: nothing can be ahead of it, so the
        # recording request leases it at once (see SELF_LEASE)
        rows.append(TemporalIntent(kind="start", workflow_id=inp.journey_id,
                                   payload=asdict(inp), next_attempt_at=now + SELF_LEASE))
    for wid, name, payload in plan.signals:
        rows.append(TemporalIntent(kind="signal", workflow_id=wid, name=name, payload=payload,
                                   next_attempt_at=now))
    earliest: dict[str, float] = {}
    for lead_id, due in plan.score_timers:
        earliest[lead_id] = min(due, earliest.get(lead_id, due))
    from leadflow.temporal import score_workflow_id

    for lead_id, due in earliest.items():
        rows.append(TemporalIntent(kind="score_timer", workflow_id=score_workflow_id(lead_id),
                                   payload={"lead_id": lead_id, "due": due},
                                   next_attempt_at=now))
    ids = list(dict.fromkeys(plan.event_ids))
    if ids:
        # events this transaction added and has not written yet are inserted as dispatched
        # (no UPDATE after their INSERT); the others are marked below
        wanted = set(ids)
        for obj in session.new:
            if isinstance(obj, Event) and obj.id in wanted:
                obj.dispatched = True
                wanted.discard(obj.id)
        ids = [i for i in ids if i in wanted]
    if rows:
        session.add_all(rows)
        session.flush()
    if ids:
        # no ORM synchronisation (it evaluated the IN list against every object in the
        # session: a webhook batch holds thousands); the loaded events are set below instead
        for start in range(0, len(ids), 500):
            session.exec(update(Event).where(col(Event.id).in_(ids[start:start + 500]))  # type: ignore[call-overload]
                         .values(dispatched=True)
                         .execution_options(synchronize_session=False))
        marked = set(ids)
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Event) and obj.id in marked:
                set_committed_value(obj, "dispatched", True)
    plan.intent_ids = [r.id for r in rows]
    # what the request delivers without claiming: copies, free of the session
    plan.leased = [HeldIntent(r.id, r.kind, r.workflow_id, r.name, r.payload)  # type: ignore[arg-type]
                   for r in rows if r.kind == "start"]
    plan.recorded = True
    return plan.intent_ids  # type: ignore[no-any-return]


def record_recycle(session: Session, inp: Any) -> int:
    """Write the start of a recycle timer (:class:`leadflow.temporal.RecycleInput`) into the
    outbox; returns the row's id."""
    from leadflow.temporal import recycle_id

    row = TemporalIntent(kind="recycle", workflow_id=recycle_id(inp.handoff_id),
                         payload=asdict(inp), next_attempt_at=utcnow())
    session.add(row)
    session.flush()
    return row.id  # type: ignore[return-value]


def pending_count(session: Session) -> tuple[int, Any]:
    """How many intents wait for delivery, and since when the oldest waits."""
    n, oldest = session.exec(select(func.count(), func.min(TemporalIntent.created_at))
                             .where(col(TemporalIntent.delivered_at).is_(None))).one()
    return int(n or 0), oldest


def prune_delivered(db_url: str | None, older_than: timedelta, *, batch: int = 2000) -> int:
    """Delete the rows delivered (or found gone, or refused) more than ``older_than`` ago, in
    batches of ``batch`` per transaction; returns how many. Undelivered rows are the queue and
    are never touched. Run hourly by the housekeeping schedule (see :mod:`leadflow.temporal`)."""
    from leadflow.db import session_scope

    cutoff = utcnow() - older_than
    total = 0
    while True:
        with session_scope(db_url) as session:
            oldest = (select(TemporalIntent.id)
                      .where(col(TemporalIntent.delivered_at).is_not(None),
                             col(TemporalIntent.delivered_at) < cutoff)
                      .order_by(col(TemporalIntent.id)).limit(batch))
            gone = session.exec(delete(TemporalIntent)  # type: ignore[call-overload]
                                .where(col(TemporalIntent.id).in_(oldest.scalar_subquery()))
                                .execution_options(synchronize_session=False)).rowcount
        total += gone or 0
        if not gone or gone < batch:
            return total


def _claim(db_url: str | None, ids: list[int] | None, limit: int,
           leased: frozenset[int] = frozenset()) -> list[TemporalIntent]:
    """Lease deliverable rows: due, undelivered, and first in line for their workflow (rows
    of ``leased``, which the caller holds already, count as in line)."""
    from leadflow.db import session_scope

    now = utcnow()
    with session_scope(db_url) as session:
        stmt = select(TemporalIntent).where(col(TemporalIntent.delivered_at).is_(None))
        if ids is not None:
            stmt = stmt.where(col(TemporalIntent.id).in_(ids))
        else:
            # only what is due: rows waiting out a backoff must not crowd the batch
            stmt = stmt.where(col(TemporalIntent.next_attempt_at) <= now)
        rows = list(session.exec(stmt.order_by(col(TemporalIntent.id)).limit(limit)).all())
        if not rows:
            return []
        wids = sorted({r.workflow_id for r in rows})
        first: dict[str, int] = {}
        for start in range(0, len(wids), 500):
            first.update(session.exec(
                select(TemporalIntent.workflow_id, func.min(TemporalIntent.id))
                .where(col(TemporalIntent.delivered_at).is_(None),
                       col(TemporalIntent.workflow_id).in_(wids[start:start + 500]))
                .group_by(TemporalIntent.workflow_id)).all())
        mine = {r.id for r in rows} | leased
        chosen: list[TemporalIntent] = []
        blocked: set[str] = set()
        for r in rows:
            # an earlier row of the same workflow that is not ours (leased elsewhere, or not
            # due yet) goes first: never a signal before its journey's start
            if r.workflow_id in blocked or (first.get(r.workflow_id, r.id) < r.id
                                            and first[r.workflow_id] not in mine):
                blocked.add(r.workflow_id)
                continue
            if r.next_attempt_at is not None and r.next_attempt_at > now:
                blocked.add(r.workflow_id)
                continue
            chosen.append(r)
        if not chosen:
            return []
        lease_until = now + LEASE
        claimed = set(session.exec(  # type: ignore[call-overload]
            update(TemporalIntent)
            .where(col(TemporalIntent.id).in_([r.id for r in chosen]),
                   col(TemporalIntent.delivered_at).is_(None),
                   col(TemporalIntent.next_attempt_at) <= now)
            .values(next_attempt_at=lease_until)
            .returning(TemporalIntent.id)).scalars().all())
        out = []
        for r in chosen:
            if r.id in claimed:
                session.expunge(r)
                out.append(r)
        return out


async def _send(client: Any, row: TemporalIntent | HeldIntent,
                documents: dict[tuple[str, int], dict[str, Any]] | None = None) -> str:
    """Deliver one row: ``delivered`` or ``gone``; raises on failure. ``documents``: flow
    version documents a journey start carries (:func:`leadflow.journeys.flows.start_documents`)."""
    from temporalio.exceptions import WorkflowAlreadyStartedError
    from temporalio.service import RPCError, RPCStatusCode

    from leadflow.config import get_settings
    from leadflow.temporal import JOURNEY_WORKFLOW, JourneyInput

    settings = get_settings()
    try:
        if row.kind == "start":
            from temporalio.common import WorkflowIDReusePolicy

            inp = JourneyInput(**row.payload)
            if inp.flow is None:
                inp.flow = (documents or {}).get((inp.flow_id, inp.version))
            try:
                await client.start_workflow(
                    JOURNEY_WORKFLOW, inp, id=inp.journey_id, task_queue=settings.task_queue,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    rpc_timeout=RPC_TIMEOUT)
            except WorkflowAlreadyStartedError:
                return "delivered"
            from leadflow.metrics import record_journey_started

            record_journey_started(inp.flow_id)
            return "delivered"
        if row.kind == "recycle":
            from leadflow.temporal import RecycleInput, start_recycle

            await start_recycle(client, RecycleInput(**row.payload), settings)
            return "delivered"
        if row.kind == "score_timer":
            from temporalio.common import WorkflowIDReusePolicy

            from leadflow.temporal import LEAD_SCORE_WORKFLOW, REARM_SIGNAL, LeadScoreInput

            try:
                await client.start_workflow(
                    LEAD_SCORE_WORKFLOW, LeadScoreInput(row.payload["lead_id"]),
                    id=row.workflow_id, task_queue=settings.task_queue,
                    id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                    start_signal=REARM_SIGNAL, start_signal_args=[{"due": row.payload["due"]}],
                    rpc_timeout=RPC_TIMEOUT)
            except WorkflowAlreadyStartedError:
                pass
            return "delivered"
        await client.get_workflow_handle(row.workflow_id).signal(
            row.name, row.payload, rpc_timeout=RPC_TIMEOUT)
        return "delivered"
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND and row.kind == "signal":
            return "gone"  # the workflow has ended: there is no one left to tell
        if exc.status is not None and exc.status.name in _PERMANENT:
            return "refused"
        raise


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(MAX_BACKOFF, 0.5 * 2 ** min(attempts, 10)))


async def deliver(client: Any, db_url: str | None = None, ids: list[int] | None = None,
                  limit: int = 500, concurrency: int = 32,
                  leased: list[HeldIntent] | None = None) -> DeliveryReport:
    """Deliver due intents (or exactly ``ids``, right after their commit), in order per
    workflow; failures are rescheduled with backoff. Returns what happened.

    ``leased``: rows of ``ids`` the caller leased when it recorded them (journey starts, see
    :func:`record`); they are sent without a claim, and only the rest of ``ids`` is claimed.
    """
    from leadflow.db import session_scope
    from leadflow.journeys.flows import start_documents

    report = DeliveryReport()
    if ids is not None and not ids:
        return report
    held = [r for r in leased or () if ids is not None and r.id in ids]
    held_ids = frozenset(r.id for r in held if r.id is not None)
    rest = None if ids is None else [i for i in ids if i not in held_ids]
    rows: list[TemporalIntent | HeldIntent] = list(held)
    if rest is None or rest:
        rows += await asyncio.to_thread(_claim, db_url, rest, limit, held_ids)
        rows.sort(key=lambda r: r.id or 0)
    if not rows:
        return report
    by_workflow: dict[str, list[TemporalIntent | HeldIntent]] = {}
    for r in rows:
        by_workflow.setdefault(r.workflow_id, []).append(r)
    starts = [(r.payload["flow_id"], r.payload["version"]) for r in rows if r.kind == "start"]
    documents = await asyncio.to_thread(start_documents, db_url, starts) if starts else {}
    gate = asyncio.Semaphore(concurrency)
    done: dict[int, str] = {}
    failed: dict[int, str] = {}

    async def one_workflow(chain: list[TemporalIntent | HeldIntent]) -> None:
        async with gate:
            for n, r in enumerate(chain):
                try:
                    done[r.id] = await _send(client, r, documents)  # type: ignore[index]
                except Exception as exc:  # noqa: BLE001
                    code = getattr(getattr(exc, "status", None), "name", None) or type(exc).__name__
                    for later in chain[n:]:
                        failed[later.id] = code  # type: ignore[index]
                    return

    await asyncio.gather(*(one_workflow(c) for c in by_workflow.values()))
    now = utcnow()

    def store() -> None:
        with session_scope(db_url) as session:
            _mark_done(session, done, now)
            refused_starts = [r.workflow_id for r in rows
                              if r.kind == "start" and done.get(r.id or 0) == "refused"]
            for wid in refused_starts:
                _journey_never_started(session, wid)
            for r in rows:
                if r.id in failed:
                    row = session.get(TemporalIntent, r.id)
                    if row is not None and row.delivered_at is None:
                        row.attempts += 1
                        row.last_error = failed[r.id][:200]
                        row.next_attempt_at = now + _backoff(row.attempts)
                        session.add(row)

    if failed or "refused" in done.values():
        await asyncio.to_thread(store)
    else:  # the usual case: deliveries finishing together share one transaction
        await _record_outcomes(db_url, done)
    for o in done.values():
        setattr(report, o, getattr(report, o) + 1)
    report.failed = len(failed)
    report.errors = sorted(set(failed.values()))
    return report


def _mark_done(session: Session, done: dict[int, str], at: Any) -> None:
    """Mark the rows of ``done`` (row id -> delivered | gone | refused) as settled at ``at``."""
    for outcome in ("delivered", "gone", "refused"):
        ids_ = [i for i, o in done.items() if o == outcome]
        for start in range(0, len(ids_), 500):
            session.exec(update(TemporalIntent)  # type: ignore[call-overload]
                         .where(col(TemporalIntent.id).in_(ids_[start:start + 500]))
                         .values(delivered_at=at, outcome=outcome,
                                 attempts=TemporalIntent.attempts + 1))


def _store_outcomes(db_url: str | None, done: dict[int, str]) -> None:
    from leadflow.db import session_scope

    with session_scope(db_url) as session:
        _mark_done(session, done, utcnow())


@dataclass
class _Outcomes:
    """Outcomes waiting for the next write, and the future their callers await."""

    done: dict[int, str]
    written: asyncio.Future[None]


_WRITING: dict[tuple[str | None, int], asyncio.Task[None]] = {}
_WAITING: dict[tuple[str | None, int], _Outcomes] = {}


async def _record_outcomes(db_url: str | None, done: dict[int, str]) -> None:
    """Record ``done`` (row id -> outcome): at once when nothing is being written, else with
    every other delivery that finishes meanwhile, in the next transaction (one write for many
    requests where each wrote its own). Returns when its rows are written; raises if that
    write failed (the rows stay leased, and the drainer delivers them again: harmless)."""
    loop = asyncio.get_running_loop()
    key = (db_url, id(loop))
    waiting = _WAITING.get(key)
    if waiting is None:
        waiting = _WAITING[key] = _Outcomes({}, loop.create_future())
    waiting.done.update(done)
    written = waiting.written
    if key not in _WRITING:
        async def write_all() -> None:
            try:
                while key in _WAITING:
                    batch = _WAITING.pop(key)
                    try:
                        await asyncio.to_thread(_store_outcomes, db_url, batch.done)
                    except Exception as exc:  # noqa: BLE001 - each caller hears of it
                        batch.written.set_exception(exc)
                    else:
                        batch.written.set_result(None)
            finally:
                _WRITING.pop(key, None)

        _WRITING[key] = loop.create_task(write_all())
    await asyncio.shield(written)


def _journey_never_started(session: Session, workflow_id: str) -> None:
    """Temporal refused to start the journey for good: it failed, and does not block the lead
    from enrolling again."""
    from leadflow.journeys.enrolment import close_journey

    journey = session.get(Journey, workflow_id)
    if journey is not None and journey.status == "running":
        close_journey(session, journey, "failed", "Temporal refused to start the journey.")


async def drain_forever(get_client: Any, db_url: str | None = None, *, every: float = 1.0,
                        reconcile_every: float | None = 300.0,
                        stop: asyncio.Event | None = None) -> None:
    """Deliver due intents until ``stop`` is set (or the task is cancelled); run the
    reconciler every ``reconcile_every`` seconds. ``get_client`` is an async callable that
    returns a connected client or raises while Temporal is unreachable."""
    loop = asyncio.get_running_loop()
    next_reconcile = loop.time() + (reconcile_every or 0)
    stop = stop or asyncio.Event()
    while not stop.is_set():
        pause = every
        try:
            client = await asyncio.wait_for(get_client(), timeout=10)
            report = await deliver(client, db_url)
            if report.delivered + report.gone + report.refused >= 500:
                pause = 0  # more to do
            if reconcile_every and loop.time() >= next_reconcile:
                from leadflow.usecases.reconcile import reconcile

                next_reconcile = loop.time() + reconcile_every
                found = await reconcile(client, db_url)
                if found.fixed:
                    log.info("reconciler: %s", found.summary())
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - Temporal or the database away: try again shortly
            log.debug("outbox drainer: %s", exc)
            pause = max(every, 2.0)
        try:
            await asyncio.wait_for(stop.wait(), timeout=pause)
        except TimeoutError:
            pass
