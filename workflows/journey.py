"""The journey workflow: a thin Temporal driver around the pure interpreter in leadflow.journeys.engine.

Deterministic: no I/O here. Its input and history carry ids and step names only; the lead's
personal data stays in the database, read by activities.

Nothing holds a journey against an exit: every action (an activity, the handoff child) runs
while the workflow keeps reading its signals. An exit signal (manual, stopped, erased), or an
``exit_when`` goal met meanwhile, cancels the action (a handoff child withdraws its handoff and
tells the rep) and ends the journey at once.

Errors retrying cannot fix (non-retryable, or transient ones past their ceiling) do not end
the workflow: the journey is recorded ``failed`` with a reason a marketer understands and
parks at the failed step, where the ``retry`` Update runs the step again once the cause is
fixed; an exit still ends it. A journey nobody retries ends for good after
:data:`PARKED_FOR`.

Quick database work (progress, branch decisions, event and goal checks, the finish) runs as
local activities (``LOCAL_PATCH``): no task through the server and no extra workflow task, so
a three-mail journey costs the server three activity tasks, as a bare three-step workflow does.

Changes that alter the commands a workflow issues go through ``workflow.patched`` (the ids
below), so journeys started on older code replay: see "Changing workflow code safely" in the
README. Journeys started on code generation 1 or later (``JourneyInput.code``, set by every new
enrolment) take all the changes below without asking ``workflow.patched``: a patch marker and
its search-attribute upsert cost the server about a fifth of a three-mail journey's work. They
also run the steps' idempotent work (``LOCAL_FIRST``: e-mails, progress, decisions, checks, the
end) as a local activity first (no task through the server: a three-mail journey is one
workflow task), and only when that one attempt fails as a regular activity with the retry
policy and ceiling below, so a long outage retries on the server, not in the history.
"""

from __future__ import annotations

import asyncio
import copy
from collections import deque
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
    FailureError,
    is_cancelled_exception,
)

with workflow.unsafe.imports_passed_through():
    from leadflow.journeys.actions import StepInput
    from leadflow.journeys.engine import Command, JourneyState, advance
    from leadflow.journeys.migration import Move, MoveInput, Position, Request, plan, templates_sent
    from leadflow.temporal import (
        EVENT_SIGNAL,
        EXIT_SIGNAL,
        HANDOFF_WORKFLOW,
        JOURNEY_WORKFLOW,
        MIGRATE_UPDATE,
        RETRY_UPDATE,
        STEP_QUERY,
        HandoffInput,
        JourneyInput,
        failure_reason,
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
# Bookkeeping activities (database writes only) retry until the database answers: a journey
# cannot even record a failure without it.
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                    maximum_interval=timedelta(minutes=5))
# Step actions retry transient errors with backoff for at most a day; then the journey fails
# (and can be retried). Errors retrying cannot fix are non-retryable and fail it at once.
STEP_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                         maximum_interval=timedelta(minutes=5), maximum_attempts=400)
STEP_CEILING = timedelta(days=1)
BOOKKEEPING = ("record_progress", "finish_journey", "journey_failed", "journey_retried",
               "record_move")
