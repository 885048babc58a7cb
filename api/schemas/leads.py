"""Response shapes of leads, their timeline and notes, CSV imports, events, capture forms and
the privacy export (``leadflow.leads``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from leadflow.api.schemas.common import IsoTime, Open, Shape

__all__ = ["CaptureAccepted", "EventsAccepted", "FormOut", "ImportReport", "JourneyRetried", "LeadDetail",
           "LeadExport", "LeadList", "LeadOut", "TimelineEntryOut"]


class LeadRow(Shape):
    """A lead in a list."""

    id: str
    email: str | None = Field(description="null once erased")
    first_name: str | None
    last_name: str | None
    company: str | None
    score: float
    temperature: str = Field(description="cold, warm or hot")
    stage: str = Field(description="lifecycle stage: subscriber, lead, MQL, SAL, SQL, ...")
    owner: str | None = Field(description="the owning rep's id")


class LeadList(Shape):
    """A page of leads, newest first."""

    items: list[LeadRow]
    total: int = Field(description="leads matching, over all pages")


class ScoreItem(Shape):
    """One rule's points in the lead's score."""

    rule: str
    kind: str
    points_base: float
    points_now: float = Field(description="after decay")
    event_id: str | None = None
    event_type: str | None = None
    occurred_at: IsoTime | None = None


class LeadJourney(Shape):
    """The lead's run through one flow."""

    flow_id: str
    version: int
    step: str | None = Field(description="where it is now (null before its first step)")
    status: str = Field(description="running, completed, exited or failed")
    journey_id: str
    workflow_id: str = Field(description="the Temporal workflow id (the journey id)")
    started_at: IsoTime | None
    ended_at: IsoTime | None
    exit_reason: str | None


class LeadOut(Shape):
    """A lead: profile, consent, score, stage, owner and journeys."""

    id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    company: str | None
    title: str | None
    country: str | None
    timezone: str | None
    source: str | None
    fields: Open = Field(description="custom fields")
    utm: dict[str, Any] = Field(description="utm_* of the last touch")
    tags: list[str]
    score: float
    score_model_version: int | None = Field(
        description="the scoring model version the score was computed with (null before any)")
    temperature: str
    likelihood: float | None = Field(description="0-1 chance to convert (predictive model)")
    stage: str
    owner: str | None
    score_breakdown: list[ScoreItem]
    consent: Open | None = Field(description='{"status", "source", "text_version", "at", ...}')
    first_touch: Open | None
    last_touch: Open | None
    unsubscribed: bool
    suppressed: bool = Field(description="no marketing mail: bounced or unsubscribed")
    created_at: IsoTime | None
    updated_at: IsoTime | None
    flows: list[LeadJourney]


class LikelihoodFactor(Shape):
    feature: str
    label: str = Field(description='the feature in words, e.g. "source is webinar"')
    effect: float = Field(description="log-odds contribution")


class LeadDetail(LeadOut):
    """A lead with why the predictive model rates it as it does."""

    likelihood_factors: list[LikelihoodFactor] = Field(
        description="the strongest features (empty without an active model)")


class TimelineEntryOut(Shape):
    """One thing that happened to the lead."""

    at: IsoTime
    kind: str = Field(description="event, email, step, score, stage, handoff, note, ...")
    type: str = Field(description="e.g. email.clicked, note.added")
    data: Open


class RejectedRow(Shape):
    row: int = Field(description="line number in the CSV")
    email: str | None
    errors: list[str]


class ImportReport(Shape):
    """What a CSV import did, row by row."""

    created: int
    updated: int
    rejected_count: int
    rejected: list[RejectedRow]


class EventResult(Shape):
    id: str = Field(description="the event's id (the one sent, or made up)")
    lead_id: str
    duplicate: bool = Field(description="already received: changed nothing")


class EventsAccepted(Shape):
    """Events stored; a single event (not a list) also gets its own result's keys."""

    accepted: int
    duplicates: int
    events: list[EventResult]
    id: str | None = Field(None, description="single event only")
    lead_id: str | None = Field(None, description="single event only")
    duplicate: bool | None = Field(None, description="single event only")


class CaptureAccepted(Shape):
    status: str = Field(description="accepted, or confirmation_sent (double opt-in: the lead confirms by mail)")


class FormOut(Shape):
    """A capture form's settings."""

    form: str
    double_opt_in: bool
    consent_text_version: str | None
    redirect_url: str | None
    rate_limit: int
    rate_window_seconds: int
    created_at: IsoTime | None
    updated_at: IsoTime | None


class LeadExport(Shape):
    """Everything held about a lead (GDPR access): each list holds the rows as stored."""

    exported_at: IsoTime
    profile: Open = Field(description="the lead's row")
    consent: list[Open] = Field(description="consent records")
    events: list[Open]
    emails: list[Open]
    journeys: list[Open]
    stage_changes: list[Open]
    timeline: list[Open]
    handoffs: list[Open]


class JourneyRetried(Shape):
    """A failed journey running its failed step again."""

    journey_id: str
    lead_id: str
    flow_id: str
    status: str
    step: str | None
