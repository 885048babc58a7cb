"""The leads use cases the API runs, each one call in its own transaction.

Search, read (with the predictive model's view), timeline, notes, create-or-update, CSV import,
stage moves and unsubscribe links. Each function
opens the transaction (:func:`leadflow.db.session_scope`), checks who may see the lead, and
returns JSON-ready data; those that set journeys in motion also return the :class:`Dispatch`
they recorded in the outbox, for the caller to deliver after the commit.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, func, or_, select

from leadflow.auth import Principal
from leadflow.db import session_scope
from leadflow.dispatch import Dispatch
from leadflow.errors import Invalid
from leadflow.leads.consent import unsubscribe_lead
from leadflow.leads.records import (
    LeadCreate,
    get_lead,
    lead_public,
    record_event,
    visible_lead,
)
from leadflow.leads.stages import change_stage
from leadflow.mail.tracking import read_token
from leadflow.models import Lead, TimelineEntry
from leadflow.scoring.predictive import lead_likelihood
from leadflow.scoring.service import active_model
from leadflow.usecases.csv_import import import_csv
from leadflow.usecases.events import dispatch_event, ingest_lead, plan_for_lead_change

__all__ = ["add_note", "import_leads", "lead_detail", "lead_timeline", "move_stage", "save_lead",
           "search_leads", "unsubscribe_by_link"]


def search_leads(db_url: str, *, viewer: Principal, q: str | None, limit: int,
                 offset: int) -> dict[str, Any]:
    """Leads, newest first (a sales key: its own); ``q`` searches e-mail, names and company."""
    with session_scope(db_url) as session:
        stmt = select(Lead).where(col(Lead.erased_at).is_(None))
        if viewer.role == "sales":
            stmt = stmt.where(Lead.owner_rep_id == viewer.rep_id)
        if q:
            like = f"%{q.lower()}%"
            stmt = stmt.where(or_(func.lower(Lead.email).like(like),
                                  func.lower(Lead.company).like(like),
                                  func.lower(Lead.first_name).like(like),
                                  func.lower(Lead.last_name).like(like)))
        total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
        rows = session.exec(stmt.order_by(col(Lead.created_at).desc())
                            .offset(offset).limit(limit)).all()
        return {"items": [{"id": r.id, "email": r.email, "first_name": r.first_name,
                           "last_name": r.last_name, "company": r.company, "score": r.score,
                           "temperature": r.temperature, "stage": r.stage,
                           "owner": r.owner_rep_id} for r in rows],
                "total": total}


def lead_detail(db_url: str, lead_id: str, *, viewer: Principal) -> dict[str, Any]:
    """``GET /api/leads/{id}``: the lead (as ``viewer`` may see it) with its score, breakdown,
    journeys, and the predictive model's likelihood and strongest factors."""
    with session_scope(db_url) as session:
        lead = visible_lead(session, lead_id, viewer)
        return {**lead_public(session, lead),
                **lead_likelihood(session, lead, active_model(session))}


def _entry_json(entry: TimelineEntry) -> dict[str, Any]:
    return {"at": entry.at.isoformat(), "kind": entry.kind, "type": entry.type, "data": entry.data}


def lead_timeline(db_url: str, lead_id: str, *, viewer: Principal) -> list[dict[str, Any]]:
    """Everything that happened to the lead, oldest first."""
    with session_scope(db_url) as session:
        visible_lead(session, lead_id, viewer)
        rows = session.exec(select(TimelineEntry).where(TimelineEntry.lead_id == lead_id)
                            .order_by(col(TimelineEntry.at), col(TimelineEntry.id))).all()
        return [_entry_json(r) for r in rows]


def add_note(db_url: str, lead_id: str, text: str, *, viewer: Principal) -> dict[str, Any]:
    """A note on the lead's timeline (``note.added``), signed by the rep or role writing it.

    Raises:
        Invalid: the text is only blanks.
    """
    with session_scope(db_url) as session:
        lead = visible_lead(session, lead_id, viewer)
        text = text.strip()
        if not text:
            raise Invalid("A note needs some text.",
                          problems=[{"path": "text", "message": "Write the note."}])
        by = f"rep:{viewer.rep_id}" if viewer.rep_id else viewer.role
        entry = TimelineEntry(lead_id=lead.id, kind="note", type="note.added",
                              data={"text": text, "by": by})
        session.add(entry)
        session.flush()
        return _entry_json(entry)


def save_lead(db_url: str, data: LeadCreate) -> tuple[dict[str, Any], bool, Dispatch]:
    """Create the lead, or update the one with this e-mail: ``(lead, created, plan)``.

    New leads enter ``lead.created`` flows: the starts are recorded in the outbox with the lead.
    """
    with session_scope(db_url) as session:
        lead, created, plan = ingest_lead(session, data)
        plan.record(session)
        if not created:
            # the answer is read back in the same transaction (as stored, not as built in
            # memory): one transaction per request, where a second one read it after the commit
            session.flush()
            session.expire_all()
            lead = get_lead(session, lead.id)
        # a new lead was written whole by this transaction, from this session: as flushed,
        # it is as stored (its journeys are read: the query flushes what is pending first)
        return lead_public(session, lead), created, plan


def import_leads(db_url: str, content: bytes) -> tuple[dict[str, Any], Dispatch]:
    """A CSV import: the report of created, updated and rejected rows, and the plan."""
    with session_scope(db_url) as session:
        report, plan = import_csv(session, content)
        plan.record(session)
        return report.public(), plan


def move_stage(db_url: str, lead_id: str, stage: str, *, reason: str | None,
               actor: str) -> tuple[dict[str, Any], Dispatch]:
    """A stage change made elsewhere (a CRM), with its ``stage.changed`` event.

    Raises:
        Conflict: the transition is not allowed.
    """
    with session_scope(db_url) as session:
        lead = get_lead(session, lead_id)
        old = lead.stage
        changed = change_stage(session, lead, stage, cause=reason or "api", actor=actor)
        plan = plan_for_lead_change(session, lead)
        if changed:
            event, _ = record_event(session, lead, type_="stage.changed",
                                    properties={"old": old, "new": stage, "reason": reason})
            plan.extend(dispatch_event(session, lead, event))
        plan.record(session)
        return lead_public(session, lead), plan


def unsubscribe_by_link(db_url: str, token: str, *, ip: str | None,
                        user_agent: str | None) -> Dispatch:
    """The lead of an unsubscribe link unsubscribes; idempotent.

    Returns the plan that tells its waiting journeys, recorded (empty when nothing changed:
    the lead was already unsubscribed, or is gone).

    Raises:
        Forbidden: a token we did not sign, or not an unsubscribe link's.
    """
    lead_id = read_token(token, "unsubscribe").lead_id
    with session_scope(db_url) as session:
        lead = session.get(Lead, lead_id or "")
        if lead is None or lead.erased_at is not None:
            return Dispatch()  # nothing left to unsubscribe; say "done" all the same
        if not unsubscribe_lead(session, lead, source="unsubscribe link", ip=ip,
                                user_agent=(user_agent or "")[:400] or None):
            return Dispatch()
        return plan_for_lead_change(session, lead).record(session)
