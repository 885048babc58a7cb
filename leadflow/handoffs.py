"""Handoffs to sales: opening one for a journey's handoff step and the sales loop's actions."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from leadflow.db import session_scope
from leadflow.flows import load_version_document
from leadflow.leads import add_timeline
from leadflow.models import Handoff, Rep, Team, utcnow

__all__ = ["handoff_id", "open_handoff"]


def handoff_id(journey_id: str, step: str, visit: int) -> str:
    return f"handoff-{journey_id}-{step}-{visit}"


def _assign(session: Session, team_id: str | None, rep_id: str | None) -> tuple[str | None, str]:
    if rep_id:
        return rep_id, f"the flow names rep {rep_id}"
    team = session.get(Team, team_id) if team_id else None
    if team is None or not team.members:
        return None, "no rep available: the lead waits in the team pool"
    for member in team.members:
        if session.get(Rep, member) is not None:
            return member, "first available member of the team"
    return None, "no rep available: the lead waits in the team pool"


def open_handoff(db_url: str, inp: Any) -> dict[str, Any]:
    """Create the handoff row for a journey's handoff step (idempotent) and assign a rep."""
    hid = handoff_id(inp.journey_id, inp.step, inp.visit)
    step = load_version_document(db_url, inp.flow_id, inp.version)["steps"][inp.step]
    with session_scope(db_url) as session:
        existing = session.get(Handoff, hid)
        if existing is not None:
            return {"handoff_id": hid, "rep_id": existing.rep_id}
        rep_id, reason = _assign(session, step.get("team"), step.get("rep"))
        session.add(Handoff(id=hid, journey_id=inp.journey_id, lead_id=inp.lead_id,
                            flow_id=inp.flow_id, step=inp.step, team=step.get("team"),
                            rep_id=rep_id, sla=step.get("sla"), assignment_reason=reason,
                            created_at=utcnow()))
        add_timeline(session, inp.lead_id, "handoff", "handoff.opened", handoff_id=hid,
                     team=step.get("team"), rep_id=rep_id, reason=reason)
    return {"handoff_id": hid, "rep_id": rep_id}
