"""The one flow validator behind the CLI, the API and the editor.

``validate_flow`` reports every problem at once, each as ``{"path", "message"}``: the JSON path
it concerns (``steps.route.hot``) and a sentence a marketer understands. What the validator needs
to know about the outside world (which templates and teams exist, whether a template renders)
comes in a :class:`ValidationContext`; a check whose knowledge is missing is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from leadflow.journeys.conditions import LEAD_FIELDS, condition_problems
from leadflow.journeys.durations import parse_duration
from leadflow.journeys.flowdef import STEP_FIELDS, STEP_TYPES, WAITING_STEP_TYPES
from leadflow.models import SIDE_STAGES, STAGES

__all__ = ["SLUG", "Problem", "ValidationContext", "step_targets", "validate_flow"]

Problem = dict[str, str]
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
MAX_STEPS = 300
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TOP_LEVEL = ("id", "name", "description", "entry", "exit_when", "send_window", "start", "steps")


@dataclass
class ValidationContext:
    """What the validator may check beyond the document itself.

    Attributes:
        templates: names of existing e-mail templates (None: not checked).
        teams: ids of existing sales teams (None: not checked).
        reps: ids of existing reps (None: not checked).
        template_errors: returns the sentences describing why a template does not render
            (None: not checked).
    """

    templates: Collection[str] | None = None
    teams: Collection[str] | None = None
    reps: Collection[str] | None = None
    template_errors: Callable[[str], list[str]] | None = None


def _a(word: str) -> str:
    """The indefinite article for ``word`` ("an update step", "a wait step")."""
    return "An" if word[:1] in "aeiou" else "A"


def step_targets(step: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every ``(json key path within the step, target step id)`` a step can continue at."""
    out: list[tuple[str, str]] = []
    kind = step.get("type")
    for key in ("next", "on_timeout", "on_rejected", "hot", "warm", "cold", "else"):
        if kind == "branch" and key == "next":
            continue
        target = step.get(key)
        if isinstance(target, str):
            out.append((key, target))
    if kind == "branch" and isinstance(step.get("cases"), list):
        for i, case in enumerate(step["cases"]):
            if isinstance(case, Mapping) and isinstance(case.get("next"), str):
                out.append((f"cases[{i}].next", case["next"]))
    if kind == "split" and isinstance(step.get("paths"), list):
        for i, path in enumerate(step["paths"]):
            if isinstance(path, Mapping) and isinstance(path.get("next"), str):
                out.append((f"paths[{i}].next", path["next"]))
    return out


