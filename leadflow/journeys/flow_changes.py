"""Changing a flow while leads are in it: pause, resume, stop, exit one lead, and migrations.

Flow controls change ``Flow.state`` and return the signals (a :class:`Dispatch`) that reach the
running journeys. Migrations read where the journeys wait, ask the pure planner in
:mod:`leadflow.journeys.migration` what would happen (the preview), and keep the background job's report
in ``FlowMigration``; the journeys themselves take the new version through the ``migrate``
workflow Update, which runs the same planner.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, func, select

from leadflow.db import session_scope
from leadflow.dispatch import Dispatch
from leadflow.errors import Conflict, Invalid, NotFound, Unavailable
from leadflow.journeys.flows import get_flow
from leadflow.journeys.migration import WAIT_STEPS, MoveInput, Plan, Position, Request, plan
from leadflow.leads.records import add_timeline, get_lead
from leadflow.models import FlowMigration, FlowVersion, Journey, JourneyStep, utcnow
from leadflow.temporal import EVENT_SIGNAL, MigrationJobInput, start_migration_job

__all__ = [
    "create_migration",
    "exit_lead",
    "finish_migration",
    "flow_documents",
    "flow_state",
    "list_migrations",
    "migration_targets",
    "migration_update_arg",
    "migration_view",
    "pause_flow",
    "positions",
    "preview",
    "preview_view",
    "record_migration_results",
    "record_move",
    "resume_flow",
    "start_migration",
    "stop_flow",
]

def _running(session: Session, flow_id: str) -> list[Journey]:
    return list(session.exec(select(Journey).where(Journey.flow_id == flow_id,
                                                   Journey.status == "running")).all())


def _count_running(session: Session, flow_id: str) -> int:
    return int(session.exec(select(func.count()).select_from(Journey).where(
        Journey.flow_id == flow_id, Journey.status == "running")).one())


def flow_state(session: Session, flow_id: str) -> dict[str, Any]:
    """The flow's state and the leads a control would touch: running, and held by a pause."""
    flow = get_flow(session, flow_id)
    held = int(session.exec(select(func.count()).select_from(Journey).where(
        Journey.flow_id == flow_id, Journey.status == "running",
        Journey.held_reason == "paused")).one())
    return {"flow_id": flow_id, "state": flow.state, "running": _count_running(session, flow_id),
            "held": held}


def pause_flow(session: Session, flow_id: str) -> dict[str, Any]:
    """No new enrolments; waiting leads hold before their next send until resumed.

    Raises:
        Conflict: the flow is stopped (publish it again instead).
    """
    flow = get_flow(session, flow_id)
    if flow.state == "stopped":
        raise Conflict(f"Flow {flow_id!r} is stopped; publish it again to restart it.")
    flow.state = "paused"
    session.add(flow)
    return flow_state(session, flow_id)


def resume_flow(session: Session, flow_id: str) -> tuple[dict[str, Any], Dispatch]:
    """Enrol again and wake the journeys held by the pause (their sends go now).

    Raises:
        Conflict: the flow is stopped (publish it again instead).
    """
    flow = get_flow(session, flow_id)
    if flow.state == "stopped":
        raise Conflict(f"Flow {flow_id!r} is stopped; publish it again to restart it.")
    held = session.exec(select(Journey.id).where(
        Journey.flow_id == flow_id, Journey.status == "running",
        Journey.held_reason == "paused")).all()
    flow.state = "active"
    session.add(flow)
    return flow_state(session, flow_id), Dispatch(
        signals=[(jid, EVENT_SIGNAL, {"kind": "wake"}) for jid in held])


def stop_flow(session: Session, flow_id: str) -> tuple[dict[str, Any], Dispatch]:
    """Every running journey exits with reason ``stopped``; no enrolments until published again."""
    from leadflow.journeys.enrolment import exit_journeys

    flow = get_flow(session, flow_id)
    running = _running(session, flow_id)
    flow.state = "stopped"
    session.add(flow)
    # recorded exited at once, handoffs withdrawn, exits in the outbox (whatever Temporal does)
    return ({"flow_id": flow_id, "state": "stopped", "running": len(running),
             "exiting": len(running)}, exit_journeys(session, running, "stopped"))


