"""The Temporal contracts, shared by workflows, activities, the API and the CLI.

Workflow, signal, query and update names, workflow inputs (ids only, never personal data),
workflow ids and the client helpers that start and signal workflows by name.

Workflows are started and signalled by name, so the core never imports ``workflows/``.
"""

# No ``from __future__ import annotations`` here: the Temporal data converter reads the hints
# of the workflows' inputs each time it decodes one, and hints kept as strings are compiled
# again on every read (about 0.4 ms a decode; a journey decodes several).

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from leadflow.config import Settings, get_settings
from leadflow.errors import Unavailable

__all__ = [
    "DEFAULT_DEV_ADDRESS",
    "EVENT_SIGNAL",
    "EXIT_REASONS",
    "EXIT_SIGNAL",
    "HANDOFF_SIGNAL",
    "HANDOFF_WITHDRAWN",
    "HANDOFF_WORKFLOW",
    "JOURNEY_WORKFLOW",
    "LEAD_SCORE_WORKFLOW",
    "MIGRATE_UPDATE",
    "MIGRATION_WORKFLOW",
    "REARM_SIGNAL",
    "RECYCLE_WORKFLOW",
    "RESCORE_ALL_WORKFLOW",
    "RETRY_UPDATE",
    "STEP_QUERY",
    "HandoffInput",
    "JourneyInput",
    "LeadScoreInput",
    "MigrationJobInput",
    "RecycleInput",
    "RescoreAllInput",
    "RescoreBatchInput",
    "RescoreInput",
    "arm_score_timer",
    "arm_score_timers",
    "connect",
    "failure_reason",
    "journey_id",
    "recycle_id",
    "rescore_all_workflow_id",
    "score_workflow_id",
    "signal_journey",
    "start_journey",
    "start_migration_job",
    "start_recycle",
    "start_rescore_all",
]

log = logging.getLogger(__name__)

JOURNEY_WORKFLOW = "JourneyWorkflow"
HANDOFF_WORKFLOW = "HandoffWorkflow"
HANDOFF_SIGNAL = "handoff_action"  # a rep's answer (accept, reject, ...) or a reassignment
LEAD_SCORE_WORKFLOW = "LeadScoreWorkflow"
RESCORE_ALL_WORKFLOW = "RescoreAllWorkflow"
REARM_SIGNAL = "rearm"  # a lead's score timer: {"due": POSIX seconds}
EVENT_SIGNAL = "journey_event"
# The exit signal: ``{"reason": one of EXIT_REASONS}``. It ends the journey whatever it is
# doing: a running action is cancelled, a handoff child withdraws its handoff and tells the rep.
# Send it through leadflow.journeys.exit_journey, which also records the exit in the database.
EXIT_SIGNAL = "exit"
#: Why a journey is ended from outside; ``exit_when`` is recorded as ``goal`` (a conversion).
EXIT_REASONS = ("manual", "stopped", "erased", "exit_when")
# Update: run a failed journey's failed step again; refused (ApplicationError type
# "not_failed") when the journey is not parked as failed. Answers {"status", "step"}.
RETRY_UPDATE = "retry"
# What a handoff child answers when its journey left (the handoff is closed as withdrawn).
HANDOFF_WITHDRAWN = "withdrawn"
STEP_QUERY = "current_step"
# Update taking a waiting journey to a newer flow version: its argument is the migration request
# (leadflow.journeys.migration.Request.as_dict()) plus "document" (the new version) and "migration_id";
# the validator refuses (with an ApplicationError of type MIGRATE_REFUSED_*) without history.
MIGRATE_UPDATE = "migrate"
MIGRATE_REFUSED_BUSY = "busy"  # mid-action: try again once it waits
MIGRATION_WORKFLOW = "FlowMigrationWorkflow"
# Pauses (seconds) before the migration job asks journeys busy in a send again (a send is over
# in seconds); one still busy after the last is reported skipped. Leads with sales or with a
# held mail are reported skipped at once.
MIGRATION_RETRY_AFTER = (1.0, 5.0, 20.0)
RECYCLE_WORKFLOW = "RecycleWorkflow"
HOUSEKEEPING_WORKFLOW = "HousekeepingWorkflow"
HOUSEKEEPING_EVERY = timedelta(hours=1)
DEFAULT_DEV_ADDRESS = "127.0.0.1:7233"
# The journey code generation a journey starts on (``JourneyInput.code``). Generation 0 (the
# field absent: every journey started before it existed) decides each change by
# ``workflow.patched``; from generation 1, every change listed in workflows/journey.py applies
# without a patch marker, and the steps' work runs as local activities first (see there).
JOURNEY_CODE = 1


