"""Data subject rights: export everything held about a lead (Art. 15/20), erase it (Art. 17).

Erasure keeps what the law and the product still need, without personal data: the lead row
(ids, stage, score) marked ``erased_at``, journeys and e-mail rows without addresses or bodies,
events without properties, timeline entries without data, handoffs, assignments and stage
changes without their free-text reasons, an :class:`~leadflow.models.Erasure` record and the
address's keyed hash on the suppression list, so it is never mailed again even if it comes back
as a new lead. On SQLite the write-ahead log is checkpointed afterwards
(:func:`leadflow.db.checkpoint_wal`) so the old pages do not linger in the ``-wal`` file.

:func:`export_lead_data` and :func:`erase_lead_data` are the API's calls, each in its own
transaction; :func:`export_lead` and :func:`erase_lead` work in the caller's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, SQLModel, col, select, update

from leadflow.db import checkpoint_wal, session_scope
from leadflow.dispatch import Dispatch
from leadflow.errors import NotFound
from leadflow.journeys.enrolment import exit_journeys
from leadflow.leads.consent import address_hash, suppress_address
from leadflow.models import (
    ConsentRecord,
    EmailMessage,
    Erasure,
    Event,
    Handoff,
    HandoffAssignment,
    Journey,
    Lead,
    StageChange,
    TimelineEntry,
    utcnow,
)

__all__ = ["erase_lead", "erase_lead_data", "export_lead", "export_lead_data"]


def _row(obj: SQLModel) -> dict[str, Any]:
    out = obj.model_dump()
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in out.items()}


def _live_lead(session: Session, lead_id: str) -> Lead:
    lead = session.get(Lead, lead_id)
    if lead is None or lead.erased_at is not None:
        raise NotFound(f"There is no lead with id {lead_id!r}.")
    return lead


def export_lead(session: Session, lead_id: str) -> dict[str, Any]:
    """Everything held about the lead, as JSON-ready data."""
    lead = _live_lead(session, lead_id)

    def rows(model: type[SQLModel], order: Any) -> list[dict[str, Any]]:
        query = select(model).where(model.lead_id == lead_id).order_by(order)  # type: ignore[attr-defined]
        return [_row(r) for r in session.exec(query).all()]

    return {
        "profile": _row(lead),
        "consent": rows(ConsentRecord, col(ConsentRecord.id)),
        "events": rows(Event, col(Event.occurred_at)),
        "emails": rows(EmailMessage, col(EmailMessage.id)),
        "journeys": rows(Journey, col(Journey.started_at)),
        "stage_changes": rows(StageChange, col(StageChange.at)),
        "timeline": rows(TimelineEntry, col(TimelineEntry.id)),
        "handoffs": rows(Handoff, col(Handoff.created_at)),
        "exported_at": utcnow().isoformat(),
    }


_PERSONAL = ("email", "first_name", "last_name", "company", "title", "country", "timezone",
             "source")


def erase_lead(session: Session, lead_id: str, *, actor: str | None = None) -> Dispatch:
    """Erase the lead's personal data; returns the exit signals for its running journeys.

    Raises:
        NotFound: no such lead, or already erased.
    """
    lead = _live_lead(session, lead_id)
    now = utcnow()
    hashed = address_hash(lead.email) if lead.email else None
    if lead.email:
        suppress_address(session, lead.email, "erased", at=now)
    # journeys end now (and their open handoffs are withdrawn), whatever Temporal is doing
    plan = exit_journeys(session, list(session.exec(select(Journey).where(
        Journey.lead_id == lead_id, col(Journey.status).in_(["running", "failed"]))).all()),
        "erased")
    for name in _PERSONAL:
        setattr(lead, name, None)
    lead.first_touch = lead.last_touch = lead.consent = None
    lead.fields, lead.tags, lead.score_breakdown = {}, [], []
    lead.unsubscribed = lead.suppressed = True
    lead.erased_at = lead.updated_at = now
    session.add(lead)
    session.exec(update(EmailMessage).where(col(EmailMessage.lead_id) == lead_id).values(
        to=None, subject=None, html=None, text=None, reason=None))
    # Pending or postponed sends of its journeys must never go out.
    session.exec(update(EmailMessage).where(col(EmailMessage.lead_id) == lead_id,
                                            col(EmailMessage.status) == "pending")
                 .values(status="skipped", reason="erased"))
    session.exec(update(Event).where(col(Event.lead_id) == lead_id).values(properties={}))
    session.exec(update(TimelineEntry).where(col(TimelineEntry.lead_id) == lead_id)
                 .values(data={}))
    session.exec(update(ConsentRecord).where(col(ConsentRecord.lead_id) == lead_id)
                 .values(ip=None, user_agent=None))
    _blank_free_text(session, lead_id)
    session.add(Erasure(lead_id=lead_id, address_hash=hashed, at=now, actor=actor))
    return plan


def export_lead_data(db_url: str, lead_id: str) -> dict[str, Any]:
    """``GET /api/leads/{id}/export``: :func:`export_lead` in its own transaction."""
    with session_scope(db_url) as session:
        return export_lead(session, lead_id)


def erase_lead_data(db_url: str, lead_id: str, *, actor: str | None = None) -> Dispatch:
    """``DELETE /api/leads/{id}``: :func:`erase_lead` in its own transaction, the journeys'
    exits recorded in the outbox with it, then SQLite's write-ahead log checkpointed so no old
    page keeps the personal data. Returns the plan to deliver.

    Raises:
        NotFound: no such lead, or already erased.
    """
    with session_scope(db_url) as session:
        plan = erase_lead(session, lead_id, actor=actor)
    checkpoint_wal(db_url)
    return plan


def _blank_free_text(session: Session, lead_id: str) -> None:
    """Blank every free-text column about the lead that may quote its name or address.

    Reasons are written by people (a rep's rejection note) or from the lead's data (a routing
    rule that matched its company or domain), so none of them can be kept.
    """
    for handoff in session.exec(select(Handoff).where(Handoff.lead_id == lead_id)).all():
        # notices to reps (send id "<handoff id>.<kind>.<n>.<channel>") name the lead too
        session.exec(update(EmailMessage)
                     .where(col(EmailMessage.send_id).startswith(f"{handoff.id}.", autoescape=True))
                     .values(subject=None, html=None, text=None, reason=None))
        handoff.assignment_reason = handoff.rejection_reason = handoff.rejection_note = None
        # the rungs stay (a running SLA timer reads them); only their sentences go
        handoff.escalations = [{k: v for k, v in e.items() if k != "reason"}
                               for e in handoff.escalations or []]
        session.add(handoff)
    session.exec(update(HandoffAssignment).where(col(HandoffAssignment.lead_id) == lead_id)
                 .values(reason=""))
    session.exec(update(StageChange).where(col(StageChange.lead_id) == lead_id)
                 .values(cause=None))
