"""The activities journey and handoff workflows call: every side effect lives here.

Each activity takes one dataclass input and runs its database work in a thread, so the worker's
event loop stays free. Errors that retrying can fix are left to Temporal's retry policy (with a
ceiling, see workflows/journey.py). Errors retrying cannot fix (a template that does not render
for this lead, a step or template that does not exist) are raised as non-retryable
``ApplicationError``s whose type is a code and whose message a marketer understands: the
journey is then recorded ``failed`` at once and can be retried once the cause is fixed.
A notification that cannot be delivered never holds the journey: after a few attempts (or at
once, when refused) it is recorded as failed and the journey goes on.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from jinja2 import TemplateError
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from leadflow.db import session_scope
from leadflow.dispatch import Dispatch, run_dispatch
from leadflow.errors import LeadflowError, ProviderRefused, TransientDeliveryError
from leadflow.journeys import actions
from leadflow.journeys.actions import StepInput
from leadflow.journeys.flows import load_version_document
from leadflow.journeys.migration import MoveInput
from leadflow.usecases.events import events_in_time
from leadflow.usecases.update_step import apply_update

__all__ = ["NOTIFY_ATTEMPTS", "JourneyActivities", "permanent_failure"]

NOTIFY_ATTEMPTS = 5  # then the notification is recorded as failed and the journey goes on


def permanent_failure(exc: BaseException, what: str) -> ApplicationError | None:
    """The non-retryable error for ``exc`` when retrying cannot fix it, else None."""
    if isinstance(exc, LeadflowError) and 400 <= exc.status_code < 500:
        return ApplicationError(f"The {what} cannot run: {exc.detail}", type=type(exc).__name__,
                                non_retryable=True)
    if isinstance(exc, TemplateError):
        return ApplicationError(f"The {what} cannot be rendered for this lead: {exc.message}",
                                type="TemplateError", non_retryable=True)
    if isinstance(exc, KeyError | LookupError):
        return ApplicationError(f"The {what} refers to something that does not exist "
                                f"({exc}); check the flow version.", type="Missing",
                                non_retryable=True)
    return None


class JourneyActivities:
    """Activities bound to one database and one Temporal client (to wake other journeys)."""

    def __init__(self, db_url: str, client: Client | None) -> None:
        self.db_url = db_url
        self.client = client
        self._documents: dict[tuple[str, int], dict[str, Any]] = {}

    async def _thread(self, fn: Any, *args: Any) -> Any:
        return await asyncio.to_thread(fn, self.db_url, *args)

    async def _step(self, what: str, fn: Any, *args: Any) -> Any:
        """Run a step's work; errors retrying cannot fix become non-retryable."""
        try:
            return await self._thread(fn, *args)
        except (TransientDeliveryError, ApplicationError):
            raise
        except Exception as exc:
            failure = permanent_failure(exc, what)
            if failure is None:
                raise
            raise failure from None

    async def _dispatch(self, plan: Dispatch) -> None:
        if self.client is not None and (plan.starts or plan.signals or plan.event_ids
                                        or plan.score_timers):
            await run_dispatch(self.client, plan, self.db_url)

    @activity.defn(name="load_flow")
    async def load_flow(self, inp: StepInput) -> dict[str, Any]:
        # Versions never change: a document this worker has read is answered at once, without
        # waiting for a thread behind the step activities (the journey's first task waits on it).
        key = (inp.flow_id, inp.version)
        doc = self._documents.get(key)
        if doc is None:
            doc = await asyncio.to_thread(load_version_document, self.db_url, *key)
            if len(self._documents) >= 512:
                self._documents.clear()
            self._documents[key] = doc
        return doc

    @activity.defn(name="record_progress")
    async def record_progress(self, inp: StepInput) -> None:
        def run(url: str) -> None:
            with session_scope(url) as session:
                actions.record_trail(session, inp)
        await self._thread(run)

    @activity.defn(name="send_email")
    async def send_email(self, inp: StepInput) -> dict[str, Any]:
        try:
            return await self._step(f"e-mail of step {inp.step!r}", actions.send_email, inp)  # type: ignore[no-any-return]
        except TransientDeliveryError as exc:
            delay = getattr(exc, "retry_after", None)
            raise ApplicationError(
                exc.detail, type="TransientDeliveryError",
                next_retry_delay=timedelta(seconds=delay) if delay else None) from exc

    @activity.defn(name="decide")
    async def decide(self, inp: StepInput) -> dict[str, Any]:
        return await self._step(f"branch {inp.step!r}", actions.decide, inp)  # type: ignore[no-any-return]

    @activity.defn(name="update_lead")
    async def update_lead(self, inp: StepInput) -> dict[str, Any]:
        result, plan = await self._step(f"update step {inp.step!r}", apply_update, inp)
        await self._dispatch(plan)
        return result  # type: ignore[no-any-return]

    @activity.defn(name="notify")
    async def notify(self, inp: StepInput) -> dict[str, Any]:
        from leadflow.journeys.notify_step import record_notify_failed, run_notify_step

        try:
            return await self._thread(run_notify_step, inp)  # type: ignore[no-any-return]
        except TransientDeliveryError as exc:
            if activity.info().attempt < NOTIFY_ATTEMPTS:
                raise ApplicationError("the notification channel did not answer",
                                       type="TransientDeliveryError") from None
            code = "unreachable"
            del exc
        except ProviderRefused:
            code = "refused"
        except Exception as exc:
            if permanent_failure(exc, "notification") is None:
                raise
            code = type(exc).__name__
        # A notification that cannot go out never holds the lead: recorded, and on we go.
        await self._thread(record_notify_failed, inp, code)
        return {"status": "failed", "reason": code}

    @activity.defn(name="match_event")
    async def match_event(self, inp: StepInput) -> bool:
        return await self._step(f"event check of step {inp.step!r}", actions.match_event, inp)  # type: ignore[no-any-return]

    @activity.defn(name="events_in_time")
    async def events_in_time(self, inp: StepInput) -> list[dict[str, Any]]:
        return await self._step(f"event check of step {inp.step!r}", events_in_time, inp)  # type: ignore[no-any-return]

    @activity.defn(name="check_exit")
    async def check_exit(self, inp: StepInput) -> bool:
        return await self._step("flow's goal (exit_when)", actions.check_exit, inp)  # type: ignore[no-any-return]

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

    @activity.defn(name="journey_failed")
    async def journey_failed(self, inp: StepInput) -> None:
        """Record the journey failed at its step, with the marketer's reason."""
        await self._thread(actions.journey_failed, inp)

    @activity.defn(name="journey_retried")
    async def journey_retried(self, inp: StepInput) -> None:
        """Record the failed journey running again (the retry Update)."""
        await self._thread(actions.journey_retried, inp)

    def all(self) -> list[Any]:
        return [self.load_flow, self.record_progress, self.send_email, self.decide,
                self.update_lead, self.notify, self.match_event, self.events_in_time,
                self.check_exit,
                self.finish_journey, self.record_move, self.journey_failed,
                self.journey_retried]