def exit_lead(session: Session, lead_id: str, flow_id: str) -> tuple[dict[str, Any], Dispatch]:
    """One lead leaves one flow by hand (``exited``, reason ``manual``).

    Raises:
        NotFound: no such lead or flow, or the lead is not in the flow now.
    """
    get_lead(session, lead_id)
    get_flow(session, flow_id)
    from leadflow.journeys.enrolment import exit_journeys

    journey = session.exec(select(Journey).where(
        Journey.lead_id == lead_id, Journey.flow_id == flow_id,
        col(Journey.status).in_(["running", "failed"]))).first()
    if journey is None:
        raise NotFound(f"The lead is not in flow {flow_id!r} now.")
    add_timeline(session, lead_id, "journey", "journey.exit_requested", flow_id=flow_id,
                 version=journey.version, journey_id=journey.id, reason="manual")
    # exited at once in the database, its open handoff withdrawn; the workflow cancels what
    # it is doing when the exit (in the outbox) reaches it
    plan = exit_journeys(session, [journey], "manual")
    return ({"lead_id": lead_id, "flow_id": flow_id, "journey_id": journey.id,
             "status": "exited", "reason": "manual"}, plan)


# ----------------------------------------------------------------------------- migrations


def flow_documents(session: Session, flow_id: str) -> dict[int, dict[str, Any]]:
    """Every published version's document, by version number."""
    return {v.version: v.document for v in session.exec(
        select(FlowVersion).where(FlowVersion.flow_id == flow_id)).all()}


