"""The journey workflow: a thin Temporal driver around the pure interpreter in leadflow.engine.

Deterministic: no I/O here. Its input and history carry ids and step names only; the lead's
personal data stays in the database, read by activities.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from leadflow.actions import StepInput
    from leadflow.engine import Command, JourneyState, advance
    from leadflow.temporal import (
        EVENT_SIGNAL,
        EXIT_SIGNAL,
        HANDOFF_WORKFLOW,
        JOURNEY_WORKFLOW,
        STEP_QUERY,
        JourneyInput,
    )
    from workflows.handoff import HandoffInput

__all__ = ["ACTIVITY_FOR_ACTION", "JourneyWorkflow"]

ACTIVITY_FOR_ACTION = {
    "email": "send_email",
    "decide": "decide",
    "update": "update_lead",
    "notify": "notify",
    "match_event": "match_event",
    "check_exit": "check_exit",
}
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                    maximum_interval=timedelta(minutes=5))
SEEN_EVENTS = 200  # recent event ids remembered, so a redelivered event is not handled twice


@workflow.defn(name=JOURNEY_WORKFLOW)
class JourneyWorkflow:
    """One lead walking one pinned flow version."""

    def __init__(self) -> None:
        self._inbox: list[dict[str, Any]] = []
        self._seen: deque[str] = deque(maxlen=SEEN_EVENTS)
        self._state: JourneyState | None = None

    @workflow.signal(name=EVENT_SIGNAL)
    def on_event(self, payload: dict[str, Any]) -> None:
        event_id = payload.get("event_id")
        if event_id:
            if event_id in self._seen:
                return
            self._seen.append(event_id)
        self._inbox.append(payload)

    @workflow.signal(name=EXIT_SIGNAL)
    def on_exit(self, payload: dict[str, Any] | None = None) -> None:
        self._inbox.insert(0, {"kind": "exit", "reason": (payload or {}).get("reason", "manual")})

    @workflow.query(name=STEP_QUERY)
    def current_step(self) -> dict[str, Any]:
        s = self._state
        if s is None:
            return {"step": None, "status": "starting"}
        return {"step": s.step, "status": s.status, "waiting": s.waiting, "deadline": s.deadline}

    def _now(self) -> float:
        return workflow.now().timestamp()

    def _step_input(self, inp: JourneyInput, cmd: Command, **extra: Any) -> StepInput:
        return StepInput(journey_id=inp.journey_id, lead_id=inp.lead_id, flow_id=inp.flow_id,
                         version=inp.version, step=cmd.step, visit=cmd.visit, send_id=cmd.send_id,
                         event_id=cmd.event_id, trail=cmd.trail, **extra)

    async def _activity(self, name: str, arg: StepInput) -> Any:
        # Every activity is short (database work, one provider call with its own timeout), so a
        # worker killed mid-activity is noticed after 30 s and the activity retried elsewhere.
        return await workflow.execute_activity(
            name, arg, start_to_close_timeout=timedelta(seconds=30), retry_policy=RETRY)

    @workflow.run
    async def run(self, inp: JourneyInput) -> dict[str, Any]:
        flow = await workflow.execute_local_activity(
            "load_flow", StepInput(journey_id=inp.journey_id, lead_id=inp.lead_id,
                                   flow_id=inp.flow_id, version=inp.version),
            start_to_close_timeout=timedelta(seconds=30), retry_policy=RETRY)
        self._inbox = list(inp.inbox) + self._inbox
        if inp.state is not None:
            carried = dict(inp.state)
            self._seen.extend(carried.pop("_seen", []))
            state = JourneyState(**carried)
            cmd = Command("sleep", step=state.step, until=state.deadline)
        else:
            state = JourneyState(journey_id=inp.journey_id, lead_id=inp.lead_id)
            cmd = advance(flow, state, {"kind": "start"}, self._now())
        self._state = state

        while True:
            if cmd.kind == "finish":
                await self._activity("finish_journey", self._step_input(
                    inp, cmd, status=cmd.status, reason=cmd.reason))
                return {"status": cmd.status, "reason": cmd.reason, "step": state.step}

            if cmd.kind == "run":
                if cmd.action == "handoff":
                    if cmd.trail:
                        await self._activity("record_progress", self._step_input(inp, cmd))
                    result = await workflow.execute_child_workflow(
                        HANDOFF_WORKFLOW,
                        HandoffInput(journey_id=inp.journey_id, lead_id=inp.lead_id,
                                     flow_id=inp.flow_id, version=inp.version,
                                     step=cmd.step or "", visit=cmd.visit),
                        id=f"handoff-{inp.journey_id}-{cmd.step}-{cmd.visit}")
                else:
                    result = await self._activity(ACTIVITY_FOR_ACTION[cmd.action],
                                                  self._step_input(inp, cmd))
                cmd = advance(flow, state, {"kind": "result", "value": result}, self._now())
                continue

            # sleep: record where we wait, then wait for the deadline or an event
            if cmd.trail:
                await self._activity("record_progress", self._step_input(
                    inp, cmd, waiting_until=cmd.until))
            info = workflow.info()
            if not self._inbox and (info.is_continue_as_new_suggested()
                                    or info.get_current_history_length() > inp.history_limit):
                carried = asdict(state)
                carried["_seen"] = list(self._seen)
                workflow.continue_as_new(JourneyInput(
                    journey_id=inp.journey_id, lead_id=inp.lead_id, flow_id=inp.flow_id,
                    version=inp.version, state=carried, inbox=list(self._inbox),
                    history_limit=inp.history_limit))
            if not self._inbox:
                timeout = None if cmd.until is None else max(0.0, cmd.until - self._now())
                try:
                    await workflow.wait_condition(lambda: bool(self._inbox), timeout=timeout)
                except TimeoutError:
                    pass
            event = self._inbox.pop(0) if self._inbox else {"kind": "timer"}
            cmd = advance(flow, state, event, self._now())
