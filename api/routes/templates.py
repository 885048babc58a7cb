"""E-mail templates: list, read, save (validated by rendering), preview for a lead, test sends;
each route one call into the core (``leadflow.mail.templates``, ``leadflow.journeys.flows``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from leadflow.api.deps import MarketerDep, SessionDep
from leadflow.api.schemas.mail import Rendered, TemplateDetail, TemplateRow, TemplateSaved, TestSent
from leadflow.errors import Invalid
from leadflow.journeys.flows import template_detail
from leadflow.journeys.validate import SLUG
from leadflow.mail import templates as mail_templates
from leadflow.rendering import list_templates

router = APIRouter(prefix="/api", tags=["templates"], strict_content_type=False)


class TemplateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1)
    html: str = Field(min_length=1)
    text: str | None = None


@router.get("/templates", response_model=list[TemplateRow])
def all_templates(session: SessionDep, _: MarketerDep) -> list[dict[str, Any]]:
    """Every template: files in email_templates/ and saved ones (which override files)."""
    return [{"name": t.name, "subject": t.subject, "source": t.source} for t in list_templates(session)]


@router.get("/templates/{name}", response_model=TemplateDetail)
def read_template(name: str, session: SessionDep, _: MarketerDep) -> dict[str, Any]:
    """The template now, its content `hash`, and the flow `versions` that pinned a snapshot of
    it at publish (`current`: the snapshot equals the template now)."""
    return template_detail(session, name)


@router.put("/templates/{name}", response_model=TemplateSaved)
def save_template(name: str, body: TemplateBody, session: SessionDep,
                   _: MarketerDep) -> dict[str, Any]:
    """Save a template; 422 when it does not render for the sample lead."""
    if not SLUG.match(name):
        raise Invalid("A template name is lowercase letters, digits and dashes.",
                      problems=[{"path": "name", "message": "Use a name such as trial-welcome."}])
    return mail_templates.save_template(session, name, subject=body.subject, html=body.html, text=body.text)


class DraftBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=2000)
    html: str = Field(min_length=1, max_length=500_000)
    text: str | None = Field(None, max_length=500_000)


class TestSendBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    lead_id: str | None = None


@router.post("/templates/{name}/preview", response_model=Rendered)
def preview_draft(name: str, body: DraftBody, session: SessionDep, _: MarketerDep,
                 lead_id: str | None = None) -> dict[str, Any]:
    """Render unsaved template text (the editor's live preview) for a real or the sample lead."""
    return mail_templates.preview_draft(session, name, lead_id, subject=body.subject,
                                        html=body.html, text=body.text)


@router.post("/templates/{name}/test-send", status_code=202, response_model=TestSent)
def test_send(name: str, body: TestSendBody, request: Request, _: MarketerDep) -> dict[str, Any]:
    """Send the saved template to ``to`` (yourself) through the configured backend, as an
    internal mail: no lead, no tracking of a lead, no unsubscribe effect."""
    return mail_templates.send_test_mail(request.app.state.db_url, name, body.to, body.lead_id)


@router.get("/templates/{name}/preview", response_model=Rendered)
def preview(name: str, session: SessionDep, _: MarketerDep, lead_id: str | None = None) -> dict[str, Any]:
    """The mail as a real lead (`lead_id`) or the sample lead would receive it."""
    return mail_templates.preview_template(session, name, lead_id)