class _Checker:
    def __init__(self, doc: Any, ctx: ValidationContext) -> None:
        self.doc = doc
        self.ctx = ctx
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append({"path": path, "message": message})

    def duration(self, value: Any, path: str, what: str) -> None:
        try:
            parse_duration(value)
        except ValueError as exc:
            self.add(path, f"The {what} {exc}.")

    def run(self) -> list[Problem]:
        doc = self.doc
        if not isinstance(doc, Mapping):
            self.add("", "A flow must be a JSON object with id, name, start and steps.")
            return self.problems
        for key in doc:
            if key not in TOP_LEVEL:
                self.add(str(key), f"Unknown field {key!r}; a flow has {', '.join(TOP_LEVEL)}.")
        fid = doc.get("id")
        if not isinstance(fid, str) or not SLUG.match(fid):
            self.add("id", "The flow id must be 1-64 lowercase letters, digits or dashes, such as "
                     "trial-nurture.")
        if not isinstance(doc.get("name"), str) or not doc.get("name", "").strip():
            self.add("name", "Give the flow a name.")
        if "description" in doc and not isinstance(doc["description"], str | None):
            self.add("description", "The description must be text.")
        self.entry(doc.get("entry"))
        if doc.get("exit_when") is not None:
            self.problems += condition_problems(doc["exit_when"], "exit_when")
        if doc.get("send_window") is not None:
            self.send_window(doc["send_window"])
        steps = doc.get("steps")
        if not isinstance(steps, Mapping) or not steps:
            self.add("steps", "A flow needs at least one step.")
            steps = {}
        elif len(steps) > MAX_STEPS:
            # Every step between two waits runs in one go; a flow this long is a mistake, and
            # its journeys would fill their workflow histories before they could rest.
            self.add("steps", f"A flow has at most {MAX_STEPS} steps; this one has "
                     f"{len(steps)}. Split it into several flows.")
            return self.problems
        start = doc.get("start")
        if not isinstance(start, str) or not start:
            self.add("start", "start must name the first step.")
        elif steps and start not in steps:
            self.add("start", f"start names {start!r}, but there is no step with that id.")
        for sid, step in steps.items():
            self.step(str(sid), step, steps)
        if isinstance(start, str) and start in steps:
            self.graph(start, steps)
        return self.problems

    def entry(self, entry: Any) -> None:
        if entry is None:
            return
        if not isinstance(entry, Mapping):
            self.add("entry", "entry must be an object with an event.")
            return
        for key in entry:
            if key not in ("event", "where", "reentry"):
                self.add(f"entry.{key}", f"Unknown field {key!r}; entry has event, where, reentry.")
        if not isinstance(entry.get("event"), str) or not entry.get("event"):
            self.add("entry.event", "entry.event must name an event type such as form.submitted "
                     "or lead.created.")
        if entry.get("where") is not None:
            self.problems += condition_problems(entry["where"], "entry.where", allow_properties=True)
        reentry = entry.get("reentry", "never")
        if reentry not in ("never", "after_exit"):
            if isinstance(reentry, str) and reentry.startswith("P"):
                self.duration(reentry, "entry.reentry", "re-entry period")
            else:
                self.add("entry.reentry", "reentry must be never, after_exit or an ISO 8601 "
                         "duration such as P30D.")

    def send_window(self, window: Any) -> None:
        if not isinstance(window, Mapping):
            self.add("send_window", "send_window must be an object with days, from and to.")
            return
        for key in window:
            if key not in ("days", "from", "to", "timezone"):
                self.add(f"send_window.{key}", f"Unknown field {key!r} in send_window.")
        days = window.get("days")
        if not isinstance(days, list) or not days:
            self.add("send_window.days", "List the days mail may go out, such as [\"mon\", \"tue\"].")
        else:
            for i, day in enumerate(days):
                if day not in DAYS:
                    self.add(f"send_window.days[{i}]", f"{day!r} is not a day; use {', '.join(DAYS)}.")
        times = {}
        for key in ("from", "to"):
            value = window.get(key)
            if not isinstance(value, str) or not _TIME.match(value):
                self.add(f"send_window.{key}", f"send_window.{key} must be a time such as 09:00.")
            else:
                times[key] = value
        if len(times) == 2 and times["from"] >= times["to"]:
            self.add("send_window.to", "The send window must end after it starts.")
        tz = window.get("timezone")
        if tz is not None:
            try:
                ZoneInfo(str(tz))
            except (ZoneInfoNotFoundError, ValueError):
                self.add("send_window.timezone", f"{tz!r} is not a time zone such as Europe/Berlin.")

    def step(self, sid: str, step: Any, steps: Mapping[str, Any]) -> None:
        base = f"steps.{sid}"
        if not SLUG.match(sid):
            self.add(base, f"Step id {sid!r} must be lowercase letters, digits or dashes.")
        if not isinstance(step, Mapping):
            self.add(base, "A step must be an object with a type.")
            return
        kind = step.get("type")
        if not isinstance(kind, str) or kind not in STEP_TYPES:
            self.add(f"{base}.type", f"Unknown step type {kind!r}; use one of "
                     f"{', '.join(STEP_TYPES)}.")
            return
        allowed = STEP_FIELDS[kind]
        for key in step:
            if key not in allowed:
                self.add(f"{base}.{key}", f"{_a(kind)} {kind} step has no field {key!r}; it takes "
                         f"{', '.join(sorted(allowed - {'type'}))}.")
        if kind not in ("exit", "branch", "split") and not isinstance(step.get("next"), str):
            self.add(f"{base}.next", f"{_a(kind)} {kind} step needs next: the step that follows it.")
        for key, target in step_targets(step):
            if target not in steps:
                self.add(f"{base}.{key}", f"{key} names {target!r}, but there is no step with that id.")
        getattr(self, f"step_{kind}")(base, step, steps)

    def step_email(self, base: str, step: Mapping[str, Any], _steps: Any) -> None:
        template = step.get("template")
        if not isinstance(template, str) or not template:
            self.add(f"{base}.template", "An email step needs the name of its template.")
            return
        if self.ctx.templates is not None and template not in self.ctx.templates:
            self.add(f"{base}.template", f"There is no e-mail template named {template!r}.")
        elif self.ctx.template_errors is not None:
            for err in self.ctx.template_errors(template):
                self.add(f"{base}.template", f"Template {template!r} does not render: {err}")
        if "subject" in step and not isinstance(step["subject"], str):
            self.add(f"{base}.subject", "subject must be text.")
        elif isinstance(step.get("subject"), str):
            from leadflow.rendering import template_string_errors

            for err in template_string_errors(step["subject"]):
                self.add(f"{base}.subject", f"The subject does not render: {err}")

    def step_wait(self, base: str, step: Mapping[str, Any], _steps: Any) -> None:
        if "duration" not in step:
            self.add(f"{base}.duration", "A wait step needs a duration such as P2D.")
        else:
            self.duration(step["duration"], f"{base}.duration", "duration")

    def step_wait_for(self, base: str, step: Mapping[str, Any], steps: Mapping[str, Any]) -> None:
        if not isinstance(step.get("event"), str) or not step.get("event"):
            self.add(f"{base}.event", "A wait_for step needs the event to wait for, such as "
                     "email.clicked.")
        if "timeout" not in step:
            self.add(f"{base}.timeout", "A wait_for step needs a timeout, so no lead waits forever.")
        else:
            self.duration(step["timeout"], f"{base}.timeout", "timeout")
        if step.get("where") is not None:
            self.problems += condition_problems(step["where"], f"{base}.where", allow_properties=True)
        origin = step.get("from_step")
        if origin is not None:
            if origin not in steps:
                self.add(f"{base}.from_step", f"from_step names {origin!r}, but there is no step "
                         "with that id.")
            elif not isinstance(steps[origin], Mapping) or steps[origin].get("type") != "email":
                self.add(f"{base}.from_step", f"from_step must name an email step; {origin!r} "
                         "is not one.")

    def step_branch(self, base: str, step: Mapping[str, Any], _steps: Any) -> None:
        if step.get("on") is not None:
            if step["on"] != "temperature":
                self.add(f"{base}.on", "A branch can switch on temperature; for anything else "
                         "use cases.")
            for key in ("hot", "warm", "cold"):
                if not isinstance(step.get(key), str):
                    self.add(f"{base}.{key}", f"A temperature branch needs a {key} target.")
            if step.get("cases") is not None:
                self.add(f"{base}.cases", "Use either on: temperature or cases, not both.")
            return
        cases = step.get("cases")
        if not isinstance(cases, list) or not cases:
            self.add(f"{base}.cases", "A branch needs on: temperature, or a list of cases.")
            return
        for i, case in enumerate(cases):
            path = f"{base}.cases[{i}]"
            if not isinstance(case, Mapping):
                self.add(path, "A case is an object with when and next.")
                continue
            for key in case:
                if key not in ("when", "next"):
                    self.add(f"{path}.{key}", f"A case has when and next, not {key!r}.")
            if "when" not in case:
                self.add(f"{path}.when", "A case needs a when condition.")
            else:
                self.problems += condition_problems(case["when"], f"{path}.when")
            if not isinstance(case.get("next"), str):
                self.add(f"{path}.next", "A case needs next: the step to go to.")
        if not isinstance(step.get("else"), str):
            self.add(f"{base}.else", "A branch with cases needs else: where leads go when no "
                     "case matches.")
        for key in ("hot", "warm", "cold"):
            if key in step:
                self.add(f"{base}.{key}", f"{key} is only for a branch on temperature.")

    def step_split(self, base: str, step: Mapping[str, Any], _steps: Any) -> None:
        paths = step.get("paths")
        if not isinstance(paths, list) or len(paths) < 2:
            self.add(f"{base}.paths", "A split needs at least two paths, each with weight and next.")
            return
        for i, path in enumerate(paths):
            where = f"{base}.paths[{i}]"
            if not isinstance(path, Mapping):
                self.add(where, "A path is an object with weight and next.")
                continue
            weight = path.get("weight")
            if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
                self.add(f"{where}.weight", "weight must be a number above zero.")
            if not isinstance(path.get("next"), str):
                self.add(f"{where}.next", "A path needs next: the step to go to.")
            for key in path:
                if key not in ("weight", "next"):
                    self.add(f"{where}.{key}", f"A path has weight and next, not {key!r}.")

    def step_update(self, base: str, step: Mapping[str, Any], _steps: Any) -> None:
        if not any(k in step for k in ("set", "add_score", "add_tags", "stage")):
            self.add(base, "An update step needs at least one of set, add_score, add_tags, stage.")
        if "set" in step:
            changes = step["set"]
            if not isinstance(changes, Mapping) or not changes:
                self.add(f"{base}.set", "set takes an object of field → value.")
            else:
                for field in changes:
                    settable = field.startswith("fields.") and len(field) > 7
                    if not settable and field not in LEAD_FIELDS[1:12] or field in (
                        "score", "temperature", "stage", "email"
                    ):
                        self.add(f"{base}.set.{field}", f"{field!r} cannot be set here; set "
                                 "company, title, country, source, owner or fields.<custom>.")
        if "add_score" in step and (isinstance(step["add_score"], bool)
                                    or not isinstance(step["add_score"], int | float)):
            self.add(f"{base}.add_score", "add_score must be a number of points.")
        if "add_tags" in step and (not isinstance(step["add_tags"], list) or not all(
                isinstance(t, str) and t for t in step["add_tags"])):
            self.add(f"{base}.add_tags", "add_tags must be a list of tags.")
        if "stage" in step and step["stage"] not in STAGES + SIDE_STAGES:
            self.add(f"{base}.stage", f"{step['stage']!r} is not a lifecycle stage; use one of "
                     f"{', '.join(STAGES + SIDE_STAGES)}.")

    def step_handoff(self, base: str, step: Mapping[str, Any], _steps: Any) -> None:
        team, rep = step.get("team"), step.get("rep")
        if (team is None) == (rep is None):
            self.add(base, "A handoff names either a team or a rep.")
        elif team is not None:
            if self.ctx.teams is not None and team not in self.ctx.teams:
                self.add(f"{base}.team", f"There is no sales team {team!r}.")
        elif self.ctx.reps is not None and rep not in self.ctx.reps:
            self.add(f"{base}.rep", f"There is no sales rep {rep!r}.")
        if "sla" not in step:
            self.add(f"{base}.sla", "A handoff needs an sla such as PT4H (business hours).")
        else:
            self.duration(step["sla"], f"{base}.sla", "sla")

    def step_notify(self, base: str, step: Mapping[str, Any], _steps: Any) -> None:
        if step.get("channel") not in ("email", "slack", "webhook"):
            self.add(f"{base}.channel", "channel must be email, slack or webhook.")
        if not isinstance(step.get("to"), str) or not step.get("to"):
            self.add(f"{base}.to", "Say who to notify: an e-mail address or a webhook URL.")
        elif step.get("channel") in ("slack", "webhook"):
            from leadflow.outbound import url_problem

            if why := url_problem(step["to"]):
                self.add(f"{base}.to", why)
        message = step.get("message")
        if not isinstance(message, str) or not message:
            self.add(f"{base}.message", "A notify step needs a message.")
        else:
            from leadflow.rendering import template_string_errors

            for err in template_string_errors(message):
                self.add(f"{base}.message", f"The message does not render: {err}")

    def step_exit(self, base: str, step: Mapping[str, Any], _steps: Any) -> None:
        return None

    def graph(self, start: str, steps: Mapping[str, Any]) -> None:
        edges = {
            sid: [t for _, t in step_targets(step) if t in steps] if isinstance(step, Mapping) else []
            for sid, step in steps.items()
        }
        seen: set[str] = set()
        todo = [start]
        while todo:
            sid = todo.pop()
            if sid not in seen:
                seen.add(sid)
                todo.extend(edges[sid])
        for sid in steps:
            if sid not in seen:
                self.add(f"steps.{sid}", f"Step {sid!r} can never be reached from {start!r}.")
        # A loop through no waiting step would spin forever: find cycles among non-waiting steps.
        hot = {sid for sid, step in steps.items()
               if isinstance(step, Mapping) and str(step.get("type")) not in WAITING_STEP_TYPES}
        for cycle in _cycles({s: [t for t in edges[s] if t in hot] for s in hot}):
            first = min(cycle)
            self.add(f"steps.{first}", "These steps form a loop with no wait or wait_for in it, "
                     f"so a lead would go round forever: {' → '.join(cycle + [cycle[0]])}.")


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """One representative cycle per strongly connected component that has a cycle (Tarjan).

    Iterative, so a chain of a thousand steps cannot exhaust Python's stack.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack.add(v)
            successors = graph[v]
            while i < len(successors):
                w = successors[i]
                i += 1
                if w not in index:
                    work.append((v, i))
                    work.append((w, 0))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1 or v in graph[v]:
                        found.append(sorted(comp))
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[v])
                continue
    return found


def validate_flow(doc: Any, ctx: ValidationContext | None = None) -> list[Problem]:
    """Every problem with the flow document ``doc``; an empty list means it may be published."""
    return _Checker(doc, ctx or ValidationContext()).run()
