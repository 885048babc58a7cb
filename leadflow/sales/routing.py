"""Who gets a handed-off lead: owner stickiness, territory rules and round robin, with reasons.

Everything here is a pure decision over plain data: the caller loads the team, its reps' loads
and the lead, calls :func:`route_lead`, stores ``decision.rep_id`` and ``decision.reason`` on the
handoff and saves ``decision.cursor`` as the round-robin cursor of ``decision.team_id``.

Order of precedence:

1. **Owner stickiness**: a lead whose company already has an owner goes to that owner, in or
   out of the team, if the owner can take it.
2. **Territory** (``{"territory": [{"when": condition, "rep" or "team": id}, ...]}``): the first
   rule whose condition holds sends the lead to its rep, or into its team (whose own routing
   then applies). A rule's rep who cannot take the lead falls back to the team's round robin;
   when no rule holds, the team's round robin decides.
3. **Round robin** over the team's members in order, starting at the team's cursor and skipping
   reps who are inactive, out of office or at capacity; the cursor moves past the chosen rep, so
   assignments are spread evenly over time.

When nobody can take the lead, the decision has no rep and the lead waits in the team pool.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from leadflow.journeys.conditions import condition_problems, evaluate
from leadflow.sales.business_calendar import as_utc

__all__ = [
    "AwayPeriod",
    "RepState",
    "RoutingDecision",
    "TeamRouting",
    "describe_condition",
    "next_rep_for_escalation",
    "out_of_office_problems",
    "parse_out_of_office",
    "route_lead",
    "routing_problems",
]

Method = Literal["owner", "territory", "round_robin", "escalation", "unassigned"]


@dataclass(frozen=True)
class AwayPeriod:
    """A stretch ``[start, end)`` (aware UTC) when a rep is out of office."""

    start: datetime
    end: datetime

    def covers(self, t: datetime) -> bool:
        """Whether instant ``t`` falls in this period."""
        return self.start <= as_utc(t) < self.end


def _parse_moment(value: Any, zone: ZoneInfo, *, is_end: bool) -> datetime:
    """An instant from an ISO date or datetime; a bare date is the rep's whole local day."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and len(value) == 10:
        day = date.fromisoformat(value) + timedelta(days=1 if is_end else 0)
        return datetime.combine(day, time(0), tzinfo=zone).astimezone(ZoneInfo("UTC"))
    elif isinstance(value, str):
        moment = datetime.fromisoformat(value)
    else:
        raise ValueError(f"{value!r} is not a date or date-time")
    # A date-time without an offset is the rep's wall-clock time.
    return (moment.replace(tzinfo=zone) if moment.tzinfo is None else moment).astimezone(
        ZoneInfo("UTC"))


def parse_out_of_office(
    periods: Iterable[Mapping[str, Any]] | None, timezone: str = "UTC"
) -> tuple[AwayPeriod, ...]:
    """Parse ``[{"from": iso, "to": iso}]`` as the reps API stores it.

    Date-times without an offset, and bare dates, are read on the rep's clock; a bare ``to``
    date includes that whole day (``{"from": "2026-08-03", "to": "2026-08-07"}`` is a week).

    Raises:
        ValueError: for a period that :func:`out_of_office_problems` would report.
    """
    zone = ZoneInfo(timezone)
    parsed = []
    for period in periods or ():
        start = _parse_moment(period["from"], zone, is_end=False)
        end = _parse_moment(period["to"], zone, is_end=True)
        if end <= start:
            raise ValueError(f"out of office period {dict(period)!r} ends before it starts")
        parsed.append(AwayPeriod(start, end))
    return tuple(sorted(parsed, key=lambda p: p.start))


def out_of_office_problems(periods: Any, path: str = "out_of_office") -> list[dict[str, str]]:
    """Every problem with a rep's ``out_of_office`` list, each as ``{"path", "message"}``."""
    if not isinstance(periods, list):
        return [{"path": path, "message": 'out_of_office must be a list such as '
                 '[{"from": "2026-08-03", "to": "2026-08-07"}].'}]
    problems = []
    for i, period in enumerate(periods):
        where = f"{path}[{i}]"
        if not isinstance(period, Mapping) or set(period) != {"from", "to"}:
            problems.append({"path": where, "message": 'Each period needs exactly "from" and '
                             '"to", as dates (2026-08-03) or date-times (2026-08-03T13:00).'})
            continue
        try:
            parse_out_of_office([period])
        except ValueError as exc:
            message = str(exc) if "ends before" in str(exc) else (
                "from and to must be dates (2026-08-03) or date-times (2026-08-03T13:00)")
            problems.append({"path": where, "message": message[0].upper() + message[1:] + "."})
    return problems


