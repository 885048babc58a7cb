"""Temperature that moves by itself: each lead's durable timer, and re-scoring after a change.

Scores decay, so a hot lead cools with no new event. After every rescore the moment of the
next temperature change is known in closed form (:func:`leadflow.scoring.model.next_change_after`);
the lead's ``LeadScoreWorkflow`` (workflow id ``score-<lead_id>``) sleeps until then, rescores
and tells the lead's journeys. Arming is a signal-with-start, so it is one call whether or not
the workflow runs; the workflow keeps the earliest moment it was given, and each wake-up
recomputes the true next one, so a stale or early moment costs one spare wake-up, never a
missed change.

After a scoring model change ``RescoreAllWorkflow`` re-scores every lead in batches, in the
background. Workflows are reached by name here, so the core never imports ``workflows/``;
workflow inputs and histories hold lead ids and times only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select

from leadflow.db import session_scope
from leadflow.dispatch import Dispatch
from leadflow.models import Lead, utcnow
from leadflow.scoring.service import (
    active_model,
    derived_events,
    load_scored_events,
    rescore,
    timer_of,
)
from leadflow.usecases.events import dispatch_event, plan_for_lead_change

__all__ = ["rescore_batch", "rescore_due"]


def _moment(at: float) -> datetime:
    # The workflow's clock can run ahead of ours (a time-skipping test server), never behind
    # by more than the activity's latency: score at whichever is later.
    return max(datetime.fromtimestamp(at, UTC), utcnow())


def _plan_for(session: Any, lead: Lead, change: Any) -> Dispatch:
    plan = Dispatch()
    for derived in derived_events(session, lead, change):
        plan.extend(dispatch_event(session, lead, derived))
    if change is not None and change.changed:
        plan.extend(plan_for_lead_change(session, lead))
    return plan


def rescore_due(db_url: str, lead_id: str, at: float) -> tuple[Dispatch, float | None]:
    """The timer fired: rescore the lead; returns what to tell its journeys and the next due."""
    with session_scope(db_url) as session:
        lead = session.get(Lead, lead_id, with_for_update=True)
        if lead is None or lead.erased_at is not None:
            return Dispatch(), None
        change = rescore(session, lead, _moment(at))
        plan = _plan_for(session, lead, change)
        moment = getattr(change, "next_change", None)
        lead.score_timer_due = moment  # the timer now waits for this (or ends: None)
        session.add(lead)
    return plan, (moment.timestamp() if moment else None)


def rescore_batch(db_url: str, version: int, after_id: str, limit: int, at: float
                  ) -> tuple[Dispatch, str | None, int, bool]:
    """Re-score up to ``limit`` leads after ``after_id`` with model ``version``.

    Returns the plan (journey signals and the leads' timers), the last lead id done (None at
    the end), how many leads were re-scored, and whether a newer model has superseded
    ``version`` (the job for the newer one then does the rest).
    """
    # Not a timer for a moment the maths fixed: score as of the wall clock, like an event would.
    now = utcnow()
    with session_scope(db_url) as session:
        model = active_model(session)
        if model.version != version:
            return Dispatch(), None, 0, True
        leads = list(session.exec(
            select(Lead).where(col(Lead.id) > after_id, col(Lead.erased_at).is_(None))
            .order_by(col(Lead.id)).limit(limit)).all())
        events = load_scored_events(session, [lead.id for lead in leads], model)
        plan = Dispatch()
        for lead in leads:
            change = rescore(session, lead, now, model=model, events=events.get(lead.id, []))
            plan.extend(_plan_for(session, lead, change))
            plan.score_timers += timer_of(lead, change)
    last = leads[-1].id if len(leads) == limit else None
    return plan, last, len(leads), False
