"""The local outbox: e-mails the embedded default backend captured."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from leadflow.api.deps import MarketerDep, SessionDep
from sqlmodel import col, select

from leadflow.models import EmailMessage

router = APIRouter(prefix="/api", tags=["outbox"], strict_content_type=False)


@router.get("/outbox")
def outbox(session: SessionDep, _: MarketerDep, lead_id: str | None = None,
           flow_id: str | None = None, status: str | None = None,
           limit: int = Query(200, ge=1, le=1000)) -> list[dict[str, Any]]:
    """Captured e-mails, newest first (sent ones unless `status` says otherwise)."""
    stmt = select(EmailMessage).where(EmailMessage.status == (status or "sent"))
    if lead_id:
        stmt = stmt.where(EmailMessage.lead_id == lead_id)
    if flow_id:
        stmt = stmt.where(EmailMessage.flow_id == flow_id)
    rows = session.exec(stmt.order_by(col(EmailMessage.sent_at).desc(), col(EmailMessage.id).desc())
                        .limit(limit)).all()
    return [{"id": m.id, "send_id": m.send_id, "to": m.to, "subject": m.subject,
             "template": m.template, "lead_id": m.lead_id, "flow_id": m.flow_id,
             "version": m.version, "step": m.step, "status": m.status, "reason": m.reason,
             "sent_at": m.sent_at.isoformat() if m.sent_at else None,
             "html": m.html, "text": m.text} for m in rows]
