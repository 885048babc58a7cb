"""What journey steps do to the world: the bodies of the journey activities.

An update step rescores the lead and sets the events pipeline going, so its body lives above
scoring, in :mod:`leadflow.usecases.update_step`.

Each function takes the database URL and one small input (ids only), opens its own transaction
and is safe to run again after a crash or retry: progress rows are keyed by (journey, step,
visit), e-mails by their send id.
"""

# No ``from __future__ import annotations`` here: the Temporal data converter reads the hints
# of StepInput each time it decodes one, and hints kept as strings are compiled again on
# every read (about 0.4 ms a decode; a journey decodes several).

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, or_
from sqlmodel import Session, col, select

from leadflow.db import session_scope
from leadflow.journeys.conditions import evaluate
from leadflow.journeys.edges import branch_outcome
from leadflow.journeys.flows import load_version_document, version_templates
from leadflow.leads.records import add_timeline, lead_view
from leadflow.models import EmailMessage, Event, Flow, Journey, JourneyStep, Lead
from leadflow.rendering import build_context, pinned_source, render_email

__all__ = [
    "StepInput",
    "StepRows",
    "check_exit",
    "decide",
    "finish_journey",
    "journey_failed",
    "journey_retried",
    "match_event",
    "record_trail",
    "send_email",
    "step_of",
]

log = logging.getLogger(__name__)

# A paused flow's held send looks again this often; resuming wakes it at once.
PAUSE_RECHECK_SECONDS = 3600
_HELD = {"send window": "send_window", "frequency cap": "frequency_cap"}
# Read by every e-mail step: built once (see leadflow.leads.records).
_BY_SEND_ID = select(EmailMessage).where(EmailMessage.send_id == bindparam("send_id"))
_FLOW_STATE = select(Flow.state).where(Flow.id == bindparam("flow_id"))


@dataclass
class StepInput:
    """The one input of every journey activity: ids and positions, no personal data."""

    journey_id: str
    lead_id: str
    flow_id: str
    version: int
    step: str | None = None
    visit: int = 0
    send_id: str | None = None
    event_id: str | None = None
    trail: list[list[Any]] = field(default_factory=list)
    status: str | None = None
    reason: str | None = None
    waiting_until: float | None = None
    # An e-mail step the journey ends after (patch journey-finish-with-last-send): the end's
    # status, reason and trail, recorded in the send's transaction unless it is postponed.
    finish: dict[str, Any] | None = None
    # The journey's clock when it asked (epoch seconds; code generation 1): a local activity's
    # own scheduled time is the worker's clock, which the time-skipping test server outruns.
    at: float | None = None


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class StepRows:
    """The step rows of one journey that this transaction read: the open ones (one, normally)
    and which step visits are recorded. One query answers every visit a step records, its
    journey's end included (an e-mail step that ends the journey)."""

    def __init__(self, session: Session, journey_id: str, visits: list[list[Any]]) -> None:
        keys = {(step_id, visit) for step_id, visit, _ in visits}
        rows = session.exec(select(JourneyStep).where(
            JourneyStep.journey_id == journey_id,
            or_(col(JourneyStep.left_at).is_(None),
                *(and_(JourneyStep.step_id == step_id, JourneyStep.visit == visit)
                  for step_id, visit in sorted(keys))))).all()
        self.open = [r for r in rows if r.left_at is None]
        self.recorded = {(r.step_id, r.visit) for r in rows}