PARKED_FOR = timedelta(days=90)
SEEN_EVENTS = 200  # recent event ids remembered, so a redelivered event is not handled twice
MIGRATE_PATCH = "journey-migrate-update"  # taking a newer flow version by the migrate Update
EXIT_PATCH = "journey-exit-interrupts-actions"
FAIL_PATCH = "journey-fails-and-parks"
EARLY_PATCH = "journey-keeps-early-events"
# Quick database work (bookkeeping, branch decisions, event and goal checks) runs as local
# activities: no task through the server, no extra workflow task; the result is a marker.
LOCAL_PATCH = "journey-local-bookkeeping"
LOCAL = frozenset({"record_progress", "finish_journey", "decide", "match_event", "check_exit"})
# ... but not the progress recorded before a wait: a burst of journeys reaching their waits
# held their workflow tasks open on it (one SQLite writer), so it is an activity again.
PROGRESS_PATCH = "journey-progress-as-activity"
# Measured after: on a loaded worker the local activities queued behind the step activities'
# threads with their workflow tasks held open (0.48x the bare baseline against 0.75x before, in
# one A/B pair): new journeys run every activity through the server again.
NO_LOCAL_PATCH = "journey-activities-again"
# At a wait_for's timeout the journey asks the database for events accepted within the window
# whose signal has not reached it (Temporal down or overloaded while the outbox retried): they
# count, instead of the timeout path (bench/durability at 1,000 leads on a loaded machine).
LATE_EVENTS_PATCH = "journey-late-events-count"
# An e-mail step the journey ends after records the end in the send's own transaction: no
# finish_journey activity (a three-mail journey costs three activity tasks, as the baseline).
FINISH_PATCH = "journey-finish-with-last-send"
# Code generation 1 (JourneyInput.code): every change above, without markers, and the local
# attempt of a step's work (``_local_first``) has this long before the regular activity takes
# over. Longer than the workflow task's timeout: the SDK heartbeats the task meanwhile.
LOCAL_TIMEOUT = timedelta(seconds=30)
# The work that may run locally: what running twice cannot repeat. The server refuses a
# completion that ends the workflow while a signal waits; the task's local results are then
# lost and run again. E-mails are keyed by send id, progress by step visit, the end by the
# journey's status; decisions and checks only read. A notification (a webhook, a Slack post)
# or a lead update (scores, signals to other journeys) would happen twice: they stay
# activities, run once by the server.
LOCAL_FIRST = frozenset({"send_email", "decide", "match_event", "check_exit", "events_in_time",
                         "record_progress", "finish_journey"})


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
        self._parked = False  # failed, waiting for the retry Update or an exit
        self._retry = False
        self._ended_by_step = False  # the last e-mail step recorded the journey's end
        self._code = 0  # the code generation the journey started on (JourneyInput.code)

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

    @workflow.update(name=RETRY_UPDATE)
    async def retry(self) -> dict[str, Any]:
        """Run the failed step again (``POST /api/leads/{id}/flows/{flow_id}/retry``)."""
        self._retry = True
        await workflow.wait_condition(lambda: not self._parked)
        s = self._state
        return {"status": "running", "step": s.step if s else None}

    @retry.validator
    def _check_retry(self) -> None:
        # refused before anything enters the history
        if not self._parked or self._retry:
            raise ApplicationError("The journey has not failed: there is nothing to retry.",
                                   type="not_failed", non_retryable=True)

    @workflow.query(name=STEP_QUERY)
    def current_step(self) -> dict[str, Any]:
        s = self._state
        if s is None:
            return {"step": None, "status": "starting"}
        return {"step": s.step, "status": "failed" if self._parked else s.status,
                "waiting": s.waiting, "deadline": s.deadline}

    def _patched(self, patch_id: str) -> bool:
        """Whether the change ``patch_id`` (one of the patches above, all older than code
        generation 1) applies: always from generation 1, without a marker; before it, as the
        history recorded (``workflow.patched``). A later change calls ``workflow.patched``
        itself (or starts generation 2): generation 1 journeys are running."""
        return self._code >= 1 or workflow.patched(patch_id)

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
        waiting = s.waiting if self._sleeping and not s.action and not self._inbox else (
            "handoff" if s.action == "handoff" else "")
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
            history_limit=inp.history_limit, code=inp.code))

    def _step_input(self, inp: JourneyInput, cmd: Command, **extra: Any) -> StepInput:
        return StepInput(journey_id=inp.journey_id, lead_id=inp.lead_id, flow_id=inp.flow_id,
                         version=inp.version, step=cmd.step, visit=cmd.visit, send_id=cmd.send_id,
                         event_id=cmd.event_id, trail=cmd.trail,
                         at=self._now() if self._code >= 1 else None, **extra)

    def _start_activity(self, name: str, arg: Any) -> Any:
        # Every activity is short (database work, one provider call with its own timeout), so a
        # worker killed mid-activity is noticed after 30 s and the activity retried elsewhere.
        options: dict[str, Any] = {"start_to_close_timeout": timedelta(seconds=30)}
        if name in BOOKKEEPING:
            options["retry_policy"] = RETRY
        else:
            options.update(retry_policy=STEP_RETRY, schedule_to_close_timeout=STEP_CEILING)
        if self._code >= 1 and name in LOCAL_FIRST:
            return asyncio.ensure_future(self._local_first(name, arg, options))
        if name in LOCAL and self._patched(LOCAL_PATCH) and not self._patched(
                NO_LOCAL_PATCH) and not (name == "record_progress"
                                         and self._patched(PROGRESS_PATCH)):
            return workflow.start_local_activity(name, arg, **options)
        return workflow.start_activity(name, arg, **options)

    async def _local_first(self, name: str, arg: Any, options: dict[str, Any]) -> Any:
        """One attempt as a local activity (in this workflow task: no task through the server);
        if it fails in a way retrying may fix, the regular activity with ``options`` (its retry
        policy and ceiling), after the delay the failure asked for. Errors retrying cannot fix
        and cancellation are raised as they are."""
        try:
            return await workflow.execute_local_activity(
                name, arg, start_to_close_timeout=LOCAL_TIMEOUT,
                retry_policy=RetryPolicy(maximum_attempts=1))
        except FailureError as err:  # the SDK raises a local activity's own error
            cause = err.cause if isinstance(err, ActivityError) else err
            if is_cancelled_exception(err) or (isinstance(cause, ApplicationError)
                                               and cause.non_retryable):
                raise
            delay = cause.next_retry_delay if isinstance(cause, ApplicationError) else None
        if delay:
            await workflow.sleep(delay)
        return await workflow.start_activity(name, arg, **options)

    async def _activity(self, name: str, arg: Any) -> Any:
        return await self._start_activity(name, arg)

    def _interrupting(self, flow: dict[str, Any]) -> bool:
        """An exit, or a lead change that may meet ``exit_when``, waits in the inbox."""
        return any(e.get("kind") == "exit" or (e.get("kind") == "lead_changed"
                                                and flow.get("exit_when") is not None)
                   for e in self._inbox)

    async def _exit_requested(self, inp: JourneyInput, flow: dict[str, Any],
                              cmd: Command) -> dict[str, Any] | None:
        """Take the interrupting items from the inbox: the exit to apply, or None."""
        for n, item in enumerate(self._inbox):
            if item.get("kind") == "exit":
                del self._inbox[n]
                return item
        changed = [e for e in self._inbox if e.get("kind") == "lead_changed"]
        self._inbox = [e for e in self._inbox if e.get("kind") != "lead_changed"]
        if changed and await self._activity("check_exit", self._step_input(
                inp, Command("run", step=cmd.step, visit=cmd.visit))):
            return {"kind": "exit", "reason": "goal"}
        return None

    async def _perform(self, inp: JourneyInput, flow: dict[str, Any],
                       cmd: Command) -> tuple[str, Any]:
        """Run the command's action: ``("done", result)``, or ``("exit", event)`` when an exit
        came first (the action is cancelled), or ``("failed", error)``."""
        if cmd.action == "handoff":
            if cmd.trail:
                await self._activity("record_progress", self._step_input(inp, cmd))
            task: Any = asyncio.ensure_future(workflow.execute_child_workflow(
                HANDOFF_WORKFLOW,
                HandoffInput(journey_id=inp.journey_id, lead_id=inp.lead_id,
                             flow_id=inp.flow_id, version=inp.version,
                             step=cmd.step or "", visit=cmd.visit),
                id=f"handoff-{inp.journey_id}-{cmd.step}-{cmd.visit}"))
        else:
            extra: dict[str, Any] = {}
            if cmd.action == "email":
                end = self._end_after(flow)
                if end is not None:
                    extra["finish"] = end
            task = self._start_activity(ACTIVITY_FOR_ACTION[cmd.action],
                                        self._step_input(inp, cmd, **extra))
        while not task.done():
            await workflow.wait_condition(lambda: task.done() or self._interrupting(flow))
            if task.done():
                break
            if not self._patched(EXIT_PATCH):
                # journeys recorded before: the action finishes first, whatever arrives
                await workflow.wait([task])
                break
            exit_event = await self._exit_requested(inp, flow, cmd)
            if exit_event is not None:
                task.cancel()
                await workflow.wait([task])
                return "exit", exit_event
        try:
            return "done", task.result()
        except (ActivityError, ChildWorkflowError) as err:
            if not self._patched(FAIL_PATCH):
                raise
            return "failed", err
        except FailureError as err:  # a local attempt's error retrying cannot fix
            if self._code < 1:
                raise
            return "failed", err

    def _end_after(self, flow: dict[str, Any]) -> dict[str, Any] | None:
        """The journey's end when the e-mail being sent leads straight to it (else None): what
        ``finish_journey`` would record, for the send activity to record instead."""
        if self._state is None:
            return None
        probe = copy.deepcopy(self._state)
        nxt = advance(flow, probe, {"kind": "result", "value": {"status": "sent"}}, self._now())
        if nxt.kind != "finish" or nxt.status != "completed" or not self._patched(FINISH_PATCH):
            return None
        return {"status": nxt.status, "reason": nxt.reason, "trail": nxt.trail}

    async def _park(self, inp: JourneyInput, cmd: Command,
                    err: BaseException) -> dict[str, Any] | None:
        """Record the failure, then wait for the retry Update (None) or an exit (returned)."""
        reason = failure_reason(err, cmd.action)
        workflow.logger.warning("journey %s failed at %s: %s", inp.journey_id, cmd.step, reason)
        await self._activity("journey_failed", self._step_input(
            inp, Command("run", step=cmd.step, visit=cmd.visit), status="failed", reason=reason))
        self._parked, self._retry = True, False
        try:
            await workflow.wait_condition(
                lambda: self._retry or any(e.get("kind") == "exit" for e in self._inbox),
                timeout=PARKED_FOR)
        except TimeoutError:
            self._parked = False
            return {"kind": "exit", "reason": "failed", "status": "failed"}
        if not self._retry:
            self._parked = False
            return next(e for e in self._inbox if e.get("kind") == "exit")
        await self._activity("journey_retried", self._step_input(
            inp, Command("run", step=cmd.step, visit=cmd.visit), status="running"))
        self._parked, self._retry = False, False
        return None

    @workflow.run
    async def run(self, inp: JourneyInput) -> dict[str, Any]:
        self._code = inp.code
        # the version's document came with the input (JourneyInput.flow), or is loaded: which
        # one is fixed by the input, so a replay takes the same path
        flow = inp.flow if inp.flow is not None else await workflow.execute_local_activity(
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
            if self._patched(EARLY_PATCH):
                state.early = []
            cmd = advance(flow, state, {"kind": "start"}, self._now())
        self._state, self._inp, self._flow = state, inp, flow

        while True:
            if cmd.kind == "finish":
                if not (self._ended_by_step and cmd.status == "completed"):
                    await self._activity("finish_journey", self._step_input(
                        inp, cmd, status=cmd.status, reason=cmd.reason))
                return {"status": cmd.status, "reason": cmd.reason, "step": state.step}

            if cmd.kind == "run":
                outcome, value = await self._perform(inp, flow, cmd)
                while outcome == "failed":
                    exit_event = await self._park(inp, cmd, value)
                    if exit_event is not None:
                        outcome, value = "exit", exit_event
                        break
                    outcome, value = await self._perform(inp, flow, cmd)
                if outcome == "exit":
                    if value in self._inbox:
                        self._inbox.remove(value)
                    if value.get("status") == "failed":
                        return {"status": "failed", "reason": state.reason, "step": state.step}
                    cmd = advance(flow, state, value, self._now())
                    continue
                if isinstance(value, dict) and value.get("finished"):
                    self._ended_by_step = True
                cmd = advance(flow, state, {"kind": "result", "value": value}, self._now())
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
                    history_limit=inp.history_limit, code=inp.code, flow=inp.flow))
            if not self._inbox:
                timeout = None if cmd.until is None else max(0.0, cmd.until - self._now())
                if timeout is not None and self._code >= 1:
                    # at least a second: a timer, so the next step runs in a later workflow
                    # task, at a later time (local activities share one task's clock)
                    timeout = max(1.0, timeout)
                self._sleeping = True
                try:
                    await workflow.wait_condition(
                        lambda: bool(self._inbox) or self._move is not None, timeout=timeout)
                except TimeoutError:
                    pass
                finally:
                    self._sleeping = False
            if self._move is not None and self._patched(MIGRATE_PATCH):
                await self._take_new_version(inp, state)
            # (the timer fired: nothing came; a second's slack for the timer's rounding)
            if (not self._inbox and state.waiting == "event" and state.deadline is not None
                    and self._now() >= state.deadline - 1.0
                    and self._patched(LATE_EVENTS_PATCH)):
                here = Command("run", step=state.step,
                               visit=state.visits.get(state.step or "", 0))
                late = await self._activity("events_in_time", self._step_input(
                    inp, here, waiting_until=state.deadline))
                for payload in late:
                    self.on_event(payload)  # those it has seen are left out
            event = self._inbox.pop(0) if self._inbox else {"kind": "timer"}
            cmd = advance(flow, state, event, self._now())
