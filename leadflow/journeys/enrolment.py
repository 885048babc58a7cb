"""Enrolment (entry rules, re-entry, manual), the end of a journey (closing it, exits, its open
hand-off withdrawn) and what journeys look like from outside (stats)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from leadflow.errors import Conflict
from leadflow.journeys.conditions import evaluate
from leadflow.journeys.durations import parse_duration
from leadflow.journeys.edges import edge_counts, moves
from leadflow.journeys.flows import get_flow, get_version, latest_version
from leadflow.leads.records import add_timeline, get_lead, lead_view
from leadflow.models import (
    EmailMessage,
    Event,
    Flow,
    FlowVersion,
    Handoff,
    Journey,
    JourneyStep,
    Lead,
    Rep,
    TimelineEntry,
    utcnow,
)
from leadflow.temporal import JOURNEY_CODE, JourneyInput, journey_id

HELD_REASONS = ("paused", "send_window", "frequency_cap", "consent")
#: Statuses a handoff is closed from as ``withdrawn`` when its journey ends.
WITHDRAWABLE = ("open", "accepted", "contacted")

__all__ = [
    "HELD_REASONS",
    "WITHDRAWABLE",
    "PublishedEntry",
    "active_entries",
    "close_journey",
    "enrol",
    "enrol_by_rules",
    "exit_journey",
    "exit_journeys",
    "flow_stats",
    "journey_input",
    "leads_at_step",
    "retry_journey",
    "running_journeys",
    "withdraw_open_handoffs",
]


def close_journey(session: Session, journey: Journey, status: str, reason: str | None,
                  now: Any = None, open_steps: list[JourneyStep] | None = None) -> None:
    """Record the journey ended (``completed``, ``exited`` or ``failed``) with ``reason``:
    its open step closed and a ``journey.<status>`` timeline entry.

    ``open_steps``: the journey's open step rows, when the caller has them in this transaction
    (:class:`leadflow.journeys.actions.StepRows`); read here otherwise."""
    from leadflow import metrics

    now = now or utcnow()
    journey.status, journey.exit_reason, journey.ended_at = status, reason, now
    journey.converted = reason == "goal"
    journey.waiting_until = None
    if open_steps is None:
        open_steps = list(session.exec(select(JourneyStep).where(
            JourneyStep.journey_id == journey.id, col(JourneyStep.left_at).is_(None))).all())
    for open_step in open_steps:
        if open_step.left_at is not None:
            continue
        open_step.left_at, open_step.outcome = now, status
        session.add(open_step)
    session.add(journey)
    add_timeline(session, journey.lead_id, "journey", f"journey.{status}",
                 flow_id=journey.flow_id, version=journey.version, step=journey.current_step,
                 reason=reason)
    metrics.record_journey_ended(journey.flow_id, status)


def withdraw_open_handoffs(session: Session, journey_id: str, reason: str,
                           at: datetime | None = None) -> list[Handoff]:
    """Close every handoff of ``journey_id`` still in the sales loop as ``withdrawn``.

    The rep stops seeing the lead as theirs at once; the handoff workflow (cancelled by its
    journey) tells them. Returns the handoffs closed now.
    """
    at = at or datetime.now().astimezone()
    closed = []
    for h in session.exec(select(Handoff).where(Handoff.journey_id == journey_id,
                                                col(Handoff.status).in_(WITHDRAWABLE))).all():
        h.status, h.updated_at = "withdrawn", at
        session.add(h)
        add_timeline(session, h.lead_id, "handoff", "handoff.withdrawn", at=at, handoff_id=h.id,
                     rep_id=h.rep_id, reason=reason)
        closed.append(h)
    return closed


def exit_journeys(session: Session, journeys: list[Journey], reason: str) -> Any:
    """End ``journeys`` from outside (``reason`` in :data:`leadflow.temporal.EXIT_REASONS`).

    In the caller's transaction: each journey is recorded ``exited`` (``exit_when`` as
    ``goal``, a conversion), its open handoff is withdrawn, and the exit signal is written to
    the outbox. The workflow, whatever it is doing (waiting, sending, in a handoff), then
    cancels its action, and a handoff child tells the rep. Returns the recorded
    :class:`leadflow.dispatch.Dispatch`; run it with ``run_dispatch`` after the commit.
    """
    from leadflow.dispatch import Dispatch
    from leadflow.temporal import EXIT_REASONS, EXIT_SIGNAL

    if reason not in EXIT_REASONS:
        raise ValueError(f"unknown exit reason {reason!r}")
    recorded = "goal" if reason == "exit_when" else reason
    plan = Dispatch()
    now = utcnow()
    for j in journeys:
        if j.status not in ("running", "failed"):
            continue
        close_journey(session, j, "exited", recorded, now)
        withdraw_open_handoffs(session, j.id, f"the lead left the flow ({recorded})", now)
        plan.signals.append((j.id, EXIT_SIGNAL, {"reason": recorded}))
    return plan.record(session)


def exit_journey(session: Session, lead_id: str, flow_id: str, reason: str) -> Any:
    """One lead leaves one flow (its running or failed journey there); see :func:`exit_journeys`.

    Raises:
        NotFound: the lead is in no journey of that flow that could be ended.
    """
    from leadflow.errors import NotFound

    journeys = list(session.exec(select(Journey).where(
        Journey.lead_id == lead_id, Journey.flow_id == flow_id,
        col(Journey.status).in_(["running", "failed"]))).all())
    if not journeys:
        raise NotFound(f"The lead is not in flow {flow_id!r}.")
    return exit_journeys(session, journeys, reason)


async def retry_journey(client: Any, db_url: str | None, lead_id: str, flow_id: str
                        ) -> dict[str, Any]:
    """Run a failed journey's failed step again (the workflow's ``retry`` Update).

    An Update, not the outbox: the failed state lives in the workflow, which alone knows
    whether it can retry, so the caller waits for its answer.

    Raises:
        NotFound: the lead has no journey in that flow.
        Conflict: the journey has not failed, or can no longer be retried.
        Unavailable: Temporal is not reachable (nothing changed).
    """
    from datetime import timedelta

    from temporalio.client import WorkflowUpdateFailedError
    from temporalio.service import RPCError, RPCStatusCode

    from leadflow.db import session_scope
    from leadflow.errors import NotFound, Unavailable
    from leadflow.temporal import RETRY_UPDATE

    with session_scope(db_url) as session:
        get_lead(session, lead_id)
        journey = session.exec(select(Journey).where(
            Journey.lead_id == lead_id, Journey.flow_id == flow_id)
            .order_by(col(Journey.seq).desc())).first()
        if journey is None:
            raise NotFound(f"The lead was never in flow {flow_id!r}.")
        if journey.status != "failed":
            raise Conflict(f"The lead's journey in {flow_id!r} is {journey.status}, not failed; "
                           "only a failed journey can be retried.")
        jid, step = journey.id, journey.current_step
    if client is None:
        raise Unavailable("Temporal is not reachable; try again in a moment.")
    try:
        answer = await client.get_workflow_handle(jid).execute_update(
            RETRY_UPDATE, rpc_timeout=timedelta(seconds=10))
    except WorkflowUpdateFailedError as exc:
        raise Conflict("The journey cannot be retried now: "
                       f"{getattr(exc.cause, 'message', exc)}") from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise Conflict("The failed journey has ended for good; enrol the lead again.") from exc
        raise Unavailable(f"Temporal did not take the retry: {exc.status}") from exc
    return {"journey_id": jid, "lead_id": lead_id, "flow_id": flow_id,
            "status": answer.get("status", "running"), "step": answer.get("step") or step}


def journey_input(j: Journey) -> JourneyInput:
    return JourneyInput(journey_id=j.id, lead_id=j.lead_id, flow_id=j.flow_id, version=j.version,
                        code=JOURNEY_CODE)


def running_journeys(session: Session, lead_id: str) -> list[Journey]:
    return list(session.exec(
        select(Journey).where(Journey.lead_id == lead_id, Journey.status == "running")
    ).all())


def _create(session: Session, lead: Lead, version: FlowVersion | PublishedEntry,
            trigger: str | None, *, first: bool = False) -> Journey | None:
    """A new journey of ``lead`` in ``version`` (None if a concurrent request made it first);
    ``first``: the lead has no journey in this flow yet (a lead created in this transaction)."""
    seq = 1 if first else (session.exec(
        select(func.max(Journey.seq)).where(Journey.lead_id == lead.id,
                                            Journey.flow_id == version.flow_id)
    ).one() or 0) + 1
    j = Journey(id=journey_id(version.flow_id, lead.id, seq), lead_id=lead.id,
                flow_id=version.flow_id, version=version.version, seq=seq,
                current_step=None, trigger_event_id=trigger)
    if first:
        session.add(j)  # no other request can know of a lead this transaction created
    else:
        try:
            with session.begin_nested():
                session.add(j)
        except IntegrityError:
            return None  # a concurrent request enrolled the same lead at the same moment
    add_timeline(session, lead.id, "journey", "journey.enrolled", flow_id=version.flow_id,
                 version=version.version, journey_id=j.id, trigger=trigger or "manual")
    return j


def _reentry_allows(session: Session, lead_id: str, flow_id: str, rule: Any) -> bool:
    previous = session.exec(
        select(Journey).where(Journey.lead_id == lead_id, Journey.flow_id == flow_id)
        .order_by(col(Journey.seq).desc())
    ).first()
    if previous is None:
        return True
    if previous.status == "running" or rule in (None, "never"):
        return False
    if rule == "after_exit":
        return True
    try:
        period = parse_duration(rule)
    except ValueError:
        return False
    return previous.ended_at is None or utcnow() - previous.ended_at >= period


def enrol(session: Session, *, lead_id: str, flow_id: str) -> Journey:
    """Manual enrolment in the latest published version (refused while one already runs)."""
    lead = get_lead(session, lead_id)
    flow = get_flow(session, flow_id)
    if flow.state != "active":
        raise Conflict(f"Flow {flow_id!r} is {flow.state} and takes no enrolments"
                       + (" until it is published again." if flow.state == "stopped"
                          else "; resume it first."))
    version = latest_version(session, flow_id)
    if version is None:
        raise Conflict(f"Flow {flow_id!r} has no published version yet; publish it first.")
    if any(j.flow_id == flow_id for j in running_journeys(session, lead_id)):
        raise Conflict(f"The lead is already in flow {flow_id!r}.")
    j = _create(session, lead, version, None)
    if j is None:
        raise Conflict(f"The lead is already in flow {flow_id!r}.")
    return j


@dataclass(frozen=True)
class PublishedEntry:
    """The entry rule of the latest published version of an active flow."""

    flow_id: str
    version: int
    entry: dict[str, Any]


# (database, flow, version) -> the version's entry rule: published versions never change
_ENTRIES: dict[tuple[str, str, int], dict[str, Any]] = {}
# the latest published version of every active flow; built once (it runs on every new lead
# and event), SQLAlchemy keeping its compiled form under the statement's key
_LATEST_ACTIVE = (select(FlowVersion.flow_id, func.max(FlowVersion.version))
                  .join(Flow, col(Flow.id) == col(FlowVersion.flow_id))
                  .where(Flow.state == "active").group_by(FlowVersion.flow_id)
                  .order_by(FlowVersion.flow_id))


def active_entries(session: Session) -> list[PublishedEntry]:
    """The entry rule of the latest published version of every active flow: one small query;
    each version's document is read once per process (versions are immutable)."""
    latest = session.exec(_LATEST_ACTIVE).all()
    bind = session.get_bind().url.render_as_string(hide_password=False)
    out = []
    for flow_id, version in latest:
        key = (bind, flow_id, version)
        entry = _ENTRIES.get(key)
        if entry is None:
            doc = session.exec(select(FlowVersion.document).where(
                FlowVersion.flow_id == flow_id, FlowVersion.version == version)).one()
            entry = _ENTRIES[key] = dict(doc.get("entry") or {})
            if len(_ENTRIES) > 4096:
                _ENTRIES.pop(next(iter(_ENTRIES)))
        out.append(PublishedEntry(flow_id, version, entry))
    return out