def record_trail(session: Session, inp: StepInput,
                 rows: StepRows | None = None) -> Journey | None:
    """Record the steps the journey entered (idempotent per step visit).

    ``rows``: the journey's step rows as this transaction read them, when a caller records
    more than one trail in it (read once here otherwise)."""
    journey = session.get(Journey, inp.journey_id)
    if journey is None:
        return None
    if inp.trail:
        rows = rows or StepRows(session, inp.journey_id, inp.trail)
    for step_id, visit, ts in inp.trail:
        assert rows is not None
        if (step_id, visit) in rows.recorded:
            continue
        at = _at(ts)
        for open_step in rows.open:
            if open_step.left_at is None:
                open_step.left_at = at
                session.add(open_step)
        entered = JourneyStep(journey_id=inp.journey_id, flow_id=inp.flow_id,
                              version=inp.version, step_id=step_id, visit=visit, entered_at=at)
        session.add(entered)
        rows.open, rows.recorded = [entered], rows.recorded | {(step_id, visit)}
        add_timeline(session, inp.lead_id, "step", "step.entered", at=at, flow_id=inp.flow_id,
                     version=inp.version, step=step_id, visit=visit)
        journey.current_step, journey.held_reason = step_id, None
    if inp.trail or inp.waiting_until is not None:
        journey.waiting_until = _at(inp.waiting_until) if inp.waiting_until else None
        session.add(journey)
    return journey


def step_of(db_url: str, inp: StepInput) -> dict[str, Any]:
    """The step ``inp`` is at, from the journey's pinned flow version."""
    return load_version_document(db_url, inp.flow_id, inp.version)["steps"][inp.step]


def send_email(db_url: str, inp: StepInput) -> dict[str, Any]:
    """Render and send the step's e-mail exactly once for this visit (keyed by ``send_id``).

    Returns ``{"status": "sent" | "skipped" | "failed"}``, or ``{"status": "postponed",
    "retry_at": <epoch seconds>}`` when the flow's send window or the lead's frequency cap
    holds it back: the journey sleeps until then and calls again with the same send id.
    """
    from leadflow.leads.consent import mail_block_reason
    from leadflow.mail.delivery import FINAL_STATUSES, finish_delivery, settle_or_claim
    from leadflow.mail.policy import current_time, next_send_time
    from leadflow.mail.tracking import unsubscribe_url
    from leadflow.rendering import render_string
    from leadflow.workspace import workspace

    assert inp.send_id, "an email step needs its send id"
    now = current_time(inp.at)
    where = {"flow_id": inp.flow_id, "step": inp.step, "send_id": inp.send_id}
    with session_scope(db_url) as session:
        # the step rows of this step's trail and of the end it may record, read once
        visits = inp.trail + ((inp.finish or {}).get("trail") or [])
        rows = StepRows(session, inp.journey_id, visits) if visits else None
        journey = record_trail(session, inp, rows)
        if journey is not None and journey.status == "exited":
            # the lead left (exit_journey) before the workflow heard of it: nothing goes out
            return _ended(session, inp, {"status": "skipped", "reason": "exited"}, rows)
        # What follows reads rows the trail's writes do not touch: they are flushed once, with
        # the send row, at the commit.
        session.autoflush = False
        message = session.exec(_BY_SEND_ID, params={"send_id": inp.send_id}).first()
        if message is not None and message.status in FINAL_STATUSES:
            return _ended(session, inp, {"status": message.status}, rows)
        lead = session.get(Lead, inp.lead_id)
        doc = load_version_document(db_url, inp.flow_id, inp.version)
        # Checked again on every retry: a lead may unsubscribe while its mail is postponed.
        reason = mail_block_reason(session, lead)
        cleared = reason is None
        if reason is not None:
            if message is None:
                session.add(EmailMessage(send_id=inp.send_id, lead_id=inp.lead_id,
                                         journey_id=inp.journey_id, flow_id=inp.flow_id,
                                         version=inp.version, step=inp.step,
                                         template=doc["steps"][inp.step]["template"],
                                         status="skipped", reason=reason))
            elif message.status == "pending":
                message.status, message.reason = "skipped", reason
                session.add(message)
            else:  # being handed over: settle_or_claim() settles it
                reason = None
            if reason is not None:
                add_timeline(session, inp.lead_id, "email", "email.skipped", reason=reason, **where)
                return _ended(session, inp, {"status": "skipped", "reason": reason}, rows)
        assert lead is not None
        journey = session.get(Journey, inp.journey_id)
        ws = workspace(session)
        if message is None or message.status == "pending":
            later = None
            if session.exec(_FLOW_STATE, params={"flow_id": inp.flow_id}).first() == "paused":
                later = (now + timedelta(seconds=PAUSE_RECHECK_SECONDS), "paused")
            later = later or next_send_time(
                session, lead, doc.get("send_window") or ws["send_window"], inp.send_id, now)
            if later is not None:
                retry_at, why = later
                _hold(session, journey, _HELD.get(why, why))
                add_timeline(session, inp.lead_id, "email", "email.postponed", reason=why,
                             retry_at=retry_at.isoformat(), **where)
                return {"status": "postponed", "retry_at": retry_at.timestamp(), "reason": why}
            _hold(session, journey, None)
        if message is None:
            step = doc["steps"][inp.step]
            ctx = build_context(lead_view(lead), flow={"id": doc["id"], "name": doc.get("name")},
                                unsubscribe_url=unsubscribe_url(lead.id),
                                postal_address=ws["postal_address"])
            # the snapshot the version pinned at publish; versions from before pinning: as is
            pin = version_templates(db_url, inp.flow_id, inp.version).get(step["template"])
            rendered = render_email(session, step["template"], ctx,
                                    source=pinned_source(session, pin) if pin else None)
            subject = render_string(step["subject"], ctx).strip() if step.get("subject") \
                else rendered.subject
            message = EmailMessage(send_id=inp.send_id, lead_id=inp.lead_id,
                                   journey_id=inp.journey_id, flow_id=inp.flow_id,
                                   version=inp.version, step=inp.step, template=step["template"],
                                   to=lead.email, subject=subject, html=rendered.html,
                                   text=rendered.text, status="pending")
            session.add(message)  # inserted with its outcome: settle_or_claim() sets it first
        # The send row, the progress and the timeline entry commit together; a provider that
        # must be called goes after this commit, claimed ``sending`` in it (exactly once).
        step_out = settle_or_claim(session, message, now=now, timeline=True, cleared=cleared)
        finished = inp.finish is not None and isinstance(step_out, str)
        if finished:
            _finish_in(session, inp, rows)
    status = finish_delivery(step_out, db_url=db_url)
    if inp.finish is not None and not finished:
        with session_scope(db_url) as session:
            _finish_in(session, inp)
    done: dict[str, Any] = {"finished": True} if inp.finish is not None else {}
    if status == "sent":
        return {"status": status, **done}
    with session_scope(db_url) as session:
        row = session.exec(select(EmailMessage).where(EmailMessage.send_id == inp.send_id)).first()
    # A code, never the provider's text: refusals quote the address, and this result goes into
    # workflow history. The row's ``reason`` keeps the whole answer for the operator.
    if status == "skipped":
        code = row.reason if row is not None and row.reason else "blocked"
    else:
        code = "no_recipient" if row is not None and row.reason == "no recipient address" \
            else "provider_refused"
    return {"status": status, "reason": code, **done}


