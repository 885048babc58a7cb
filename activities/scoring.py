"""Scoring activities: rescore a lead when its timer fires, and re-score leads in batches.

Database work runs in a thread; what it sets in motion (journey signals, enrolments, other
leads' timers) goes to Temporal through :func:`leadflow.dispatch.run_dispatch`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import activity
from temporalio.client import Client

from leadflow.dispatch import Dispatch, run_dispatch
from leadflow.temporal import RescoreBatchInput, RescoreInput
from leadflow.usecases.score_timers import rescore_batch, rescore_due

__all__ = ["ScoringActivities", "activities_for"]


class ScoringActivities:
    """Activities bound to one database and one Temporal client."""

    def __init__(self, db_url: str, client: Client | None) -> None:
        self.db_url = db_url
        self.client = client

    async def _dispatch(self, plan: Dispatch) -> None:
        if self.client is not None:
            await run_dispatch(self.client, plan, self.db_url)

    @activity.defn(name="rescore_lead")
    async def rescore_lead(self, inp: RescoreInput) -> float | None:
        """Rescore the lead and tell its journeys; returns when to wake next (POSIX) or None."""
        plan, due = await asyncio.to_thread(rescore_due, self.db_url, inp.lead_id, inp.at)
        await self._dispatch(plan)
        return due

    @activity.defn(name="rescore_batch")
    async def rescore_batch(self, inp: RescoreBatchInput) -> dict[str, Any]:
        """Re-score one batch of leads; ``next_after`` is None when every lead is done."""
        plan, last, count, superseded = await asyncio.to_thread(
            rescore_batch, self.db_url, inp.version, inp.after_id, inp.batch_size, inp.at)
        await self._dispatch(plan)
        return {"next_after": last, "count": count, "superseded": superseded}


def activities_for(db_url: str, client: Client | None) -> list[Any]:
    """The scoring activities for the worker."""
    acts = ScoringActivities(db_url, client)
    return [acts.rescore_lead, acts.rescore_batch]
