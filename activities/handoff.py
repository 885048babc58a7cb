"""Activities of the handoff workflow: assignment, SLA rungs and notifications.

Database work runs in a thread (the worker's event loop stays free); a notification channel
that cannot be reached raises a retryable error, so Temporal retries it on its own schedule.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from leadflow.errors import ProviderRefused, TransientDeliveryError
from leadflow.sales import handoffs
from leadflow.sales.handoffs import EscalateInput, ReassignInput, RemindInput, WithdrawInput
from leadflow.sales.notifications import NotifyInput, send_notification
from leadflow.temporal import HandoffInput

__all__ = ["HandoffActivities", "activities_for"]


class HandoffActivities:
    """Handoff activities bound to one database."""

    def __init__(self, db_url: str, client: Client | None = None) -> None:
        self.db_url = db_url
        self.client = client

    async def _thread(self, fn: Any, *args: Any) -> Any:
        return await asyncio.to_thread(fn, self.db_url, *args)

    @activity.defn(name="open_handoff")
    async def open_handoff(self, inp: HandoffInput) -> dict[str, Any]:
        """Create, assign and time the handoff (idempotent)."""
        return await self._thread(handoffs.open_handoff, inp)

    @activity.defn(name="handoff_reassign")
    async def reassign(self, inp: ReassignInput) -> dict[str, Any]:
        """Take the handoff from a rep who went out of office."""
        return await self._thread(handoffs.reassign, inp)

    @activity.defn(name="handoff_escalate")
    async def escalate(self, inp: EscalateInput) -> dict[str, Any]:
        """Climb one rung of the escalation ladder."""
        return await self._thread(handoffs.escalate, inp)

    @activity.defn(name="withdraw_handoff")
    async def withdraw(self, inp: WithdrawInput) -> dict[str, Any]:
        """Close the handoff of a journey that ended; whom to tell."""
        return await self._thread(handoffs.withdraw, inp)

    @activity.defn(name="handoff_remind")
    async def remind(self, inp: RemindInput) -> dict[str, Any]:
        """Record a due-soon reminder."""
        return await self._thread(handoffs.remind, inp)

    @activity.defn(name="handoff_notify")
    async def notify(self, inp: NotifyInput) -> str:
        """Send one notification on one channel; unreachable channels are retried."""
        try:
            return await self._thread(send_notification, inp)
        except TransientDeliveryError as exc:
            delay = getattr(exc, "retry_after", None)
            raise ApplicationError(
                exc.detail, type="TransientDeliveryError",
                next_retry_delay=timedelta(seconds=delay) if delay else None) from exc
        except ProviderRefused:
            return "refused"  # a channel that refuses (404...) is not asked again

    def all(self) -> list[Any]:
        """Every handoff activity, for the worker."""
        return [self.open_handoff, self.reassign, self.escalate, self.remind, self.notify,
                self.withdraw]


def activities_for(db_url: str, client: Client | None) -> list[Any]:
    """The handoff activities for the worker (see ``activities/__init__.py``)."""
    return HandoffActivities(db_url, client).all()
