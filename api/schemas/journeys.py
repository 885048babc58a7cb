"""Response shapes of flows, versions, enrolment, stats, the simulator, and changes to running
flows: pause, resume, stop, exits and migrations (``leadflow.journeys``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, WithJsonSchema

from leadflow.api.bodies import schema_ref
from leadflow.api.schemas.common import IsoTime, Open, Problem, Shape
from leadflow.journeys.flowdef import FlowDocument

__all__ = ["Enrolled", "Examples", "FlowDraft", "FlowJsonSchema", "FlowRow", "FlowState",
           "FlowStats", "FlowStopped", "Layout", "LeadExited", "MigrationPreview",
           "MigrationReport", "MigrationStarted", "Published", "SimulationReport", "Validation",
           "VersionDocument", "VersionRow", "WaitingLead"]

FlowDraft = Annotated[dict[str, Any], WithJsonSchema({
    "allOf": [schema_ref(FlowDocument)],
    "description": "the flow document exactly as saved (a draft saved with allow_invalid may "
                   "not be valid yet)"})]
"""A flow document passed through as stored: its schema is the flow format's."""


class FlowRow(Shape):
    """A flow in the list."""

    id: str
    name: str | None
    description: str | None
    latest_version: int | None = Field(description="null until first published")
    draft_changed: bool = Field(description="the draft differs from the latest version")
    updated_at: IsoTime
    running: int = Field(description="leads running the flow now")


class FlowJsonSchema(Shape):
    """The JSON Schema (draft 2020-12) of the flow format."""

    title: str | None = None
    type: str | None = None
    properties: Open | None = None
    required: list[str] | None = None


class Examples(Shape):
    """The shipped examples this database holds (ids)."""

    seeded: bool
    seeded_at: IsoTime | None
    flows: list[str]
    teams: list[str]
    reps: list[str]
    scoring_model: int | None = Field(description="the scoring model version seeded")


class Validation(Shape):
    valid: bool
    problems: list[Problem]


class StepPoint(Shape):
    """Where the editor drew a step (its card's top-left corner, in canvas pixels)."""

    x: float
    y: float


class Layout(Shape):
    """The editor's node positions by step id."""

    # Described as points; passed through as stored (a layout saved before PUT required x and y
    # is still answered, not refused).
    positions: Annotated[dict[str, dict[str, float]], WithJsonSchema({
        "type": "object", "additionalProperties": schema_ref(StepPoint),
        "description": '{"step": {"x", "y"}}'})]


class Published(Shape):
    flow_id: str
    version: int
    note: str | None
    published_at: IsoTime


class PinnedTemplate(Shape):
    name: str
    hash: str = Field(description="content hash of the snapshot")
    current: bool = Field(description="the snapshot equals the template now")


class VersionRow(Shape):
    version: int
    published_at: IsoTime
    note: str | None
    running: int = Field(description="leads still running this version")
    templates: list[PinnedTemplate]


class VersionDocument(Published):
    document: FlowDraft


class Enrolled(Shape):
    journey_id: str
    workflow_id: str
    lead_id: str
    flow_id: str
    version: int
    status: str


class StepFailure(Shape):
    reason: str | None
    journeys: int


class StepStats(Shape):
    waiting: int = Field(description="leads there now")
    passed: int
    entered: int
    emails_sent: int
    emails_skipped: int
    skipped: dict[str, int] = Field(description='why mails were skipped: {"no_consent": 3}')
    opened: int
    clicked: int
    open_rate: float | None
    click_rate: float | None
    exits: int
    conversions: int
    held: dict[str, int] = Field(description="sends held back now, by reason")
    failed: int
    failures: list[StepFailure]


class FlowStats(Shape):
    flow_id: str
    version: int | None = Field(description="the version counted (null: all)")
    journeys: dict[str, int] = Field(description="journeys by status")
    conversions: int
    steps: dict[str, StepStats] = Field(description="by step id")
    transitions: dict[str, dict[str, int]] = Field(description="leads from step to step")
    edges: dict[str, int] = Field(
        description='passages per outcome of a step: {"<step>:<outcome>": n}, the outcome '
                    "next, on_timeout, on_rejected, hot, warm, cold, cases.<i>, else or paths.<i>")


class Waiting(Shape):
    kind: str = Field(description="wait, wait_for, held or working")
    until: IsoTime | None
    event: str | None = Field(None, description="wait_for: the event awaited")
    reason: str | None = Field(None, description="held: send window or frequency cap")


class WaitingLead(Shape):
    lead_id: str
    email: str | None
    name: str | None
    journey_id: str
    version: int
    since: IsoTime
    waiting: Waiting


class StepCount(Shape):
    entered: int
    left: int
    waiting_at_end: int


class PerLead(Shape):
    p50: float
    p95: float
    max: int


class SimEmails(Shape):
    sent: int
    skipped: int
    postponed: int
    per_lead: PerLead
    max_per_lead_per_week: int
    per_week: list[int]
    busiest_week_per_lead: dict[str, int] = Field(description="leads by their busiest week's mails")


class TeamDay(Shape):
    date: str
    count: int


class TeamLoad(Shape):
    mean: float
    max: int
    capacity: int | None
    members: int
    business_days: int
    days_over_capacity: int | None
    days: list[TeamDay]


class SimHandoffs(Shape):
    total: int
    per_team_per_business_day: dict[str, TeamLoad]


class SimMql(Shape):
    count: int
    days_to_mql_p50: float | None


class SimPath(Shape):
    steps: list[str]
    leads: int


class SimulationReport(Shape):
    """What the flow would do over simulated leads and days (nothing is sent)."""

    flow_id: str | None
    version: int | None = None
    leads: int
    days: int
    seed: int
    start: IsoTime
    steps: dict[str, StepCount]
    emails: SimEmails
    exits: dict[str, int] = Field(description="by reason")
    handoffs: SimHandoffs
    mql: SimMql
    paths: list[SimPath] = Field(description="the most common paths")
    elapsed_ms: int


class _FlowControl(Shape):
    flow_id: str
    state: Literal["active", "paused", "stopped"] = Field(description="active, paused or stopped")
    running: int = Field(description="journeys running the flow")


class FlowState(_FlowControl):
    held: int = Field(description="journeys held by the pause")


class FlowStopped(_FlowControl):
    exiting: int = Field(description="journeys told to exit (reason stopped)")


class LeadExited(Shape):
    lead_id: str
    flow_id: str
    journey_id: str
    status: str
    reason: str


class Move(Shape):
    from_version: int
    from_step: str
    to_step: str
    leads: int
    sends_at_once: int


class SampleMove(Shape):
    lead_id: str
    from_version: int
    from_step: str
    to_step: str
    next_action_at: IsoTime


class MigrationPreview(Shape):
    """What moving the waiting leads would do; nothing changes."""

    to_version: int
    moves: list[Move]
    problems: list[Problem]
    sample: list[SampleMove]
    leads: int
    sends_at_once: int
    busy: int = Field(description="leads in the middle of an action: moved once they wait")
    handoff: int = Field(description="leads with sales: not moved")
    held: int = Field(description="leads whose mail is held: not moved")


class MigrationStarted(Shape):
    id: str
    status: str


class SkippedLead(Shape):
    lead_id: str | None = None
    reason: str | None = None


class MigrationReport(Shape):
    id: str
    flow_id: str
    to_version: int
    status: str = Field(description="running or done")
    planned: int
    moved: int
    skipped: list[SkippedLead]
    failed: int
    failures: list[SkippedLead]
    request: Open = Field(description="the migration's request")
    created_at: IsoTime
    finished_at: IsoTime | None
