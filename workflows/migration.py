"""The migration job: moves a flow's waiting leads to a newer version, in bounded batches.

Deterministic, no I/O: the activities in ``activities/migration.py`` find the journeys and ask
each to move through its ``migrate`` Update. Journeys in the middle of an action are asked again
after each pause of ``retry_after``, and reported skipped if still busy after the last.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from leadflow.activities.migration import MoveBatchInput

    from leadflow.temporal import MIGRATION_WORKFLOW, MigrationJobInput

__all__ = ["WORKFLOWS", "FlowMigrationWorkflow"]

BATCH = 50  # journeys per activity
PARALLEL_BATCHES = 4  # activities at once: with 16 Updates each, at most 64 journeys in flight
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30),
                    maximum_attempts=5)


@workflow.defn(name=MIGRATION_WORKFLOW)
class FlowMigrationWorkflow:
    """One migration (a FlowMigration row), from its plan to its report."""

    async def _act(self, name: str, arg: Any) -> Any:
        return await workflow.execute_activity(
            name, arg, start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(minutes=2), retry_policy=RETRY)

    @workflow.run
    async def run(self, inp: MigrationJobInput) -> None:
        targets = await self._act("migration_targets", inp)
        # the journeys not waiting now are asked too: each says why (busy ones again later)
        asked, busy = list(targets["moves"]) + list(targets["busy"]), []
        final = not inp.retry_after
        batches = [asked[i:i + BATCH] for i in range(0, len(asked), BATCH)]
        for i in range(0, len(batches), PARALLEL_BATCHES):
            results = await asyncio.gather(*(
                self._act("migration_move", MoveBatchInput(inp.migration_id, batch, final))
                for batch in batches[i:i + PARALLEL_BATCHES]))
            busy += [jid for r in results for jid in r]
        for n, pause in enumerate(inp.retry_after):
            if not busy:
                break
            await workflow.sleep(timedelta(seconds=pause))
            busy = await self._act("migration_move", MoveBatchInput(
                inp.migration_id, busy, final=n == len(inp.retry_after) - 1))
        await self._act("migration_finish", inp)


WORKFLOWS = [FlowMigrationWorkflow]