@dataclass(frozen=True)
class RepState:
    """What routing needs to know about one rep right now.

    Attributes:
        id: the rep's id.
        capacity: most open handoffs the rep may hold.
        open_count: handoffs the rep holds now.
        out_of_office: periods away (see :func:`parse_out_of_office`).
        last_assigned_at: when the rep last got a lead (escalation prefers the longest idle).
        manager_id: whom to escalate to when the team has nobody else.
        timezone: the rep's zone, for display only; SLAs run on the team calendar.
        active: whether the rep still takes leads at all.
    """

    id: str
    capacity: int
    open_count: int = 0
    out_of_office: tuple[AwayPeriod, ...] = ()
    last_assigned_at: datetime | None = None
    manager_id: str | None = None
    timezone: str = "UTC"
    active: bool = True

    @classmethod
    def from_doc(
        cls,
        doc: Mapping[str, Any],
        *,
        open_count: int = 0,
        last_assigned_at: datetime | None = None,
    ) -> RepState:
        """Build from a rep as the API or the ``Rep`` table holds it, plus its current load."""
        timezone = doc.get("timezone") or "UTC"
        return cls(
            id=doc["id"],
            capacity=int(doc.get("capacity", 20)),
            open_count=open_count,
            out_of_office=parse_out_of_office(doc.get("out_of_office"), timezone),
            last_assigned_at=last_assigned_at,
            manager_id=doc.get("manager_id"),
            timezone=timezone,
            active=bool(doc.get("active", True)),
        )

    def away_at(self, now: datetime) -> AwayPeriod | None:
        """The out-of-office period covering ``now``, if any."""
        return next((p for p in self.out_of_office if p.covers(now)), None)

    def unavailable_because(self, now: datetime) -> str | None:
        """Why the rep cannot take a lead at ``now`` (a short phrase), or None if they can."""
        if not self.active:
            return "inactive"
        away = self.away_at(now)
        if away is not None:
            back = away.end.astimezone(ZoneInfo(self.timezone))
            return f"out of office until {back:%Y-%m-%d %H:%M} {self.timezone}"
        if self.open_count >= self.capacity:
            return f"at capacity, {self.open_count} of {self.capacity} open"
        return None


@dataclass(frozen=True)
class TeamRouting:
    """A team as routing sees it.

    Attributes:
        id: the team's slug.
        members: rep ids in round-robin order.
        routing: ``"round_robin"`` or ``{"territory": [{"when": condition, "rep"|"team": id}]}``.
        cursor: index into ``members`` where the next round-robin search starts.
    """

    id: str
    members: tuple[str, ...]
    routing: Any = "round_robin"
    cursor: int = 0

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any], cursor: int = 0) -> TeamRouting:
        """Build from a team as the API holds it; ``cursor`` is the stored ``rr_cursor``."""
        return cls(id=doc["id"], members=tuple(doc.get("members") or ()),
                   routing=doc.get("routing") or "round_robin", cursor=cursor)


@dataclass(frozen=True)
class RoutingDecision:
    """The outcome of routing one lead.

    Attributes:
        rep_id: who gets the lead; None when it waits in the team pool.
        team_id: the team the lead now belongs to (a territory rule may move it).
        reason: a sentence for the timeline saying why.
        cursor: the round-robin cursor to store for ``team_id``.
        method: which rule decided.
    """

    rep_id: str | None
    team_id: str
    reason: str
    cursor: int
    method: Method = field(default="round_robin")


def _by_id(reps: Iterable[RepState]) -> dict[str, RepState]:
    return {rep.id: rep for rep in reps}


def _why_not(rep_id: str, reps: Mapping[str, RepState], now: datetime) -> str | None:
    rep = reps.get(rep_id)
    return "not a known rep" if rep is None else rep.unavailable_because(now)