def enrol_by_rules(session: Session, lead: Lead, event_type: str,
                   event: dict[str, Any] | None = None, trigger: str | None = None, *,
                   new_lead: bool = False,
                   entries: list[PublishedEntry] | None = None) -> list[Journey]:
    """Enrol ``lead`` in every flow whose entry matches this event and whose re-entry rule allows.

    ``new_lead``: the lead was created in this transaction, so it has no journey anywhere yet
    (nothing to look up for re-entry or the next sequence number). ``entries``: the
    :func:`active_entries` the caller read in this transaction (read here otherwise)."""
    if lead.erased_at is not None:
        return []
    view = lead_view(lead)
    created = []
    for version in (active_entries(session) if entries is None else entries):
        entry = version.entry
        if entry.get("event") != event_type:
            continue
        where = entry.get("where")
        if where is not None and not evaluate(where, view, event or {}):
            continue
        if not new_lead and not _reentry_allows(session, lead.id, version.flow_id,
                                                entry.get("reentry", "never")):
            continue
        j = _create(session, lead, version, trigger, first=new_lead)
        if j is not None:
            created.append(j)
    return created


def flow_stats(session: Session, flow_id: str, version: int | None = None) -> dict[str, Any]:
    """Per step: leads waiting now, leads that passed, e-mails sent, engagement, exits."""
    flow: Flow = get_flow(session, flow_id)
    doc = get_version(session, flow_id, version).document if version else (
        lv.document if (lv := latest_version(session, flow_id)) else flow.draft)
    jfilter = [Journey.flow_id == flow_id] + ([Journey.version == version] if version else [])
    sfilter = [JourneyStep.flow_id == flow_id] + ([JourneyStep.version == version] if version else [])
    efilter = [EmailMessage.flow_id == flow_id] + ([EmailMessage.version == version] if version else [])
    steps: dict[str, dict[str, Any]] = defaultdict(lambda: {
        "waiting": 0, "passed": 0, "entered": 0, "emails_sent": 0, "emails_skipped": 0,
        "skipped": {},
        "opened": 0, "clicked": 0, "open_rate": None, "click_rate": None, "exits": 0,
        "conversions": 0, "held": dict.fromkeys(HELD_REASONS, 0),
        "failed": 0, "failures": []})
    for sid in (doc.get("steps") or {}):
        steps[sid]
    journeys = dict.fromkeys(("running", "completed", "exited", "failed"), 0)
    for status, n in session.exec(select(Journey.status, func.count()).where(*jfilter)
                                  .group_by(Journey.status)).all():
        journeys[status] = n
    for step, n in session.exec(select(Journey.current_step, func.count())
                                .where(*jfilter, Journey.status == "running")
                                .group_by(Journey.current_step)).all():
        if step:
            steps[step]["waiting"] = n
    # leads whose next send waits: a pause, the send window, the frequency cap, consent
    for step, reason, n in session.exec(
        select(Journey.current_step, Journey.held_reason, func.count())
        .where(*jfilter, Journey.status == "running", col(Journey.held_reason).is_not(None))
        .group_by(Journey.current_step, Journey.held_reason)
    ).all():
        if step and reason:
            steps[step]["held"][reason] = steps[step]["held"].get(reason, 0) + n
    for step, entered, left in session.exec(
        select(JourneyStep.step_id, func.count(), func.count(JourneyStep.left_at))
        .where(*sfilter).group_by(JourneyStep.step_id)
    ).all():
        steps[step]["entered"], steps[step]["passed"] = entered, left
    for step, status, reason, n in session.exec(
        select(EmailMessage.step, EmailMessage.status, EmailMessage.reason, func.count())
        .where(*efilter).group_by(EmailMessage.step, EmailMessage.status, EmailMessage.reason)
    ).all():
        if step and status == "sent":
            steps[step]["emails_sent"] += n
        elif step and status == "skipped":  # why, so a marketer sees it: {"no_consent": 3}
            steps[step]["emails_skipped"] += n
            why = (reason or "unknown").replace(" ", "_")
            steps[step]["skipped"][why] = steps[step]["skipped"].get(why, 0) + n
    engaged = session.exec(
        select(EmailMessage.step, Event.type, func.count(func.distinct(Event.send_id)))
        .join(EmailMessage, EmailMessage.send_id == Event.send_id)
        .where(*efilter, col(Event.type).in_(["email.opened", "email.clicked"]))
        .group_by(EmailMessage.step, Event.type)
    ).all()
    for step, etype, n in engaged:
        if step:
            steps[step]["opened" if etype == "email.opened" else "clicked"] = n
    for step, status, reason, n in session.exec(
        select(Journey.current_step, Journey.status, Journey.exit_reason, func.count())
        .where(*jfilter, Journey.status != "running")
        .group_by(Journey.current_step, Journey.status, Journey.exit_reason)
    ).all():
        if step:
            steps[step]["exits"] += n
            if reason == "goal":
                steps[step]["conversions"] += n
            if status == "failed":
                # why journeys failed here, in the marketer's words, to fix and then retry
                steps[step]["failed"] += n
                steps[step]["failures"].append({"reason": reason, "journeys": n})
    for s in steps.values():
        if s["emails_sent"]:
            s["open_rate"] = round(s["opened"] / s["emails_sent"], 4)
            s["click_rate"] = round(s["clicked"] / s["emails_sent"], 4)
    conversions = sum(s["conversions"] for s in steps.values())
    transitions = _transitions(session, sfilter)
    return {"flow_id": flow_id, "version": version, "journeys": journeys,
            "conversions": conversions, "steps": dict(steps), "transitions": transitions,
            "edges": edge_counts(session, doc, sfilter, transitions)}