@dataclass
class JourneyInput:
    """What a journey workflow starts with: ids only, never personal data.

    ``state`` and ``inbox`` are set when the workflow continues as new.
    """

    journey_id: str
    lead_id: str
    flow_id: str
    version: int
    state: dict[str, Any] | None = None
    inbox: list[dict[str, Any]] = field(default_factory=list)
    # Continue as new past this many history events even before the server suggests it
    # (it suggests at about 4,096), so months of looping never make a large history.
    history_limit: int = 3000
    # The code generation this journey started on (:data:`JOURNEY_CODE` for new journeys; 0,
    # the default, for the histories of journeys started before the field existed).
    code: int = 0
    # The flow version's document (never personal data), when the starter had it: the journey
    # then needs no ``load_flow`` local activity (one workflow activation fewer). Journeys
    # started without it (an older starter, a move to another version) load it as before.
    flow: dict[str, Any] | None = None


@dataclass
class MigrationJobInput:
    """The migration job: the FlowMigration row holds the request; ``retry_after`` are the
    pauses (seconds) before asking busy journeys again."""

    migration_id: str
    flow_id: str
    retry_after: list[float] = field(default_factory=lambda: list(MIGRATION_RETRY_AFTER))


_ACTION_LABELS = {"email": "e-mail step", "notify": "notification", "update": "lead update",
                  "decide": "branch", "handoff": "handoff to sales", "match_event": "event check",
                  "check_exit": "goal check"}


def failure_reason(err: BaseException, action: str = "") -> str:
    """A failed action's reason as a marketer reads it (codes and our own words, no PII).

    Activities raise non-retryable ``ApplicationError``s whose message is already written for
    a marketer; transient errors past their ceiling become "kept failing", with the error's
    type only (a provider's text may contain an address).
    """
    label = _ACTION_LABELS.get(action, "step")
    cause: BaseException | None = err
    while getattr(cause, "cause", None) is not None:
        cause = cause.cause  # type: ignore[union-attr]
    from temporalio.exceptions import ApplicationError
    from temporalio.exceptions import TimeoutError as ActivityTimeout

    if isinstance(cause, ApplicationError) and cause.non_retryable:
        return str(cause.message)
    if isinstance(cause, ActivityTimeout):
        return f"The {label} kept failing for a day (timed out); retry it once the cause is fixed."
    kind = cause.type if isinstance(cause, ApplicationError) and cause.type else "error"
    return f"The {label} kept failing ({kind}); retry it once the cause is fixed."


@dataclass
class HandoffInput:
    """A journey's handoff step: the handoff workflow's input (ids and the step, never personal
    data); with ``at`` (workflow time) also the ``open_handoff`` activity's."""

    journey_id: str
    lead_id: str
    flow_id: str
    version: int
    step: str
    visit: int = 1
    at: str | None = None


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


def journey_id(flow_id: str, lead_id: str, seq: int) -> str:
    """The journey's id, also its Temporal workflow id."""
    return f"journey-{flow_id}-{lead_id}-{seq}"


async def connect(settings: Settings | None = None, **kwargs: Any) -> Client:
    settings = settings or get_settings()
    address = settings.temporal_address or DEFAULT_DEV_ADDRESS
    return await Client.connect(address, namespace=settings.temporal_namespace, **kwargs)


