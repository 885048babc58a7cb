"""Reps, teams, handoffs and the SLA report (``api/routes/sales.py``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, WithJsonSchema

from leadflow.api.bodies import schema_ref
from leadflow.sales.business_calendar import SlaStatus

__all__ = [
    "Absence",
    "Absences",
    "BreakdownRows",
    "HandoffLead",
    "HandoffPublic",
    "RepPublic",
    "RepUpdated",
    "SlaRepSummary",
    "SlaReport",
    "SlaSummary",
    "SlaTeamSummary",
    "TeamPublic",
]

Number = int | float


class ScoreBreakdownRow(BaseModel):
    """One fit rule or event in a lead's score, with its points then and after decay now."""

    kind: Literal["fit", "behavior"]
    rule: str
    event_type: str | None
    event_id: str | int | None
    occurred_at: str | None = Field(description="date-time of the event")
    points_base: Number
    points_now: Number


class Absence(BaseModel):
    """Days (or times) a rep is away: no new handoffs, open ones move to others."""

    from_: str = Field(alias="from", description="first day away, 2026-12-24 (or a time)")
    to: str = Field(description="last day away")


# Sent as stored: ``from`` is not a name Python can give a field, so no model re-serialises it.
Absences = Annotated[list[dict[str, Any]], WithJsonSchema(
    {"type": "array", "items": schema_ref(Absence)})]
# Stored with the lead when it was scored, and sent as stored; the schema says what a row holds.
BreakdownRows = Annotated[list[dict[str, Any]], WithJsonSchema(
    {"type": "array", "items": schema_ref(ScoreBreakdownRow)})]


class RepPublic(BaseModel):
    """A sales rep."""

    id: str
    email: str
    name: str
    timezone: str = Field(description="IANA zone, e.g. Europe/Berlin")
    capacity: int = Field(description="most open handoffs at once")
    manager_id: str | None = Field(description="the rep escalations go to")
    out_of_office: Absences
    working_hours: dict[str, Any] | None = Field(
        description='{"timezone", "days", "from", "to"}, or null for the team\'s calendar')
    slack_webhook: str | None
    active: bool


class RepUpdated(RepPublic):
    """A rep after ``PUT``, with the open handoffs that move away because the rep is away."""

    reassigning: list[str] = Field(description="ids of the handoffs being reassigned")


#: A team's routing as leadflow.sales.routing.routing_problems accepts it (schema only: the
#: stored value passes through unchanged).
ROUTING_SCHEMA: dict[str, Any] = {
    "title": "Routing",
    "description": '"round_robin", or {"territory": rules}: the first rule whose condition the '
                   "lead meets names the rep or team that gets it",
    "anyOf": [
        {"const": "round_robin", "type": "string"},
        {"type": "object", "required": ["territory"], "additionalProperties": False, "properties": {
            "territory": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["when"], "additionalProperties": False,
                "properties": {
                    "when": {"type": "object", "description": "a condition, as in a flow's branch",
                             "properties": {"field": {"type": "string"}, "op": {"type": "string"},
                                            "value": {}}},
                    "rep": {"type": "string", "description": "a rep id (or team)"},
                    "team": {"type": "string", "description": "a team id (or rep)"}}}}}},
    ],
}

#: A team's business calendar as leadflow.sales.business_calendar.calendar_problems accepts it.
CALENDAR_SCHEMA: dict[str, Any] = {
    "title": "Calendar",
    "description": "business hours and holidays ({} for round the clock)",
    "type": "object", "additionalProperties": False,
    "properties": {
        "timezone": {"type": "string", "description": "IANA zone, e.g. Europe/Berlin"},
        "days": {"type": "array", "items": {"enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                                            "type": "string"}},
        "from": {"type": "string", "description": "HH:MM"},
        "to": {"type": "string", "description": "HH:MM"},
        "holidays": {"type": "array", "items": {"type": "string", "format": "date"}}},
}


class TeamPublic(BaseModel):
    """A sales team: its members, how it routes, its business calendar."""

    id: str
    name: str
    members: list[str] = Field(description="rep ids")
    routing: Annotated[Any, WithJsonSchema(ROUTING_SCHEMA)]
    calendar: Annotated[dict[str, Any], WithJsonSchema(CALENDAR_SCHEMA)]
    capacity: int | None = Field(description="hand-offs the team takes per business day")


class HandoffLead(BaseModel):
    """The lead of a handoff, in short (null once the lead is erased)."""

    id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    company: str | None
    title: str | None
    stage: str | None
    score: Number | None
    temperature: str | None
    score_breakdown: BreakdownRows = Field(description="why the lead scores what it does")


class HandoffPublic(BaseModel):
    """A handoff of a lead to sales, with its SLA."""

    id: str
    lead_id: str
    rep_id: str | None
    team: str | None
    rep_name: str | None
    team_name: str | None
    status: str = Field(description="open, accepted, contacted, qualified, disqualified, "
                        "rejected, ...")
    flow_id: str | None
    flow_name: str | None = Field(default=None, description="the flow's name")
    step: str | None
    sla: str | None = Field(description="ISO 8601 duration of the first-touch SLA")
    sla_due_at: str | None = Field(description="date-time")
    sla_status: SlaStatus = Field(description="in the team's business time")
    sla_met_at: str | None
    sla_breached_at: str | None
    escalations: list[dict[str, Any]]
    assignment_reason: str | None
    assignment_reason_named: str | None = Field(
        default=None, description="the routing reason with rep and team names in place of their ids")
    rejection_reason: str | None
    rejection_reason_id: str | None
    rejection_note: str | None
    created_at: str | None
    updated_at: str | None
    lead: HandoffLead | None


class SlaSummary(BaseModel):
    """SLA figures of a group of handoffs."""

    handoffs: int
    met: int
    breached: int
    median_first_touch_seconds: Number | None
    p90_first_touch_seconds: Number | None
    escalations: int = Field(description="escalation rungs climbed")
    rejection_reasons: dict[str, int] = Field(description="reason -> count, most frequent first")


class SlaRepSummary(SlaSummary):
    """One rep's figures (``(pool)``: handoffs nobody holds)."""

    rep_id: str


class SlaTeamSummary(SlaSummary):
    """One team's figures."""

    team: str


class SlaReport(BaseModel):
    """``GET /api/reports/sla``."""

    reps: list[SlaRepSummary]
    teams: list[SlaTeamSummary]
    total: SlaSummary
