"""The sales loop: what a rep does with a handoff, and how handoffs are listed.

Each action is checked against the handoff's status (409 otherwise), stored with the lead's
stage change and a timeline entry, and returns the signal the API then sends to the handoff
workflow (the database first, Temporal second, as everywhere in the API).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from leadflow.auth import Principal
from leadflow.errors import Conflict, Forbidden, Invalid, NotFound
from leadflow.leads.lifecycle import can_transition
from leadflow.leads.records import add_timeline
from leadflow.leads.stages import change_stage
from leadflow.models import Flow, Handoff, Lead, Rep, Team, utcnow
from leadflow.sales.business_calendar import SlaStatus, as_utc
from leadflow.sales.handoffs import calendar_for, record_sla
from leadflow.sales.outcomes import ResolvedReason, resolve_rejection_reason

__all__ = ["ACTIONS", "apply_action", "get_handoff", "handoff_public", "list_handoffs",
           "sla_status_of"]

#: action → (statuses it is allowed from, status it leads to, lead stage it moves to)
ACTIONS: dict[str, tuple[tuple[str, ...], str, str | None]] = {
    "accept": (("open",), "accepted", "SAL"),
    "contacted": (("open", "accepted"), "contacted", "SAL"),
    "qualify": (("open", "accepted", "contacted"), "qualified", "SQL"),
    "disqualify": (("open", "accepted", "contacted"), "disqualified", "disqualified"),
    "reject": (("open", "accepted", "contacted"), "rejected", "recycled"),
}


def get_handoff(session: Session, handoff_id: str, principal: Principal) -> Handoff:
    """The handoff, if the caller may see it.

    Raises:
        NotFound: no such handoff.
        Forbidden: a sales key asking for another rep's handoff.
    """
    h = session.get(Handoff, handoff_id)
    if h is None:
        raise NotFound(f"There is no handoff {handoff_id!r}.")
    if principal.role == "sales" and h.rep_id != principal.rep_id:
        raise Forbidden("This handoff belongs to another rep.")
    return h


def sla_status_of(session: Session, h: Handoff, now: datetime | None = None) -> SlaStatus:
    """``on_time``, ``due_soon``, ``breached`` or ``met``, in the team's business time."""
    now = now or utcnow()
    if h.sla_due_at is None:
        return "met" if h.sla_met_at else "on_time"
    if h.sla_met_at is None and h.status not in ("open",) and h.sla_breached_at is None:
        # Closed without a first touch (rejected at once): the clock stopped when it closed.
        now = min(as_utc(now), as_utc(h.updated_at))
    return calendar_for(session, h.team).sla_status(h.created_at, h.sla_due_at, now,
                                                    h.sla_met_at)


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value else None


def _reason_with_names(session: Session, reason: str | None, team: Team | None) -> str | None:
    """The routing reason with the team's and its reps' names where it names their ids
    ("next available after raj-walker" → "next available after Raj Walker")."""
    if not reason or team is None:
        return reason
    names = {team.id: team.name}
    for rep in session.exec(select(Rep).where(col(Rep.id).in_(list(team.members or [])))).all():
        names[rep.id] = rep.name
    ids = sorted(names, key=len, reverse=True)
    return re.sub(r"(?<![\w-])(" + "|".join(map(re.escape, ids)) + r")(?![\w-])",
                  lambda m: names[m.group(1)], reason)


def handoff_public(session: Session, h: Handoff, now: datetime | None = None) -> dict[str, Any]:
    """A handoff as ``GET /api/handoffs`` shows it, with a summary of the lead."""
    lead = session.get(Lead, h.lead_id)
    summary = None
    if lead is not None and lead.erased_at is None:
        summary = {"id": lead.id, "email": lead.email, "first_name": lead.first_name,
                   "last_name": lead.last_name, "company": lead.company, "title": lead.title,
                   "stage": lead.stage, "score": lead.score, "temperature": lead.temperature,
                   "score_breakdown": list(lead.score_breakdown or [])}
    rep = session.get(Rep, h.rep_id) if h.rep_id else None
    team = session.get(Team, h.team) if h.team else None
    flow = session.get(Flow, h.flow_id) if h.flow_id else None
    return {
        "id": h.id, "lead_id": h.lead_id, "rep_id": h.rep_id, "team": h.team,
        "rep_name": rep.name if rep else None, "team_name": team.name if team else None,
        "status": h.status, "flow_id": h.flow_id, "flow_name": flow.name if flow else None,
        "step": h.step, "sla": h.sla,
        "sla_due_at": _iso(h.sla_due_at), "sla_status": sla_status_of(session, h, now),
        "sla_met_at": _iso(h.sla_met_at), "sla_breached_at": _iso(h.sla_breached_at),
        "escalations": list(h.escalations or []), "assignment_reason": h.assignment_reason,
        "assignment_reason_named": _reason_with_names(session, h.assignment_reason, team),
        "rejection_reason": h.rejection_reason, "rejection_reason_id": h.rejection_reason_id,
        "rejection_note": h.rejection_note, "created_at": _iso(h.created_at),
        "updated_at": _iso(h.updated_at), "lead": summary,
    }


