"""Housekeeping activities: deleting delivered outbox rows past their retention."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import activity

from leadflow.config import get_settings
from leadflow.intents import prune_delivered

__all__ = ["HousekeepingActivities", "activities_for"]


class HousekeepingActivities:
    """Activities bound to one database."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url

    @activity.defn(name="prune_delivered_intents")
    async def prune_delivered_intents(self) -> dict[str, Any]:
        """Delete intents delivered more than ``LEADFLOW_INTENT_RETENTION_DAYS`` ago (0: keep
        them all); says how many and the retention used."""
        days = get_settings().intent_retention_days
        pruned = 0
        if days > 0:
            pruned = await asyncio.to_thread(prune_delivered, self.db_url, timedelta(days=days))
        return {"pruned": pruned, "retention_days": days}


def activities_for(db_url: str) -> list[Any]:
    """The housekeeping activities for the worker."""
    return [HousekeepingActivities(db_url).prune_delivered_intents]
