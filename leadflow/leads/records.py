"""Leads: create or update by e-mail, the view conditions see, and the public shape."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator
from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from leadflow.auth import Principal
from leadflow.errors import Forbidden, NotFound
from leadflow.models import Event, Handoff, Journey, Lead, TimelineEntry, utcnow

__all__ = [
    "ConsentIn",
    "LeadCreate",
    "add_timeline",
    "apply_lead",
    "check_lead_access",
    "get_lead",
    "lead_by_email",
    "lead_public",
    "lead_view",
    "record_event",
    "upsert_lead",
    "visible_lead",
]

_PROFILE_FIELDS = ("first_name", "last_name", "company", "title", "country", "timezone", "source")


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: Literal["granted", "denied", "withdrawn", "pending"]
    source: str | None = None
    text_version: str | None = None
    at: datetime | None = None


class LeadCreate(BaseModel):
    """Body of ``POST /api/leads``: the lead's e-mail is its natural key."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    first_name: str | None = Field(None, max_length=200)
    last_name: str | None = Field(None, max_length=200)
    company: str | None = Field(None, max_length=300)
    title: str | None = Field(None, max_length=300)
    country: str | None = Field(None, max_length=100)
    timezone: str | None = None
    source: str | None = Field(None, max_length=200)
    utm: dict[str, str] | None = None
    fields: dict[str, Any] | None = None
    tags: list[str] | None = None
    consent: ConsentIn | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not a time zone such as Europe/Berlin") from exc
        return value


def add_timeline(session: Session, lead_id: str, kind: str, type_: str, at: datetime | None = None,
                 **data: Any) -> None:
    """Append one entry to a lead's timeline."""
    session.add(TimelineEntry(lead_id=lead_id, kind=kind, type=type_, at=at or utcnow(), data=data))


# Statements run for every lead written, built once: a statement is immutable, and SQLAlchemy
# keeps its compiled form under the key it computes once per statement object.
_BY_EMAIL = select(Lead).where(Lead.email == bindparam("email"))
_JOURNEYS_OF = (select(Journey).where(Journey.lead_id == bindparam("lead_id"))
                .order_by(col(Journey.started_at)))


def lead_by_email(session: Session, email: str) -> Lead | None:
    """The lead with this e-mail (erased or not), or None."""
    return session.exec(_BY_EMAIL, params={"email": email.lower()}).first()


def upsert_lead(session: Session, data: LeadCreate, *, actor: str = "api") -> tuple[Lead, bool]:
    """Create the lead, or update the one with the same e-mail; returns ``(lead, created)``."""
    return apply_lead(session, lead_by_email(session, data.email), data, actor=actor)


def apply_lead(session: Session, lead: Lead | None, data: LeadCreate, *,
               actor: str = "api") -> tuple[Lead, bool]:
    """Write ``data`` onto ``lead`` (the one with its e-mail, from :func:`lead_by_email`), or
    create the lead when ``lead`` is None; returns ``(lead, created)``.

    Nothing is flushed here: the rows go to the database with the transaction's next read or
    flush (a duplicate e-mail written concurrently fails there)."""
    email = data.email.lower()
    created = lead is None
    now = utcnow()
    if lead is None:
        lead = Lead(email=email, created_at=now)
        session.add(lead)
    for name in _PROFILE_FIELDS:
        value = getattr(data, name)
        if value is not None:
            setattr(lead, name, value)
    if data.fields:
        lead.fields = {**(lead.fields or {}), **data.fields}
    if data.tags:
        lead.tags = sorted({*(lead.tags or []), *data.tags})
    touch = {k: v for k, v in {"source": data.source, **(data.utm or {})}.items() if v}
    if touch:
        touch["at"] = now.isoformat()
        if lead.first_touch is None:
            lead.first_touch = touch
        lead.last_touch = touch
        if lead.source is None:  # a lead that came only with UTM tags is still attributed
            lead.source = touch.get("source") or touch.get("utm_source")
    if data.consent is not None:
        consent = data.consent.model_dump(mode="json", exclude_none=True)
        consent.setdefault("at", now.isoformat())
        lead.consent = consent
    lead.updated_at = now
    add_timeline(session, lead.id, "lead", "lead.created" if created else "lead.updated",
                 actor=actor)
    if data.consent is not None:
        add_timeline(session, lead.id, "consent", f"consent.{data.consent.status}",
                     source=data.consent.source, text_version=data.consent.text_version)
    return lead, created


