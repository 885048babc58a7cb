"""The handoff runtime's database side: assignment, the SLA clock and the escalation ladder.

The handoff workflow (``workflows/handoff.py``) decides *when*; the functions here decide *who*
and record *what happened*. Each takes the workflow's clock (``at``, ISO 8601) so deadlines are
counted from workflow time, and each is safe to repeat: an activity retried after a crash finds
its own earlier work and returns the same answer.

Assignment goes through :func:`leadflow.sales.routing.route_lead` (owner stickiness, territory,
round robin with capacity and out-of-office). Routing decisions for one database are taken one
at a time (a process lock, plus a row lock on the team on PostgreSQL), so two hot leads arriving
together never both take a rep's last free slot.

The escalation ladder, one rung per SLA period of business time after the deadline:

1. ``manager_notified``: the breach is recorded and the rep's manager is told;
2. ``reassigned``: the lead goes to the team member idle longest who has not had it yet;
3. ``returned_to_pool``: nobody holds it any more; it waits in the team pool.

Rung 2 falls through to rung 3 when nobody else can take the lead.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from leadflow.config import get_settings
from leadflow.db import session_scope
from leadflow.journeys.durations import parse_duration
from leadflow.journeys.enrolment import withdraw_open_handoffs
from leadflow.journeys.flows import load_version_document
from leadflow.leads.records import add_timeline, lead_view
from leadflow.models import Handoff, HandoffAssignment, Lead, Rep, Team
from leadflow.sales.business_calendar import BusinessCalendar, as_utc
from leadflow.sales.routing import (
    RepState,
    RoutingDecision,
    TeamRouting,
    next_rep_for_escalation,
    route_lead,
)

__all__ = [
    "LOAD_STATUSES",
    "EscalateInput",
    "ReassignInput",
    "RemindInput",
    "WithdrawInput",
    "calendar_for",
    "escalate",
    "handoff_id",
    "open_handoff",
    "reassign",
    "record_sla",
    "remind",
    "rep_states",
    "withdraw",
]

#: Statuses in which a handoff counts against its rep's capacity.
LOAD_STATUSES = ("open", "accepted", "contacted")
RUNGS = {1: "manager_notified", 2: "reassigned", 3: "returned_to_pool"}

# One routing decision at a time per process: the worker runs activities in threads, and a
# decision reads every rep's load before writing its own assignment.
_ROUTING_LOCK = threading.Lock()


@dataclass
class ReassignInput:
    """Take ``handoff_id`` away from ``rep_id`` (who is now away) at ``at``."""

    handoff_id: str
    rep_id: str | None
    at: str
    reason: str = "out of office"


@dataclass
class EscalateInput:
    """Climb rung ``rung`` of the escalation ladder at ``at``."""

    handoff_id: str
    rung: int
    at: str


@dataclass
class RemindInput:
    """The ``index``-th "due soon" reminder of ``handoff_id``, at ``at``."""

    handoff_id: str
    index: int
    at: str


@dataclass
class Target:
    """Someone to notify: ``kind`` says about what, ``channels`` how."""

    kind: str
    rep_id: str | None
    channels: list[str] = field(default_factory=list)


def handoff_id(journey_id: str, step: str, visit: int) -> str:
    """The handoff's id, also its workflow id (the journey starts the child under it)."""
    return f"handoff-{journey_id}-{step}-{visit}"


def record_sla(state: str) -> None:
    """Count an SLA state change for ``/metrics`` (a no-op if metrics are not installed)."""
    try:
        from leadflow.metrics import record_sla as record
    except ImportError:  # metrics are optional for the runtime
        return
    record(state)


def _at(text: str | None) -> datetime:
    return as_utc(datetime.fromisoformat(text)) if text else datetime.now().astimezone()


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value else None


def calendar_for(session: Session, team_id: str | None) -> BusinessCalendar:
    """The business calendar the SLA of a handoff to ``team_id`` runs on (round the clock
    when the flow names a rep rather than a team)."""
    team = session.get(Team, team_id) if team_id else None
    return BusinessCalendar.from_doc(team.calendar if team else None)


def _channels(rep: Rep | None) -> list[str]:
    channels = ["email"] if rep is not None else []
    if rep is not None and rep.slack_webhook:
        channels.append("slack")
    if get_settings().handoff_webhook_url:
        channels.append("webhook")
    return channels


def _target(session: Session, kind: str, rep_id: str | None) -> dict[str, Any]:
    rep = session.get(Rep, rep_id) if rep_id else None
    return Target(kind, rep_id, _channels(rep)).__dict__