def _ended(session: Session, inp: StepInput, result: dict[str, Any],
           rows: StepRows | None = None) -> dict[str, Any]:
    """``result``, with the journey's end recorded in ``session`` when this step ends it."""
    if inp.finish is not None:
        _finish_in(session, inp, rows)
        result["finished"] = True
    return result


def _finish_in(session: Session, inp: StepInput, rows: StepRows | None = None) -> None:
    """The journey's end that follows this e-mail (``inp.finish``), in ``session``: as
    :func:`finish_journey` records it, so the workflow needs no activity of its own for it.
    ``rows``: the journey's step rows as this transaction read and wrote them."""
    from leadflow.journeys.enrolment import close_journey

    end = inp.finish or {}
    trail = end.get("trail") or []
    rows = rows or (StepRows(session, inp.journey_id, trail) if trail else None)
    journey = record_trail(session, StepInput(
        journey_id=inp.journey_id, lead_id=inp.lead_id, flow_id=inp.flow_id,
        version=inp.version, trail=trail), rows)
    if journey is not None and journey.status == "running":
        close_journey(session, journey, end.get("status") or "completed", end.get("reason"),
                      open_steps=rows.open if rows is not None else None)


def _hold(session: Session, journey: Journey | None, reason: str | None) -> None:
    """Record why the journey's next send waits (``None``: it does not), for the flow stats."""
    if journey is not None and journey.held_reason != reason:
        journey.held_reason = reason
        session.add(journey)


