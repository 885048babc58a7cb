"""Changing a lead's lifecycle stage: checked, recorded with time, cause and actor."""

from __future__ import annotations

from sqlmodel import Session

from leadflow.leads.lifecycle import check_transition
from leadflow.leads.records import add_timeline
from leadflow.models import Lead, StageChange, utcnow

__all__ = ["change_stage"]


def change_stage(session: Session, lead: Lead, to_stage: str, *, cause: str | None,
                 actor: str | None, force: bool = False) -> bool:
    """Move ``lead`` to ``to_stage``; False when it is already there.

    Raises:
        Conflict: the transition is not allowed (unless ``force``, used by flows' update steps).
    """
    if lead.stage == to_stage:
        return False
    if not force:
        check_transition(lead.stage, to_stage)
    now = utcnow()
    session.add(StageChange(lead_id=lead.id, from_stage=lead.stage, to_stage=to_stage, at=now,
                            cause=cause, actor=actor))
    add_timeline(session, lead.id, "stage", "stage.changed", at=now, **{"from": lead.stage},
                 to=to_stage, cause=cause, actor=actor)
    lead.stage, lead.updated_at = to_stage, now
    session.add(lead)
    return True