def rep_states(session: Session) -> list[RepState]:
    """Every rep as routing sees them now: capacity, open hand-offs, absences, last lead."""
    loads = dict(session.exec(
        select(Handoff.rep_id, func.count()).where(col(Handoff.status).in_(LOAD_STATUSES),
                                                   col(Handoff.rep_id).is_not(None))
        .group_by(Handoff.rep_id)).all())
    last = dict(session.exec(
        select(HandoffAssignment.rep_id, func.max(HandoffAssignment.at))
        .where(col(HandoffAssignment.rep_id).is_not(None))
        .group_by(HandoffAssignment.rep_id)).all())
    return [RepState.from_doc(rep.model_dump(), open_count=loads.get(rep.id, 0),
                              last_assigned_at=last.get(rep.id))
            for rep in session.exec(select(Rep)).all()]


def _teams(session: Session) -> dict[str, TeamRouting]:
    return {t.id: TeamRouting.from_doc(t.model_dump(), cursor=t.rr_cursor)
            for t in session.exec(select(Team)).all()}


def _company_owner(session: Session, lead: Lead) -> str | None:
    if lead.owner_rep_id:
        return lead.owner_rep_id
    if not lead.company:
        return None
    return session.exec(
        select(Lead.owner_rep_id).where(func.lower(Lead.company) == lead.company.lower(),
                                        col(Lead.owner_rep_id).is_not(None)).limit(1)).first()


def _decide(session: Session, lead: Lead, team_id: str | None, rep_id: str | None,
            now: datetime) -> RoutingDecision:
    reps = rep_states(session)
    if rep_id:  # the flow names the rep: no routing, but capacity and absence still count
        state = next((r for r in reps if r.id == rep_id), None)
        why = "not a known rep" if state is None else state.unavailable_because(now)
        if why is None:
            return RoutingDecision(rep_id, team_id or "", f"the flow names rep {rep_id}", 0,
                                   "owner")
        return RoutingDecision(None, team_id or "", f"the flow names rep {rep_id}, who is {why}; "
                               "the lead waits in the pool", 0, "unassigned")
    teams = _teams(session)
    team = teams.get(team_id or "")
    if team is None:
        return RoutingDecision(None, team_id or "", f"team {team_id} does not exist; the lead "
                               "waits in the pool", 0, "unassigned")
    return route_lead(team, reps, lead_view(lead), now=now,
                      owner_id=_company_owner(session, lead), teams=teams)


def _record_assignment(session: Session, h: Handoff, rep_id: str | None, method: str,
                       reason: str, at: datetime) -> None:
    h.rep_id, h.assignment_reason, h.updated_at = rep_id, reason, at
    session.add(h)
    session.add(HandoffAssignment(handoff_id=h.id, lead_id=h.lead_id, rep_id=rep_id, team=h.team,
                                  method=method, reason=reason, at=at))
    add_timeline(session, h.lead_id, "handoff", "handoff.assigned", at=at, handoff_id=h.id,
                 rep_id=rep_id, team=h.team, method=method, reason=reason)


def _lock_team(session: Session, team_id: str | None) -> None:
    if team_id and session.get_bind().dialect.name == "postgresql":
        # Serialises routing across workers: SELECT ... FOR UPDATE on the team row.
        session.exec(select(Team.id).where(Team.id == team_id).with_for_update()).first()


def _schedule(session: Session, h: Handoff) -> dict[str, Any]:
    """The SLA timers of an open handoff: the deadline and the reminders before it."""
    if h.sla_due_at is None:
        return {"due_at": None, "reminders": []}
    cal = calendar_for(session, h.team)
    reminders = cal.reminder_times(h.created_at, h.sla_due_at)
    return {"due_at": _iso(h.sla_due_at), "reminders": [_iso(t) for t in reminders]}


