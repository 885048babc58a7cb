"""Leads: create/update, read (with journeys), timeline, notes, stage moves; each route is one
call into the core (``leadflow.usecases.leads``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from leadflow.api.bodies import raw_body_doc
from leadflow.api.deps import (
    MarketerDep,
    OptionalTemporalDep,
    SalesOrMarketerDep,
    dispatch,
)
from leadflow.api.schemas.leads import (
    ImportReport,
    JourneyRetried,
    LeadDetail,
    LeadList,
    LeadOut,
    TimelineEntryOut,
)
from leadflow.leads.records import LeadCreate, check_lead_access
from leadflow.usecases import leads as service

__all__ = ["check_lead_access", "read_csv_upload", "router"]  # both also serve outcomes.py

router = APIRouter(prefix="/api", tags=["leads"], strict_content_type=False)


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


@router.post("/leads", response_model=LeadOut, response_model_exclude_unset=True,
             responses={201: {"model": LeadOut, "description": "Created"}})
async def create_or_update_lead(body: LeadCreate, request: Request, _: MarketerDep,
                                client: OptionalTemporalDep) -> Any:
    """Create a lead, or update the one with this e-mail; new leads enter `lead.created` flows."""
    lead, created, plan = service.save_lead(request.app.state.db_url, body)
    await dispatch(request, plan, client)
    return JSONResponse(lead, status_code=201 if created else 200)


@router.post("/leads/import", openapi_extra=raw_body_doc({
    "multipart/form-data": {"type": "object", "required": ["file"],
                            "properties": {"file": {"type": "string", "format": "binary"}}},
    "text/csv": {"type": "string"}}, description="a CSV with a header row; email required"),
    response_model=ImportReport)
async def import_leads(request: Request, _: MarketerDep,
                       client: OptionalTemporalDep) -> dict[str, Any]:
    """CSV upload (multipart field `file`, or a `text/csv` body): a header row with `email`,
    names, `company`, `title`, `country`, `timezone`, `source`, `tags` (`;`-separated),
    `consent_status`, `consent_source`, `consent_text_version`, `utm_*`; any other column
    becomes a custom field. Reports created, updated and rejected rows (with reasons)."""
    content = await read_csv_upload(request)
    report, plan = service.import_leads(request.app.state.db_url, content)
    await dispatch(request, plan, client)
    return report


@router.get("/leads", response_model=LeadList)
def list_leads(request: Request, principal: SalesOrMarketerDep,
               q: str | None = None, limit: int = Query(50, ge=1, le=500),
               offset: int = Query(0, ge=0, le=2**31 - 1)) -> dict[str, Any]:
    """Leads, newest first; `q` searches e-mail, name and company."""
    return service.search_leads(request.app.state.db_url, viewer=principal, q=q, limit=limit,
                                offset=offset)


@router.get("/leads/{lead_id}", response_model=LeadDetail, response_model_exclude_unset=True)
def read_lead(lead_id: str, request: Request, principal: SalesOrMarketerDep) -> dict[str, Any]:
    """The lead with score, breakdown, temperature, stage, owner and journeys."""
    return service.lead_detail(request.app.state.db_url, lead_id, viewer=principal)


@router.get("/leads/{lead_id}/timeline", response_model=list[TimelineEntryOut])
def timeline(lead_id: str, request: Request,
             principal: SalesOrMarketerDep) -> list[dict[str, Any]]:
    """Everything that happened to the lead, oldest first."""
    return service.lead_timeline(request.app.state.db_url, lead_id, viewer=principal)


class NoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=5000)


@router.post("/leads/{lead_id}/notes", status_code=201, response_model=TimelineEntryOut)
def add_note(lead_id: str, body: NoteBody, request: Request,
             principal: SalesOrMarketerDep) -> dict[str, Any]:
    """A note on the lead (a call, a reply): it appears on the timeline as ``note.added``."""
    return service.add_note(request.app.state.db_url, lead_id, body.text, viewer=principal)


class StageMove(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage: str
    reason: str | None = None


@router.post("/leads/{lead_id}/flows/{flow_id}/retry", response_model=JourneyRetried)
async def retry_failed_journey(lead_id: str, flow_id: str, request: Request, _: MarketerDep,
                               client: OptionalTemporalDep) -> dict[str, Any]:
    """Run the lead's failed journey in the flow again from its failed step (once the cause,
    shown as its reason, is fixed); 409 when it has not failed, 503 while Temporal is down."""
    from leadflow.journeys.enrolment import retry_journey

    return await retry_journey(client, request.app.state.db_url, lead_id, flow_id)


@router.post("/leads/{lead_id}/stage", response_model=LeadOut, response_model_exclude_unset=True)
async def move_stage(lead_id: str, body: StageMove, request: Request, principal: MarketerDep,
                     client: OptionalTemporalDep) -> dict[str, Any]:
    """A stage change made elsewhere (CRM); 409 when the transition is not allowed."""
    out, plan = service.move_stage(request.app.state.db_url, lead_id, body.stage,
                                   reason=body.reason, actor=f"api:{principal.role}")
    await dispatch(request, plan, client)
    return out