def decide(db_url: str, inp: StepInput) -> dict[str, Any]:
    """The target of a branch step, evaluated on the lead's state at this moment."""
    step = step_of(db_url, inp)
    with session_scope(db_url) as session:
        record_trail(session, inp)
        lead = session.get(Lead, inp.lead_id)
        view = lead_view(lead) if lead else {}
        matched: int | None = None
        if step.get("on") == "temperature":
            target = step[view.get("temperature") or "cold"]
            why = f"temperature {view.get('temperature')}"
        else:
            target, why = step["else"], "else"
            for i, case in enumerate(step.get("cases") or []):
                if evaluate(case["when"], view):
                    target, why, matched = case["next"], f"case {i + 1}", i
                    break
        # The outcome on this visit: the live map tells apart outcomes that share a target.
        visit = session.exec(select(JourneyStep).where(
            JourneyStep.journey_id == inp.journey_id, JourneyStep.step_id == inp.step,
            JourneyStep.visit == inp.visit)).first()
        if visit is not None:
            visit.outcome = branch_outcome(step, view.get("temperature"), matched)
            session.add(visit)
        add_timeline(session, inp.lead_id, "step", "branch.decided", flow_id=inp.flow_id,
                     step=inp.step, next=target, because=why)
    return {"next": target}


def match_event(db_url: str, inp: StepInput) -> bool:
    """Whether the event satisfies the waiting step's ``where``."""
    step = step_of(db_url, inp)
    with session_scope(db_url) as session:
        event = session.get(Event, inp.event_id)
        lead = session.get(Lead, inp.lead_id)
        if event is None or lead is None:
            return False
        return evaluate(step["where"], lead_view(lead), {"properties": event.properties or {}})


def check_exit(db_url: str, inp: StepInput) -> bool:
    """Whether the flow's ``exit_when`` goal holds for the lead now."""
    doc = load_version_document(db_url, inp.flow_id, inp.version)
    with session_scope(db_url) as session:
        record_trail(session, inp)
        lead = session.get(Lead, inp.lead_id)
        if lead is None:
            return False
        return evaluate(doc["exit_when"], lead_view(lead))


def finish_journey(db_url: str, inp: StepInput) -> None:
    """Mark the journey ended (completed, exited or failed) and close its open step.

    A journey the API already ended (an exit recorded by ``exit_journey``) is left as it is;
    a failed one may still be ended as exited (a manual exit of a failed journey).
    """
    from leadflow.journeys.enrolment import close_journey

    with session_scope(db_url) as session:
        journey = record_trail(session, inp)
        if journey is None or not (journey.status == "running" or (
                journey.status == "failed" and inp.status == "exited")):
            return
        close_journey(session, journey, inp.status or "completed", inp.reason)


def journey_failed(db_url: str, inp: StepInput) -> None:
    """The journey failed at ``inp.step`` with ``inp.reason``; it waits there for a retry."""
    from leadflow.journeys.enrolment import close_journey

    with session_scope(db_url) as session:
        journey = record_trail(session, inp)
        if journey is None or journey.status != "running":
            return
        journey.current_step = inp.step or journey.current_step
        close_journey(session, journey, "failed", inp.reason)


def journey_retried(db_url: str, inp: StepInput) -> None:
    """A failed journey runs its failed step again."""
    with session_scope(db_url) as session:
        journey = session.get(Journey, inp.journey_id)
        if journey is None or journey.status != "failed":
            return
        journey.status, journey.exit_reason, journey.ended_at = "running", None, None
        session.add(journey)
        add_timeline(session, inp.lead_id, "journey", "journey.retried", flow_id=inp.flow_id,
                     version=inp.version, step=inp.step)
