"""What sales reports back: rejection reasons as data, and outcomes (opportunity, won, lost).

Rejection reasons are a list the workspace keeps (``GET/PUT /api/settings/rejection-reasons``);
each says what a rejection for that reason means:

* ``negative``: the lead was not good; it is a negative label for the predictive model;
* ``recycle``: the lead may be good later; after ``cooldown`` it is enrolled in ``recycle_flow``
  (a durable Temporal timer, :class:`~leadflow.temporal.RecycleInput`), and it teaches the model
  nothing until something else happens;
* ``exclude``: the rejection says nothing about the lead (bad data, duplicate, never worked);
  the lead is left out of training.

Outcomes are what finally happened: ``opportunity``, ``won`` or ``lost``, with an amount and a
currency, recorded by sales, through the API or from a CSV. ``won`` makes the lead a customer and
``opportunity`` an opportunity, where the lifecycle allows; every outcome is on the timeline.

This module may import the models, the lifecycle and the leads' timeline; nothing imports the
API or the worker from here.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlmodel import Session, col, select

from leadflow.db import session_scope
from leadflow.dispatch import Dispatch
from leadflow.errors import Conflict, Invalid, NotFound
from leadflow.journeys.durations import parse_duration
from leadflow.journeys.enrolment import enrol, journey_input
from leadflow.leads.lifecycle import can_transition
from leadflow.leads.records import add_timeline
from leadflow.leads.stages import change_stage
from leadflow.models import Flow, Lead, Outcome, RejectionReason, utcnow
from leadflow.temporal import RecycleInput

__all__ = [
    "DEFAULT_REJECTION_REASONS",
    "OUTCOME_STAGE",
    "OutcomeIn",
    "RejectionReasonIn",
    "import_outcomes_csv",
    "latest_outcomes",
    "list_rejection_reasons",
    "outcome_public",
    "record_outcome",
    "recycle_due",
    "replace_rejection_reasons",
    "resolve_rejection_reason",
]

ReasonOutcome = Literal["negative", "recycle", "exclude"]
OutcomeKind = Literal["opportunity", "won", "lost"]

#: The reasons a new workspace starts with.
DEFAULT_REJECTION_REASONS: list[dict[str, Any]] = [
    {"id": "not-a-fit", "label": "Not a fit", "outcome": "negative"},
    {"id": "bad-timing", "label": "Bad timing", "outcome": "recycle",
     "recycle_flow": "reengage-cold", "cooldown": "P90D"},
    {"id": "no-budget", "label": "No budget", "outcome": "recycle",
     "recycle_flow": "reengage-cold", "cooldown": "P180D"},
    {"id": "wrong-contact", "label": "Wrong contact", "outcome": "exclude"},
    {"id": "duplicate", "label": "Duplicate", "outcome": "exclude"},
    {"id": "bad-data", "label": "Bad data", "outcome": "exclude"},
    {"id": "not-worked", "label": "Not worked", "outcome": "exclude"},
]

#: The stage an outcome moves the lead to (where the lifecycle allows it).
OUTCOME_STAGE: dict[str, str | None] = {"opportunity": "opportunity", "won": "customer",
                                         "lost": None}

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class RejectionReasonIn(BaseModel):
    """One rejection reason as the settings API takes it."""

    id: str = Field(description="slug, e.g. not-a-fit")
    label: str = Field(min_length=1, max_length=80)
    outcome: ReasonOutcome = "negative"
    recycle_flow: str | None = Field(None, description="flow to enrol the lead in (recycle)")
    cooldown: str | None = Field(None, description="ISO 8601 duration before recycling, e.g. P90D")

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError("an id is a slug: lower-case letters, digits and dashes")
        return value

    @field_validator("cooldown")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)  # ValueError with a sentence
        return value


class OutcomeIn(BaseModel):
    """``POST /api/leads/{id}/outcome``."""

    outcome: OutcomeKind
    amount: float | None = Field(None, ge=0, le=1e12, allow_inf_nan=False)
    currency: str | None = Field(None, description="ISO 4217 code, e.g. EUR")
    at: datetime | None = Field(None, description="when it happened (default now)")

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().upper()
        if not _CURRENCY.match(value):
            raise ValueError("a currency is a three-letter ISO 4217 code such as EUR or USD")
        return value


def _reason_public(row: RejectionReason) -> dict[str, Any]:
    return {"id": row.id, "label": row.label, "outcome": row.outcome,
            "recycle_flow": row.recycle_flow, "cooldown": row.cooldown}


def _rows(session: Session) -> list[RejectionReason]:
    rows = list(session.exec(select(RejectionReason).where(col(RejectionReason.active))
                             .order_by(col(RejectionReason.position))).all())
    if rows:
        return rows
    if session.exec(select(RejectionReason.id).limit(1)).first() is not None:
        return []  # every reason was retired on purpose
    return [RejectionReason(position=i, **doc) for i, doc in enumerate(DEFAULT_REJECTION_REASONS)]


def list_rejection_reasons(session: Session) -> list[dict[str, Any]]:
    """The workspace's rejection reasons, in the order the inbox offers them."""
    return [_reason_public(row) for row in _rows(session)]


