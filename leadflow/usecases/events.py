"""Events from outside: de-duplicated, scored, enrolling leads, waking waiting journeys.

The pipeline every lead change and event goes through, above the domain packages: it stores
(``leadflow.leads``), rescores (``leadflow.scoring``) and enrols (``leadflow.journeys``).

Nothing accepted is lost: :func:`ingest_events` writes the events and returns a
:class:`~leadflow.dispatch.Dispatch` (journeys to start, signals to send); the caller records
it in the same transaction (:meth:`~leadflow.dispatch.Dispatch.record`, the outbox of
:mod:`leadflow.intents`), and after the commit :func:`~leadflow.dispatch.run_dispatch`
delivers it at once if Temporal answers. Whatever it cannot deliver
(Temporal down) the outbox drainer delivers once Temporal is back, without the client posting
again. Events of one batch reach the journeys an earlier event of the same batch started, in
order (the journey keeps an event it cannot use yet for its next ``wait_for``).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator
from sqlmodel import Session, col, select

from leadflow.db import session_scope
from leadflow.dispatch import Dispatch
from leadflow.errors import NotFound
from leadflow.journeys.actions import StepInput, step_of
from leadflow.journeys.durations import parse_duration
from leadflow.journeys.enrolment import (
    PublishedEntry,
    active_entries,
    enrol_by_rules,
    journey_input,
    running_journeys,
)
from leadflow.leads.attribution import record_touch
from leadflow.leads.records import apply_lead, lead_by_email, record_event
from leadflow.models import EmailMessage, Event, Journey, Lead
from leadflow.scoring.service import (
    active_model,
    derived_events,
    load_scored_events,
    rescore,
    timer_of,
)
from leadflow.temporal import EVENT_SIGNAL

__all__ = [
    "EventIn",
    "accept_events",
    "dispatch_event",
    "dispatch_stored_events",
    "events_in_time",
    "ingest_events",
    "ingest_lead",
    "is_machine_open",
    "journeys_for_trigger",
    "plan_for_lead_change",
    "signal_payload",
]

log = logging.getLogger(__name__)
_TYPE = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)+$")


class EventIn(BaseModel):
    """One event in ``POST /api/events``."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, min_length=1, max_length=200)
    lead_id: str | None = None
    email: EmailStr | None = None
    type: str = Field(description="dotted event type, e.g. form.submitted, email.clicked")
    properties: dict[str, Any] = Field(default_factory=dict)
    occurred_at: datetime | None = None

    @field_validator("type")
    @classmethod
    def _dotted(cls, value: str) -> str:
        if not _TYPE.match(value):
            raise ValueError("an event type is dotted lowercase words such as form.submitted")
        return value

    @model_validator(mode="after")
    def _who(self) -> EventIn:
        if not self.lead_id and not self.email:
            raise ValueError("give the lead_id or the email of the lead the event is about")
        return self


def is_machine_open(event: Event) -> bool:
    """An open no person made (a privacy proxy fetched the pixel, or it loaded at hand-over):
    stored and shown on the timeline, but no engagement: it scores nothing, wakes no
    ``wait_for`` and enrols no lead."""
    return event.type == "email.opened" and bool((event.properties or {}).get("machine_open"))


def journeys_for_trigger(session: Session, event_id: str) -> list[Journey]:
    return list(session.exec(select(Journey).where(Journey.trigger_event_id == event_id)).all())


def signal_payload(session: Session, event: Event) -> dict[str, Any]:
    """What a journey is told of ``event``: its id and type, and for engagement the journey
    and step that sent the mail (for ``from_step``)."""
    payload: dict[str, Any] = {"kind": "event", "event_id": event.id, "type": event.type}
    if event.send_id:
        sent = session.exec(select(EmailMessage.journey_id, EmailMessage.step)
                            .where(EmailMessage.send_id == event.send_id)).first()
        if sent:
            payload["journey_id"], payload["step"] = sent
    return payload


def plan_for_lead_change(session: Session, lead: Lead) -> Dispatch:
    """Signals telling the lead's running journeys that the lead changed (``exit_when``)."""
    return Dispatch(signals=[(j.id, EVENT_SIGNAL, {"kind": "lead_changed"})
                             for j in running_journeys(session, lead.id)])