def get_lead(session: Session, lead_id: str) -> Lead:
    lead = session.get(Lead, lead_id)
    if lead is None or lead.erased_at is not None:
        raise NotFound(f"There is no lead with id {lead_id!r}.")
    return lead


def check_lead_access(session: Session, principal: Principal, lead: Lead) -> None:
    """A sales key sees only the leads it owns or was handed.

    Raises:
        Forbidden: a sales key asks for another rep's lead.
    """
    if principal.role != "sales":
        return
    if lead.owner_rep_id == principal.rep_id:
        return
    handed = session.exec(select(Handoff.id).where(Handoff.lead_id == lead.id,
                                                   Handoff.rep_id == principal.rep_id)).first()
    if handed is None:
        raise Forbidden("This lead is not yours.")


def visible_lead(session: Session, lead_id: str, viewer: Principal) -> Lead:
    """The lead, when ``viewer`` may see it (:class:`NotFound`, :class:`Forbidden` otherwise)."""
    lead = get_lead(session, lead_id)
    check_lead_access(session, viewer, lead)
    return lead


def lead_view(lead: Lead) -> dict[str, Any]:
    """The lead as conditions and templates see it."""
    return {
        "id": lead.id,
        "email": lead.email,
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "company": lead.company,
        "title": lead.title,
        "country": lead.country,
        "timezone": lead.timezone,
        "source": lead.source,
        "fields": dict(lead.fields or {}),
        "utm": {k: v for k, v in (lead.last_touch or {}).items() if k.startswith("utm_")},
        "tags": list(lead.tags or []),
        "score": lead.score,
        "temperature": lead.temperature,
        "likelihood": lead.likelihood,
        "stage": lead.stage,
        "owner": lead.owner_rep_id,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def lead_public(session: Session, lead: Lead) -> dict[str, Any]:
    """``GET /api/leads/{id}``: the lead with score, stage, owner and its journeys."""
    journeys = session.exec(_JOURNEYS_OF, params={"lead_id": lead.id}).all()
    return {
        **lead_view(lead),
        "score_model_version": lead.score_model_version,
        "score_breakdown": lead.score_breakdown or [],
        "consent": lead.consent,
        "first_touch": lead.first_touch,
        "last_touch": lead.last_touch,
        "unsubscribed": lead.unsubscribed,
        "suppressed": lead.suppressed or lead.bounced or lead.unsubscribed,
        "created_at": _iso(lead.created_at),
        "updated_at": _iso(lead.updated_at),
        "flows": [
            {
                "flow_id": j.flow_id,
                "version": j.version,
                "step": j.current_step,
                "status": j.status,
                "journey_id": j.id,
                "workflow_id": j.id,
                "started_at": _iso(j.started_at),
                "ended_at": _iso(j.ended_at),
                "exit_reason": j.exit_reason,
            }
            for j in journeys
        ],
    }


def _aware_utc(value: datetime | None) -> datetime:
    """An event time in UTC; a time without an offset is taken to be UTC."""
    if value is None:
        return utcnow()
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def record_event(session: Session, lead: Lead, *, type_: str, properties: dict[str, Any] | None,
                 occurred_at: datetime | None = None, event_id: str | None = None,
                 send_id: str | None = None) -> tuple[Event, bool]:
    """Store one event (``(event, created)``; an existing id is returned as it is)."""
    if event_id:
        existing = session.get(Event, event_id)
        if existing is not None:
            return existing, False
    event = Event(lead_id=lead.id, type=type_, properties=properties or {},
                  occurred_at=_aware_utc(occurred_at), send_id=send_id,
                  **({"id": event_id} if event_id else {}))
    # not flushed here: the event goes to the database with the transaction's next read or
    # flush (its id and times are set already)
    session.add(event)
    add_timeline(session, lead.id, "event", type_, at=event.occurred_at, event_id=event.id,
                 properties=event.properties)
    return event, True
