"""The local outbox: e-mails the embedded default backend captured."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from leadflow.api.deps import MarketerDep
from leadflow.api.schemas.mail import OutboxMail
from leadflow.mail.outbox import captured_mails

router = APIRouter(prefix="/api", tags=["outbox"], strict_content_type=False)


@router.get("/outbox", response_model=list[OutboxMail])
def outbox(request: Request, _: MarketerDep, lead_id: str | None = None,
           flow_id: str | None = None, status: str | None = None,
           limit: int = Query(200, ge=1, le=1000)) -> list[dict[str, Any]]:
    """Captured e-mails, newest first (sent ones unless `status` says otherwise)."""
    return captured_mails(request.app.state.db_url, lead_id=lead_id, flow_id=flow_id,
                          status=status, limit=limit)