def _round_robin(
    team: TeamRouting, reps: Mapping[str, RepState], now: datetime, prefix: str = ""
) -> RoutingDecision:
    if not team.members:
        return RoutingDecision(None, team.id, f"{prefix}team {team.id} has no members; "
                               "the lead waits in the team pool", team.cursor, "unassigned")
    n = len(team.members)
    start = team.cursor % n
    skipped: list[str] = []
    for step in range(n):
        index = (start + step) % n
        rep_id = team.members[index]
        why = _why_not(rep_id, reps, now)
        if why is not None:
            skipped.append(f"{rep_id} ({why})")
            continue
        reason = f"round robin: next available after {team.members[(start - 1) % n]}"
        if skipped:
            reason += f"; skipped {', '.join(skipped)}"
        return RoutingDecision(rep_id, team.id, prefix + reason, (index + 1) % n, "round_robin")
    return RoutingDecision(
        None, team.id, f"{prefix}nobody in team {team.id} can take the lead: "
        f"{', '.join(skipped)}; the lead waits in the team pool", team.cursor, "unassigned")


def route_lead(
    team: TeamRouting,
    reps: Iterable[RepState],
    lead: Mapping[str, Any],
    *,
    now: datetime,
    owner_id: str | None = None,
    teams: Mapping[str, TeamRouting] | None = None,
) -> RoutingDecision:
    """Decide who gets ``lead`` handed off to ``team`` (see the module docstring for the order).

    Args:
        team: the team named by the handoff step, with its current cursor.
        reps: every rep who might be chosen: the team's members, the company owner and the
            reps and members of teams that territory rules name.
        lead: the lead's fields, as conditions see them (``country``, ``company``, ...).
        now: the moment of the handoff, for out-of-office checks.
        owner_id: the rep who owns the lead's company, if any.
        teams: teams that territory rules may send the lead to, by id.
    """
    by_id = _by_id(reps)
    prefix = ""
    if owner_id is not None:
        company = lead.get("company") or "the lead's company"
        why = _why_not(owner_id, by_id, now)
        if why is None:
            return RoutingDecision(owner_id, team.id, f"owner of {company}", team.cursor, "owner")
        prefix = f"owner of {company}, {owner_id}, is {why}; "
    return _route_in_team(team, by_id, lead, now, teams or {}, prefix, visited=frozenset())


def _route_in_team(
    team: TeamRouting,
    reps: Mapping[str, RepState],
    lead: Mapping[str, Any],
    now: datetime,
    teams: Mapping[str, TeamRouting],
    prefix: str,
    visited: frozenset[str],
) -> RoutingDecision:
    rules = team.routing.get("territory") if isinstance(team.routing, Mapping) else None
    if not rules or team.id in visited:
        return _round_robin(team, reps, now, prefix)
    for number, rule in enumerate(rules, start=1):
        if not evaluate(rule["when"], lead):
            continue
        said = f"{prefix}territory rule {number}: {describe_condition(rule['when'])}"
        if "rep" in rule:
            why = _why_not(rule["rep"], reps, now)
            if why is None:
                return RoutingDecision(rule["rep"], team.id, said, team.cursor, "territory")
            return _round_robin(team, reps, now, f"{said}, but {rule['rep']} is {why}; ")
        target = teams.get(rule["team"])
        if target is None:
            return RoutingDecision(
                None, team.id, f"{said}, but team {rule['team']} does not exist; "
                f"the lead waits in the {team.id} pool", team.cursor, "unassigned")
        decision = _route_in_team(target, reps, lead, now, teams, f"{said} → team {target.id}; ",
                                  visited | {team.id})
        if decision.method == "round_robin" and decision.rep_id is not None:
            return RoutingDecision(decision.rep_id, decision.team_id, decision.reason,
                                   decision.cursor, "territory")
        return decision
    return _round_robin(team, reps, now, f"{prefix}no territory rule matched; ")


def next_rep_for_escalation(
    team: TeamRouting,
    reps: Iterable[RepState],
    *,
    exclude: Sequence[str] = (),
    now: datetime,
) -> RoutingDecision:
    """Who takes over a lead whose SLA was breached: another available member of ``team``.

    Among members not in ``exclude`` (the reps who already had the lead) who can take a lead,
    the one idle longest (oldest ``last_assigned_at``, never-assigned first) wins; ties go by
    member order. The round-robin cursor is left alone. With nobody available the decision has
    no rep, and the caller escalates to the current rep's manager.
    """
    by_id = _by_id(reps)
    epoch = datetime.min.replace(tzinfo=ZoneInfo("UTC"))
    candidates: list[tuple[datetime, int, str]] = []
    skipped: list[str] = []
    for order, rep_id in enumerate(team.members):
        if rep_id in exclude:
            skipped.append(f"{rep_id} (already had the lead)")
            continue
        why = _why_not(rep_id, by_id, now)
        if why is not None:
            skipped.append(f"{rep_id} ({why})")
            continue
        last = by_id[rep_id].last_assigned_at
        candidates.append((epoch if last is None else as_utc(last), order, rep_id))
    tail = f"; skipped {', '.join(skipped)}" if skipped else ""
    if not candidates:
        return RoutingDecision(None, team.id, f"escalation: nobody else in team {team.id} can "
                               f"take the lead{tail}", team.cursor, "unassigned")
    _, _, chosen = min(candidates)
    return RoutingDecision(chosen, team.id, f"escalation: {chosen} was idle longest{tail}",
                           team.cursor, "escalation")


