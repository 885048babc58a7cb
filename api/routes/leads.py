"""Leads: create/update, read (with journeys), timeline, stage moves."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, func, or_, select

from leadflow.api.bodies import raw_body_doc
from leadflow.api.deps import (
    MarketerDep,
    OptionalTemporalDep,
    SalesOrMarketerDep,
    SessionDep,
    dispatch,
)
from leadflow.auth import Principal
from leadflow.db import session_scope
from leadflow.errors import Forbidden, Invalid
from leadflow.leads.records import LeadCreate, get_lead, lead_public, record_event
from leadflow.leads.stages import change_stage
from leadflow.models import Handoff, Lead, TimelineEntry
from leadflow.scoring.predictive import lead_likelihood
from leadflow.scoring.service import active_model
from leadflow.usecases.events import dispatch_event, ingest_lead, plan_for_lead_change

router = APIRouter(prefix="/api", tags=["leads"], strict_content_type=False)


def check_lead_access(session: Session, principal: Principal, lead: Lead) -> None:
    """A sales key sees only the leads it owns or was handed."""
    if principal.role != "sales":
        return
    if lead.owner_rep_id == principal.rep_id:
        return
    handed = session.exec(select(Handoff.id).where(Handoff.lead_id == lead.id,
                                                   Handoff.rep_id == principal.rep_id)).first()
    if handed is None:
        raise Forbidden("This lead is not yours.")


async def read_csv_upload(request: Request) -> bytes:
    """A CSV sent as the multipart field ``file`` or as the request body itself."""
    from leadflow.errors import BadRequest

    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise BadRequest("Send the CSV as the multipart field 'file'.")
        return await upload.read()
    return await request.body()


@router.post("/leads")
async def create_or_update_lead(body: LeadCreate, request: Request, _: MarketerDep,
                                client: OptionalTemporalDep) -> Any:
    """Create a lead, or update the one with this e-mail; new leads enter `lead.created` flows."""
    from fastapi.responses import JSONResponse

    with session_scope(request.app.state.db_url) as session:
        lead, created, plan = ingest_lead(session, body)
        plan.record(session)
        # the answer is read back in the same transaction (as stored, not as built in memory):
        # one transaction per request, where a second one read it after the commit
        session.flush()
        session.expire_all()
        body_out = lead_public(session, get_lead(session, lead.id))
    await dispatch(request, plan, client)
    return JSONResponse(body_out, status_code=201 if created else 200)


@router.post("/leads/import", openapi_extra=raw_body_doc({
    "multipart/form-data": {"type": "object", "required": ["file"],
                            "properties": {"file": {"type": "string", "format": "binary"}}},
    "text/csv": {"type": "string"}}, description="a CSV with a header row; email required"))
async def import_leads(request: Request, _: MarketerDep,
                       client: OptionalTemporalDep) -> dict[str, Any]:
    """CSV upload (multipart field `file`, or a `text/csv` body): a header row with `email`,
    names, `company`, `title`, `country`, `timezone`, `source`, `tags` (`;`-separated),
    `consent_status`, `consent_source`, `consent_text_version`, `utm_*`; any other column
    becomes a custom field. Reports created, updated and rejected rows (with reasons)."""
    from leadflow.usecases.csv_import import import_csv

    content = await read_csv_upload(request)
    with session_scope(request.app.state.db_url) as session:
        report, plan = import_csv(session, content)
        plan.record(session)
    await dispatch(request, plan, client)
    return report.public()


@router.get("/leads")
def list_leads(session: SessionDep, principal: SalesOrMarketerDep,
               q: str | None = None, limit: int = Query(50, ge=1, le=500),
               offset: int = Query(0, ge=0, le=2**31 - 1)) -> dict[str, Any]:
    """Leads, newest first; `q` searches e-mail, name and company."""
    stmt = select(Lead).where(col(Lead.erased_at).is_(None))
    if principal.role == "sales":
        stmt = stmt.where(Lead.owner_rep_id == principal.rep_id)
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(or_(func.lower(Lead.email).like(like), func.lower(Lead.company).like(like),
                              func.lower(Lead.first_name).like(like),
                              func.lower(Lead.last_name).like(like)))
    total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
    rows = session.exec(stmt.order_by(col(Lead.created_at).desc()).offset(offset).limit(limit)).all()
    return {"items": [{"id": r.id, "email": r.email, "first_name": r.first_name,
                       "last_name": r.last_name, "company": r.company, "score": r.score,
                       "temperature": r.temperature, "stage": r.stage, "owner": r.owner_rep_id}
                      for r in rows], "total": total}


@router.get("/leads/{lead_id}")
def read_lead(lead_id: str, session: SessionDep, principal: SalesOrMarketerDep) -> dict[str, Any]:
    """The lead with score, breakdown, temperature, stage, owner and journeys."""
    lead = get_lead(session, lead_id)
    check_lead_access(session, principal, lead)
    return {**lead_public(session, lead),
            **lead_likelihood(session, lead, active_model(session))}


@router.get("/leads/{lead_id}/timeline")
def timeline(lead_id: str, session: SessionDep, principal: SalesOrMarketerDep) -> list[dict[str, Any]]:
    """Everything that happened to the lead, oldest first."""
    lead = get_lead(session, lead_id)
    check_lead_access(session, principal, lead)
    rows = session.exec(select(TimelineEntry).where(TimelineEntry.lead_id == lead_id)
                        .order_by(col(TimelineEntry.at), col(TimelineEntry.id))).all()
    return [{"at": r.at.isoformat(), "kind": r.kind, "type": r.type, "data": r.data}
            for r in rows]


class NoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=5000)


@router.post("/leads/{lead_id}/notes", status_code=201)
def add_note(lead_id: str, body: NoteBody, session: SessionDep,
             principal: SalesOrMarketerDep) -> dict[str, Any]:
    """A note on the lead (a call, a reply): it appears on the timeline as ``note.added``."""
    lead = get_lead(session, lead_id)
    check_lead_access(session, principal, lead)
    text = body.text.strip()
    if not text:
        raise Invalid("A note needs some text.", problems=[{"path": "text", "message": "Write the note."}])
    by = f"rep:{principal.rep_id}" if principal.rep_id else principal.role
    entry = TimelineEntry(lead_id=lead.id, kind="note", type="note.added", data={"text": text, "by": by})
    session.add(entry)
    session.flush()
    return {"at": entry.at.isoformat(), "kind": entry.kind, "type": entry.type, "data": entry.data}


class StageMove(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage: str
    reason: str | None = None


@router.post("/leads/{lead_id}/flows/{flow_id}/retry")
async def retry_failed_journey(lead_id: str, flow_id: str, request: Request, _: MarketerDep,
                               client: OptionalTemporalDep) -> dict[str, Any]:
    """Run the lead's failed journey in the flow again from its failed step (once the cause,
    shown as its reason, is fixed); 409 when it has not failed, 503 while Temporal is down."""
    from leadflow.journeys.enrolment import retry_journey

    return await retry_journey(client, request.app.state.db_url, lead_id, flow_id)


@router.post("/leads/{lead_id}/stage")
async def move_stage(lead_id: str, body: StageMove, request: Request, principal: MarketerDep,
                     client: OptionalTemporalDep) -> dict[str, Any]:
    """A stage change made elsewhere (CRM); 409 when the transition is not allowed."""
    with session_scope(request.app.state.db_url) as session:
        lead = get_lead(session, lead_id)
        old = lead.stage
        changed = change_stage(session, lead, body.stage, cause=body.reason or "api",
                               actor=f"api:{principal.role}")
        plan = plan_for_lead_change(session, lead)
        if changed:
            event, _ = record_event(session, lead, type_="stage.changed",
                                    properties={"old": old, "new": body.stage, "reason": body.reason})
            plan.extend(dispatch_event(session, lead, event))
        plan.record(session)
        out = lead_public(session, lead)
    await dispatch(request, plan, client)
    return out
