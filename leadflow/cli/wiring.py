"""Wiring for the CLI: the worker (workflows + activities) on one task queue.

This is the one place in the core that imports ``workflows/`` and ``activities/``; the rest of
the core reaches them by name through :mod:`leadflow.temporal`.
"""

from __future__ import annotations

import importlib
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from leadflow.config import Settings, get_settings

__all__ = ["WORKFLOWS", "activities_for", "build_worker"]


# Area modules beside the journey ones: each workflow module has a ``WORKFLOWS`` list, each
# activity module an ``activities_for(db_url, client)`` function.
WORKFLOW_MODULES = ("leadflow.workflows.scoring", "leadflow.workflows.migration",
                    "leadflow.workflows.recycle")
ACTIVITY_MODULES = ("leadflow.activities.handoff", "leadflow.activities.scoring", "leadflow.activities.delivery",
                    "leadflow.activities.migration", "leadflow.activities.outcomes")


def _present(names: tuple[str, ...]) -> list[Any]:
    """The modules of ``names`` that exist (an area may not be installed)."""
    found = []
    for name in names:
        try:
            found.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return found


def _workflows() -> list[Any]:
    from leadflow.workflows.handoff import HandoffWorkflow
    from leadflow.workflows.journey import JourneyWorkflow

    extra = [wf for module in _present(WORKFLOW_MODULES) for wf in module.WORKFLOWS]
    return [JourneyWorkflow, HandoffWorkflow, *extra]


WORKFLOWS = _workflows


def activities_for(db_url: str, client: Client | None) -> list[Any]:
    from leadflow.activities.journey import JourneyActivities

    acts: list[Any] = JourneyActivities(db_url, client).all()
    for module in _present(ACTIVITY_MODULES):
        acts += module.activities_for(db_url, client)
    return acts


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
        workflows=_workflows(),
        activities=activities_for(db_url, client),
        max_cached_workflows=(settings.worker_cache if max_cached_workflows is None
                              else max_cached_workflows),
        max_concurrent_activities=64,
        **kwargs,
    )