def routing_problems(
    routing: Any,
    path: str = "routing",
    *,
    teams: Iterable[str] | None = None,
    reps: Iterable[str] | None = None,
) -> list[dict[str, str]]:
    """Every problem with a team's ``routing`` document, each as ``{"path", "message"}``.

    Args:
        routing: ``"round_robin"`` or ``{"territory": [...]}``.
        path: where it sits in its document.
        teams: ids of existing teams, to check ``team`` targets (None: not checked).
        reps: ids of existing reps, to check ``rep`` targets (None: not checked).
    """
    if routing == "round_robin":
        return []
    if not isinstance(routing, Mapping) or set(routing) != {"territory"} \
            or not isinstance(routing["territory"], list) or not routing["territory"]:
        return [{"path": path, "message": 'routing must be "round_robin" or {"territory": '
                 '[{"when": condition, "rep" or "team": id}, ...]} with at least one rule.'}]
    known_teams = None if teams is None else set(teams)
    known_reps = None if reps is None else set(reps)
    problems: list[dict[str, str]] = []
    for i, rule in enumerate(routing["territory"]):
        where = f"{path}.territory[{i}]"
        if not isinstance(rule, Mapping):
            problems.append({"path": where, "message": "A territory rule must be an object."})
            continue
        for extra in sorted(set(rule) - {"when", "rep", "team"}):
            problems.append({"path": f"{where}.{extra}",
                             "message": f"Unknown key {extra!r} in a territory rule."})
        if "when" not in rule:
            problems.append({"path": where, "message": "A territory rule needs a when condition."})
        else:
            problems += condition_problems(rule["when"], f"{where}.when")
        targets = [k for k in ("rep", "team") if k in rule]
        if len(targets) != 1:
            problems.append({"path": where,
                             "message": "A territory rule names exactly one rep or one team."})
            continue
        kind, target = targets[0], rule[targets[0]]
        known = known_reps if kind == "rep" else known_teams
        if not isinstance(target, str) or not target:
            problems.append({"path": f"{where}.{kind}", "message": f"{kind} must be an id."})
        elif known is not None and target not in known:
            problems.append({"path": f"{where}.{kind}",
                             "message": f"There is no {kind} {target!r}."})
    return problems


_OP_WORDS = {"eq": "=", "ne": "≠", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤",
             "in": "in", "contains": "contains"}


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


def describe_condition(condition: Mapping[str, Any]) -> str:
    """A short human reading of a condition: ``country in [DE, AT]``, ``score ≥ 60``."""
    if "all" in condition or "any" in condition:
        joiner = " and " if "all" in condition else " or "
        parts = condition["all"] if "all" in condition else condition["any"]
        return joiner.join(
            f"({describe_condition(c)})" if ("all" in c or "any" in c) else describe_condition(c)
            for c in parts)
    if "not" in condition:
        return f"not ({describe_condition(condition['not'])})"
    if "field" in condition:
        op, field_name = condition["op"], condition["field"]
        if op == "exists":
            return f"{field_name} is {'not ' if condition.get('value') is False else ''}set"
        return f"{field_name} {_OP_WORDS.get(op, op)} {_show(condition.get('value'))}"
    if "temperature" in condition:
        return f"lead is {condition['temperature']}"
    if "score" in condition:
        return " and ".join(f"score {_OP_WORDS.get(op, op)} {value}"
                            for op, value in condition["score"].items())
    if "stage_at_least" in condition:
        return f"stage at least {condition['stage_at_least']}"
    if "has_tag" in condition:
        return f"tagged {condition['has_tag']}"
    return str(dict(condition))