def _transitions(session: Session, sfilter: list[Any]) -> dict[str, dict[str, int]]:
    """``{from_step: {to_step: journeys}}``: how leads left each step (for branch percentages)."""
    visits = moves(sfilter)
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for prev, step, n in session.exec(
        select(visits.c.prev, visits.c.step, func.count()).where(visits.c.prev.is_not(None))
        .group_by(visits.c.prev, visits.c.step)
    ).all():
        out[prev][step] = n
    return dict(out)


def leads_at_step(session: Session, flow_id: str, step_id: str, limit: int = 200) -> list[dict[str, Any]]:
    """The leads at a step now, each with why it waits: ``waiting`` is ``{"kind", "until",
    "event", "reason"}``: kind ``wait`` (a timer), ``wait_for`` (an event, until a timeout),
    ``held`` (a send held back by the send window or frequency cap: ``reason``), ``handoff`` (sales
    has not taken the lead yet: ``until`` is the SLA due time, ``rep`` who has it) or ``working``."""
    rows = session.exec(
        select(Journey, Lead).join(Lead, Lead.id == Journey.lead_id)
        .where(Journey.flow_id == flow_id, Journey.current_step == step_id,
               Journey.status == "running").limit(limit)
    ).all()
    held = _held_sends(session, flow_id, step_id, [lead.id for _, lead in rows])
    with_sales = _open_handoffs(session, flow_id, [lead.id for _, lead in rows])
    docs: dict[int, dict[str, Any]] = {}
    out = []
    for j, lead in rows:
        if j.version not in docs:
            docs[j.version] = get_version(session, flow_id, j.version).document
        step = (docs[j.version].get("steps") or {}).get(step_id) or {}
        until = j.waiting_until.isoformat() if j.waiting_until else None
        waiting: dict[str, Any] = {"kind": "working", "until": until}
        if step.get("type") == "wait":
            waiting["kind"] = "wait"
        elif step.get("type") == "wait_for":
            waiting.update(kind="wait_for", event=step.get("event"))
        elif step.get("type") == "handoff":
            due, rep = with_sales.get(lead.id, (None, None))
            waiting.update(kind="handoff", until=due or until, rep=rep)
        elif lead.id in held:
            reason, retry_at = held[lead.id]
            waiting.update(kind="held", reason=reason, until=retry_at)
        name = " ".join(p for p in (lead.first_name, lead.last_name) if p) or None
        out.append({"lead_id": lead.id, "email": lead.email, "name": name,
                    "journey_id": j.id, "version": j.version,
                    "since": j.started_at.isoformat(), "waiting": waiting})
    return out


