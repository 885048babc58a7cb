"""The ``outbox`` backend: nothing leaves the machine; the EmailMessage row is the mail.

The embedded dev stack and tests use it: ``GET /api/outbox`` lists the rows it "sent"
(:func:`captured_mails`).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from leadflow.db import session_scope
from leadflow.mail.base import OutgoingEmail, SendReceipt
from leadflow.models import EmailMessage

__all__ = ["OutboxSender", "captured_mails"]


class OutboxSender:
    """Accepts every message; the caller's EmailMessage row already holds it."""

    name = "outbox"

    def send(self, mail: OutgoingEmail) -> SendReceipt:
        """Accept ``mail``; the receipt's id is local so it is never mistaken for a provider's."""
        return SendReceipt(provider_message_id=f"outbox-{mail.send_id}")


def captured_mails(db_url: str, *, lead_id: str | None = None, flow_id: str | None = None,
                   status: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """E-mails handled, newest first: sent ones unless ``status`` names another."""
    with session_scope(db_url) as session:
        stmt = select(EmailMessage).where(EmailMessage.status == (status or "sent"))
        if lead_id:
            stmt = stmt.where(EmailMessage.lead_id == lead_id)
        if flow_id:
            stmt = stmt.where(EmailMessage.flow_id == flow_id)
        rows = session.exec(stmt.order_by(col(EmailMessage.sent_at).desc(),
                                          col(EmailMessage.id).desc()).limit(limit)).all()
        return [{"id": m.id, "send_id": m.send_id, "to": m.to, "subject": m.subject,
                 "template": m.template, "lead_id": m.lead_id, "flow_id": m.flow_id,
                 "version": m.version, "step": m.step, "status": m.status, "reason": m.reason,
                 "sent_at": m.sent_at.isoformat() if m.sent_at else None,
                 "html": m.html, "text": m.text} for m in rows]