def _problems_of(exc: ValidationError, prefix: str) -> list[dict[str, str]]:
    return [{"path": ".".join([prefix, *(str(p) for p in err["loc"])]).strip("."),
             "message": str(err["msg"]).removeprefix("Value error, ")} for err in exc.errors()]


def replace_rejection_reasons(session: Session, docs: Any) -> list[dict[str, Any]]:
    """Replace the list; reasons left out are retired (old rejections keep their id).

    Raises:
        Invalid: not a list of reasons, duplicate ids, no reasons at all, or a recycle reason
            naming a flow that does not exist.
    """
    if not isinstance(docs, list):
        raise Invalid("Send the reasons as a JSON list.",
                      [{"path": "", "message": "The body must be a list of reasons."}])
    reasons: list[RejectionReasonIn] = []
    problems: list[dict[str, str]] = []
    for i, doc in enumerate(docs):
        try:
            reasons.append(RejectionReasonIn.model_validate(doc))
        except ValidationError as exc:
            problems += _problems_of(exc, str(i))
    seen: set[Any] = set()
    for i, doc in enumerate(docs):
        reason_id = doc.get("id") if isinstance(doc, dict) else None
        if reason_id is not None and reason_id in seen:
            problems.append({"path": f"{i}.id", "message": f"The id {reason_id!r} is used twice."})
        seen.add(reason_id)
    for i, reason in enumerate(reasons):
        if reason.recycle_flow and session.get(Flow, reason.recycle_flow) is None:
            problems.append({"path": f"{i}.recycle_flow",
                             "message": f"There is no flow {reason.recycle_flow!r}."})
        if reason.outcome != "recycle" and (reason.recycle_flow or reason.cooldown):
            problems.append({"path": f"{i}.outcome", "message":
                             "Only a recycle reason has a recycle_flow and a cooldown."})
    if not docs and not problems:
        problems.append({"path": "", "message": "Keep at least one reason: a rejection needs one."})
    if problems:
        raise Invalid("The rejection reasons have problems.", problems)
    existing = {row.id: row for row in session.exec(select(RejectionReason)).all()}
    for i, reason in enumerate(reasons):
        row = existing.pop(reason.id, None) or RejectionReason(id=reason.id, label=reason.label)
        row.label, row.outcome, row.position, row.active = reason.label, reason.outcome, i, True
        row.recycle_flow, row.cooldown = reason.recycle_flow, reason.cooldown
        session.add(row)
    for row in existing.values():
        row.active = False
        session.add(row)
    session.flush()
    return list_rejection_reasons(session)


@dataclass(frozen=True)
class ResolvedReason:
    """A rejection reason as a reject uses it."""

    id: str
    label: str
    outcome: str
    recycle_flow: str | None
    cooldown_seconds: float | None


def resolve_rejection_reason(session: Session, value: Any) -> ResolvedReason:
    """The reason ``value`` names: its id, or (for older integrations) its label.

    Raises:
        Invalid: no reason given, or none of the workspace's reasons matches; the message lists
            the ids to use.
    """
    rows = _rows(session)
    text = value.strip() if isinstance(value, str) else ""
    folded = text.casefold()
    row = next((r for r in rows if r.id == text), None) or next(
        (r for r in rows if r.label.casefold() == folded), None)
    if row is None:
        ids = ", ".join(r.id for r in rows)
        message = ("Say why the lead goes back to marketing: choose one of " + ids + "."
                   if not text else f"{text!r} is not a rejection reason; choose one of {ids}.")
        raise Invalid(message, [{"path": "reason", "message": message}])
    cooldown = parse_duration(row.cooldown).total_seconds() if row.cooldown else None
    return ResolvedReason(row.id, row.label, row.outcome, row.recycle_flow, cooldown)


def _aware(moment: datetime | None) -> datetime:
    if moment is None:
        return utcnow()
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def outcome_public(row: Outcome) -> dict[str, Any]:
    return {"id": row.id, "lead_id": row.lead_id, "outcome": row.outcome, "amount": row.amount,
            "currency": row.currency, "at": _aware(row.at).isoformat(), "via": row.via,
            "actor": row.actor}


def record_outcome(session: Session, lead: Lead, data: OutcomeIn, *, actor: str,
                   via: str = "api") -> tuple[Outcome, str | None]:
    """Store an outcome of ``lead``, move its stage where the lifecycle allows, note it on the
    timeline. Returns the outcome and the stage the lead had before, when it moved (so the
    caller can tell the lead's journeys)."""
    at = _aware(data.at)
    row = Outcome(lead_id=lead.id, outcome=data.outcome, amount=data.amount,
                  currency=data.currency, at=at, actor=actor, via=via)
    session.add(row)
    add_timeline(session, lead.id, "outcome", f"outcome.{data.outcome}", at=at,
                 amount=data.amount, currency=data.currency, actor=actor, via=via)
    old_stage = lead.stage
    to_stage = OUTCOME_STAGE[data.outcome]
    moved = False
    if to_stage and lead.stage != to_stage and can_transition(lead.stage, to_stage):
        moved = change_stage(session, lead, to_stage, cause=f"outcome {data.outcome}",
                             actor=actor)
    session.flush()
    return row, (old_stage if moved else None)


