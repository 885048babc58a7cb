"""E-mail templates as the studio edits them: save (checked by rendering), preview for a real or
the sample lead, and test sends to yourself.

Rendering itself lives in :mod:`leadflow.rendering`; this module adds what the API needs around
it: the lead's context, the workspace's postal address, and the test-send's message row.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session

from leadflow.db import session_scope
from leadflow.errors import Invalid, TransientDeliveryError, Unavailable
from leadflow.leads.records import get_lead, lead_view
from leadflow.mail.delivery import deliver
from leadflow.mail.tracking import unsubscribe_url
from leadflow.models import EmailMessage, Template, utcnow
from leadflow.rendering import (
    SAMPLE_LEAD,
    build_context,
    check_template_source,
    render_email,
    render_source,
)
from leadflow.workspace import workspace

__all__ = ["preview_draft", "preview_template", "save_template", "send_test_mail"]


def _context(session: Session, lead_id: str | None) -> dict[str, Any]:
    view = lead_view(get_lead(session, lead_id)) if lead_id else SAMPLE_LEAD
    return build_context(view, unsubscribe_url=unsubscribe_url(lead_id) if lead_id else None,
                         postal_address=workspace(session)["postal_address"])


def save_template(session: Session, name: str, *, subject: str, html: str,
                  text: str | None) -> dict[str, Any]:
    """Save a template (over the file of the same name).

    Raises:
        Invalid: it does not render for the sample lead, or lacks the unsubscribe link or the
            postal address.
    """
    problems = check_template_source(subject, html, text, workspace(session)["postal_address"])
    if problems:
        raise Invalid("The template does not render.", problems=problems)
    row = session.get(Template, name) or Template(name=name, subject=subject, html=html)
    row.subject, row.html, row.text, row.updated_at = subject, html, text, utcnow()
    session.add(row)
    return {"name": name, "subject": row.subject, "html": row.html, "text": row.text,
            "source": "saved"}


def _rendered(name: str, lead_id: str | None, rendered: Any) -> dict[str, Any]:
    return {"name": name, "lead_id": lead_id, "subject": rendered.subject, "html": rendered.html,
            "text": rendered.text}


def preview_template(session: Session, name: str, lead_id: str | None) -> dict[str, Any]:
    """The mail as a real lead (``lead_id``) or the sample lead would receive it."""
    return _rendered(name, lead_id, render_email(session, name, _context(session, lead_id)))


def preview_draft(session: Session, name: str, lead_id: str | None, *, subject: str, html: str,
                  text: str | None) -> dict[str, Any]:
    """Unsaved template text rendered for a real or the sample lead (the editor's preview)."""
    return _rendered(name, lead_id, render_source(subject, html, text,
                                                  _context(session, lead_id)))


def send_test_mail(db_url: str, name: str, to: str, lead_id: str | None) -> dict[str, Any]:
    """Send the saved template to ``to`` through the configured backend, as an internal mail:
    no lead, no tracking of a lead, no unsubscribe effect.

    Raises:
        Unavailable: the mail backend could not be reached.
    """
    send_id = f"test-{uuid.uuid4().hex}"
    with session_scope(db_url) as session:
        rendered = render_email(session, name, _context(session, lead_id))
        session.add(EmailMessage(send_id=send_id, to=to, template=name,
                                 subject=f"[Test] {rendered.subject}", html=rendered.html,
                                 text=rendered.text, status="pending"))
    try:
        status = deliver(send_id, db_url=db_url)
    except TransientDeliveryError as exc:
        raise Unavailable(f"The mail backend could not be reached: {exc}") from exc
    return {"send_id": send_id, "to": to, "status": status}
