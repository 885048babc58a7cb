"""The activities journey and handoff workflows call: every side effect lives here.

Each activity takes one dataclass input and runs its database work in a thread, so the worker's
event loop stays free. Errors that retrying can fix are left to Temporal's retry policy.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from leadflow.db import session_scope
from leadflow.errors import TransientDeliveryError
from leadflow.journeys import actions
from leadflow.journeys.actions import StepInput
from leadflow.journeys.flows import load_version_document
from leadflow.journeys.migration import MoveInput
from leadflow.leads.events import Dispatch, run_dispatch

__all__ = ["JourneyActivities"]


class JourneyActivities:
    """Activities bound to one database and one Temporal client (to wake other journeys)."""

    def __init__(self, db_url: str, client: Client | None) -> None:
        self.db_url = db_url
        self.client = client

    async def _thread(self, fn: Any, *args: Any) -> Any:
        return await asyncio.to_thread(fn, self.db_url, *args)

    async def _dispatch(self, plan: Dispatch) -> None:
        if self.client is not None and (plan.starts or plan.signals or plan.event_ids
                                        or plan.score_timers):
            await run_dispatch(self.client, plan, self.db_url)

    @activity.defn(name="load_flow")
    async def load_flow(self, inp: StepInput) -> dict[str, Any]:
        return await asyncio.to_thread(load_version_document, self.db_url, inp.flow_id, inp.version)

    @activity.defn(name="record_progress")
    async def record_progress(self, inp: StepInput) -> None:
        def run(url: str) -> None:
            with session_scope(url) as session:
                actions.record_trail(session, inp)
        await self._thread(run)

    @activity.defn(name="send_email")
    async def send_email(self, inp: StepInput) -> dict[str, Any]:
        try:
            return await self._thread(actions.send_email, inp)
        except TransientDeliveryError as exc:
            delay = getattr(exc, "retry_after", None)
            raise ApplicationError(
                exc.detail, type="TransientDeliveryError",
                next_retry_delay=timedelta(seconds=delay) if delay else None) from exc

    @activity.defn(name="decide")
    async def decide(self, inp: StepInput) -> dict[str, Any]:
        return await self._thread(actions.decide, inp)

    @activity.defn(name="update_lead")
    async def update_lead(self, inp: StepInput) -> dict[str, Any]:
        result, plan = await self._thread(actions.apply_update, inp)
        await self._dispatch(plan)
        return result  # type: ignore[no-any-return]

    @activity.defn(name="notify")
    async def notify(self, inp: StepInput) -> dict[str, Any]:
        from leadflow.journeys.notify_step import run_notify_step

        return await self._thread(run_notify_step, inp)

    @activity.defn(name="match_event")
    async def match_event(self, inp: StepInput) -> bool:
        return await self._thread(actions.match_event, inp)

    @activity.defn(name="check_exit")
    async def check_exit(self, inp: StepInput) -> bool:
        return await self._thread(actions.check_exit, inp)

    @activity.defn(name="record_move")
    async def record_move(self, inp: MoveInput) -> None:
        """A journey took a new flow version (the migrate Update): record it."""
        from leadflow.journeys.flow_changes import record_move

        def run(url: str) -> None:
            with session_scope(url) as session:
                record_move(session, inp)
        await self._thread(run)

    @activity.defn(name="finish_journey")
    async def finish_journey(self, inp: StepInput) -> None:
        await self._thread(actions.finish_journey, inp)

    def all(self) -> list[Any]:
        return [self.load_flow, self.record_progress, self.send_email, self.decide,
                self.update_lead, self.notify, self.match_event, self.check_exit,
                self.finish_journey, self.record_move]