def open_handoff(db_url: str, inp: Any) -> dict[str, Any]:
    """Create the handoff for a journey's handoff step, assign it and start its SLA clock.

    ``inp`` has ``journey_id``, ``lead_id``, ``flow_id``, ``version``, ``step``, ``visit`` and
    optionally ``at`` (the workflow's clock; default now). Idempotent.

    Returns:
        ``handoff_id``, ``rep_id``, ``due_at`` and ``reminders`` (ISO instants) and ``notify``
        (targets for the notification activities).
    """
    hid = handoff_id(inp.journey_id, inp.step, inp.visit)
    at = _at(getattr(inp, "at", None))
    step = load_version_document(db_url, inp.flow_id, inp.version)["steps"][inp.step]
    with _ROUTING_LOCK, session_scope(db_url) as session:
        existing = session.get(Handoff, hid)
        if existing is not None:
            return {"handoff_id": hid, "rep_id": existing.rep_id, **_schedule(session, existing),
                    "notify": [_target(session, "assigned", existing.rep_id)]}
        team_id, named_rep = step.get("team"), step.get("rep")
        _lock_team(session, team_id)
        lead = session.get(Lead, inp.lead_id)
        if lead is None:
            decision = RoutingDecision(None, team_id or "", "the lead no longer exists", 0,
                                       "unassigned")
        else:
            decision = _decide(session, lead, team_id, named_rep, at)
        routed_team = decision.team_id or team_id
        if decision.method in ("round_robin", "territory") and routed_team:
            team_row = session.get(Team, routed_team)
            if team_row is not None:
                team_row.rr_cursor = decision.cursor
                session.add(team_row)
        due = None
        if step.get("sla"):
            due = calendar_for(session, routed_team).add_business_time(
                at, parse_duration(step["sla"]))
        h = Handoff(id=hid, journey_id=inp.journey_id, lead_id=inp.lead_id, flow_id=inp.flow_id,
                    step=inp.step, team=routed_team, sla=step.get("sla"), sla_due_at=due,
                    created_at=at, updated_at=at)
        session.add(h)
        add_timeline(session, inp.lead_id, "handoff", "handoff.opened", at=at, handoff_id=hid,
                     team=routed_team, sla=step.get("sla"), sla_due_at=_iso(due))
        _record_assignment(session, h, decision.rep_id, decision.method, decision.reason, at)
        session.flush()
        result = {"handoff_id": hid, "rep_id": decision.rep_id, **_schedule(session, h),
                  "notify": [_target(session, "assigned", decision.rep_id)]}
    if due is not None:
        record_sla("on_time")
    return result


def _previous_reps(session: Session, hid: str) -> list[str]:
    rows = session.exec(select(HandoffAssignment.rep_id).where(
        HandoffAssignment.handoff_id == hid)).all()
    return [r for r in rows if r]


def _next_rep(session: Session, h: Handoff, at: datetime) -> RoutingDecision:
    teams = _teams(session)
    team = teams.get(h.team or "")
    if team is None:
        return RoutingDecision(None, h.team or "", "no team to pick another rep from", 0,
                               "unassigned")
    return next_rep_for_escalation(team, rep_states(session),
                                   exclude=_previous_reps(session, h.id), now=at)


def reassign(db_url: str, inp: ReassignInput) -> dict[str, Any]:
    """Move an open handoff away from ``inp.rep_id`` at once (the rep went out of office).

    Skipped (``applied`` False) when the handoff is no longer open or no longer that rep's,
    which also makes a retried call harmless.
    """
    at = _at(inp.at)
    with _ROUTING_LOCK, session_scope(db_url) as session:
        h = session.get(Handoff, inp.handoff_id)
        if h is None or h.status != "open" or h.rep_id is None or h.rep_id != inp.rep_id:
            return {"applied": False, "notify": []}
        _lock_team(session, h.team)
        decision = _next_rep(session, h, at)
        if decision.rep_id is None:
            reason = f"{inp.rep_id} is {inp.reason}; {decision.reason}; the lead waits in the " \
                     "team pool"
        else:
            reason = f"{inp.rep_id} is {inp.reason}; {decision.reason}"
        _record_assignment(session, h, decision.rep_id, "out_of_office", reason, at)
        notify = [_target(session, "assigned", decision.rep_id)] if decision.rep_id else []
    return {"applied": True, "rep_id": decision.rep_id, "notify": notify}


def _escalation(session: Session, h: Handoff, rung: int, at: datetime,
                **data: Any) -> dict[str, Any]:
    entry = {"rung": rung, "action": RUNGS[rung], "at": _iso(at), **data}
    h.escalations = [*(h.escalations or []), entry]
    h.updated_at = at
    session.add(h)
    add_timeline(session, h.lead_id, "sla", "sla.escalated", at=at, handoff_id=h.id,
                 **{k: v for k, v in entry.items() if k != "at"})
    return entry


def _to_pool(session: Session, h: Handoff, at: datetime, why: str) -> dict[str, Any]:
    previous = h.rep_id
    _record_assignment(session, h, None, "unassigned", f"escalation: {why}; the lead returns "
                       f"to the {h.team or 'team'} pool", at)
    return _escalation(session, h, 3, at, from_rep=previous, reason=why)


