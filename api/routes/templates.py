"""E-mail templates: list, read, save (validated by rendering), preview for a lead."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from leadflow.api.deps import MarketerDep, SessionDep
from pydantic import BaseModel, ConfigDict, Field

from leadflow.errors import Invalid
from leadflow.journeys.flows import template_versions
from leadflow.journeys.validate import SLUG
from leadflow.leads.records import get_lead, lead_view
from leadflow.models import Template, utcnow
from leadflow.rendering import (
    SAMPLE_LEAD,
    build_context,
    check_template_source,
    get_template_source,
    list_templates,
    render_email,
    template_hash,
)

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
    problems = check_template_source(body.subject, body.html, body.text)
    if problems:
        raise Invalid("The template does not render.", problems=problems)
    row = session.get(Template, name) or Template(name=name, subject=body.subject, html=body.html)
    row.subject, row.html, row.text, row.updated_at = body.subject, body.html, body.text, utcnow()
    session.add(row)
    return {"name": name, "subject": row.subject, "html": row.html, "text": row.text,
            "source": "saved"}


@router.get("/templates/{name}/preview")
def preview(name: str, session: SessionDep, _: MarketerDep, lead_id: str | None = None) -> dict[str, Any]:
    """The mail as a real lead (`lead_id`) or the sample lead would receive it."""
    from leadflow.mail.tracking import unsubscribe_url

    view = lead_view(get_lead(session, lead_id)) if lead_id else SAMPLE_LEAD
    rendered = render_email(session, name, build_context(
        view, unsubscribe_url=unsubscribe_url(lead_id) if lead_id else None))
    return {"name": name, "lead_id": lead_id, "subject": rendered.subject, "html": rendered.html,
            "text": rendered.text}
