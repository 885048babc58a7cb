"""Response shapes of e-mail templates and previews, the local outbox and the SendGrid event
webhook (``leadflow.mail`` and ``leadflow.rendering``)."""

from __future__ import annotations

from pydantic import Field

from leadflow.api.schemas.common import IsoTime, Shape

__all__ = ["OutboxMail", "Rendered", "TemplateDetail", "TemplateRow", "TemplateSaved",
           "TestSent", "WebhookCounts"]


class TemplateRow(Shape):
    name: str
    subject: str
    source: str = Field(description="file (email_templates/) or saved")


class TemplateSaved(TemplateRow):
    html: str
    text: str | None


class PinnedBy(Shape):
    flow_id: str
    version: int
    hash: str
    current: bool = Field(description="the snapshot equals the template now")


class TemplateDetail(TemplateSaved):
    """The template now, and the flow versions that pinned a snapshot of it."""

    hash: str = Field(description="content hash of the template now")
    versions: list[PinnedBy]


class Rendered(Shape):
    """The mail as a lead (or the sample lead) would receive it."""

    name: str
    lead_id: str | None = Field(description="null: the sample lead")
    subject: str
    html: str
    text: str | None


class TestSent(Shape):
    send_id: str
    to: str
    status: str = Field(description="sent, or the backend's answer")


class OutboxMail(Shape):
    """An e-mail the backend handled (captured by the outbox backend)."""

    id: int
    send_id: str
    to: str | None
    subject: str | None
    template: str | None
    lead_id: str | None = Field(description="null for test sends")
    flow_id: str | None
    version: int | None
    step: str | None
    status: str
    reason: str | None
    sent_at: IsoTime | None
    html: str | None
    text: str | None


class WebhookCounts(Shape):
    accepted: int = Field(description="new events stored")
    duplicates: int = Field(description="events received before (SendGrid retries)")
    ignored: int = Field(description="event types Leadflow does not use")
