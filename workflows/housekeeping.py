"""Housekeeping, started every hour by the Temporal schedule the worker creates
(:func:`leadflow.temporal.ensure_housekeeping_schedule`): delivered rows of the intent outbox
older than their retention are deleted, so the delivery queue does not grow for ever.

Deterministic, no I/O, no input: the activity reads the retention from the worker's settings.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from leadflow.temporal import HOUSEKEEPING_WORKFLOW

__all__ = ["WORKFLOWS", "HousekeepingWorkflow"]

@workflow.defn(name=HOUSEKEEPING_WORKFLOW)
class HousekeepingWorkflow:
    """One round of housekeeping; returns what it removed."""

    @workflow.run
    async def run(self) -> dict[str, Any]:
        # a few attempts: the next hour's run takes over what this one could not do
        result: dict[str, Any] = await workflow.execute_activity(
            "prune_delivered_intents", start_to_close_timeout=timedelta(minutes=10),
            retry_policy=RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(minutes=5)))
        return result


WORKFLOWS = [HousekeepingWorkflow]