async def start_journey(client: Client, inp: JourneyInput, settings: Settings | None = None) -> bool:
    """Start the journey workflow; False when it already runs (starting is idempotent)."""
    settings = settings or get_settings()
    try:
        await client.start_workflow(
            JOURNEY_WORKFLOW,
            inp,
            id=inp.journey_id,
            task_queue=settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        return False
    except RPCError as exc:
        raise Unavailable(f"Temporal did not start the journey: {exc}") from exc
    return True


async def signal_journey(client: Client, workflow_id: str, signal: str, payload: Any) -> bool:
    """Signal one journey; False when it has already ended (nothing to wake)."""
    try:
        await client.get_workflow_handle(workflow_id).signal(signal, payload)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            # Temporal is unreachable or refused: the caller must not mark the event dispatched.
            raise Unavailable(f"Temporal did not take the signal: {exc}") from exc
        # The journey ended between our read of the database and the signal: nothing to do.
        log.debug("signal %s to %s not delivered: %s", signal, workflow_id, exc)
        return False
    return True


async def start_migration_job(client: Client, inp: MigrationJobInput,
                              settings: Settings | None = None) -> None:
    """Start the background job of one migration (workflow id ``migration-<id>``)."""
    settings = settings or get_settings()
    try:
        await client.start_workflow(MIGRATION_WORKFLOW, inp, id=f"migration-{inp.migration_id}",
                                    task_queue=settings.task_queue)
    except RPCError as exc:
        raise Unavailable(f"Temporal did not start the migration: {exc}") from exc


@dataclass
class RecycleInput:
    """Enrol a lead that sales sent back in ``flow_id`` once ``cooldown_seconds`` have passed."""

    lead_id: str
    flow_id: str
    cooldown_seconds: float
    handoff_id: str


def recycle_id(handoff_id: str) -> str:
    """The recycle timer's workflow id: one per rejected handoff."""
    return f"recycle-{handoff_id}"


async def start_recycle(client: Client, inp: RecycleInput, settings: Settings | None = None
                        ) -> bool:
    """Start the recycle timer; False when it already runs (a retried reject)."""
    settings = settings or get_settings()
    try:
        await client.start_workflow(RECYCLE_WORKFLOW, inp, id=recycle_id(inp.handoff_id),
                                    task_queue=settings.task_queue,
                                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)
    except WorkflowAlreadyStartedError:
        return False
    except RPCError as exc:
        raise Unavailable(f"Temporal did not start the recycle timer: {exc}") from exc
    return True


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


def housekeeping_schedule_id(task_queue: str) -> str:
    return f"leadflow-housekeeping-{task_queue}"


async def ensure_housekeeping_schedule(client: Client, settings: Settings | None = None) -> bool:
    """Create the Temporal schedule that runs the housekeeping workflow every
    :data:`HOUSEKEEPING_EVERY` (it deletes the delivered rows of the intent outbox older than
    ``LEADFLOW_INTENT_RETENTION_DAYS``), unless it exists. Every worker calls this at start;
    Temporal keeps one schedule per task queue and skips a run while the last one is busy.
    Returns True when it created the schedule."""
    from temporalio.client import (
        Schedule,
        ScheduleActionStartWorkflow,
        ScheduleAlreadyRunningError,
        ScheduleIntervalSpec,
        ScheduleOverlapPolicy,
        SchedulePolicy,
        ScheduleSpec,
    )

    settings = settings or get_settings()
    schedule_id = housekeeping_schedule_id(settings.task_queue)
    try:
        await client.create_schedule(schedule_id, Schedule(
            action=ScheduleActionStartWorkflow(
                HOUSEKEEPING_WORKFLOW, id=schedule_id, task_queue=settings.task_queue,
                execution_timeout=HOUSEKEEPING_EVERY),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=HOUSEKEEPING_EVERY)]),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP)),
            rpc_timeout=timedelta(seconds=10))
    except ScheduleAlreadyRunningError:
        return False
    return True
