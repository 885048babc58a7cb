"""Outcome activities: the end of a recycle cooldown enrols the lead in its recycle flow."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import activity
from temporalio.client import Client

from leadflow.dispatch import run_dispatch
from leadflow.sales.outcomes import recycle_due
from leadflow.temporal import RecycleInput

__all__ = ["OutcomeActivities", "activities_for"]


class OutcomeActivities:
    """Activities bound to one database and one Temporal client."""

    def __init__(self, db_url: str, client: Client | None) -> None:
        self.db_url = db_url
        self.client = client

    @activity.defn(name="recycle_lead")
    async def recycle_lead(self, inp: RecycleInput) -> dict[str, Any]:
        """Enrol the lead in its recycle flow, unless it moved on or left; says which."""
        result, plan = await asyncio.to_thread(recycle_due, self.db_url, inp)
        if self.client is not None and plan.starts:
            await run_dispatch(self.client, plan, self.db_url)
        return result


def activities_for(db_url: str, client: Client | None) -> list[Any]:
    """The outcome activities for the worker."""
    return [OutcomeActivities(db_url, client).recycle_lead]



