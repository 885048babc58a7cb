"""E-mail templates: list, read, save (validated by rendering), preview for a lead."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from leadflow.api.deps import MarketerDep, SessionDep
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from leadflow.errors import Invalid, Unavailable
from leadflow.journeys.flows import template_versions
from leadflow.journeys.validate import SLUG
from leadflow.leads.records import get_lead, lead_view
from leadflow.models import EmailMessage, Template, utcnow
from leadflow.rendering import (
    SAMPLE_LEAD,
    build_context,
    check_template_source,
    get_template_source,
    list_templates,
    render_email,
    render_source,
    template_hash,
)
from leadflow.workspace import workspace

router = APIRouter(prefix="/api", tags=["templates"], strict_content_type=False)


class TemplateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1)
    html: str = Field(min_length=1)
    text: str | None = None


@router.get("/templates")
def all_templates(session: SessionDep, _: MarketerDep) -> list[dict[str, Any]]:
    """Every template: files in email_templates/ and saved ones (which override files)."""
    return [{"name": t.name, "subject": t.subject, "source": t.source} for t in list_templates(session)]


@router.get("/templates/{name}")
def read_template(name: str, session: SessionDep, _: MarketerDep) -> dict[str, Any]:
    """The template now, its content `hash`, and the flow `versions` that pinned a snapshot of
    it at publish (`current`: the snapshot equals the template now)."""
    t = get_template_source(session, name)
    digest = template_hash(t)
    versions = [{**v, "current": v["hash"] == digest} for v in template_versions(session, name)]
    return {"name": t.name, "subject": t.subject, "html": t.html, "text": t.text,
            "source": t.source, "hash": digest, "versions": versions}


@router.put("/templates/{name}")
def save_template(name: str, body: TemplateBody, session: SessionDep, _: MarketerDep) -> dict[str, Any]:
    """Save a template; 422 when it does not render for the sample lead."""
    if not SLUG.match(name):
        raise Invalid("A template name is lowercase letters, digits and dashes.",
                      problems=[{"path": "name", "message": "Use a name such as trial-welcome."}])
    problems = check_template_source(body.subject, body.html, body.text,
                                     workspace(session)["postal_address"])
    if problems:
        raise Invalid("The template does not render.", problems=problems)
    row = session.get(Template, name) or Template(name=name, subject=body.subject, html=body.html)
    row.subject, row.html, row.text, row.updated_at = body.subject, body.html, body.text, utcnow()
    session.add(row)
    return {"name": name, "subject": row.subject, "html": row.html, "text": row.text,
            "source": "saved"}


class DraftBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=2000)
    html: str = Field(min_length=1, max_length=500_000)
    text: str | None = Field(None, max_length=500_000)


class TestSendBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    lead_id: str | None = None


def _context(session: Session, lead_id: str | None) -> dict[str, Any]:
    from leadflow.mail.tracking import unsubscribe_url

    view = lead_view(get_lead(session, lead_id)) if lead_id else SAMPLE_LEAD
    return build_context(view, unsubscribe_url=unsubscribe_url(lead_id) if lead_id else None,
                         postal_address=workspace(session)["postal_address"])


@router.post("/templates/{name}/preview")
def preview_draft(name: str, body: DraftBody, session: SessionDep, _: MarketerDep,
                  lead_id: str | None = None) -> dict[str, Any]:
    """Render unsaved template text (the editor's live preview) for a real or the sample lead."""
    rendered = render_source(body.subject, body.html, body.text, _context(session, lead_id))
    return {"name": name, "lead_id": lead_id, "subject": rendered.subject, "html": rendered.html,
            "text": rendered.text}


@router.post("/templates/{name}/test-send", status_code=202)
def test_send(name: str, body: TestSendBody, request: Request, session: SessionDep,
              _: MarketerDep) -> dict[str, Any]:
    """Send the saved template to ``to`` (yourself) through the configured backend, as an
    internal mail: no lead, no tracking of a lead, no unsubscribe effect."""
    from leadflow.errors import TransientDeliveryError
    from leadflow.mail import deliver

    rendered = render_email(session, name, _context(session, body.lead_id))
    send_id = f"test-{uuid.uuid4().hex}"
    session.add(EmailMessage(send_id=send_id, to=body.to, template=name,
                             subject=f"[Test] {rendered.subject}", html=rendered.html,
                             text=rendered.text, status="pending"))
    session.commit()
    try:
        status = deliver(send_id, db_url=request.app.state.db_url)
    except TransientDeliveryError as exc:
        raise Unavailable(f"The mail backend could not be reached: {exc}") from exc
    return {"send_id": send_id, "to": body.to, "status": status}


@router.get("/templates/{name}/preview")
def preview(name: str, session: SessionDep, _: MarketerDep, lead_id: str | None = None) -> dict[str, Any]:
    """The mail as a real lead (`lead_id`) or the sample lead would receive it."""
    rendered = render_email(session, name, _context(session, lead_id))
    return {"name": name, "lead_id": lead_id, "subject": rendered.subject, "html": rendered.html,
            "text": rendered.text}
