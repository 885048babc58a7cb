"""Simulating a flow before launch: months of a nurture programme in seconds, same interpreter.

The simulator drives :func:`leadflow.journeys.engine.advance`, the pure state machine live journeys run
on, with a simulated clock instead of Temporal, and answers what a marketer wants to know before
switching a flow on: how many mails a lead gets in a week, how many leads reach sales and
whether the team can take that many hand-offs a day (``POST /api/flows/{id}/simulate``,
``leadflow flows simulate``; shapes in http-api.md, "Simulating a flow before launch").

What it models, each with the live code where there is one:

* **Leads**: synthetic ones whose fields are drawn from a profile (``{"country": ["DE",
  "US"], "fields.plan": ["pro"]}``), or a sample of real leads read once, read-only.
* **Engagement**: each sent mail is opened and clicked with the template's rates. The draw is a
  hash of the seed, the send id and the kind, so it is the same whatever the order of work and
  a live run can make the same decisions (the conformance test does). Opens and clicks reach the
  journey as the ``email.*`` events live tracking produces, naming the mail's journey and step.
* **Other events** arrive as Poisson processes (``rate_per_day`` per lead).
* **Scoring** by the active model through :mod:`leadflow.scoring.model` (fit rules, event points,
  decay, the shown score and temperature); decay changes the temperature at the moment live
  temperature timers would, so ``exit_when`` and branches on temperature behave as live. A lead
  whose score crosses ``mql_at`` becomes an MQL as live.
* **Send windows and frequency caps** through :func:`leadflow.mail.policy.earliest_send`
  and the window's own openings; **business calendars** through
  :class:`leadflow.sales.business_calendar.BusinessCalendar`.
* **Hand-offs**: routed as live, by :func:`leadflow.sales.routing.route_lead` over the lead
  as it is at the hand-off (a territory rule may send it into another team, whose calendar then
  holds its SLA), and counted per routed team and business day of that team's calendar;
  sales answers after ``sales.respond_within`` of business time (default: the step's SLA),
  accepting with ``sales.accept_rate`` (the lead becomes SAL) or sending it back (recycled,
  ``on_rejected``).

Leads never meet in a flow, so each lead is simulated to the end on its own clock (its own small
heap of timed events) and only aggregates are kept: memory stays flat however many leads run,
and a lead's outcome depends on the seed and its index alone, so the work splits over processes
with the same answer. Nothing is sent, no lead changes, no workflow starts.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import os
import random
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from leadflow.errors import Invalid
from leadflow.journeys.conditions import evaluate
from leadflow.journeys.durations import parse_duration
from leadflow.journeys.engine import JourneyState, advance
from leadflow.leads.lifecycle import can_transition, stage_rank
from leadflow.mail.policy import (
    cap_reopens_after,
    capped_mail_times,
    earliest_send,
    lead_zone,
    window_openings,
)
from leadflow.sales.business_calendar import BusinessCalendar
from leadflow.sales.routing import RepState, TeamRouting, route_lead
from leadflow.scoring.model import (
    compiled_model,
    event_points,
    fit_points,
    load_model,
    seconds_to_temperature_change,
    shown_temperature,
)
from leadflow.temporal import journey_id

__all__ = [
    "MAX_DAYS",
    "MAX_LEADS",
    "MAX_SAMPLE",
    "SimulationRequest",
    "World",
    "engagement_draw",
    "parse_request",
    "run_simulation",
]

MAX_LEADS = 100_000
MAX_DAYS = 365
MAX_SAMPLE = 10_000  # real leads read for "leads": "sample"
DAY = 86_400.0
WEEK = 7 * DAY
PATH_STEPS = 40  # a path longer than this is cut (loops)
TOP_PATHS = 10
_MQL_RANK = stage_rank("MQL")


# ---------------------------------------------------------------- the request


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Rates(_Strict):
    open: float = Field(0.3, ge=0, le=1)
    click: float = Field(0.05, ge=0, le=1)


class Engagement(_Strict):
    """Open and click rates per sent mail (click counts as an open too), and when they come."""

    open: float = Field(0.3, ge=0, le=1)
    click: float = Field(0.05, ge=0, le=1)
    templates: dict[str, Rates] = {}
    open_after: str = "PT2H"
    click_after: str = "PT3H"

    @field_validator("open_after", "click_after")
    @classmethod
    def _duration(cls, value: str) -> str:
        if value not in ("PT0S", "PT0M", "PT0H"):
            parse_duration(value)
        return value


class EventRate(_Strict):
    type: str = Field(min_length=3, max_length=100, pattern=r"^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)+$")
    rate_per_day: float = Field(ge=0, le=100)
    properties: dict[str, Any] = {}


class Sales(_Strict):
    """How sales answers hand-offs in the simulation."""

    accept_rate: float = Field(1.0, ge=0, le=1)
    respond_within: str | None = None

    @field_validator("respond_within")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value


class SimulationRequest(_Strict):
    """The body of ``POST /api/flows/{id}/simulate`` (see the module docstring)."""

    version: int | None = Field(None, ge=1)
    document: dict[str, Any] | None = None
    # a number of synthetic leads, or "sample" (checked by _leads below; the schema says so)
    leads: Annotated[Any, WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1, "maximum": MAX_LEADS},
                                                     {"const": "sample"}],
                                          "title": "Leads", "default": 1000})] = 1000
    profile: dict[str, list[Any]] = {}
    engagement: Engagement = Field(default_factory=Engagement)  # type: ignore[arg-type]
    events: list[EventRate] = Field(default_factory=list, max_length=50)
    days: int = Field(90, ge=1, le=MAX_DAYS)
    seed: int = 1
    start: datetime | None = None
    enrol_over_days: float = Field(0.0, ge=0, le=MAX_DAYS)
    sales: Sales = Field(default_factory=Sales)  # type: ignore[arg-type]

    @field_validator("leads")
    @classmethod
    def _leads(cls, value: Any) -> int | Literal["sample"]:
        if value == "sample":
            return "sample"
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError('leads is a number of synthetic leads or "sample" for real ones')  # noqa: TRY004 - pydantic reports ValueErrors
        if not 1 <= value <= MAX_LEADS:
            raise ValueError(f"simulate between 1 and {MAX_LEADS:,} leads")
        return value

    @field_validator("enrol_over_days")
    @classmethod
    def _enrolled_within_the_run(cls, value: float, info: ValidationInfo) -> float:
        days = info.data.get("days")
        if days is not None and value > days:
            raise ValueError(f"enrol_over_days ({value:g}) cannot exceed days ({days}): every "
                             "lead must enter the flow during the run")
        return value

    @field_validator("profile")
    @classmethod
    def _profile(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in value.items():
            if not values:
                raise ValueError(f"profile field {key!r} needs at least one value")
            if len(values) > 1000:
                raise ValueError(f"profile field {key!r} has more than 1,000 values")
        return value


def parse_request(body: Any) -> SimulationRequest:
    """A validated request from a JSON body.

    Raises:
        Invalid: with every problem, each ``{"path", "message"}``.
    """
    if not isinstance(body, Mapping):
        raise Invalid("A simulation request is a JSON object.",
                      [{"path": "", "message": "Send an object such as "
                        '{"leads": 1000, "days": 90, "seed": 1}.'}])
    try:
        return SimulationRequest.model_validate(dict(body))
    except ValidationError as exc:
        problems = [{"path": ".".join(str(p) for p in err["loc"]),
                     "message": str(err["msg"]).removeprefix("Value error, ")}
                    for err in exc.errors()]
        raise Invalid(f"The simulation request has {len(problems)} problem(s).",
                      problems) from None


# ---------------------------------------------------------------- the world it runs in


@dataclass
class Team:
    """What the simulation needs of a sales team."""

    calendar: dict[str, Any] = field(default_factory=dict)
    members: int = 0
    capacity: int | None = None
    #: ``"round_robin"`` or ``{"territory": [...]}``, as the team stores it (routing decides
    #: which team a hand-off lands in).
    routing: Any = "round_robin"
    #: The member rep ids in round-robin order.
    member_ids: tuple[str, ...] = ()


@dataclass
class World:
    """Everything outside the flow, loaded once: scoring model, teams, mail policy settings."""

    model: dict[str, Any]
    teams: dict[str, Team] = field(default_factory=dict)
    #: Every rep as routing sees them at the start (owner stickiness, availability).
    reps: tuple[RepState, ...] = ()
    frequency_cap: int = 3
    frequency_cap_days: int = 7
    default_timezone: str = "UTC"


@dataclass
class LeadSeed:
    """A lead as the simulation starts it: its view (as conditions see it) and mail block."""

    id: str
    view: dict[str, Any]
    blocked: str | None = None
    # Behaviour points (decayed to the start) carried in by a real lead.
    behavior: float = 0.0
    # A synthetic lead is new: scored on creation, before it enters the flow.
    fresh: bool = False
    # Which profile values it drew: leads that drew the same have the same fit and zone.
    profile_key: tuple[int, ...] | None = None
    # POSIX times of a real lead's mails in the cap period before the start (any flow): they
    # count against the frequency cap as live, not in the simulation's own mail figures.
    sent_before: tuple[float, ...] = ()


def engagement_draw(seed: int, send_id: str, kind: str) -> float:
    """A uniform number in [0, 1) fixed by the seed, the send id and ``open``/``click``."""
    digest = hashlib.blake2b(f"{seed}:{send_id}:{kind}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _uniform(seed: int, key: str) -> float:
    """A uniform number in [0, 1) fixed by the seed and ``key``, whatever process draws it
    (cheaper than seeding a generator per lead)."""
    digest = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def synthetic_lead(seed: int, index: int, profile: Mapping[str, list[Any]]) -> LeadSeed:
    """Lead ``index`` of a simulation: an id and fields drawn from ``profile``."""
    view: dict[str, Any] = {
        "id": f"sim-{index}", "email": f"lead{index}@example.com", "first_name": None,
        "last_name": None, "company": None, "title": None, "country": None, "timezone": None,
        "source": "simulation", "fields": {}, "utm": {}, "tags": [], "score": 0.0,
        "temperature": "cold", "stage": "lead", "owner": None,
    }
    picks = []
    for key, values in profile.items():
        pick = int(_uniform(seed, f"{index}:{key}") * len(values))
        picks.append(pick)
        value = values[pick]
        if key.startswith("fields."):
            view["fields"][key[7:]] = value
        elif key == "tags":
            view["tags"] = list(value) if isinstance(value, list) else [value]
        else:
            view[key] = value
    return LeadSeed(view["id"], view, fresh=True, profile_key=tuple(picks))


# ---------------------------------------------------------------- aggregates


@dataclass
class Totals:
    """What a run keeps: counters only, so memory does not grow with the number of leads."""

    leads: int = 0
    entered: Counter[str] = field(default_factory=Counter)
    waiting: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    skipped: int = 0
    postponed: int = 0
    per_lead: Counter[int] = field(default_factory=Counter)
    worst_week: Counter[int] = field(default_factory=Counter)
    per_week: Counter[int] = field(default_factory=Counter)
    exits: Counter[str] = field(default_factory=Counter)
    handoffs: Counter[tuple[str, str]] = field(default_factory=Counter)
    mql: int = 0
    mql_hours: Counter[int] = field(default_factory=Counter)
    paths: Counter[tuple[str, ...]] = field(default_factory=Counter)

    def merge(self, other: Totals) -> None:
        self.leads += other.leads
        self.sent += other.sent
        self.skipped += other.skipped
        self.postponed += other.postponed
        self.mql += other.mql
        for name in ("entered", "waiting", "per_lead", "worst_week", "per_week", "exits",
                     "handoffs", "mql_hours", "paths"):
            getattr(self, name).update(getattr(other, name))


def _percentile(histogram: Counter[int], p: float) -> float:
    """The nearest-rank ``p``-th percentile of the values a histogram counts."""
    total = sum(histogram.values())
    if not total:
        return 0.0
    rank = max(1, math.ceil(total * p / 100))
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return float(value)
    return float(max(histogram))


# ---------------------------------------------------------------- one run


class _Context:
    """The flow and the world, compiled once per process for the per-lead loop."""

    def __init__(self, flow: dict[str, Any], req: SimulationRequest, world: World,
                 start: float) -> None:
        self.flow = flow
        self.steps: dict[str, Any] = flow["steps"]
        self.req = req
        self.seed = req.seed
        self.start = start
        self.end = start + req.days * DAY
        self.weeks = math.ceil(req.days / 7)
        # Compiled once; every scoring call below takes it in place of the document.
        self.model: Any = compiled_model(load_model(world.model))
        compiled = self.model
        self.fits: dict[tuple[int, ...], float] = {}
        self.zones: dict[tuple[Any, ...], Callable[[float], float | None]] = {}
        self.half_life = compiled.half_life_seconds
        self.decay_rate = -math.log(2) / self.half_life if self.half_life else 0.0
        self.mql_at = compiled.mql_at
        self.world = world
        self.window = flow.get("send_window")
        self.cap = world.frequency_cap
        self.cap_period = world.frequency_cap_days * DAY
        self._openings: dict[str, tuple[list[float], list[float]]] = {}
        self.rates = {name: (r.open, r.click) for name, r in req.engagement.templates.items()}
        self.default_rates = (req.engagement.open, req.engagement.click)
        self.open_after = _seconds(req.engagement.open_after)
        self.click_after = _seconds(req.engagement.click_after)
        self.calendars: dict[str, BusinessCalendar] = {}
        self.routing = {tid: TeamRouting(id=tid, members=t.member_ids, routing=t.routing)
                        for tid, t in world.teams.items()}
        # Without territory rules a hand-off stays in the team the step names.
        self.routes = any(isinstance(t.routing, Mapping) for t in world.teams.values())
        self.respond_within = (parse_duration(req.sales.respond_within)
                               if req.sales.respond_within else None)
        self.has_exit = flow.get("exit_when") is not None
        self.trace: Callable[[str, list[str], list[tuple[str, str]]], None] | None = None
        # Events no step waits for, and lead changes without exit_when, leave a journey as it
        # was (advance() just sleeps on): they are not handed to it at all.
        self.listened = frozenset(s["event"] for s in self.steps.values()
                                  if s.get("type") == "wait_for")
        # Decay changes the temperature when nobody looks; only exit_when and steps waiting for
        # the change need the moment itself (live: the lead's temperature timer). Otherwise the
        # temperature is brought up to date when a step reads it.
        self.timers = bool(self.half_life) and (
            self.has_exit or bool(self.listened & {"score.changed", "temperature.changed",
                                                   "stage.changed"}))
        self.journey_of = lambda lead_id: journey_id(flow["id"], lead_id, 1)

    def window_opens(self, zone: ZoneInfo) -> Callable[[float], float | None]:
        """``window_opens_at`` on the simulated clock: the window's openings over the run,
        listed once per zone with :func:`window_openings`, then a bisection per send."""
        key = zone.key
        table = self._openings.get(key)
        if table is None:
            assert self.window is not None, "only flows with a send window ask"
            first = datetime.fromtimestamp(self.start, UTC).astimezone(zone).date()
            last = datetime.fromtimestamp(self.end, UTC).astimezone(zone).date()
            pairs = [(a.timestamp(), b.timestamp()) for a, b in window_openings(
                self.window, zone, first - timedelta(days=1), last + timedelta(days=9))]
            table = self._openings[key] = ([a for a, _ in pairs], [b for _, b in pairs])
        opens, closes = table

        def next_opening(now: float) -> float | None:
            i = bisect_right(closes, now)  # the first opening that closes after now
            if i >= len(opens):
                return None
            return None if opens[i] <= now else opens[i]
        return next_opening

    def calendar(self, team: str) -> BusinessCalendar:
        cal = self.calendars.get(team)
        if cal is None:
            info = self.world.teams.get(team)
            cal = self.calendars[team] = BusinessCalendar.from_doc(info.calendar if info else None)
        return cal


def _seconds(text: str) -> float:
    return 0.0 if text in ("PT0S", "PT0M", "PT0H") else parse_duration(text).total_seconds()


class _Lead:
    """One lead during its run: the view conditions read, its running score, its mail times."""

    __slots__ = ("arrivals", "behavior", "blocked", "capped", "ctx", "decay_at", "enrolled",
                 "fit", "id", "inbox", "is_mql", "mails", "refits", "scored_at", "sent", "seq",
                 "view", "window_opens")

    def __init__(self, ctx: _Context, seed: LeadSeed, enrolled: float) -> None:
        self.ctx = ctx
        self.id = seed.id
        self.view = seed.view
        self.blocked = seed.blocked
        self.enrolled = enrolled
        key = seed.profile_key
        fit = ctx.fits.get(key) if key is not None else None
        if fit is None:
            fit = fit_points(self.view, ctx.model)
            if key is not None:
                ctx.fits[key] = fit
        self.fit = fit
        self.refits = 0
        self.behavior = seed.behavior
        self.scored_at = enrolled
        self.sent: list[float] = []
        # What the frequency cap counts: earlier mails of a real lead, then this run's.
        self.capped: list[float] = list(seed.sent_before)
        self.mails: list[tuple[str, str]] = []  # (send id, template), kept when tracing
        self.inbox: list[dict[str, Any]] = []
        self.arrivals: list[tuple[float, int, dict[str, Any]]] = []
        self.seq = 0
        self.is_mql = seed.view.get("stage") == "MQL"
        self.decay_at: float | None = None
        self.window_opens = None
        if ctx.window:
            where = (self.view.get("timezone"), self.view.get("country"))
            opens = ctx.zones.get(where)
            if opens is None:
                zone = lead_zone(self.view, ctx.window, ctx.world)  # type: ignore[arg-type]
                opens = ctx.zones[where] = ctx.window_opens(zone)
            self.window_opens = opens
        if seed.fresh:  # scored when it was created, before it enters the flow
            score, temperature = shown_temperature(self.fit + self.behavior, ctx.model)
            seed.view["score"], seed.view["temperature"] = score, temperature
            if ctx.mql_at is not None and score >= ctx.mql_at:
                seed.view["stage"] = "MQL"
                self.is_mql = True
        if ctx.timers and self.behavior:
            self.schedule_decay(enrolled)

    def next_arrival(self, now: float, event: dict[str, Any]) -> None:
        """Schedule the next event of a Poisson stream (exponential gaps at its rate)."""
        spec = event["spec"]
        event["n"] += 1
        u = _uniform(self.ctx.seed, f"{self.id}:{spec.type}:{event['n']}")
        at = now - math.log(1.0 - u) / spec.rate_per_day * DAY
        if at <= self.ctx.end:
            self.push(at, event)

    def stream_points(self, event: dict[str, Any]) -> float:
        """A Poisson stream's points: its type and properties are fixed, so they are worked out
        once per lead (again after an update step changed the lead)."""
        cached = event["points"]
        if cached is None or cached[0] != self.refits:
            spec = event["spec"]
            cached = event["points"] = (self.refits, event_points(
                spec.type, spec.properties, self.view, self.ctx.model))
        return float(cached[1])

    def push(self, at: float, event: dict[str, Any]) -> None:
        self.seq += 1
        heapq.heappush(self.arrivals, (at, self.seq, event))

    # -------------------------------------------------------- scoring, as rescore() does it

    def rescore(self, now: float, points: float, totals: Totals) -> None:
        """Add ``points`` at ``now`` and store the score, temperature and MQL stage as live
        rescoring does; the changes reach the journey as derived events and ``lead_changed``."""
        ctx = self.ctx
        behavior = self.behavior
        if ctx.decay_rate and behavior and now > self.scored_at:
            behavior *= math.exp(ctx.decay_rate * (now - self.scored_at))
        self.behavior = behavior + points
        self.scored_at = now
        view = self.view
        old_score, old_temp, old_stage = view["score"], view["temperature"], view["stage"]
        score, temperature = shown_temperature(self.fit + self.behavior, ctx.model)
        # An MQL crossing counts from below, as rescore() compares with the stored score.
        crossed = (ctx.mql_at is not None and score >= ctx.mql_at
                   and not old_score >= ctx.mql_at)
        view["score"], view["temperature"] = score, temperature
        if crossed and stage_rank(view["stage"]) < _MQL_RANK and can_transition(view["stage"],
                                                                                 "MQL"):
            self.set_stage("MQL", now, totals)
        listened, inbox = ctx.listened, self.inbox
        if score != old_score and "score.changed" in listened:
            inbox.append({"kind": "event", "type": "score.changed",
                          "properties": {"old": old_score, "new": score}})
        if temperature != old_temp and "temperature.changed" in listened:
            inbox.append({"kind": "event", "type": "temperature.changed",
                          "properties": {"old": old_temp, "new": temperature}})
        if view["stage"] != old_stage and "stage.changed" in listened:
            inbox.append({"kind": "event", "type": "stage.changed",
                          "properties": {"old": old_stage, "new": view["stage"]}})
        if ctx.has_exit and (score != old_score or temperature != old_temp
                             or view["stage"] != old_stage):
            inbox.append({"kind": "lead_changed"})
        if ctx.timers and self.behavior:
            self.schedule_decay(now)

    def look(self, now: float, totals: Totals) -> dict[str, Any]:
        """The lead as a step reads it at ``now``: a temperature decay has changed since the
        last score is brought up to date, as the lead's temperature timer would have done."""
        ctx = self.ctx
        if ctx.decay_rate and not ctx.timers and self.behavior and now > self.scored_at:
            behavior = self.behavior * math.exp(ctx.decay_rate * (now - self.scored_at))
            if shown_temperature(self.fit + behavior, ctx.model)[1] != self.view["temperature"]:
                self.rescore(now, 0.0, totals)
        return self.view

    def schedule_decay(self, now: float) -> None:
        """Arm the lead's temperature timer for when decay alone next changes it."""
        wait = seconds_to_temperature_change(self.fit, self.behavior, self.ctx.model)
        at = None if wait is None else now + wait
        if at is not None and at <= self.ctx.end and at != self.decay_at:
            self.push(at, {"kind": "decay", "at": at})
        self.decay_at = at

    def set_stage(self, stage: str, now: float, totals: Totals) -> None:
        self.view["stage"] = stage
        if stage == "MQL" and not self.is_mql:
            self.is_mql = True
            totals.mql += 1
            totals.mql_hours[int((now - self.enrolled) // 3600)] += 1

    def arrive(self, now: float, event: dict[str, Any], totals: Totals) -> None:
        """An event reaches the lead at ``now``: it is scored, then handed to the journey."""
        kind = event.get("kind")
        if kind == "decay":  # the lead's temperature timer; a re-armed one replaces it
            if event["at"] == self.decay_at:
                self.rescore(now, 0.0, totals)
            return
        if kind == "poisson":
            self.next_arrival(now, event)
            points = self.stream_points(event)
            spec = event["spec"]
            if spec.type in self.ctx.listened:
                self.inbox.append({"kind": "event", "type": spec.type,
                                   "properties": spec.properties})
        else:
            if event["type"] in self.ctx.listened:
                self.inbox.append(event)
            points = event_points(event["type"], event.get("properties") or {}, self.view,
                                  self.ctx.model)
        self.rescore(now, points, totals)

    def score_after_flow(self, totals: Totals) -> None:
        """Events after the lead left the flow still score and can make it an MQL; nothing
        listens any more, so only the score is kept (decay alone never makes an MQL)."""
        ctx, arrivals = self.ctx, self.arrivals
        if self.is_mql or ctx.mql_at is None:
            return
        model, end, rate = ctx.model, ctx.end, ctx.decay_rate
        behavior, scored_at, fit = self.behavior, self.scored_at, self.fit
        while arrivals and arrivals[0][0] <= end:
            at, _, event = heapq.heappop(arrivals)
            kind = event["kind"]
            if kind == "decay":
                continue
            if kind == "poisson":
                self.next_arrival(at, event)
                points = self.stream_points(event)
            else:
                points = event_points(event["type"], event.get("properties") or {}, self.view,
                                      model)
            if not points:
                continue
            if rate and behavior and at > scored_at:
                behavior *= math.exp(rate * (at - scored_at))
            behavior, scored_at = behavior + points, at
            if shown_temperature(fit + behavior, model)[0] >= ctx.mql_at:
                self.behavior, self.scored_at = behavior - points, at
                self.rescore(at, points, totals)  # the crossing, as live records it
                return

    def drain(self, until: float, totals: Totals) -> None:
        """Let every event up to ``until`` reach the lead (its journey is busy or over)."""
        arrivals = self.arrivals
        while arrivals and arrivals[0][0] <= until:
            at, _, event = heapq.heappop(arrivals)
            self.arrive(at, event, totals)


def _simulate_lead(ctx: _Context, seed: LeadSeed, enrolled: float, totals: Totals) -> None:
    flow, end = ctx.flow, ctx.end
    lead = _Lead(ctx, seed, enrolled)
    for spec in ctx.req.events:
        if spec.rate_per_day > 0:
            lead.next_arrival(enrolled, {"kind": "poisson", "spec": spec, "n": 0,
                                         "points": None})
    state = JourneyState(journey_id=ctx.journey_of(seed.id), lead_id=seed.id)
    now = enrolled
    path: list[str] = []
    entered = totals.entered
    sends: list[float] = lead.sent
    cmd = advance(flow, state, {"kind": "start"}, now)
    while True:
        for step_id, _visit, _at in cmd.trail:
            entered[step_id] += 1
            if len(path) < PATH_STEPS:
                path.append(step_id)
            elif len(path) == PATH_STEPS:
                path.append("…")
        cmd.trail = []  # counted once, even when the lead wakes for an event and sleeps on
        if cmd.kind == "finish":
            totals.exits[cmd.reason or cmd.status] += 1
            break
        if cmd.kind == "run":
            result, now = _perform(ctx, lead, state, cmd, now, totals)
            if now > end:  # a hand-off still with sales when the run ends
                totals.waiting[state.step or ""] += 1
                break
            cmd = advance(flow, state, {"kind": "result", "value": result}, now)
            continue
        if lead.inbox:
            cmd = advance(flow, state, lead.inbox.pop(0), now)
            continue
        until = cmd.until
        arrivals = lead.arrivals
        if arrivals and arrivals[0][0] <= end and (until is None or arrivals[0][0] <= until):
            at, _, event = heapq.heappop(arrivals)
            now = at
            lead.arrive(now, event, totals)
            continue
        if until is not None and until <= end:
            now = until
            cmd = advance(flow, state, {"kind": "timer"}, now)
            continue
        totals.waiting[state.step or ""] += 1
        break
    lead.score_after_flow(totals)
    if ctx.trace is not None:
        ctx.trace(seed.id, path, lead.mails)
    totals.leads += 1
    totals.paths[tuple(path)] += 1
    totals.per_lead[len(sends)] += 1
    worst, first = 0, 0
    for i, at in enumerate(sends):  # the busiest 7 days for this lead (sends are in order)
        while at - sends[first] >= WEEK:
            first += 1
        worst = max(worst, i - first + 1)
        totals.per_week[min(int((at - ctx.start) // WEEK), ctx.weeks - 1)] += 1
    totals.worst_week[worst] += 1


def _perform(ctx: _Context, lead: _Lead, state: JourneyState, cmd: Any, now: float,
             totals: Totals) -> tuple[Any, float]:
    """What the journey activities do, in memory: returns the result and the clock after it."""
    action = cmd.action
    step = ctx.steps.get(state.step or "", {})
    if action == "email":
        if lead.blocked:
            totals.skipped += 1
            return {"status": "skipped", "reason": lead.blocked}, now
        sent, capped = lead.sent, lead.capped
        later = earliest_send(
            now, lambda moment: cap_reopens_after(capped, moment, ctx.cap, ctx.cap_period),
            lead.window_opens or _never)
        if later is not None:
            totals.postponed += 1
            return {"status": "postponed", "retry_at": later[0], "reason": later[1]}, now
        sent.append(now)
        capped.append(now)
        totals.sent += 1
        send_id = cmd.send_id
        if ctx.trace is not None:
            lead.mails.append((send_id, step["template"]))
        p_open, p_click = ctx.rates.get(step.get("template"), ctx.default_rates)
        clicked = p_click > 0 and engagement_draw(ctx.seed, send_id, "click") < p_click
        if clicked or (p_open > 0 and engagement_draw(ctx.seed, send_id, "open") < p_open):
            where = {"journey_id": state.journey_id, "step": state.step}
            lead.push(now + ctx.open_after, {"kind": "event", "type": "email.opened",
                                             "event_id": f"{send_id}.open", **where})
            if clicked:
                lead.push(now + ctx.click_after, {"kind": "event", "type": "email.clicked",
                                                  "event_id": f"{send_id}.click", **where})
        return {"status": "sent"}, now
    view = lead.look(now, totals)
    if action == "decide":
        if step.get("on") == "temperature":
            return {"next": step[view.get("temperature") or "cold"]}, now
        for case in step.get("cases") or []:
            if evaluate(case["when"], view):
                return {"next": case["next"]}, now
        return {"next": step["else"]}, now
    if action == "check_exit":
        return evaluate(ctx.flow["exit_when"], view), now
    if action == "match_event":
        event = state.pending_event or {}
        return evaluate(step["where"], view, {"properties": event.get("properties") or {}}), now
    if action == "update":
        _update(ctx, lead, step, now, totals)
        return {"changed": True}, now
    if action == "handoff":
        return _handoff(ctx, lead, state, step, now, totals)
    return {}, now  # notify: tells a person, the lead is untouched


def _never(_: float) -> None:
    return None


def _update(ctx: _Context, lead: _Lead, step: Mapping[str, Any], now: float,
            totals: Totals) -> None:
    """An update step, as :func:`leadflow.usecases.update_step.apply_update` applies it."""
    view = lead.view
    refit = False
    for key, value in (step.get("set") or {}).items():
        if key.startswith("fields."):
            view["fields"] = {**view["fields"], key[7:]: value}
        else:
            view[key] = value
        refit = True
    if step.get("add_tags"):
        view["tags"] = sorted({*view["tags"], *step["add_tags"]})
        refit = True
    if refit:
        lead.fit = fit_points(view, ctx.model)
        lead.refits += 1
    marker = {"points": step.get("add_score") or 0}
    events: list[dict[str, Any]] = [{"kind": "event", "type": "lead.updated",
                                     "properties": marker}]
    if step.get("stage") and step["stage"] != view["stage"]:
        old = view["stage"]
        lead.set_stage(step["stage"], now, totals)
        events.append({"kind": "event", "type": "stage.changed",
                       "properties": {"old": old, "new": step["stage"]}})
    lead.inbox.extend(e for e in events if e["type"] in ctx.listened)
    points = event_points("lead.updated", marker, view, ctx.model)
    lead.rescore(now, points, totals)


def _handoff(ctx: _Context, lead: _Lead, state: JourneyState, step: Mapping[str, Any],
             now: float, totals: Totals) -> tuple[Any, float]:
    """Count the hand-off on its routed team's business day; sales answers later."""
    opened = datetime.fromtimestamp(now, UTC)
    if step.get("team"):
        team = _routed_team(ctx, step["team"], lead.view, opened)
        cal = ctx.calendar(team)
    else:  # the flow names a rep: no routing, round the clock (as live)
        team, cal = f"rep:{step.get('rep')}", ctx.calendar("")
    day = cal.next_open(opened).astimezone(cal.zone).date()
    totals.handoffs[(team, day.isoformat())] += 1
    wait = ctx.respond_within or parse_duration(step["sla"])
    answered = cal.add_business_time(opened, wait).timestamp()
    hid = f"handoff-{state.journey_id}-{state.step}-{state.visits.get(state.step or '', 0)}"
    accepted = engagement_draw(ctx.seed, hid, "accept") < ctx.req.sales.accept_rate
    if answered > ctx.end:
        lead.drain(ctx.end, totals)
        return None, math.inf  # still with sales when the run ends
    lead.drain(answered, totals)  # events meanwhile score and queue, as signals do
    stage = "SAL" if accepted else "recycled"
    old = lead.view["stage"]
    if can_transition(old, stage):
        lead.set_stage(stage, answered, totals)
        if "stage.changed" in ctx.listened:
            lead.inbox.append({"kind": "event", "type": "stage.changed",
                               "properties": {"old": old, "new": stage}})
        if ctx.has_exit:
            lead.inbox.append({"kind": "lead_changed"})
    return {"outcome": "accepted" if accepted else "rejected", "handoff_id": hid}, answered


def _routed_team(ctx: _Context, team_id: str, view: Mapping[str, Any], at: datetime) -> str:
    """The team live routing puts a hand-off to ``team_id`` in (``open_handoff``: the
    decision's team, else the step's)."""
    team = ctx.routing.get(team_id)
    if team is None or not ctx.routes:
        return team_id
    decision = route_lead(team, ctx.world.reps, view, now=at, owner_id=view.get("owner"),
                          teams=ctx.routing)
    return decision.team_id or team_id


# ---------------------------------------------------------------- running and reporting


def _run_chunk(flow: dict[str, Any], req: SimulationRequest, world: World, start: float,
               first: int, seeds: list[LeadSeed] | None, count: int,
               trace: Callable[..., None] | None = None) -> Totals:
    """Leads ``first .. first + count`` (synthetic), or the given real ones."""
    ctx = _Context(flow, req, world, start)
    ctx.trace = trace
    totals = Totals()
    total_leads = len(seeds) if seeds is not None else (req.leads if isinstance(req.leads, int)
                                                        else 0)
    spread = req.enrol_over_days * DAY
    for offset in range(count):
        index = first + offset
        seed = seeds[offset] if seeds is not None else synthetic_lead(req.seed, index, req.profile)
        enrolled = start + (spread * index / total_leads if spread and total_leads else 0.0)
        if enrolled < ctx.end:
            _simulate_lead(ctx, seed, enrolled, totals)
        else:
            totals.leads += 1
    return totals


def _chunk_job(args: tuple[Any, ...]) -> Totals:
    return _run_chunk(*args)


def run_simulation(flow: dict[str, Any], req: SimulationRequest, world: World, *,
                   seeds: list[LeadSeed] | None = None, start: datetime | None = None,
                   workers: int | None = None,
                   progress: Callable[[int, int], None] | None = None,
                   trace: Callable[[str, list[str], list[tuple[str, str]]], None] | None = None,
                   ) -> dict[str, Any]:
    """Simulate ``req.leads`` synthetic leads (or ``seeds``) through a validated ``flow``.

    ``workers`` processes share the leads (default: one per core for 20,000 leads or more);
    the answer is the same whatever their number. ``progress(done, total)`` is called as
    chunks of leads finish. ``trace(lead_id, steps, [(send_id, template)])`` sees each lead's
    walk (in this process: it turns ``workers`` off), for tests that hold it against live runs.
    """
    started = time.perf_counter()
    begin = (start or req.start or _default_start()).astimezone(UTC)
    t0 = begin.timestamp()
    total = len(seeds) if seeds is not None else int(req.leads)  # type: ignore[arg-type]
    if workers is None:
        workers = min(2, os.cpu_count() or 1) if total >= 20_000 else 1
    if trace is not None:
        workers = 1
    chunk = max(500, min(10_000, total // (workers * 8) or 1))
    jobs = [(flow, req, world, t0, first,
             seeds[first:first + chunk] if seeds is not None else None,
             min(chunk, total - first)) for first in range(0, total, chunk)]
    totals = Totals()
    done = 0
    if workers > 1 and len(jobs) > 1:
        import multiprocessing

        # fork starts at once and needs no importable __main__, but is unsafe once threads
        # run (an API server); spawn then.
        import threading
        from concurrent.futures import ProcessPoolExecutor

        method = "fork" if threading.active_count() == 1 and os.name == "posix" else "spawn"
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
            for part in pool.map(_chunk_job, jobs):
                totals.merge(part)
                done += part.leads
                if progress:
                    progress(done, total)
    else:
        for job in jobs:
            part = _run_chunk(*job, trace=trace)
            totals.merge(part)
            done += part.leads
            if progress:
                progress(done, total)
    return _report(flow, req, world, totals, begin, total,
                   elapsed_ms=round((time.perf_counter() - started) * 1000))


def _default_start() -> datetime:
    now = datetime.now(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC)


def _report(flow: dict[str, Any], req: SimulationRequest, world: World, totals: Totals,
            begin: datetime, total: int, elapsed_ms: int) -> dict[str, Any]:
    steps = {}
    for step_id in flow["steps"]:
        entered = totals.entered.get(step_id, 0)
        waiting = totals.waiting.get(step_id, 0)
        steps[step_id] = {"entered": entered, "left": entered - waiting,
                          "waiting_at_end": waiting}
    weeks = math.ceil(req.days / 7)
    end = begin + timedelta(days=req.days)
    teams = {}
    for team in sorted({t for t, _ in totals.handoffs} | _handoff_teams(flow, world)):
        info = world.teams.get(team)
        cal = BusinessCalendar.from_doc(info.calendar if info else None)
        days = _business_days(cal, begin, end)
        counts = [totals.handoffs.get((team, d.isoformat()), 0) for d in days]
        teams[team] = {
            "mean": round(sum(counts) / len(counts), 2) if counts else 0.0,
            "max": max(counts, default=0),
            "capacity": info.capacity if info else None,
            "members": info.members if info else 0,
            "business_days": len(days),
            "days_over_capacity": (sum(1 for c in counts if c > info.capacity)
                                   if info and info.capacity is not None else None),
            "days": [{"date": d.isoformat(), "count": c} for d, c in zip(days, counts,
                                                                         strict=True)],
        }
    mql_p50 = _percentile(totals.mql_hours, 50)
    return {
        "flow_id": flow.get("id"),
        "leads": total,
        "days": req.days,
        "seed": req.seed,
        "start": begin.isoformat(),
        "steps": steps,
        "emails": {
            "sent": totals.sent,
            "skipped": totals.skipped,
            "postponed": totals.postponed,
            "per_lead": {"p50": _percentile(totals.per_lead, 50),
                         "p95": _percentile(totals.per_lead, 95),
                         "max": max(totals.per_lead, default=0)},
            "max_per_lead_per_week": max(totals.worst_week, default=0),
            "per_week": [totals.per_week.get(w, 0) for w in range(weeks)],
            "busiest_week_per_lead": {str(k): v for k, v in sorted(totals.worst_week.items())},
        },
        "exits": dict(sorted(totals.exits.items())),
        "handoffs": {"total": sum(totals.handoffs.values()),
                     "per_team_per_business_day": teams},
        "mql": {"count": totals.mql,
                "days_to_mql_p50": round(mql_p50 / 24, 2) if totals.mql else None},
        "paths": [{"steps": list(p), "leads": n}
                  for p, n in sorted(totals.paths.items(), key=lambda kv: (-kv[1], kv[0]))
                  [:TOP_PATHS]],
        "elapsed_ms": elapsed_ms,
    }


def _handoff_teams(flow: Mapping[str, Any], world: World) -> set[str]:
    """The teams the flow's hand-offs may land in: the steps' teams and, through territory
    rules, the teams those send leads on to (shown even on days nobody lands there)."""
    found = {s["team"] if s.get("team") else f"rep:{s.get('rep')}"
             for s in flow["steps"].values() if s.get("type") == "handoff"}
    todo = [t for t in found if t in world.teams]
    while todo:
        routing = world.teams[todo.pop()].routing
        rules = routing.get("territory") if isinstance(routing, Mapping) else None
        for rule in rules or ():
            target = rule.get("team") if isinstance(rule, Mapping) else None
            if target in world.teams and target not in found:
                found.add(target)
                todo.append(target)
    return found


def _business_days(cal: BusinessCalendar, begin: datetime, end: datetime) -> list[date]:
    """The team's working days whose hours overlap ``[begin, end)``."""
    zone = cal.zone
    first = begin.astimezone(zone).date()
    last = end.astimezone(zone).date()
    days, day = [], first
    while day <= last:
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
        opens = midnight + timedelta(minutes=cal.open_from)
        closes = midnight + timedelta(minutes=cal.open_to)
        if cal.is_working_day(day) and opens < end and closes > begin:
            days.append(day)
        day += timedelta(days=1)
    return days


# ---------------------------------------------------------------- the service


def load_world(session: Any) -> World:
    """The scoring model in force, the teams (calendar, active members, capacity, routing),
    the reps as routing sees them and the mail policy settings: read once, read-only."""
    from sqlmodel import select

    from leadflow.config import get_settings
    from leadflow.models import Team as TeamRow
    from leadflow.sales.handoffs import rep_states
    from leadflow.scoring.service import active_model

    settings = get_settings()
    reps = tuple(rep_states(session))
    active = {r.id for r in reps if r.active}
    teams = {t.id: Team(calendar=dict(t.calendar or {}),
                        members=sum(1 for m in t.members or [] if m in active),
                        capacity=getattr(t, "capacity", None),
                        routing=t.routing or "round_robin", member_ids=tuple(t.members or ()))
             for t in session.exec(select(TeamRow)).all()}
    return World(model=active_model(session).document, teams=teams, reps=reps,
                 frequency_cap=settings.frequency_cap,
                 frequency_cap_days=settings.frequency_cap_days,
                 default_timezone=settings.default_timezone)


def sample_leads(session: Any, seed: int, at: datetime, limit: int = MAX_SAMPLE
                 ) -> list[LeadSeed]:
    """Up to ``limit`` real leads (a seeded sample when there are more), as they are now:
    their fields, mail block, behaviour points and recent mails. Reads only."""
    from sqlmodel import col, select

    from leadflow.config import get_settings
    from leadflow.leads.consent import mail_block_reason
    from leadflow.leads.records import lead_view
    from leadflow.models import Lead
    from leadflow.scoring.model import score_lead
    from leadflow.scoring.service import active_model, load_scored_events

    ids = sorted(session.exec(select(Lead.id).where(col(Lead.erased_at).is_(None))).all())
    if len(ids) > limit:
        ids = sorted(random.Random(f"{seed}:sample").sample(ids, limit))
    model = active_model(session)
    seeds: list[LeadSeed] = []
    for first in range(0, len(ids), 500):
        chunk = ids[first:first + 500]
        rows = {lead.id: lead for lead in session.exec(select(Lead).where(col(Lead.id).in_(chunk)))}
        events = load_scored_events(session, chunk, model)
        since = at - timedelta(days=get_settings().frequency_cap_days)
        recent = {lead_id: [t.timestamp() for t in times if since < t <= at]
                  for lead_id, times in capped_mail_times(session, chunk).items()}
        for lead_id in chunk:
            lead = rows[lead_id]
            view = lead_view(lead)
            scored = score_lead(view, events.get(lead_id, []), model.doc, at, explain=False)
            seeds.append(LeadSeed(lead_id, view, mail_block_reason(session, lead),
                                  scored.behavior_exact,
                                  sent_before=tuple(sorted(recent.get(lead_id, ())))))
    return seeds


def simulate_flow(session: Any, flow_id: str, body: Any, *, workers: int | None = None,
                  progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """``POST /api/flows/{id}/simulate``: a published version (``version``, default the latest),
    an unsaved ``document`` (validated first) or else the draft, through the simulator.

    Raises:
        Invalid: a bad request, or a document with problems (each with its path).
        NotFound: no such flow or version.
    """
    from leadflow.journeys.flows import check_flow, get_flow, get_version, latest_version

    req = parse_request(body)
    version: int | None = None
    if req.document is not None:
        doc = req.document
    else:
        flow = get_flow(session, flow_id)
        if req.version is not None:
            doc, version = get_version(session, flow_id, req.version).document, req.version
        else:
            latest = latest_version(session, flow_id)
            doc, version = (latest.document, latest.version) if latest else (flow.draft, None)
    problems = check_flow(session, doc)
    if problems:
        raise Invalid(f"The flow has {len(problems)} problem(s); fix them to simulate it.",
                      [{"path": f"document.{p['path']}" if req.document is not None
                        else p["path"], "message": p["message"]} for p in problems])
    begin = (req.start or _default_start()).astimezone(UTC)
    seeds = sample_leads(session, req.seed, begin) if req.leads == "sample" else None
    result = run_simulation(doc, req, load_world(session), seeds=seeds, start=begin,
                            workers=workers, progress=progress)
    result["version"] = version  # None: the unsaved document or the draft
    return result
