"""The journey workflow: a thin Temporal driver around the pure interpreter in leadflow.journeys.engine.

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
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from leadflow.workflows.handoff import HandoffInput

    from leadflow.journeys.actions import StepInput
    from leadflow.journeys.engine import Command, JourneyState, advance
    from leadflow.journeys.migration import Move, MoveInput, Position, Request, plan, templates_sent
    from leadflow.temporal import (
        EVENT_SIGNAL,
        EXIT_SIGNAL,
        HANDOFF_WORKFLOW,
        JOURNEY_WORKFLOW,
        MIGRATE_UPDATE,
        STEP_QUERY,
        JourneyInput,
    )

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
MIGRATE_PATCH = "journey-migrate-update"  # taking a newer flow version by the migrate Update


@workflow.defn(name=JOURNEY_WORKFLOW)
class JourneyWorkflow:
    """One lead walking one pinned flow version."""

    def __init__(self) -> None:
        self._inbox: list[dict[str, Any]] = []
        self._seen: deque[str] = deque(maxlen=SEEN_EVENTS)
        self._state: JourneyState | None = None
        self._inp: JourneyInput | None = None
        self._flow: dict[str, Any] | None = None
        self._sleeping = False  # idle at a wait: the only moment a journey may change version
        self._move: tuple[dict[str, Any], Move] | None = None
        self._move_recorded = False

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

    def _plan_move(self, req: dict[str, Any]) -> Move | tuple[str, str]:
        """This journey's move under ``req``, by the same planner as the preview, or why not."""
        s, inp, flow = self._state, self._inp, self._flow
        if s is None or inp is None or flow is None or s.status != "running":
            return ("finished", "the journey has ended")
        if self._move is not None:
            return ("busy", "the journey is already moving to a new version")
        request = Request.from_dict(req)
        waiting = s.waiting if self._sleeping and not s.action and not self._inbox else ""
        pos = Position(inp.journey_id, inp.lead_id, inp.version, s.step, waiting, s.deadline)
        result = plan({inp.version: flow, request.to_version: req["document"]}, [pos], request,
                      self._now())
        if result.moves:
            return result.moves[0]
        if result.skipped:
            return (result.skipped[0].code, result.skipped[0].reason)
        return ("problem", "; ".join(p["message"] for p in result.problems) or "nothing to move")

    @workflow.update(name=MIGRATE_UPDATE)
    async def migrate(self, req: dict[str, Any]) -> dict[str, Any]:
        """Take the flow version ``req["to_version"]`` at the step the planner maps this one to."""
        move = self._plan_move(req)
        if not isinstance(move, Move):
            raise ApplicationError(move[1], type=move[0], non_retryable=True)
        self._move = (req, move)
        await workflow.wait_condition(lambda: self._move_recorded)
        return {"journey_id": move.journey_id, "from_version": move.from_version,
                "from_step": move.from_step, "to_step": move.to_step,
                "next_action_at": move.next_action_at}

    @migrate.validator
    def _check_migrate(self, req: dict[str, Any]) -> None:
        # stale version, mid-action, finished journey: refused here, so nothing enters history
        move = self._plan_move(req)
        if not isinstance(move, Move):
            raise ApplicationError(move[1], type=move[0], non_retryable=True)

    async def _take_new_version(self, inp: JourneyInput, state: JourneyState) -> None:
        """Record the move, then continue as new on the new version, waiting at its step."""
        assert self._move is not None and self._flow is not None
        req, move = self._move
        doc = req["document"]
        to_version = int(req["to_version"])
        sent = templates_sent(self._flow, state.visits)
        state.skip_templates = state.skip_templates + [t for t in sent
                                                        if t not in state.skip_templates]
        state.step = move.to_step
        state.visits[move.to_step] = state.visits.get(move.to_step, 0) + 1
        state.waiting = "timer" if doc["steps"][move.to_step]["type"] == "wait" else "event"
        state.deadline, state.action, state.pending_event = move.next_action_at, "", None
        await self._activity("record_move", MoveInput(
            journey_id=inp.journey_id, lead_id=inp.lead_id, flow_id=inp.flow_id,
            from_version=inp.version, to_version=to_version, from_step=move.from_step,
            to_step=move.to_step, visit=state.visits[move.to_step],
            next_action_at=move.next_action_at, migration_id=req.get("migration_id"),
            at=self._now()))
        self._move_recorded = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        carried = asdict(state)
        carried["_seen"] = list(self._seen)
        workflow.continue_as_new(JourneyInput(
            journey_id=inp.journey_id, lead_id=inp.lead_id, flow_id=inp.flow_id,
            version=to_version, state=carried, inbox=list(self._inbox),
            history_limit=inp.history_limit))

    def _step_input(self, inp: JourneyInput, cmd: Command, **extra: Any) -> StepInput:
        return StepInput(journey_id=inp.journey_id, lead_id=inp.lead_id, flow_id=inp.flow_id,
                         version=inp.version, step=cmd.step, visit=cmd.visit, send_id=cmd.send_id,
                         event_id=cmd.event_id, trail=cmd.trail, **extra)

    async def _activity(self, name: str, arg: Any) -> Any:
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
        self._state, self._inp, self._flow = state, inp, flow

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
                self._sleeping = True
                try:
                    await workflow.wait_condition(
                        lambda: bool(self._inbox) or self._move is not None, timeout=timeout)
                except TimeoutError:
                    pass
                finally:
                    self._sleeping = False
            if self._move is not None and workflow.patched(MIGRATE_PATCH):
                await self._take_new_version(inp, state)
            event = self._inbox.pop(0) if self._inbox else {"kind": "timer"}
            cmd = advance(flow, state, event, self._now())
