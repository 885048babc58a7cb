"""Migration activities: find the journeys to move, ask each to move (the migrate Update), report.

Each journey decides for itself in its Update validator (the same planner the preview runs);
a batch asks up to ``MOVE_CONCURRENCY`` journeys at once and adds its outcome to the job's row.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select
from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from leadflow.db import session_scope
from leadflow.journeys.flow_changes import (
    finish_migration,
    migration_targets,
    migration_update_arg,
    record_migration_results,
)
from leadflow.models import Journey
from leadflow.temporal import MIGRATE_REFUSED_BUSY, MIGRATE_UPDATE, MigrationJobInput

__all__ = ["MOVE_CONCURRENCY", "MigrationActivities", "MoveBatchInput", "activities_for"]

MOVE_CONCURRENCY = 16  # Updates in flight per batch
UPDATE_TIMEOUT = 60.0  # seconds one journey gets to take its new version


@dataclass
class MoveBatchInput:
    """Journeys to ask; with ``final``, busy ones are reported skipped instead of retried."""

    migration_id: str
    journey_ids: list[str]
    final: bool = False


class MigrationActivities:
    """Activities bound to one database and the Temporal client that reaches the journeys."""

    def __init__(self, db_url: str, client: Client | None) -> None:
        self.db_url = db_url
        self.client = client

    def _in_session(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        with session_scope(self.db_url) as session:
            return fn(session, *args, **kwargs)

    @activity.defn(name="migration_targets")
    async def targets(self, inp: MigrationJobInput) -> dict[str, list[str]]:
        return await asyncio.to_thread(self._in_session, migration_targets, inp.migration_id)  # type: ignore[no-any-return]

    async def _ask(self, journey_id: str, arg: dict[str, Any], retried: bool) -> tuple[str, str]:
        assert self.client is not None
        try:
            await asyncio.wait_for(self.client.get_workflow_handle(journey_id).execute_update(
                MIGRATE_UPDATE, arg), UPDATE_TIMEOUT)
            return "moved", ""
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            code = getattr(cause, "type", None) or ""
            message = getattr(cause, "message", None) or str(cause)
            if code == MIGRATE_REFUSED_BUSY:
                return "busy", message
            if retried and message.startswith("already on version"):
                return "moved", ""  # this batch's earlier attempt moved it
            return "skipped", message
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return "skipped", "the journey has ended"
            return "failed", f"Temporal refused the move: {exc.message}"
        except TimeoutError:
            return "failed", "the journey did not answer within a minute"

    @activity.defn(name="migration_move")
    async def move(self, inp: MoveBatchInput) -> list[str]:
        """Ask each journey to move; returns the busy ones (to ask again later)."""
        def load(session: Any) -> tuple[dict[str, Any], dict[str, str]]:
            leads = dict(session.exec(select(Journey.id, Journey.lead_id)
                                      .where(col(Journey.id).in_(inp.journey_ids))).all())
            return migration_update_arg(session, inp.migration_id), leads

        arg, leads = await asyncio.to_thread(self._in_session, load)
        gate = asyncio.Semaphore(MOVE_CONCURRENCY)
        retried = activity.info().attempt > 1

        async def one(jid: str) -> tuple[str, str, str]:
            async with gate:
                outcome, why = await self._ask(jid, arg, retried)
                activity.heartbeat()
                return jid, outcome, why

        results = await asyncio.gather(*(one(j) for j in inp.journey_ids))
        busy = [j for j, outcome, _ in results if outcome == "busy" and not inp.final]
        skipped = [{"lead_id": leads.get(j), "journey_id": j, "reason": why}
                   for j, outcome, why in results
                   if outcome == "skipped" or (outcome == "busy" and inp.final)]
        failed = [{"lead_id": leads.get(j), "journey_id": j, "reason": why}
                  for j, outcome, why in results if outcome == "failed"]
        moved = sum(1 for _, outcome, _ in results if outcome == "moved")
        await asyncio.to_thread(self._in_session, record_migration_results, inp.migration_id,
                                moved=moved, skipped=skipped, failed=failed)
        return busy

    @activity.defn(name="migration_finish")
    async def finish(self, inp: MigrationJobInput) -> None:
        await asyncio.to_thread(self._in_session, finish_migration, inp.migration_id)


def activities_for(db_url: str, client: Client | None) -> list[Any]:
    acts = MigrationActivities(db_url, client)
    return [acts.targets, acts.move, acts.finish]