def dispatch_event(session: Session, lead: Lead, event: Event, *, enrol: bool = True,
                   new_lead: bool = False,
                   entries: list[PublishedEntry] | None = None) -> Dispatch:
    """What an event stored for ``lead`` sets in motion (already-running journeys first).

    ``new_lead``: the lead and this event were created in this transaction: the lead has no
    journey to signal, and only the journeys enrolled now can have this event as trigger.
    ``entries``: :func:`~leadflow.journeys.enrolment.active_entries`, when the caller read them."""
    plan = Dispatch(event_ids=[event.id])
    if is_machine_open(event):
        return plan
    if not new_lead:
        payload = signal_payload(session, event)
        for j in running_journeys(session, lead.id):
            if j.trigger_event_id != event.id:
                plan.signals.append((j.id, EVENT_SIGNAL, payload))
    started = enrol_by_rules(session, lead, event.type, {"properties": event.properties},
                             trigger=event.id, new_lead=new_lead, entries=entries) if enrol else []
    triggered = started if new_lead else journeys_for_trigger(session, event.id)
    plan.starts += [journey_input(j) for j in triggered if j.status == "running"]
    return plan


def ingest_events(session: Session, items: list[EventIn]) -> tuple[list[dict[str, Any]], Dispatch]:
    """Store ``items`` (all or nothing) and plan their effects.

    Returns one result per item (``{"id", "lead_id", "duplicate"}``) and the dispatch to run.

    Raises:
        NotFound: an item names a lead that does not exist (nothing is stored then).
    """
    ids = {i.lead_id for i in items if i.lead_id}
    emails = {str(i.email).lower() for i in items if i.email and not i.lead_id}
    by_id = {lead.id: lead for lead in session.exec(select(Lead).where(col(Lead.id).in_(ids))).all()}
    by_email = {lead.email: lead for lead in session.exec(
        select(Lead).where(col(Lead.email).in_(emails))).all()} if emails else {}
    leads: list[Lead] = []
    for n, item in enumerate(items):
        lead = by_id.get(item.lead_id) if item.lead_id else by_email.get(str(item.email).lower())
        if lead is None or lead.erased_at is not None:
            who = item.lead_id or item.email
            raise NotFound(f"Event {n}: there is no lead {who!r}; create it with POST /api/leads first.")
        leads.append(lead)
    results: list[dict[str, Any]] = []
    to_dispatch: list[Event] = []
    for item, lead in zip(items, leads, strict=True):
        event, created = record_event(session, lead, type_=item.type, properties=item.properties,
                                      occurred_at=item.occurred_at, event_id=item.id,
                                      send_id=item.properties.get("send_id"))
        results.append({"id": event.id, "lead_id": lead.id, "duplicate": not created})
        if created:
            record_touch(lead, event.properties, event.occurred_at)
        if created or not event.dispatched:
            # a retried event whose first dispatch was interrupted is dispatched again
            to_dispatch.append(event)
    return results, dispatch_stored_events(session, to_dispatch)


def accept_events(db_url: str, items: list[EventIn]) -> tuple[list[dict[str, Any]], Dispatch]:
    """``POST /api/events``: :func:`ingest_events` in its own transaction, with what the events
    set in motion recorded in the outbox (delivered after the commit, or once Temporal is back).

    Raises:
        NotFound: an item names a lead that does not exist (nothing is stored then).
    """
    with session_scope(db_url) as session:
        results, plan = ingest_events(session, items)
        plan.record(session)
    return results, plan


def ingest_lead(session: Session, data: Any, *, actor: str = "api") -> tuple[Lead, bool, Dispatch]:
    """Create or update a lead (``POST /api/leads``) and plan what follows.

    A new lead is scored and enrolled in ``lead.created`` flows; an updated one wakes its
    running journeys so their ``exit_when`` goals are checked at once.
    """
    # What a new lead's writes need is read first, so they all go to the database in one
    # flush (a read would flush what is pending before it).
    model = active_model(session)
    found = lead_by_email(session, data.email)
    entries = active_entries(session) if found is None else None
    lead, created = apply_lead(session, found, data, actor=actor)
    # a lead created now has no events yet: nothing to load for its score
    change = rescore(session, lead, model=model, events=[] if created else None)
    event, _ = record_event(session, lead, type_="lead.created" if created else "lead.updated",
                            properties={})
    plan = dispatch_event(session, lead, event, enrol=created, new_lead=created, entries=entries)
    for derived in derived_events(session, lead, change):
        plan.extend(dispatch_event(session, lead, derived))
    if not created:
        plan.extend(plan_for_lead_change(session, lead))
        # Anything an earlier, interrupted request stored but never handed to Temporal (the
        # journeys `lead.created` enrolled, say) is dispatched again now.
        stale = list(session.exec(select(Event).where(
            Event.lead_id == lead.id, col(Event.dispatched).is_(False), Event.id != event.id)
            .limit(200)).all())
        for old in stale:
            plan.extend(dispatch_event(session, lead, old, enrol=False))
    plan.score_timers += timer_of(lead, change)
    return lead, created, plan


