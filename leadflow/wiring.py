"""Wiring for the CLI: the worker (workflows + activities) on one task queue.

This is the one place in the core that imports ``workflows/`` and ``activities/``; the rest of
the core reaches them by name through :mod:`leadflow.temporal`.
"""

from __future__ import annotations

from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from leadflow.config import Settings, get_settings

__all__ = ["WORKFLOWS", "activities_for", "build_worker"]


# Modules whose ``WORKFLOWS`` list joins the journey and handoff workflows on the worker.
WORKFLOW_MODULES = ("workflows.scoring",)


def _workflows() -> list[Any]:
    import importlib

    from workflows.handoff import HandoffWorkflow
    from workflows.journey import JourneyWorkflow

    extra: list[Any] = []
    for name in WORKFLOW_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        extra += list(module.WORKFLOWS)
    return [JourneyWorkflow, HandoffWorkflow, *extra]


WORKFLOWS = _workflows


def activities_for(db_url: str, client: Client | None) -> list[Any]:
    from activities.journey import JourneyActivities

    acts = JourneyActivities(db_url, client).all()
    try:
        from activities import extra_activities

        acts += extra_activities(db_url, client)
    except ImportError:
        pass
    return acts


def build_worker(client: Client, settings: Settings | None = None, *, task_queue: str | None = None,
                 db_url: str | None = None, max_cached_workflows: int = 2000,
                 **kwargs: Any) -> Worker:
    """A worker running every Leadflow workflow and activity."""
    settings = settings or get_settings()
    db_url = db_url or settings.resolved_database_url
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=_workflows(),
        activities=activities_for(db_url, client),
        max_cached_workflows=max_cached_workflows,
        max_concurrent_activities=64,
        **kwargs,
    )
