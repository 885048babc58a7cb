"""Data subject rights (admin): export everything about a lead, erase its personal data."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from leadflow.api.deps import AdminDep, dispatch
from leadflow.api.schemas.common import NO_CONTENT
from leadflow.api.schemas.leads import LeadExport
from leadflow.usecases.privacy import erase_lead_data, export_lead_data

router = APIRouter(prefix="/api/leads", tags=["privacy"], strict_content_type=False)


@router.get("/{lead_id}/export", response_model=LeadExport)
def export(lead_id: str, request: Request, _: AdminDep) -> dict[str, Any]:
    """Everything held about the lead: profile, consent, events, e-mails, journeys, timeline,
    handoffs."""
    return export_lead_data(request.app.state.db_url, lead_id)


@router.delete("/{lead_id}", status_code=204, responses=NO_CONTENT)
async def erase(lead_id: str, request: Request, principal: AdminDep) -> Response:
    """Erase the lead's personal data and end its journeys; 404 for it afterwards."""
    plan = await run_in_threadpool(erase_lead_data, request.app.state.db_url, lead_id,
                                   actor=principal.key_id or principal.role)
    # recorded in the outbox with the erasure: delivered now if Temporal answers, else later
    await dispatch(request, plan)
    return Response(status_code=204)
