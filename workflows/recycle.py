"""The recycle timer: a lead sales sent back rests for a cooldown, then re-enters nurture.

Deterministic, no I/O; its input is ids and a number of seconds. The activity in
``activities/outcomes.py`` decides at the end of the cooldown whether the lead is still
recycled and enrols it in the flow its rejection reason names.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from leadflow.temporal import RECYCLE_WORKFLOW, RecycleInput

__all__ = ["WORKFLOWS", "RecycleWorkflow"]

RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                    maximum_interval=timedelta(minutes=5), maximum_attempts=50)


@workflow.defn(name=RECYCLE_WORKFLOW)
class RecycleWorkflow:
    """Sleeps through the cooldown, then asks the database to enrol the lead."""

    @workflow.run
    async def run(self, inp: RecycleInput) -> dict[str, Any]:
        if inp.cooldown_seconds > 0:
            await workflow.sleep(timedelta(seconds=inp.cooldown_seconds))
        result: dict[str, Any] = await workflow.execute_activity(
            "recycle_lead", inp, start_to_close_timeout=timedelta(minutes=1), retry_policy=RETRY)
        return result


WORKFLOWS = [RecycleWorkflow]