def _open_handoffs(session: Session, flow_id: str,
                   lead_ids: list[str]) -> dict[str, tuple[str | None, str | None]]:
    """lead id -> (SLA due time, rep's name) of its handoff from this flow that sales has not taken."""
    if not lead_ids:
        return {}
    rows = session.exec(
        select(Handoff, Rep.name).join(Rep, col(Rep.id) == col(Handoff.rep_id), isouter=True)
        .where(col(Handoff.lead_id).in_(lead_ids), Handoff.flow_id == flow_id, Handoff.status == "open")
    ).all()
    return {h.lead_id: (h.sla_due_at.isoformat() if h.sla_due_at else None, name) for h, name in rows}


def _held_sends(session: Session, flow_id: str, step_id: str,
                lead_ids: list[str]) -> dict[str, tuple[str, str]]:
    """lead id -> (why, until when) its send at this step is postponed (send window, cap)."""
    if not lead_ids:
        return {}
    now = utcnow().isoformat()
    found: dict[str, tuple[str, str]] = {}
    for entry in session.exec(
        select(TimelineEntry).where(col(TimelineEntry.lead_id).in_(lead_ids),
                                    TimelineEntry.type == "email.postponed")
        .order_by(col(TimelineEntry.at))
    ).all():
        data = entry.data or {}
        retry_at = str(data.get("retry_at") or "")
        if data.get("flow_id") == flow_id and data.get("step") == step_id and retry_at[:19] > now[:19]:
            found[entry.lead_id] = (str(data.get("reason") or "send window"), retry_at)
    return found