def dispatch_stored_events(session: Session, events: list[Event]) -> Dispatch:
    """Plan what events stored by other means (webhook, tracking links) set in motion.

    Does for a batch what :func:`ingest_events` does per event, in a few bulk queries: running
    journeys get the event as a signal (an engagement event names its e-mail's journey and
    step, for ``from_step``), entry rules enrol, and each lead is rescored once, its derived
    events dispatched in turn. The events must belong to existing leads.
    """

    plan = Dispatch(event_ids=[e.id for e in events])
    if not events:
        return plan
    lead_ids = sorted({e.lead_id for e in events})
    send_ids = sorted({e.send_id for e in events if e.send_id})
    leads: dict[str, Lead] = {}
    running: dict[str, list[Journey]] = {}
    sends: dict[str, tuple[str | None, str | None]] = {}
    for start in range(0, max(len(lead_ids), len(send_ids)), 500):
        ids = lead_ids[start:start + 500]
        if ids:
            leads.update((le.id, le) for le in session.exec(
                select(Lead).where(col(Lead.id).in_(ids)).with_for_update()))
            for j in session.exec(select(Journey).where(col(Journey.lead_id).in_(ids),
                                                        Journey.status == "running")):
                running.setdefault(j.lead_id, []).append(j)
        chunk = send_ids[start:start + 500]
        if chunk:
            sends.update((sid, (jid, step)) for sid, jid, step in session.exec(
                select(EmailMessage.send_id, EmailMessage.journey_id, EmailMessage.step)
                .where(col(EmailMessage.send_id).in_(chunk))))
    entry_types = {v.entry.get("event") for v in active_entries(session)}

    def handle(event: Event, lead: Lead) -> None:
        if is_machine_open(event):
            return
        payload: dict[str, Any] = {"kind": "event", "event_id": event.id, "type": event.type}
        journey_id, step = sends.get(event.send_id or "", (None, None))
        if journey_id:
            payload["journey_id"], payload["step"] = journey_id, step
        plan.signals.extend((j.id, EVENT_SIGNAL, payload) for j in running.get(lead.id, [])
                            if j.trigger_event_id != event.id)
        if event.type in entry_types:
            enrol_by_rules(session, lead, event.type, {"properties": event.properties},
                           trigger=event.id)
            started = [j for j in journeys_for_trigger(session, event.id) if j.status == "running"]
            plan.starts += [journey_input(j) for j in started]
            # later events of this batch reach the journeys this one started (after the start)
            known = {j.id for j in running.get(lead.id, [])}
            running.setdefault(lead.id, []).extend(j for j in started if j.id not in known)

    touched: dict[str, Lead] = {}
    for event in events:
        lead = leads.get(event.lead_id)
        if lead is None or lead.erased_at is not None:
            continue
        touched[lead.id] = lead
        handle(event, lead)
    # each lead is rescored once per batch, with the model and the events loaded in bulk
    model = active_model(session)
    scored = load_scored_events(session, list(touched), model)
    for lead in touched.values():
        change = rescore(session, lead, model=model, events=scored.get(lead.id, []))
        for derived in derived_events(session, lead, change):
            plan.event_ids.append(derived.id)
            handle(derived, lead)
        if change is not None and change.changed:
            plan.signals.extend((j.id, EVENT_SIGNAL, {"kind": "lead_changed"})
                                for j in running.get(lead.id, []))
        plan.score_timers += timer_of(lead, change)
    return plan


LATE_EVENTS = 20  # at most this many late events are handed back at a timeout


def events_in_time(db_url: str, inp: StepInput) -> list[dict[str, Any]]:
    """The events the waiting ``wait_for`` step could have taken that Leadflow accepted within
    its window (from ``waiting_until`` minus the step's ``timeout`` up to ``waiting_until``),
    oldest first, as the journey's event signals. The journey asks at its timeout, so an event
    accepted in time whose signal Temporal took late (an outage, an overloaded server) still
    counts; it leaves out those it has already seen. Machine opens never count."""
    step = step_of(db_url, inp)
    if step.get("type") != "wait_for" or inp.waiting_until is None:
        return []
    until = datetime.fromtimestamp(inp.waiting_until, UTC)
    since = until - parse_duration(step["timeout"])
    origin = step.get("from_step")
    with session_scope(db_url) as session:
        stmt = (select(Event).where(Event.lead_id == inp.lead_id, Event.type == step["event"],
                                    col(Event.received_at) >= since,
                                    col(Event.received_at) <= until)
                .order_by(col(Event.received_at), col(Event.id)))
        journey = session.get(Journey, inp.journey_id)
        trigger = journey.trigger_event_id if journey is not None else None
        found: list[dict[str, Any]] = []
        for event in session.exec(stmt):
            if is_machine_open(event) or event.id == trigger:  # (the journey never gets it)
                continue
            payload = signal_payload(session, event)
            if origin is not None and (payload.get("journey_id"), payload.get("step")) != (
                    inp.journey_id, origin):
                continue
            found.append(payload)
            if len(found) >= LATE_EVENTS:
                break
        return found
