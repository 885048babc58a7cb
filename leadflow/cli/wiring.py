"""Wiring for the CLI: the worker (workflows + activities) on one task queue.

Beside the CLI, not in the core: the one place that imports ``workflows/`` and ``activities/``,
listing each workflow and activity module explicitly; the core reaches workflows by name
through :mod:`leadflow.temporal`.
"""

from __future__ import annotations

from typing import Any

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

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


def workflow_runner(settings: Settings | None = None) -> WorkflowRunner:
    """The runner the worker runs workflows in (``LEADFLOW_WORKFLOW_SANDBOX``).

    "strict" is Temporal's sandbox: it imports a workflow's module, and each module of ours it
    imports, afresh for every workflow run, and swaps the interpreter's modules in and out
    around every activation, so that it can refuse the clock, randomness and I/O in workflow
    code at run time. That costs: with ``PYTHONDONTWRITEBYTECODE`` (our Docker image) the
    re-import compiled ``workflows/journey.py`` for every journey that started or came back
    into the cache, 44% of a busy worker's main thread (py-spy on ``bench/journeys.py``), and
    the swapping costs a bare three-activity workflow 39% of its worker CPU (22.8 ms a
    workflow sandboxed, 14.0 ms not).

    "fast" (the default) runs workflows without the sandbox. Determinism is then guarded where
    it is cheap: the test suite runs every workflow path in the strict sandbox (the tests'
    workers pass ``SandboxedWorkflowRunner()``), and CI replays recorded histories of every
    workflow type against the current code (``tests/test_replay.py``).
    """
    settings = settings or get_settings()
    if settings.workflow_sandbox == "strict":
        return SandboxedWorkflowRunner()
    return UnsandboxedWorkflowRunner()


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
