"""The baseline workflow of the benchmarks: three no-op activities in a row, nothing else.

Kept in its own small module so the workflow sandbox has as little to import as Leadflow's
own workflow modules do.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

BARE_WORKFLOW = "BenchBareWorkflow"


@activity.defn(name="bench_noop")
async def noop(step: int) -> int:
    """Does nothing: the cost of an activity round trip alone."""
    return step


@workflow.defn(name=BARE_WORKFLOW)
class BareWorkflow:
    """Three activities, the shape of a three-email journey without any of its work."""

    @workflow.run
    async def run(self, lead_id: str) -> int:
        total = 0
        for step in range(3):
            total += await workflow.execute_activity(
                noop, step, start_to_close_timeout=timedelta(seconds=30))
        return total
