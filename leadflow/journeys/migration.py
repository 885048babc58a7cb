"""Planning the move of waiting leads from older versions of a flow to a newer one: pure.

:func:`plan` is the one place that decides where a waiting lead goes and when it acts next. The
preview (``POST /api/flows/{id}/migrations/preview``), the migration job and the journey
workflow's own Update validator all call it, so the preview is exactly what the move does.

Rules:

* steps of the same id map to themselves; ``step_map`` renames (``{"old": "new"}``);
* only leads *waiting* (at a ``wait`` or ``wait_for`` step) move; a lead in the middle of an
  action (a send, a branch decision) is ``busy`` and moves only once it next waits; a lead with
  sales (``handoff``) or whose next mail is held (``held``: send window, frequency cap, a pause)
  stays where it is, as its SLA and its pending mail must;
* a waiting step the new version lacks and ``step_map`` does not name is a problem at
  ``step_map.<old>``; so is a target that is not a ``wait``/``wait_for`` step;
* the next action time follows the timer policy: ``from_entry`` (default: the new duration
  counted from when the lead entered the step; already past: due now), ``keep_deadline`` (the
  old deadline) or ``restart`` (the new duration from now);
* ``sends_at_once``: the lead is due at once because its delay got shorter, and an e-mail is its
  next action.

No I/O, no clock, no Temporal: the callers pass the flow documents, the journeys' positions and
``now`` (epoch seconds).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from leadflow.journeys.durations import parse_duration
from leadflow.journeys.engine import split_choice

__all__ = [
    "TIMER_POLICIES",
    "WAITING",
    "Move",
    "MoveInput",
    "Plan",
    "Position",
    "Request",
    "Skip",
    "plan",
    "templates_sent",
    "wait_seconds",
]

TIMER_POLICIES = ("from_entry", "keep_deadline", "restart")
WAIT_STEPS = ("wait", "wait_for")
WAITING = ("timer", "event")  # a journey's ``waiting`` while it sits at a wait/wait_for step
SAMPLE_SIZE = 10


@dataclass(frozen=True)
class Position:
    """Where one running journey is: ids, its version, its step and what it waits for."""

    journey_id: str
    lead_id: str
    version: int
    step: str | None
    # "timer" or "event" at a wait/wait_for step; "handoff" with sales; "postponed" (a held
    # mail); anything else is busy
    waiting: str
    deadline: float | None


@dataclass
class Request:
    """What the marketer asks for (the body of the preview and of the migration)."""

    to_version: int
    from_versions: list[int] | None = None
    step_map: dict[str, str] = field(default_factory=dict)
    timers: str = "from_entry"

    def as_dict(self) -> dict[str, Any]:
        return {"to_version": self.to_version, "from_versions": self.from_versions,
                "step_map": dict(self.step_map), "timers": self.timers}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Request:
        return cls(to_version=int(data["to_version"]),
                   from_versions=(list(data["from_versions"])
                                  if data.get("from_versions") is not None else None),
                   step_map=dict(data.get("step_map") or {}),
                   timers=data.get("timers") or "from_entry")


@dataclass(frozen=True)
class Move:
    journey_id: str
    lead_id: str
    from_version: int
    from_step: str
    to_step: str
    next_action_at: float
    sends_at_once: bool


@dataclass(frozen=True)
class Skip:
    """A journey of the versions asked for that does not move now: ``code`` is ``busy`` (in
    the middle of an action: ask again once it waits), ``handoff`` (with sales), ``held`` (its
    next mail waits for a window, a cap or a resume), ``version`` (not on a version being
    migrated) or ``unmapped`` (no step to go to: a problem of the request)."""

    position: Position
    code: str
    reason: str


@dataclass
class Plan:
    to_version: int
    moves: list[Move] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)

    def groups(self) -> list[dict[str, Any]]:
        """Leads per (from version, from step) -> to step, with the mails that leave at once."""
        leads: Counter[tuple[int, str, str]] = Counter()
        at_once: Counter[tuple[int, str, str]] = Counter()
        for m in self.moves:
            key = (m.from_version, m.from_step, m.to_step)
            leads[key] += 1
            at_once[key] += m.sends_at_once
        return [{"from_version": v, "from_step": s, "to_step": t, "leads": n,
                 "sends_at_once": at_once[(v, s, t)]}
                for (v, s, t), n in sorted(leads.items())]

    def sample(self, size: int = SAMPLE_SIZE) -> list[dict[str, Any]]:
        """A few moves (the soonest to act first), for a marketer to check by eye."""
        picked = sorted(self.moves, key=lambda m: (m.next_action_at, m.lead_id))[:size]
        return [{"lead_id": m.lead_id, "from_version": m.from_version, "from_step": m.from_step,
                 "to_step": m.to_step, "next_action_at": m.next_action_at} for m in picked]


@dataclass
class MoveInput:
    """What a journey records when it takes a new version (the ``record_move`` activity)."""

    journey_id: str
    lead_id: str
    flow_id: str
    from_version: int
    to_version: int
    from_step: str
    to_step: str
    visit: int
    next_action_at: float
    at: float
    migration_id: str | None = None


def templates_sent(flow: Mapping[str, Any], visits: Mapping[str, int]) -> list[str]:
    """The templates of the e-mail steps of ``flow`` a journey has visited (in step order)."""
    steps = flow.get("steps") or {}
    return [steps[sid]["template"] for sid in steps
            if visits.get(sid) and steps[sid].get("type") == "email" and steps[sid].get("template")]


def wait_seconds(step: Mapping[str, Any]) -> float:
    """How long a wait (``duration``) or wait_for (``timeout``) step waits, in seconds."""
    text = step.get("duration") if step.get("type") == "wait" else step.get("timeout")
    return parse_duration(text).total_seconds()


def _request_problems(versions: Mapping[int, Mapping[str, Any]], req: Request,
                      sources: list[int]) -> list[dict[str, str]]:
    problems = []
    if req.to_version not in versions:
        return [{"path": "to_version", "message": f"There is no version {req.to_version} of "
                 "this flow; publish the new version first."}]
    if req.timers not in TIMER_POLICIES:
        problems.append({"path": "timers", "message": f"Unknown timer policy {req.timers!r}; "
                         "use from_entry, keep_deadline or restart."})
    for i, v in enumerate(req.from_versions or []):
        if v not in versions:
            problems.append({"path": f"from_versions.{i}", "message": f"There is no version {v}."})
        elif v >= req.to_version:
            problems.append({"path": f"from_versions.{i}", "message": f"Version {v} is not older "
                             f"than version {req.to_version}; leads only move to a newer one."})
    target = versions[req.to_version]["steps"]
    for old, new in req.step_map.items():
        path = f"step_map.{old}"
        if not any(old in versions[v]["steps"] for v in sources):
            problems.append({"path": path, "message": f"No version being migrated has a step "
                             f"{old!r}."})
        elif new not in target:
            problems.append({"path": path, "message": f"Version {req.to_version} has no step "
                             f"{new!r}."})
        elif target[new]["type"] not in WAIT_STEPS:
            problems.append({"path": path, "message": f"Step {new!r} is a {target[new]['type']} "
                             "step; a waiting lead can only be moved to a wait or wait_for step."})
    return problems


def _sends_next(steps: Mapping[str, Any], step_id: str | None, lead_id: str) -> bool:
    """Whether an e-mail is the next action after ``step_id`` (through steps that act at once)."""
    seen: set[str] = set()
    todo = [step_id]
    while todo:
        sid = todo.pop()
        if sid is None or sid in seen or sid not in steps:
            continue
        seen.add(sid)
        step = steps[sid]
        kind = step["type"]
        if kind == "email":
            return True
        if kind in ("update", "notify"):
            todo.append(step.get("next"))
        elif kind == "split":
            paths = step["paths"]
            todo.append(paths[split_choice(lead_id, sid, [p["weight"] for p in paths])]["next"])
        elif kind == "branch":  # decided on the lead at that moment: any arm may send
            targets = [step.get(t) for t in ("hot", "warm", "cold")] + [
                c.get("next") for c in step.get("cases") or []] + [step.get("else")]
            todo.extend(t for t in targets if t)
    return False


def _next_action_at(req: Request, old: Mapping[str, Any], new: Mapping[str, Any],
                    deadline: float | None, now: float) -> float:
    new_wait = wait_seconds(new)
    if deadline is None:
        return now + new_wait
    if req.timers == "keep_deadline":
        at = deadline
    elif req.timers == "restart":
        at = now + new_wait
    else:  # from_entry: the lead entered its step when the old deadline was set
        at = deadline - wait_seconds(old) + new_wait
    return max(at, now)


def plan(flow_versions: Mapping[int, Mapping[str, Any]], journeys: Iterable[Position],
         request: Request, now: float) -> Plan:
    """Decide, for every journey given, whether and where it moves (see the module doc).

    ``flow_versions`` maps version numbers to documents and must hold the target version and
    every version a journey is on.
    """
    sources = sorted(v for v in flow_versions
                     if v < request.to_version
                     and (request.from_versions is None or v in request.from_versions))
    result = Plan(to_version=request.to_version)
    result.problems = _request_problems(flow_versions, request, sources)
    if any(p["path"] in ("to_version", "timers") or p["path"].startswith("from_versions")
           for p in result.problems):
        return result
    target = flow_versions[request.to_version]["steps"]
    unmapped: Counter[tuple[str, int]] = Counter()
    bad_target: dict[str, str] = {}
    for pos in journeys:
        if pos.version == request.to_version:
            result.skipped.append(Skip(pos, "version", f"already on version {request.to_version}"))
            continue
        if pos.version not in sources:
            result.skipped.append(Skip(pos, "version", f"version {pos.version} is not being migrated"))
            continue
        old_steps = flow_versions[pos.version]["steps"]
        old = old_steps.get(pos.step or "")
        if pos.waiting == "handoff":
            result.skipped.append(Skip(pos, "handoff", f"with sales (handoff at {pos.step!r}); "
                                       "its SLA stays: migrate again once it is back"))
            continue
        if pos.waiting == "postponed":
            result.skipped.append(Skip(pos, "held", f"its mail at {pos.step!r} is held (send "
                                       "window, frequency cap or pause): migrate again later"))
            continue
        if pos.waiting not in WAITING or old is None or old["type"] not in WAIT_STEPS:
            result.skipped.append(Skip(pos, "busy", "in the middle of an action (a send); it "
                                             "moves once it next waits"))
            continue
        to_step = request.step_map.get(pos.step or "", pos.step)
        if to_step not in target:
            unmapped[(pos.step or "", pos.version)] += 1
            result.skipped.append(Skip(pos, "unmapped", f"no step to move to: map step_map.{pos.step}"))
            continue
        if target[to_step]["type"] not in WAIT_STEPS:
            bad_target[pos.step or ""] = to_step
            result.skipped.append(Skip(pos, "unmapped",
                                       f"step {to_step!r} is not a wait: fix step_map.{pos.step}"))
            continue
        new = target[to_step]
        at = _next_action_at(request, old, new, pos.deadline, now)
        shorter = pos.deadline is None or at < pos.deadline
        after = new.get("on_timeout") or new.get("next") if new["type"] == "wait_for" \
            else new.get("next")
        sends = at <= now and shorter and _sends_next(target, after, pos.lead_id)
        result.moves.append(Move(pos.journey_id, pos.lead_id, pos.version, pos.step or "",
                                 to_step, at, sends))
    for (step, version), n in sorted(unmapped.items()):
        result.problems.append({"path": f"step_map.{step}", "message": (
            f"{n} lead(s) wait at step {step!r} of version {version}, which version "
            f"{request.to_version} does not have; map it to a step of version "
            f"{request.to_version}.")})
    for step, to_step in sorted(bad_target.items()):
        if not any(p["path"] == f"step_map.{step}" for p in result.problems):
            result.problems.append({"path": f"step_map.{step}", "message": (
                f"Leads waiting at {step!r} would move to {to_step!r}, a "
                f"{target[to_step]['type']} step; map it to a wait or wait_for step.")})
    return result