def lead_outcomes(session: Session, lead_id: str) -> list[dict[str, Any]]:
    """The outcomes of a lead, oldest first."""
    rows = session.exec(select(Outcome).where(Outcome.lead_id == lead_id)
                        .order_by(col(Outcome.at), col(Outcome.id))).all()
    return [outcome_public(r) for r in rows]


_CSV_MAX_ROWS = 100_000


def import_outcomes_csv(session: Session, text: str, *, actor: str
                        ) -> tuple[dict[str, Any], list[tuple[Lead, str]]]:
    """Outcomes from a CSV with a header: ``email`` or ``lead_id``, ``outcome``, and optional
    ``amount``, ``currency``, ``at``. Good rows are stored, bad rows reported with reasons.

    Returns the report ``{"recorded", "rejected_count", "rejected": [{"row", "errors"}]}`` and
    the leads whose stage moved (with their old stage), for the caller to tell their journeys.
    """
    reader = csv.DictReader(io.StringIO(text))
    header = {h.strip().lower() for h in (reader.fieldnames or [])}
    if "outcome" not in header or not header & {"email", "lead_id"}:
        message = "The CSV needs a header with outcome and email or lead_id."
        raise Invalid(message, [{"path": "header", "message": message}])
    recorded, rejected, moved = 0, [], []
    for number, raw in enumerate(reader, start=2):
        if number - 1 > _CSV_MAX_ROWS:
            rejected.append({"row": number, "errors": [f"Only {_CSV_MAX_ROWS} rows at a time."]})
            break
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()
               if isinstance(v, str)}
        lead = _find_lead(session, row)
        errors = [] if lead else ["No lead with this email or lead_id."]
        doc = {k: row[k] for k in ("outcome", "amount", "currency", "at") if row.get(k)}
        try:
            data = OutcomeIn.model_validate(doc)
        except ValidationError as exc:
            errors += [f"{p['path']}: {p['message']}" for p in _problems_of(exc, "")]
            data = None
        if errors or lead is None or data is None:
            rejected.append({"row": number, "errors": errors})
            continue
        _, old = record_outcome(session, lead, data, actor=actor, via="csv")
        recorded += 1
        if old is not None:
            moved.append((lead, old))
    return {"recorded": recorded, "rejected_count": len(rejected), "rejected": rejected}, moved


def _find_lead(session: Session, row: dict[str, str]) -> Lead | None:
    lead = None
    if row.get("lead_id"):
        lead = session.get(Lead, row["lead_id"])
    elif row.get("email"):
        lead = session.exec(select(Lead).where(Lead.email == row["email"].lower())).first()
    return lead if lead is not None and lead.erased_at is None else None


def latest_outcomes(session: Session, lead_ids: Iterable[str] | None = None
                    ) -> dict[str, Outcome]:
    """The latest outcome of each lead (of ``lead_ids`` only, when given)."""
    stmt = select(Outcome).order_by(col(Outcome.at), col(Outcome.id))
    if lead_ids is not None:
        stmt = stmt.where(col(Outcome.lead_id).in_(list(lead_ids)))
    return {row.lead_id: row for row in session.exec(stmt).all()}



def recycle_due(db_url: str, inp: RecycleInput) -> tuple[dict[str, Any], Dispatch]:
    """The end of a recycle cooldown: enrol the lead in its recycle flow when it is still
    recycled, still here and not already in that flow. Returns what happened and the journey
    start to dispatch."""
    with session_scope(db_url) as session:
        lead = session.get(Lead, inp.lead_id)
        if lead is None or lead.erased_at is not None:
            return {"enrolled": False, "why": "the lead was erased"}, Dispatch()
        if lead.stage != "recycled":
            return {"enrolled": False, "why": f"the lead is {lead.stage} now"}, Dispatch()
        try:
            journey = enrol(session, lead_id=lead.id, flow_id=inp.flow_id)
        except (Conflict, NotFound) as exc:
            add_timeline(session, lead.id, "journey", "recycle.skipped", flow_id=inp.flow_id,
                         why=str(exc))
            return {"enrolled": False, "why": str(exc)}, Dispatch()
        add_timeline(session, lead.id, "journey", "recycle.enrolled", flow_id=inp.flow_id,
                     journey_id=journey.id, handoff_id=inp.handoff_id)
        return ({"enrolled": True, "journey_id": journey.id},
                Dispatch(starts=[journey_input(journey)]))