def escalate(db_url: str, inp: EscalateInput) -> dict[str, Any]:
    """Climb one rung of the escalation ladder (see the module docstring).

    Returns:
        ``applied`` (False when the handoff is no longer open), the rung actually climbed,
        ``next_at`` (ISO instant of the next rung, or None at the top) and ``notify``.
    """
    at = _at(inp.at)
    with _ROUTING_LOCK, session_scope(db_url) as session:
        h = session.get(Handoff, inp.handoff_id)
        if h is None or h.status != "open":
            return {"applied": False, "next_at": None, "notify": []}
        done = next((e for e in h.escalations or [] if e.get("rung", 0) >= inp.rung), None)
        if done is not None:  # a retry: this rung (or a higher one) is already recorded
            return {"applied": True, "rung": done["rung"], "next_at": done.get("next_at"),
                    "notify": []}
        cal = calendar_for(session, h.team)
        period = parse_duration(h.sla) if h.sla else None
        next_at = _iso(cal.add_business_time(at, period)) if period else None
        notify: list[dict[str, Any]] = []
        if inp.rung == 1:
            first_breach = h.sla_breached_at is None
            if first_breach:
                h.sla_breached_at = at
            rep = session.get(Rep, h.rep_id) if h.rep_id else None
            manager = rep.manager_id if rep else None
            if manager:
                notify.append(_target(session, "breach", manager))
            entry = _escalation(session, h, 1, at, rep_id=h.rep_id, manager_id=manager,
                                next_at=next_at, reason=(
                                    f"SLA {h.sla} breached; manager {manager} notified" if manager
                                    else f"SLA {h.sla} breached; nobody manages {h.rep_id or 'the pool'}"))
            if first_breach:
                add_timeline(session, h.lead_id, "sla", "sla.breached", at=at, handoff_id=h.id,
                             rep_id=h.rep_id, due_at=_iso(h.sla_due_at))
        elif inp.rung == 2 and h.rep_id is not None:
            _lock_team(session, h.team)
            decision = _next_rep(session, h, at)
            if decision.rep_id is None:
                entry = _to_pool(session, h, at, decision.reason)
                next_at = None
            else:
                previous = h.rep_id
                _record_assignment(session, h, decision.rep_id, "escalation", decision.reason, at)
                entry = _escalation(session, h, 2, at, from_rep=previous, to_rep=decision.rep_id,
                                    next_at=next_at, reason=decision.reason)
                notify.append(_target(session, "escalated", decision.rep_id))
        else:
            entry = _to_pool(session, h, at, "SLA still not met after reassignment"
                             if h.rep_id else "nobody holds the lead")
            next_at = None
        if next_at is None:
            entry["next_at"] = None
    record_sla("breached" if inp.rung == 1 else "escalated")
    return {"applied": True, "rung": entry["rung"], "next_at": next_at, "notify": notify}


def remind(db_url: str, inp: RemindInput) -> dict[str, Any]:
    """Record a "due soon" reminder of an open handoff and say whom to remind."""
    at = _at(inp.at)
    with session_scope(db_url) as session:
        h = session.get(Handoff, inp.handoff_id)
        if h is None or h.status != "open":
            return {"applied": False, "notify": []}
        add_timeline(session, h.lead_id, "sla", "sla.reminder", at=at, handoff_id=h.id,
                     rep_id=h.rep_id, index=inp.index, due_at=_iso(h.sla_due_at))
        notify = [_target(session, "reminder", h.rep_id)] if h.rep_id else []
    if inp.index == 0:
        record_sla("due_soon")
    return {"applied": True, "notify": notify}


@dataclass
class WithdrawInput:
    """Close the journey's open handoff (its journey ended) at workflow time ``at``."""

    journey_id: str
    handoff_id: str | None = None
    at: str | None = None


def withdraw(db_url: str, inp: WithdrawInput) -> dict[str, Any]:
    """The handoff workflow was cancelled: close the handoff (if the exit did not already)
    and say whom to tell. Safe to repeat."""
    at = _at(inp.at)
    with session_scope(db_url) as session:
        withdraw_open_handoffs(session, inp.journey_id, "the lead left the flow", at)
        h = session.get(Handoff, inp.handoff_id) if inp.handoff_id else session.exec(
            select(Handoff).where(Handoff.journey_id == inp.journey_id)
            .order_by(col(Handoff.created_at).desc())).first()
        if h is None or h.status != "withdrawn":
            return {"handoff_id": h.id if h else None, "notify": []}
        notify = [_target(session, "withdrawn", h.rep_id)] if h.rep_id else []
        return {"handoff_id": h.id, "notify": notify}