def list_handoffs(session: Session, principal: Principal, *, lead_id: str | None = None,
                  rep_id: str | None = None, status: str | None = None,
                  limit: int = 200, offset: int = 0) -> list[dict[str, Any]]:
    """Handoffs newest first; a sales key sees its own only, whatever ``rep_id`` says."""
    stmt = select(Handoff)
    if principal.role == "sales":
        stmt = stmt.where(Handoff.rep_id == principal.rep_id)
    if rep_id:
        stmt = stmt.where(Handoff.rep_id == rep_id)
    if lead_id:
        stmt = stmt.where(Handoff.lead_id == lead_id)
    if status:
        stmt = stmt.where(Handoff.status == status)
    rows = session.exec(stmt.order_by(col(Handoff.created_at).desc(), col(Handoff.id))
                        .offset(offset).limit(limit)).all()
    now = utcnow()
    return [handoff_public(session, h, now) for h in rows]


def _move_stage(session: Session, lead: Lead | None, to_stage: str | None, cause: str,
                actor: str) -> None:
    if lead is None or to_stage is None or lead.stage == to_stage:
        return
    if not can_transition(lead.stage, to_stage):
        return  # e.g. accepting a lead that is already an opportunity: nothing to promote
    change_stage(session, lead, to_stage, cause=cause, actor=actor)


def apply_action(session: Session, h: Handoff, action: str, *, principal: Principal,
                 reason: str | None = None, note: str | None = None,
                 now: datetime | None = None) -> dict[str, Any]:
    """Apply a sales action to ``h``; returns the signal payload for its workflow.

    A ``reject`` names one of the workspace's rejection reasons (its id, or its label); the
    payload then carries ``recycle`` (flow and cooldown) when the reason recycles the lead.

    Raises:
        NotFound: an unknown action.
        Conflict: the action is not allowed in the handoff's current status.
        Invalid: ``reject`` without a known reason.
    """
    if action not in ACTIONS:
        raise NotFound(f"There is no handoff action {action!r}.")
    allowed_from, to_status, to_stage = ACTIONS[action]
    if h.status not in allowed_from:
        raise Conflict(f"A handoff that is {h.status} cannot be {to_status}; "
                       f"{action} is allowed when it is {' or '.join(allowed_from)}.")
    rejection: ResolvedReason | None = None
    if action == "reject":
        rejection = resolve_rejection_reason(session, reason)
        if note is not None and (not isinstance(note, str) or len(note) > 2000):
            raise Invalid("A note is text of at most 2,000 characters.",
                          [{"path": "note", "message": "A note is text of at most 2,000 characters."}])
    now = now or utcnow()
    actor = f"rep:{principal.rep_id}" if principal.rep_id else principal.role
    h.status, h.updated_at = to_status, now
    if action in ("accept", "contacted", "qualify") and h.sla_met_at is None:
        h.sla_met_at = now
        if h.sla_due_at is not None:
            record_sla("met" if as_utc(now) <= as_utc(h.sla_due_at) else "breached")
    if rejection is not None:
        h.rejection_reason, h.rejection_reason_id = rejection.label, rejection.id
        h.rejection_note = (note or "").strip() or None
    session.add(h)
    lead = session.get(Lead, h.lead_id)
    if lead is not None and action in ("accept", "contacted", "qualify") and h.rep_id \
            and lead.owner_rep_id is None:
        lead.owner_rep_id = h.rep_id  # the rep who takes the lead owns its company from now on
        session.add(lead)
    _move_stage(session, lead, to_stage, cause=f"handoff {action}", actor=actor)
    add_timeline(session, h.lead_id, "handoff", f"handoff.{to_status}", at=now, handoff_id=h.id,
                 rep_id=h.rep_id, actor=actor,
                 **({"reason": h.rejection_reason, "reason_id": h.rejection_reason_id,
                     "reason_outcome": rejection.outcome} if rejection else {}))
    signal: dict[str, Any] = {"action": action, "handoff_id": h.id}
    if rejection is not None and rejection.outcome == "recycle" and rejection.recycle_flow:
        signal["recycle"] = {"flow_id": rejection.recycle_flow,
                             "cooldown_seconds": rejection.cooldown_seconds or 0.0}
    return signal