def _ts(value: datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def positions(session: Session, flow_id: str, docs: dict[int, dict[str, Any]],
              journey_ids: Iterable[str] | None = None) -> list[Position]:
    """Where the flow's running journeys are, as the database records it.

    A journey waits (at a wait or wait_for step) when its current step is one and it recorded
    a deadline; at a handoff step it is with sales; at an e-mail step with a hold its mail is
    held; anything else is in the middle of an action.
    """
    stmt = select(Journey).where(Journey.flow_id == flow_id, Journey.status == "running")
    if journey_ids is not None:
        stmt = stmt.where(col(Journey.id).in_(list(journey_ids)))
    found = []
    for j in session.exec(stmt.order_by(col(Journey.id))).all():
        step = (docs.get(j.version) or {}).get("steps", {}).get(j.current_step or "")
        waiting = ""
        if step is not None and step["type"] in WAIT_STEPS and j.waiting_until is not None:
            waiting = "timer" if step["type"] == "wait" else "event"
        elif step is not None and step["type"] == "handoff":
            waiting = "handoff"
        elif step is not None and step["type"] == "email" and j.held_reason:
            waiting = "postponed"
        found.append(Position(j.id, j.lead_id, j.version, j.current_step, waiting,
                              _ts(j.waiting_until)))
    return found


def preview(session: Session, flow_id: str, request: Request, now: float | None = None) -> Plan:
    """What moving the flow's waiting leads under ``request`` would do; changes nothing."""
    get_flow(session, flow_id)
    docs = flow_documents(session, flow_id)
    at = utcnow().timestamp() if now is None else now
    return plan(docs, positions(session, flow_id, docs), request, at)


def preview_view(result: Plan) -> dict[str, Any]:
    """The preview as the API answers it (next action times in ISO 8601, UTC)."""
    sample = [{**s, "next_action_at": datetime.fromtimestamp(s["next_action_at"], UTC).isoformat()}
              for s in result.sample()]
    return {"to_version": result.to_version, "moves": result.groups(),
            "problems": result.problems, "sample": sample,
            "leads": len(result.moves),
            "sends_at_once": sum(m.sends_at_once for m in result.moves),
            "busy": sum(1 for s in result.skipped if s.code == "busy"),
            "handoff": sum(1 for s in result.skipped if s.code == "handoff"),
            "held": sum(1 for s in result.skipped if s.code == "held")}


def create_migration(session: Session, flow_id: str, request: Request) -> FlowMigration:
    """Check the request by its preview and store the job (the caller starts its workflow).

    Raises:
        Invalid: the preview has problems (they are listed).
        Conflict: another migration of this flow is still running.
    """
    result = preview(session, flow_id, request)
    if result.problems:
        raise Invalid(f"The migration has {len(result.problems)} problem(s); fix them first.",
                      problems=result.problems)
    busy = session.exec(select(FlowMigration.id).where(
        FlowMigration.flow_id == flow_id, FlowMigration.status == "running")).first()
    if busy is not None:
        raise Conflict(f"Migration {busy} of this flow is still running; wait for it to finish.")
    row = FlowMigration(flow_id=flow_id, to_version=request.to_version,
                        request=request.as_dict(), planned=len(result.moves))
    session.add(row)
    session.flush()
    return row



async def start_migration(client: Any, db_url: str, flow_id: str,
                          request: Request) -> dict[str, Any]:
    """Store the migration (:func:`create_migration`) and start its background job.

    Raises:
        Invalid, Conflict: as :func:`create_migration`.
        Unavailable: Temporal did not take the job; nothing is left behind.
    """
    with session_scope(db_url) as session:
        mid = create_migration(session, flow_id, request).id
    try:
        await start_migration_job(client, MigrationJobInput(migration_id=mid, flow_id=flow_id))
    except Unavailable:
        with session_scope(db_url) as session:  # nothing half-written: the job never started
            stale = session.get(FlowMigration, mid)
            if stale is not None:
                session.delete(stale)
        raise
    return {"id": mid, "status": "running"}

def list_migrations(session: Session, flow_id: str, limit: int = 20) -> list[dict[str, Any]]:
    """The flow's latest migrations, newest first."""
    get_flow(session, flow_id)
    rows = session.exec(select(FlowMigration).where(FlowMigration.flow_id == flow_id)
                        .order_by(col(FlowMigration.created_at).desc()).limit(limit)).all()
    return [_migration_dict(row) for row in rows]


def migration_view(session: Session, flow_id: str, migration_id: str) -> dict[str, Any]:
    row = session.get(FlowMigration, migration_id)
    if row is None or row.flow_id != flow_id:
        raise NotFound(f"Flow {flow_id!r} has no migration {migration_id!r}.")
    return _migration_dict(row)


def _migration_dict(row: FlowMigration) -> dict[str, Any]:
    flow_id = row.flow_id
    return {"id": row.id, "flow_id": flow_id, "to_version": row.to_version,
            "status": row.status, "planned": row.planned, "moved": row.moved,
            "skipped": row.skipped, "failed": row.failed, "failures": row.failures,
            "request": row.request, "created_at": row.created_at.isoformat(),
            "finished_at": row.finished_at.isoformat() if row.finished_at else None}


def record_move(session: Session, inp: MoveInput) -> None:
    """The database side of a journey taking a new version (idempotent).

    What happened on the old version stays attributed to it: its step visit is closed with
    outcome ``migrated``, and the journey continues on the new version at its new step.
    """
    journey = session.get(Journey, inp.journey_id)
    if journey is None or journey.version == inp.to_version:
        return
    at = datetime.fromtimestamp(inp.at, UTC)
    for open_step in session.exec(select(JourneyStep).where(
            JourneyStep.journey_id == inp.journey_id, col(JourneyStep.left_at).is_(None))).all():
        open_step.left_at, open_step.outcome = at, "migrated"
        session.add(open_step)
    session.add(JourneyStep(journey_id=inp.journey_id, flow_id=inp.flow_id,
                            version=inp.to_version, step_id=inp.to_step, visit=inp.visit,
                            entered_at=at))
    journey.version, journey.current_step = inp.to_version, inp.to_step
    journey.waiting_until = datetime.fromtimestamp(inp.next_action_at, UTC)
    journey.held_reason = None
    session.add(journey)
    add_timeline(session, inp.lead_id, "journey", "journey.migrated", at=at,
                 flow_id=inp.flow_id, from_version=inp.from_version,
                 to_version=inp.to_version, from_step=inp.from_step, to_step=inp.to_step,
                 migration_id=inp.migration_id)


# ----------------------------------------------------------------------------- the job


def migration_targets(session: Session, migration_id: str) -> dict[str, Any]:
    """The journeys the job asks: those the plan moves now, and those it cannot move now
    (each journey's own validator then says why: busy ones are asked again later)."""
    row = session.get(FlowMigration, migration_id)
    if row is None:
        raise NotFound(f"There is no migration {migration_id!r}.")
    result = preview(session, row.flow_id, Request.from_dict(row.request))
    row.planned = len(result.moves)
    session.add(row)
    return {"moves": [m.journey_id for m in result.moves],
            "busy": [s.position.journey_id for s in result.skipped
                     if s.code in ("busy", "handoff", "held")]}


def migration_update_arg(session: Session, migration_id: str) -> dict[str, Any]:
    """The argument of the journeys' ``migrate`` Update: the request and the new version."""
    row = session.get(FlowMigration, migration_id)
    if row is None:
        raise NotFound(f"There is no migration {migration_id!r}.")
    doc = flow_documents(session, row.flow_id)[row.to_version]
    return {**row.request, "document": doc, "migration_id": row.id}


def record_migration_results(session: Session, migration_id: str, *, moved: int,
                             skipped: list[dict[str, Any]],
                             failed: list[dict[str, Any]]) -> None:
    """Add one batch's outcome to the job's report (the row is locked while it changes)."""
    row = session.exec(select(FlowMigration).where(FlowMigration.id == migration_id)
                       .with_for_update()).one()
    row.moved += moved
    row.skipped = [*row.skipped, *skipped]
    row.failed += len(failed)
    row.failures = [*row.failures, *failed]
    session.add(row)


def finish_migration(session: Session, migration_id: str) -> None:
    row = session.get(FlowMigration, migration_id)
    if row is not None and row.status != "done":
        row.status, row.finished_at = "done", utcnow()
        session.add(row)
