"""The journey interpreter: a pure state machine, no Temporal and no I/O in it.

``advance(flow, state, event, now)`` takes the pinned flow document, the journey's state, one
event and the current time (epoch seconds) and returns the single next :class:`Command`:

* ``run``: perform an action (send an e-mail, decide a branch, update the lead, notify, hand
  off, check an event's ``where``, check ``exit_when``) and feed back a ``result`` event;
* ``sleep``: wait until ``until`` (an absolute deadline) or until an event arrives, then feed
  back a ``timer`` event or that event;
* ``finish``: the journey is over (``completed``, ``exited`` or ``failed``).

Each command also carries the ``trail``: the steps entered since the previous command, so the
driver can record progress in the same activity that performs the action. Every wait is an
absolute deadline in the state, so a driver can rebuild its timer after continue-as-new, and
the same machine serves the Temporal workflow, unit tests and simulations.

Events: ``{"kind": "start"}``, ``{"kind": "result", "value": ...}``, ``{"kind": "timer"}``,
``{"kind": "event", "type", "event_id", "journey_id", "step"}`` (``journey_id``/``step`` name the
e-mail an engagement event is about), ``{"kind": "lead_changed"}``, ``{"kind": "exit", "reason"}``,
``{"kind": "wake"}`` (a held send may try again now: its flow was resumed).

Early events: an event the journey cannot use when it arrives (it is sending, or waiting for
something else) is kept in ``state.early`` (the latest :data:`EARLY_EVENTS`) and counts for the
next ``wait_for`` step it matches, so an event posted in the same batch as the one that enrolled
the lead, or while the journey starts, is never lost. It counts only within the step's window:
with ``from_step``, only engagement with the e-mail that step sent; and only if it arrived no
longer ago than the step's ``timeout``. Journeys started before this existed have
``early = None`` and keep the old rule (events that do not match at once are dropped).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from leadflow.journeys.durations import parse_duration

__all__ = ["EARLY_EVENTS", "MAX_HOPS", "Command", "JourneyState", "advance", "split_choice"]

MAX_HOPS = 1000  # steps without any action in one advance: a guard against a broken flow
EARLY_EVENTS = 50  # events kept for a later wait_for step (see the module doc)


@dataclass
class JourneyState:
    """Everything a journey needs to continue; small, and free of personal data."""

    journey_id: str
    lead_id: str
    step: str | None = None
    visits: dict[str, int] = field(default_factory=dict)
    # What the journey waits for: "" (not waiting), "start", "timer", "event", "postponed".
    waiting: str = ""
    deadline: float | None = None
    action: str = ""  # the action whose result is awaited
    status: str = "running"
    reason: str | None = None
    trail: list[list[Any]] = field(default_factory=list)
    pending_event: dict[str, Any] | None = None
    # Templates the lead already received on the version it was moved from: the next e-mail
    # step of the new version that names one of them is passed over once (see migration.py).
    skip_templates: list[str] = field(default_factory=list)
    # Events kept for a later wait_for step (each with its arrival time "at"); None: not kept.
    early: list[dict[str, Any]] | None = None


@dataclass
class Command:
    kind: str  # run | sleep | finish
    action: str = ""
    step: str | None = None
    send_id: str | None = None
    visit: int = 0
    until: float | None = None
    status: str = ""
    reason: str | None = None
    event_id: str | None = None
    trail: list[list[Any]] = field(default_factory=list)


@lru_cache(maxsize=256)
def _seconds(duration: str) -> float:
    # Flows name a handful of durations, parsed again at every wait otherwise.
    return parse_duration(duration).total_seconds()


def split_choice(lead_id: str, step_id: str, weights: list[float]) -> int:
    """The index of the split path a lead takes: stable for a (lead, step) pair."""
    digest = hashlib.sha256(f"{lead_id}:{step_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * sum(weights)
    total = 0.0
    for i, weight in enumerate(weights):
        total += weight
        if point < total:
            return i
    return len(weights) - 1


def _emit(state: JourneyState, cmd: Command) -> Command:
    cmd.trail, state.trail = state.trail, []
    return cmd


def _finish(state: JourneyState, status: str, reason: str | None) -> Command:
    state.status, state.reason, state.waiting, state.deadline = status, reason, "", None
    return _emit(state, Command("finish", status=status, reason=reason, step=state.step))


def _sleep(state: JourneyState) -> Command:
    return _emit(state, Command("sleep", step=state.step, until=state.deadline))


def _run(state: JourneyState, action: str, **kw: Any) -> Command:
    state.action = action
    return _emit(state, Command("run", action=action, step=state.step,
                                visit=state.visits.get(state.step or "", 0), **kw))


def _send_id(state: JourneyState) -> str:
    return f"{state.journey_id}.{state.step}.{state.visits.get(state.step or '', 0)}"


def _enter(flow: dict[str, Any], state: JourneyState, step_id: str, now: float) -> Command:
    steps = flow["steps"]
    for _ in range(MAX_HOPS):
        step = steps[step_id]
        state.step = step_id
        state.visits[step_id] = state.visits.get(step_id, 0) + 1
        state.trail.append([step_id, state.visits[step_id], now])
        state.waiting, state.deadline, state.action = "", None, ""
        kind = step["type"]
        if kind == "email":
            if step.get("template") in state.skip_templates:
                state.skip_templates.remove(step["template"])
                step_id = step["next"]
                continue
            return _run(state, "email", send_id=_send_id(state))
        if kind == "wait":
            state.waiting = "timer"
            state.deadline = now + _seconds(step["duration"])
            return _sleep(state)
        if kind == "wait_for":
            state.waiting = "event"
            window = _seconds(step["timeout"])
            state.deadline = now + window
            early = _take_early(step, state, now - window)
            if early is None:
                return _sleep(state)
            if step.get("where") is not None:
                state.pending_event = dict(early)
                return _run(state, "match_event", event_id=early.get("event_id"))
            step_id = step["next"]
            continue
        if kind == "branch":
            return _run(state, "decide")
        if kind in ("update", "notify", "handoff"):
            return _run(state, kind)
        if kind == "split":
            paths = step["paths"]
            step_id = paths[split_choice(state.lead_id, step_id, [p["weight"] for p in paths])]["next"]
            continue
        if kind == "exit":
            return _finish(state, "completed", "exit")
        return _finish(state, "failed", f"unknown step type {kind!r}")
    return _finish(state, "failed", "too many steps without a wait")


def _event_matches_step(step: dict[str, Any], state: JourneyState, event: dict[str, Any]) -> bool:
    if event.get("type") != step.get("event"):
        return False
    origin = step.get("from_step")
    if origin is None:
        return True
    return event.get("journey_id") == state.journey_id and event.get("step") == origin


def _take_early(step: dict[str, Any], state: JourneyState, since: float) -> dict[str, Any] | None:
    """The first kept event that satisfies ``step`` and arrived after ``since`` (removed)."""
    for n, event in enumerate(state.early or []):
        if event.get("at", since) >= since and _event_matches_step(step, state, event):
            del state.early[n]  # type: ignore[union-attr]
            return event
    return None


def _keep_early(state: JourneyState, event: dict[str, Any], now: float) -> None:
    if state.early is None or event.get("type") is None:
        return
    state.early.append({k: event[k] for k in ("type", "event_id", "journey_id", "step")
                        if event.get(k) is not None} | {"at": now})
    del state.early[:-EARLY_EVENTS]


def advance(flow: dict[str, Any], state: JourneyState, event: dict[str, Any], now: float) -> Command:
    """Feed one event to the journey; returns what the driver must do next (see module doc)."""
    if state.status != "running":
        return _emit(state, Command("finish", status=state.status, reason=state.reason))
    kind = event.get("kind")
    steps = flow["steps"]

    if kind == "exit":
        return _finish(state, "exited", event.get("reason") or "exited")

    if kind == "start":
        if flow.get("exit_when") is not None:
            state.waiting = "start"
            return _run(state, "check_exit")
        return _enter(flow, state, flow["start"], now)

    if kind == "result":
        action, value = state.action, event.get("value")
        state.action = ""
        if action == "check_exit":
            if value:
                return _finish(state, "exited", "goal")
            if state.waiting == "start":
                return _enter(flow, state, flow["start"], now)
            return _sleep(state)
        if action == "match_event":
            state.pending_event = None
            if value:
                return _enter(flow, state, steps[state.step]["next"], now)  # type: ignore[index]
            return _sleep(state)
        step = steps[state.step]  # type: ignore[index]
        if action == "email" and isinstance(value, dict) and value.get("status") == "postponed":
            state.waiting, state.deadline = "postponed", float(value["retry_at"])
            return _sleep(state)
        if action == "decide":
            target = value.get("next") if isinstance(value, dict) else value
            if target not in steps:
                return _finish(state, "failed", f"branch {state.step!r} chose unknown step {target!r}")
            return _enter(flow, state, target, now)
        if action == "handoff" and isinstance(value, dict) and value.get("outcome") == "rejected":
            return _enter(flow, state, step.get("on_rejected") or step["next"], now)
        return _enter(flow, state, step["next"], now)

    if kind == "lead_changed":
        if flow.get("exit_when") is not None and state.waiting:
            return _run(state, "check_exit")
        return _sleep(state)

    if kind == "event":
        if state.waiting == "event":
            step = steps[state.step]  # type: ignore[index]
            if _event_matches_step(step, state, event):
                if step.get("where") is not None:
                    state.pending_event = dict(event)
                    return _run(state, "match_event", event_id=event.get("event_id"))
                return _enter(flow, state, step["next"], now)
        _keep_early(state, event, now)
        return _sleep(state)

    if kind == "wake":
        if state.waiting == "postponed":
            state.waiting, state.deadline = "", None
            return _run(state, "email", send_id=_send_id(state))
        return _sleep(state)

    if kind == "timer":
        if state.deadline is None or now < state.deadline:
            return _sleep(state)
        step = steps[state.step]  # type: ignore[index]
        if state.waiting == "timer":
            return _enter(flow, state, step["next"], now)
        if state.waiting == "event":
            return _enter(flow, state, step.get("on_timeout") or step["next"], now)
        if state.waiting == "postponed":
            state.waiting, state.deadline = "", None
            return _run(state, "email", send_id=_send_id(state))
        return _sleep(state)

    return _sleep(state)
