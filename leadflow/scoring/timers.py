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

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from leadflow.config import get_settings
from leadflow.db import session_scope
from leadflow.leads.events import Dispatch, dispatch_event, plan_for_lead_change
from leadflow.models import Lead, utcnow
from leadflow.scoring.service import active_model, derived_events, load_scored_events, rescore

__all__ = [
    "LEAD_SCORE_WORKFLOW",
    "REARM_SIGNAL",
    "RESCORE_ALL_WORKFLOW",
    "LeadScoreInput",
    "RescoreAllInput",
    "RescoreBatchInput",
    "RescoreInput",
    "arm_score_timer",
    "arm_score_timers",
    "rescore_all_workflow_id",
    "rescore_batch",
    "rescore_due",
    "score_workflow_id",
    "start_rescore_all",
    "timer_of",
]

log = logging.getLogger(__name__)

LEAD_SCORE_WORKFLOW = "LeadScoreWorkflow"
RESCORE_ALL_WORKFLOW = "RescoreAllWorkflow"
REARM_SIGNAL = "rearm"


def score_workflow_id(lead_id: str) -> str:
    """The id of the lead's temperature timer workflow."""
    return f"score-{lead_id}"


def rescore_all_workflow_id(version: int) -> str:
    """The id of the job re-scoring every lead with model ``version``."""
    return f"rescore-all-v{version}"


@dataclass
class LeadScoreInput:
    """A lead's timer: ``due`` is a POSIX timestamp (set again on continue-as-new)."""

    lead_id: str
    due: float | None = None
    wakes: int = 0


@dataclass
class RescoreInput:
    """Rescore one lead at ``at`` (POSIX seconds, the workflow's clock)."""

    lead_id: str
    at: float


@dataclass
class RescoreAllInput:
    """Re-score every lead with model ``version``, from the lead id after ``after_id`` on."""

    version: int
    after_id: str = ""
    batch_size: int = 500
    done: int = 0


@dataclass
class RescoreBatchInput:
    version: int
    after_id: str
    batch_size: int
    at: float


def timer_of(lead: Lead, change: Any) -> list[tuple[str, float]]:
    """``[(lead_id, due)]`` when the lead's timer must be armed for the rescore ``change``.

    A timer already armed for an earlier moment is left alone: when it fires, the lead is
    rescored with every event so far and the timer set again. So arming costs a call to
    Temporal only when the next change comes sooner than planned, not on every event. The
    caller holds the lead's row (``with_for_update``) so the check and the timer's own update
    (:func:`rescore_due`) cannot interleave.
    """
    moment = getattr(change, "next_change", None)
    if moment is None:
        return []
    armed = lead.score_timer_due
    if armed is not None and armed <= moment:
        return []
    lead.score_timer_due = moment
    return [(lead.id, moment.timestamp())]


async def arm_score_timer(client: Client, lead_id: str, due: float) -> None:
    """Make the lead's timer fire at ``due`` at the latest (signal-with-start)."""
    settings = get_settings()
    try:
        await client.start_workflow(
            LEAD_SCORE_WORKFLOW, LeadScoreInput(lead_id), id=score_workflow_id(lead_id),
            task_queue=settings.task_queue, id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            start_signal=REARM_SIGNAL, start_signal_args=[{"due": due}])
    except (RPCError, WorkflowAlreadyStartedError) as exc:
        # The change is stored; the timer is only late if this fails, and the next event re-arms.
        log.warning("could not arm the score timer of lead %s: %s", lead_id, exc)


async def arm_score_timers(client: Client, timers: Iterable[tuple[str, float]],
                           concurrency: int = 32) -> None:
    """Arm many leads' timers; for a lead named twice the earliest moment counts."""
    earliest: dict[str, float] = {}
    for lead_id, due in timers:
        earliest[lead_id] = min(due, earliest.get(lead_id, due))
    gate = asyncio.Semaphore(concurrency)

    async def arm(lead_id: str, due: float) -> None:
        async with gate:
            await arm_score_timer(client, lead_id, due)

    await asyncio.gather(*(arm(lead_id, due) for lead_id, due in earliest.items()))


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


async def start_rescore_all(client: Client, version: int, batch_size: int = 500) -> str:
    """Start the background job re-scoring every lead with ``version``; returns its id."""
    workflow_id = rescore_all_workflow_id(version)
    try:
        await client.start_workflow(
            RESCORE_ALL_WORKFLOW, RescoreAllInput(version, batch_size=batch_size), id=workflow_id,
            task_queue=get_settings().task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)
    except WorkflowAlreadyStartedError:
        pass
    return workflow_id
