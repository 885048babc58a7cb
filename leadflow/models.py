"""Database tables (SQLModel). Personal data lives here and only here, never in Temporal.

Each area keeps its tables in one section below; JSON columns hold documents and free-form
fields. Times are aware UTC datetimes (SQLModel's UTCDateTime stores them on SQLite and
PostgreSQL alike and returns them aware); ``utcnow()`` makes them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint, false
from sqlmodel import Field, SQLModel

__all__ = [
    "utcnow",
    "new_id",
    "STAGES",
    "Lead",
    "Event",
    "ApiKey",
    "Flow",
    "FlowVersion",
    "Journey",
    "JourneyStep",
    "EmailMessage",
    "Template",
    "TemplateSnapshot",
    "FlowMigration",
    "ConsentRecord",
    "Suppression",
    "Erasure",
    "CaptureForm",
    "ScoringModel",
    "StageChange",
    "TimelineEntry",
    "Rep",
    "Team",
    "Handoff",
    "HandoffAssignment",
    "RejectionReason",
    "Outcome",
    "PredictiveModel",
    "TemporalIntent",
    "AppSetting",
]

STAGES = ["subscriber", "lead", "MQL", "SAL", "SQL", "opportunity", "customer"]
SIDE_STAGES = ["recycled", "disqualified"]


def utcnow() -> datetime:
    """Now, as an aware UTC datetime (the form every column stores)."""
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


def _json(default: Any = None) -> Any:
    factory = (lambda: {}) if default is dict else (lambda: []) if default is list else None
    if factory is None:
        return Field(default=None, sa_column=Column(JSON, nullable=True))
    return Field(default_factory=factory, sa_column=Column(JSON, nullable=False))


# ---------------------------------------------------------------- leads and events


class Lead(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True)
    email: str | None = Field(default=None, index=True, unique=True)
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = Field(default=None, index=True)
    title: str | None = None
    country: str | None = None
    timezone: str | None = None
    source: str | None = None
    first_touch: dict[str, Any] | None = _json()
    last_touch: dict[str, Any] | None = _json()
    fields: dict[str, Any] = _json(dict)
    tags: list[str] = _json(list)
    consent: dict[str, Any] | None = _json()
    score: float = 0.0
    score_breakdown: list[dict[str, Any]] = _json(list)
    score_model_version: int | None = None
    # When the lead's temperature timer (LeadScoreWorkflow) is armed to fire; None: not armed.
    score_timer_due: datetime | None = None
    # The active predictive model's probability that the lead converts (None: no active model).
    likelihood: float | None = None
    temperature: str = "cold"
    stage: str = "lead"
    owner_rep_id: str | None = Field(default=None, index=True)
    unsubscribed: bool = False
    bounced: bool = False
    suppressed: bool = False
    erased_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Event(SQLModel, table=True):
    """Something a lead did or that happened to it; ``id`` de-duplicates client retries."""

    id: str = Field(default_factory=new_id, primary_key=True)
    lead_id: str = Field(index=True)
    type: str = Field(index=True)
    properties: dict[str, Any] = _json(dict)
    occurred_at: datetime = Field(default_factory=utcnow)
    received_at: datetime = Field(default_factory=utcnow)
    send_id: str | None = Field(default=None, index=True)
    dispatched: bool = False


class TemporalIntent(SQLModel, table=True):
    """Something a workflow must be told, written with the change it follows (the outbox of
    :mod:`leadflow.intents`); ids and codes only, never personal data."""

    __tablename__ = "temporal_intent"

    id: int | None = Field(default=None, primary_key=True)
    kind: str  # start | signal | score_timer
    workflow_id: str = Field(index=True)
    name: str | None = None  # the signal's name
    payload: dict[str, Any] = _json(dict)
    created_at: datetime = Field(default_factory=utcnow)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, index=True)  # or leased until
    delivered_at: datetime | None = Field(default=None, index=True)
    outcome: str | None = None  # delivered | gone (the workflow had ended) | refused
    last_error: str | None = None  # an error code, never a message with data in it


# ---------------------------------------------------------------- access


class ApiKey(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True)
    key_hash: str = Field(index=True, unique=True)
    prefix: str
    role: str
    rep_id: str | None = None
    label: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    # Refreshed at most once a minute, so a busy key does not write on every request.
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


# ---------------------------------------------------------------- flows and journeys


class Flow(SQLModel, table=True):
    """A flow's editable draft; published versions are immutable rows of FlowVersion."""

    id: str = Field(primary_key=True)
    name: str
    draft: dict[str, Any] = _json(dict)
    layout: dict[str, Any] = _json(dict)
    # active | paused (no enrolments, sends held) | stopped (no enrolments until published again)
    state: str = Field(default="active")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class FlowVersion(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("flow_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    flow_id: str = Field(index=True)
    version: int
    document: dict[str, Any] = _json(dict)
    note: str | None = None
    published_at: datetime = Field(default_factory=utcnow)
    # template name -> TemplateSnapshot.hash: the mails this version sends, pinned at publish
    templates: dict[str, str] = _json(dict)


class Journey(SQLModel, table=True):
    """One enrolment of one lead in one flow version; one Temporal workflow each."""

    __table_args__ = (UniqueConstraint("lead_id", "flow_id", "seq"),)

    id: str = Field(primary_key=True)  # also the Temporal workflow id
    lead_id: str = Field(index=True)
    flow_id: str = Field(index=True)
    version: int
    seq: int = 1
    status: str = Field(default="running", index=True)  # running|completed|exited|failed
    trigger_event_id: str | None = Field(default=None, index=True)
    current_step: str | None = None
    waiting_until: datetime | None = None
    exit_reason: str | None = None
    # why its next send waits: paused | send_window | frequency_cap | consent (None: not held)
    held_reason: str | None = None
    converted: bool = False
    started_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None


class JourneyStep(SQLModel, table=True):
    """One visit of a journey to a step: the raw material of flow stats."""

    id: int | None = Field(default=None, primary_key=True)
    journey_id: str = Field(index=True)
    flow_id: str = Field(index=True)
    version: int
    step_id: str
    visit: int = 1
    outcome: str | None = None
    entered_at: datetime = Field(default_factory=utcnow)
    left_at: datetime | None = None


# ---------------------------------------------------------------- e-mail


class EmailMessage(SQLModel, table=True):
    """One intended send, keyed by a stable ``send_id``; also the local outbox."""

    id: int | None = Field(default=None, primary_key=True)
    send_id: str = Field(index=True, unique=True)
    lead_id: str | None = Field(default=None, index=True)
    journey_id: str | None = Field(default=None, index=True)
    flow_id: str | None = Field(default=None, index=True)
    version: int | None = None
    step: str | None = None
    template: str | None = None
    to: str | None = None
    subject: str | None = None
    html: str | None = None
    text: str | None = None
    backend: str | None = None
    status: str = "pending"  # pending|sending|sent|skipped|failed
    reason: str | None = None
    provider_message_id: str | None = None
    attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    last_attempt_at: datetime | None = None  # start of the latest hand-over to the provider
    # Mail to staff (notify steps, handoff notices): the lead's consent, unsubscribe header,
    # frequency cap and engagement play no part in it.
    internal: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class ConsentRecord(SQLModel, table=True):
    """One consent statement of a lead (GDPR Art. 7): what, when, from where, which wording."""

    id: int | None = Field(default=None, primary_key=True)
    lead_id: str = Field(index=True)
    status: str  # granted|denied|withdrawn|pending
    at: datetime = Field(default_factory=utcnow)
    source: str | None = None  # e.g. form:trial, unsubscribe, api
    text_version: str | None = None
    ip: str | None = None
    user_agent: str | None = None


class Suppression(SQLModel, table=True):
    """An address never to be mailed again, kept only as a hash (survives erasure)."""

    address_hash: str = Field(primary_key=True)
    reason: str  # bounced|spam_reported|unsubscribed|erased
    at: datetime = Field(default_factory=utcnow)


class Erasure(SQLModel, table=True):
    """Proof that a lead's personal data was erased, without the data itself."""

    id: int | None = Field(default=None, primary_key=True)
    lead_id: str = Field(index=True)
    address_hash: str | None = None
    at: datetime = Field(default_factory=utcnow)
    actor: str | None = None


class CaptureForm(SQLModel, table=True):
    """A declared capture form (``POST /api/capture/{name}``); undeclared names answer 404."""

    name: str = Field(primary_key=True)
    double_opt_in: bool = False
    consent_text_version: str | None = None
    redirect_url: str | None = None
    # Submissions per client address and window; None: the settings' defaults.
    rate_limit: int | None = None
    rate_window_seconds: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Template(SQLModel, table=True):
    """A template saved through the API; overrides the file of the same name."""

    name: str = Field(primary_key=True)
    subject: str
    html: str
    text: str | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class TemplateSnapshot(SQLModel, table=True):
    """A template's source as a flow version pinned it at publish; keyed by its content hash."""

    hash: str = Field(primary_key=True)
    name: str = Field(index=True)
    subject: str
    html: str
    text: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class FlowMigration(SQLModel, table=True):
    """A background move of waiting leads from older versions of a flow to a newer one."""

    id: str = Field(default_factory=new_id, primary_key=True)
    flow_id: str = Field(index=True)
    to_version: int
    request: dict[str, Any] = _json(dict)
    status: str = "running"  # running | done
    planned: int = 0
    moved: int = 0
    failed: int = 0
    skipped: list[dict[str, Any]] = _json(list)
    failures: list[dict[str, Any]] = _json(list)
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


# ---------------------------------------------------------------- scoring and lifecycle


class ScoringModel(SQLModel, table=True):
    version: int | None = Field(default=None, primary_key=True)
    document: dict[str, Any] = _json(dict)
    created_at: datetime = Field(default_factory=utcnow)


class StageChange(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    lead_id: str = Field(index=True)
    from_stage: str | None = None
    to_stage: str
    at: datetime = Field(default_factory=utcnow, index=True)
    cause: str | None = None
    actor: str | None = None


class TimelineEntry(SQLModel, table=True):
    """Everything that happened to a lead, in order: what ``/timeline`` shows."""

    id: int | None = Field(default=None, primary_key=True)
    lead_id: str = Field(index=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    kind: str  # event|email|step|score|stage|handoff|sla|journey|consent
    type: str  # e.g. email.clicked, email.sent, step.entered, score.changed
    data: dict[str, Any] = _json(dict)


# ---------------------------------------------------------------- sales


class Rep(SQLModel, table=True):
    id: str = Field(primary_key=True)
    email: str
    name: str
    timezone: str = "UTC"
    capacity: int = 20
    manager_id: str | None = None
    out_of_office: list[dict[str, Any]] = _json(list)
    working_hours: dict[str, Any] | None = _json()
    slack_webhook: str | None = None
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class Team(SQLModel, table=True):
    id: str = Field(primary_key=True)
    name: str
    members: list[str] = _json(list)
    routing: Any = Field(default="round_robin", sa_column=Column(JSON, nullable=False))
    calendar: dict[str, Any] = _json(dict)
    # Hand-offs the team can take per business day (the simulator compares against it).
    capacity: int | None = None
    rr_cursor: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class Handoff(SQLModel, table=True):
    """One hand-over of a lead to sales, with its SLA clock."""

    id: str = Field(default_factory=new_id, primary_key=True)
    journey_id: str | None = Field(default=None, index=True)
    lead_id: str = Field(index=True)
    flow_id: str | None = None
    step: str | None = None
    team: str | None = Field(default=None, index=True)
    rep_id: str | None = Field(default=None, index=True)
    status: str = Field(default="open", index=True)  # open|accepted|contacted|qualified|rejected|disqualified
    sla: str | None = None
    sla_due_at: datetime | None = None
    sla_met_at: datetime | None = None
    sla_breached_at: datetime | None = None
    assignment_reason: str | None = None
    rejection_reason: str | None = None
    rejection_reason_id: str | None = Field(default=None, index=True)
    rejection_note: str | None = None
    escalations: list[dict[str, Any]] = _json(list)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class HandoffAssignment(SQLModel, table=True):
    """Every rep (or the team pool, ``rep_id`` None) a handoff was given to, and why."""

    id: int | None = Field(default=None, primary_key=True)
    handoff_id: str = Field(index=True)
    lead_id: str = Field(index=True)
    rep_id: str | None = Field(default=None, index=True)
    team: str | None = None
    method: str  # owner|territory|round_robin|escalation|out_of_office|flow|unassigned
    reason: str
    at: datetime = Field(default_factory=utcnow)


# ---------------------------------------------------------------- outcomes and predictive scoring


class RejectionReason(SQLModel, table=True):
    """Why sales sends a lead back, and what that means for the lead and for training.

    ``outcome``: ``negative`` (a negative label for the predictive model), ``recycle`` (back to
    nurture: enrolled in ``recycle_flow`` once ``cooldown`` has passed) or ``exclude`` (the lead
    teaches the model nothing, e.g. bad data or a duplicate).
    """

    id: str = Field(primary_key=True)
    label: str
    outcome: str = "negative"  # negative|recycle|exclude
    recycle_flow: str | None = None
    cooldown: str | None = None  # ISO 8601 duration
    position: int = 0
    active: bool = True


class Outcome(SQLModel, table=True):
    """What finally happened to a lead in sales: an opportunity, won or lost, with an amount."""

    id: int | None = Field(default=None, primary_key=True)
    lead_id: str = Field(index=True)
    outcome: str = Field(index=True)  # opportunity|won|lost
    amount: float | None = None
    currency: str | None = None
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str | None = None
    via: str = "api"  # api|csv|sales
    created_at: datetime = Field(default_factory=utcnow)


class PredictiveModel(SQLModel, table=True):
    """One training run of the predictive model: its metrics, weights and whether it is active."""

    id: int | None = Field(default=None, primary_key=True)
    status: str = "trained"  # trained|refused
    promoted: bool = False
    active: bool = Field(default=False, index=True)
    why: str
    metrics: dict[str, Any] = _json(dict)
    weights: dict[str, Any] = _json(dict)
    labels: dict[str, Any] = _json(dict)
    created_at: datetime = Field(default_factory=utcnow)


# ---------------------------------------------------------------- this installation


class AppSetting(SQLModel, table=True):
    """One named piece of this installation's own state, such as which shipped examples the
    database was given on its first start (``examples``)."""

    key: str = Field(primary_key=True)
    value: dict[str, Any] = _json(dict)
    updated_at: datetime = Field(default_factory=utcnow)
