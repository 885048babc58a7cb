"""Wiring for the CLI: the worker (workflows + activities) on one task queue.

Beside the CLI, not in the core: the one place that imports ``workflows/`` and ``activities/``,
listing each workflow and activity module explicitly; the core reaches workflows by name
through :mod:`leadflow.temporal`.
"""

from __future__ import annotations

from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from leadflow.activities import handoff as handoff_activities
from leadflow.activities import housekeeping as housekeeping_activities
from leadflow.activities import migration as migration_activities
from leadflow.activities import outcomes as outcomes_activities
from leadflow.activities import scoring as scoring_activities
from leadflow.activities.journey import JourneyActivities
from leadflow.config import Settings, get_settings
from leadflow.workflows.handoff import HandoffWorkflow
from leadflow.workflows.housekeeping import HousekeepingWorkflow
from leadflow.workflows.journey import JourneyWorkflow
from leadflow.workflows.migration import FlowMigrationWorkflow
from leadflow.workflows.recycle import RecycleWorkflow
from leadflow.workflows.scoring import LeadScoreWorkflow, RescoreAllWorkflow

__all__ = ["WORKFLOWS", "activities_for", "build_worker", "workflow_runner", "workflows"]


def workflows() -> list[Any]:
    """Every workflow the worker runs, listed here and nowhere else."""
    return [JourneyWorkflow, HandoffWorkflow, LeadScoreWorkflow, RescoreAllWorkflow,
            FlowMigrationWorkflow, RecycleWorkflow, HousekeepingWorkflow]


WORKFLOWS = workflows  # the name the tests and the replayer use


def workflow_runner(settings: Settings | None = None) -> SandboxedWorkflowRunner:
    """The workflow sandbox the worker runs journeys in.

    Temporal's default ("strict") imports a workflow's module, and each module of ours it
    imports, afresh for every workflow run, so that the sandbox can check every name the
    workflow code touches. With ``PYTHONDONTWRITEBYTECODE`` (our Docker image) that means
    compiling ``workflows/journey.py`` from source each time a journey starts or comes back
    into the cache: py-spy put 44% of a busy worker's main thread there (``bench/journeys.py``).
    "fast" (the default) passes ``leadflow`` through, so our modules are imported once per
    process; built-ins stay restricted, but the clock, randomness and I/O are then guarded
    by the tests, which always run the strict sandbox over every workflow path, and by the
    replay of recorded histories in CI, not at run time. ``LEADFLOW_WORKFLOW_SANDBOX=strict``
    keeps the run-time checks in production too.
    """
    settings = settings or get_settings()
    if settings.workflow_sandbox == "strict":
        return SandboxedWorkflowRunner()
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules("leadflow"))


def activities_for(db_url: str, client: Client | None) -> list[Any]:
    """Every activity the worker runs, bound to ``db_url`` and ``client``."""
    return [
        *JourneyActivities(db_url, client).all(),
        *handoff_activities.activities_for(db_url, client),
        *scoring_activities.activities_for(db_url, client),
        *migration_activities.activities_for(db_url, client),
        *outcomes_activities.activities_for(db_url, client),
        *housekeeping_activities.activities_for(db_url),
    ]


def build_worker(client: Client, settings: Settings | None = None, *, task_queue: str | None = None,
                 db_url: str | None = None, max_cached_workflows: int | None = None,
                 **kwargs: Any) -> Worker:
    """A worker running every Leadflow workflow and activity.

    Activities pass through :class:`~leadflow.pii.ScrubPersonalData`, so nothing they return or
    raise carries an e-mail address into workflow history.
    """
    from leadflow.logging_setup import install_pii_filter
    from leadflow.pii import ScrubPersonalData

    install_pii_filter()
    settings = settings or get_settings()
    db_url = db_url or settings.resolved_database_url
    kwargs["interceptors"] = [ScrubPersonalData(), *kwargs.get("interceptors", ())]
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=workflows(),
        activities=activities_for(db_url, client),
        max_cached_workflows=(settings.worker_cache if max_cached_workflows is None
                              else max_cached_workflows),
        max_concurrent_activities=64,
        workflow_runner=kwargs.pop("workflow_runner", None) or workflow_runner(settings),
        **kwargs,
    )
