"""Lead scoring: fit rules, decaying behaviour points, temperature, and when it next changes.

The scoring model is one JSON document (flow-format.md, "Scoring model")::

    {
      "fit": [{"when": {"field": "title", "op": "contains", "value": "VP"}, "points": 15}],
      "behavior": {
        "email.clicked": 5,
        "page.viewed": [
          {"points": 3, "where": {"field": "properties.path", "op": "eq", "value": "/pricing"}},
          {"points": 1}
        ]
      },
      "decay": {"half_life": "P30D"},
      "temperature": {"hot": 60, "warm": 25},
      "mql_at": 60
    }

A behaviour entry is a number, one rule ``{"points", "where"?, "name"?}``, or a list of rules of
which the first whose ``where`` holds (a rule without ``where`` always does) gives the points.
Points may be negative (an unsubscribe can cost points); the score itself never drops below 0.

Score = fit points + Σ behaviour points × 0.5 ** (age / half_life). Every behaviour point decays
with the same half-life, so the behaviour sum is one exponential in time and the moment it
crosses a temperature threshold has a closed form (:func:`next_temperature_change`).

Events flagged ``machine_open`` (privacy-proxy opens, SendGrid's ``sg_machine_open``) or
``repeat`` (an open or click counted already, see ``leadflow.mail.engagement``) earn
nothing. ``score.adjusted`` events (points given by hand) and ``lead.updated`` events (a flow's
``update`` step with ``add_score``) carry their own points in ``properties.points``; they decay
like any behaviour.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, PrivateAttr

from leadflow.errors import Invalid
from leadflow.journeys.conditions import condition_problems, evaluate
from leadflow.journeys.durations import parse_duration

__all__ = [
    "DEFAULT_SCORING_MODEL",
    "SCORE_ADJUSTED_EVENT",
    "BehaviorRule",
    "Decay",
    "EventView",
    "FitRule",
    "ScoreResult",
    "ScoringModelDoc",
    "Temperature",
    "TemperatureThresholds",
    "compiled_model",
    "event_points",
    "fit_points",
    "load_model",
    "next_change_after",
    "next_temperature_change",
    "score_lead",
    "scored_event_types",
    "scoring_problems",
    "seconds_to_temperature_change",
    "shown_temperature",
    "temperature_for",
]

Temperature = Literal["hot", "warm", "cold"]
Problem = dict[str, str]

SCORE_ADJUSTED_EVENT = "score.adjusted"
"""Event type whose ``properties.points`` adds (or removes) points by hand."""

# Events whose own ``properties.points`` count, unless the model names their type: points given
# by hand, and a flow's ``update`` step with ``add_score`` (recorded as ``lead.updated``).
_ADJUSTMENT_EVENTS = frozenset({SCORE_ADJUSTED_EVENT, "lead.updated"})

DEFAULT_SCORING_MODEL: dict[str, Any] = {
    "fit": [
        {"name": "Senior title", "points": 15,
         "when": {"any": [{"field": "title", "op": "contains", "value": "VP"},
                          {"field": "title", "op": "contains", "value": "Head of"},
                          {"field": "title", "op": "contains", "value": "Director"},
                          {"field": "title", "op": "contains", "value": "Chief"}]}},
        {"name": "Company e-mail", "points": 5,
         "when": {"all": [{"field": "company", "op": "exists"},
                          {"not": {"field": "email", "op": "contains", "value": "@gmail."}}]}},
    ],
    "behavior": {
        "email.opened": 1,
        "email.clicked": 5,
        "page.viewed": [
            {"name": "Pricing page", "points": 5,
             "where": {"field": "properties.path", "op": "contains", "value": "/pricing"}},
            {"points": 1},
        ],
        "form.submitted": 10,
        "webinar.attended": 15,
        "demo.requested": 40,
        "email.unsubscribed": -20,
    },
    "decay": {"half_life": "P30D"},
    "temperature": {"hot": 60, "warm": 25},
    "mql_at": 60,
}
"""A sensible starting model: what a new installation scores with until a marketer edits it."""

_TOP_KEYS = ("fit", "behavior", "decay", "temperature", "mql_at", "name", "description")


# ---------------------------------------------------------------- the document


class FitRule(BaseModel):
    """Points for who the lead is: ``when`` is a condition on lead fields."""

    model_config = ConfigDict(extra="forbid")
    when: dict[str, Any]
    points: int | float
    name: str | None = None


class BehaviorRule(BaseModel):
    """Points for one event type, optionally only when ``where`` holds for the event."""

    model_config = ConfigDict(extra="forbid")
    points: int | float
    where: dict[str, Any] | None = None
    name: str | None = None


class Decay(BaseModel):
    """Behaviour points halve every ``half_life`` (an ISO 8601 duration such as ``P30D``)."""

    model_config = ConfigDict(extra="forbid")
    half_life: str


class TemperatureThresholds(BaseModel):
    """``hot`` at or above ``hot``, ``warm`` at or above ``warm``, else ``cold``."""

    model_config = ConfigDict(extra="forbid")
    hot: int | float
    warm: int | float


class ScoringModelDoc(BaseModel):
    """A scoring model document. Build it with :func:`load_model` to get every problem at once."""

    model_config = ConfigDict(extra="forbid")
    fit: list[FitRule] = []
    behavior: dict[str, int | float | BehaviorRule | list[BehaviorRule]] = {}
    decay: Decay | None = None
    temperature: TemperatureThresholds = TemperatureThresholds(hot=60, warm=25)
    mql_at: int | float | None = 60
    name: str | None = None
    description: str | None = None
    # Filled on first use: the scoring loop wants lookups, not pydantic objects.
    _compiled: Any = PrivateAttr(default=None)

    def compiled(self) -> _Compiled:
        """The model in the shape the scoring loop wants (built once per document)."""
        # Read the private slot directly: pydantic's attribute hook costs more than the lookup,
        # and re-scoring 100,000 leads asks for it 100,000 times.
        private = self.__pydantic_private__
        compiled: _Compiled | None = private.get("_compiled") if private else None
        if compiled is None:
            compiled = _compile(self)
            self._compiled = compiled
        return compiled


def load_model(doc: ScoringModelDoc | Mapping[str, Any]) -> ScoringModelDoc:
    """A validated :class:`ScoringModelDoc` from a JSON document (or the document itself).

    Raises:
        Invalid: with every problem of the document in ``problems``.
    """
    if isinstance(doc, ScoringModelDoc):
        return doc
    problems = scoring_problems(doc)
    if problems:
        raise Invalid("The scoring model is not valid.", problems=problems)
    return ScoringModelDoc.model_validate(dict(doc))


# ---------------------------------------------------------------- validation


def _p(path: str, message: str) -> Problem:
    return {"path": path, "message": message}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _self_reference(condition: Any, path: str) -> list[Problem]:
    """Score and temperature conditions inside a scoring rule would make the score circular."""
    if not isinstance(condition, Mapping):
        return []
    found: list[Problem] = []
    for key in ("score", "temperature"):
        if key in condition:
            found.append(_p(f"{path}.{key}", f"A scoring rule cannot test the {key} it helps "
                            "compute; test lead fields or event properties instead."))
    for key in ("all", "any"):
        if isinstance(condition.get(key), list):
            for i, sub in enumerate(condition[key]):
                found += _self_reference(sub, f"{path}.{key}[{i}]")
    if "not" in condition:
        found += _self_reference(condition["not"], f"{path}.not")
    return found


def _rule_problems(rule: Any, path: str, *, kind: Literal["fit", "behavior"]) -> list[Problem]:
    cond_key = "when" if kind == "fit" else "where"
    if not isinstance(rule, Mapping):
        example = ('{"when": {"field": "title", "op": "contains", "value": "VP"}, "points": 15}'
                   if kind == "fit" else '{"points": 3, "where": {...}}')
        return [_p(path, f"A {kind} rule must be an object such as {example}.")]
    problems: list[Problem] = []
    for key in sorted(set(rule) - {cond_key, "points", "name"}):
        problems.append(_p(f"{path}.{key}", f"Unknown key {key!r} in a {kind} rule; use "
                           f"{cond_key}, points and name."))
    if "points" not in rule:
        problems.append(_p(f"{path}.points", "Say how many points this rule gives."))
    elif not _is_number(rule["points"]):
        problems.append(_p(f"{path}.points", "points must be a number, such as 5 or -10."))
    if "name" in rule and not isinstance(rule["name"], str):
        problems.append(_p(f"{path}.name", "name must be text."))
    if kind == "fit" and "when" not in rule:
        problems.append(_p(f"{path}.when", "A fit rule needs a when condition on lead fields."))
    if cond_key in rule:
        cond_path = f"{path}.{cond_key}"
        problems += condition_problems(rule[cond_key], cond_path,
                                       allow_properties=kind == "behavior")
        problems += _self_reference(rule[cond_key], cond_path)
    return problems


def scoring_problems(doc: Any) -> list[Problem]:
    """Every problem with a scoring model document, each ``{"path", "message"}``.

    Paths are JSON paths into the document (``fit[0].when.op``, ``behavior.page.viewed[1].points``,
    ``decay.half_life``, ``temperature.warm``); messages are sentences a marketer understands.
    """
    if not isinstance(doc, Mapping):
        return [_p("", "The scoring model must be a JSON object with fit, behavior, decay, "
                   "temperature and mql_at.")]
    problems: list[Problem] = []
    for key in sorted(set(doc) - set(_TOP_KEYS)):
        problems.append(_p(key, f"Unknown key {key!r}; a scoring model has "
                           f"{', '.join(_TOP_KEYS)}."))

    fit = doc.get("fit", [])
    if not isinstance(fit, list):
        problems.append(_p("fit", "fit must be a list of rules."))
    else:
        for i, rule in enumerate(fit):
            problems += _rule_problems(rule, f"fit[{i}]", kind="fit")

    behavior = doc.get("behavior", {})
    if not isinstance(behavior, Mapping):
        problems.append(_p("behavior", 'behavior must be an object such as {"email.clicked": 5}.'))
    else:
        for event_type, entry in behavior.items():
            path = f"behavior.{event_type}"
            if not isinstance(event_type, str) or not event_type.strip() or " " in event_type:
                problems.append(_p(path, f"{event_type!r} is not an event type such as "
                                   "email.clicked."))
            if isinstance(entry, list):
                if not entry:
                    problems.append(_p(path, "Give at least one rule, or remove this event type."))
                for i, rule in enumerate(entry):
                    problems += _rule_problems(rule, f"{path}[{i}]", kind="behavior")
            elif isinstance(entry, Mapping):
                problems += _rule_problems(entry, path, kind="behavior")
            elif not _is_number(entry):
                problems.append(_p(path, "Give points as a number, a rule "
                                   '{"points": 3, "where": {...}} or a list of rules.'))

    decay = doc.get("decay")
    if decay is not None:
        if not isinstance(decay, Mapping):
            problems.append(_p("decay", 'decay must be an object such as {"half_life": "P30D"}.'))
        else:
            for key in sorted(set(decay) - {"half_life"}):
                problems.append(_p(f"decay.{key}", f"Unknown key {key!r}; decay has half_life."))
            if "half_life" not in decay:
                problems.append(_p("decay.half_life", "Say how fast points fade, e.g. P30D."))
            else:
                try:
                    parse_duration(decay["half_life"])
                except ValueError as exc:
                    problems.append(_p("decay.half_life", f"{str(exc).rstrip('.')}."))

    temperature = doc.get("temperature", {"hot": 60, "warm": 25})
    if not isinstance(temperature, Mapping):
        problems.append(_p("temperature", 'temperature must be an object such as '
                           '{"hot": 60, "warm": 25}.'))
    else:
        for key in sorted(set(temperature) - {"hot", "warm"}):
            problems.append(_p(f"temperature.{key}", f"Unknown key {key!r}; temperature has "
                               "hot and warm."))
        ok = True
        for key in ("hot", "warm"):
            value: Any = temperature.get(key)
            if not _is_number(value):
                ok = False
                problems.append(_p(f"temperature.{key}", f"Give the {key} threshold as a number."))
            elif value < 0:
                ok = False
                problems.append(_p(f"temperature.{key}", f"The {key} threshold cannot be "
                                   "negative: a score never is."))
        if ok and temperature["warm"] >= temperature["hot"]:
            problems.append(_p("temperature.warm", f"The warm threshold ({temperature['warm']}) "
                               f"must be below the hot one ({temperature['hot']})."))

    mql_at = doc.get("mql_at", 60)
    if mql_at is not None and (not _is_number(mql_at) or mql_at < 0):
        problems.append(_p("mql_at", "mql_at must be a score of 0 or more, or null for none."))
    for key in ("name", "description"):
        if key in doc and doc[key] is not None and not isinstance(doc[key], str):
            problems.append(_p(key, f"{key} must be text."))
    return problems


# ---------------------------------------------------------------- compiled form


def _describe(condition: Mapping[str, Any]) -> str:
    """A short reading of a condition for the breakdown (``title contains 'VP'``)."""
    if "field" in condition:
        op = condition.get("op")
        return (f"{condition['field']} {op}" if op == "exists"
                else f"{condition['field']} {op} {condition.get('value')!r}")
    for key in ("all", "any"):
        if key in condition:
            joiner = " and " if key == "all" else " or "
            return "(" + joiner.join(_describe(c) for c in condition[key]) + ")"
    if "not" in condition:
        return f"not {_describe(condition['not'])}"
    if "stage_at_least" in condition:
        return f"stage at least {condition['stage_at_least']}"
    if "has_tag" in condition:
        return f"tag {condition['has_tag']!r}"
    return str(dict(condition))


@dataclass(frozen=True, slots=True)
class _Compiled:
    fit: tuple[tuple[dict[str, Any], float, str], ...]
    # Event types worth a fixed number of points whatever their properties: the fast path.
    plain: dict[str, tuple[float, str]]
    # Event types whose rules look at the event: (points, where or None, label), first match wins.
    ruled: dict[str, tuple[tuple[float, dict[str, Any] | None, str], ...]]
    half_life_seconds: float | None
    hot: float
    warm: float
    mql_at: float | None


def _compile(doc: ScoringModelDoc) -> _Compiled:
    fit = tuple(
        (rule.when, float(rule.points), rule.name or _describe(rule.when)) for rule in doc.fit
    )
    plain: dict[str, tuple[float, str]] = {}
    ruled: dict[str, tuple[tuple[float, dict[str, Any] | None, str], ...]] = {}
    for event_type, entry in doc.behavior.items():
        rules = entry if isinstance(entry, list) else [entry]
        compiled: list[tuple[float, dict[str, Any] | None, str]] = []
        for rule in rules:
            if isinstance(rule, BehaviorRule):
                label = rule.name or (
                    f"{event_type} where {_describe(rule.where)}" if rule.where else event_type
                )
                compiled.append((float(rule.points), rule.where, label))
            else:
                compiled.append((float(rule), None, event_type))
        if compiled[0][1] is None:
            # A first rule without a condition always wins; later rules can never apply.
            plain[event_type] = (compiled[0][0], compiled[0][2])
        else:
            ruled[event_type] = tuple(compiled)
    half_life = parse_duration(doc.decay.half_life).total_seconds() if doc.decay else None
    return _Compiled(
        fit=fit,
        plain=plain,
        ruled=ruled,
        half_life_seconds=half_life,
        hot=float(doc.temperature.hot),
        warm=float(doc.temperature.warm),
        mql_at=None if doc.mql_at is None else float(doc.mql_at),
    )


def _compiled(model: ScoringModelDoc | Mapping[str, Any] | _Compiled) -> _Compiled:
    if isinstance(model, _Compiled):
        return model
    return load_model(model).compiled()


def compiled_model(model: ScoringModelDoc | Mapping[str, Any]) -> Any:
    """The model compiled once, accepted wherever a model is (the simulator's hot loop)."""
    return _compiled(model)


def scored_event_types(model: ScoringModelDoc | Mapping[str, Any]) -> frozenset[str]:
    """The event types that can earn points under ``model``: the only ones worth loading."""
    compiled = _compiled(model)
    return frozenset(compiled.plain) | frozenset(compiled.ruled) | _ADJUSTMENT_EVENTS


# ---------------------------------------------------------------- scoring


def _naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


_EPOCH = datetime(1970, 1, 1)


def _seconds(moment: datetime) -> float:
    """Seconds since 1970 of a naive UTC datetime, without local-time guesses."""
    return (moment - _EPOCH).total_seconds()


@dataclass(frozen=True, slots=True)
class EventView:
    """What scoring needs of one event (immutable); ``occurred_at`` becomes naive UTC."""

    id: str | None
    type: str
    properties: Mapping[str, Any] = field(default_factory=dict)
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))
    # Seconds since 1970, worked out once: the scoring loop then ages events with one subtraction.
    epoch_seconds: float = field(init=False, repr=False, compare=False, default=0.0)

    def __post_init__(self) -> None:
        # Frozen, so the cached seconds can never drift from occurred_at.
        occurred_at = _naive_utc(self.occurred_at)
        object.__setattr__(self, "occurred_at", occurred_at)
        object.__setattr__(self, "epoch_seconds", _seconds(occurred_at))
        if self.properties is None:
            object.__setattr__(self, "properties", {})

    @classmethod
    def of(cls, event: Any) -> EventView:
        """An EventView of anything with ``id``, ``type``, ``properties``, ``occurred_at``."""
        return cls(event.id, event.type, event.properties or {}, event.occurred_at)


@dataclass(slots=True)
class ScoreResult:
    """A lead's score at one moment and why.

    Attributes:
        score: the score shown to people: never negative, rounded to 2 decimals; the
            temperature and ``is_mql`` are read from it, so they always agree with it.
        temperature: hot, warm or cold.
        breakdown: one row per contributing fit rule and event (``kind``, ``rule``,
            ``event_type``, ``event_id``, ``occurred_at``, ``points_base``, ``points_now``).
        fit: the sum of fit points.
        behavior: the sum of behaviour points after decay.
        exact: the unrounded score.
        is_mql: whether the score has reached the model's ``mql_at``.
        fit_exact, behavior_exact: the unrounded sums, from which :func:`next_change_after`
            works out the next temperature change without scoring the events again.
    """

    score: float
    temperature: Temperature
    breakdown: list[dict[str, Any]]
    fit: float
    behavior: float
    exact: float
    is_mql: bool
    fit_exact: float = 0.0
    behavior_exact: float = 0.0


def temperature_for(score: float, model: ScoringModelDoc | Mapping[str, Any]) -> Temperature:
    """``hot`` at or above the hot threshold, ``warm`` at or above the warm one, else ``cold``."""
    compiled = model if isinstance(model, _Compiled) else _compiled(model)
    return _temperature(score, compiled)


def _temperature(score: float, compiled: _Compiled) -> Temperature:
    if score >= compiled.hot:
        return "hot"
    if score >= compiled.warm:
        return "warm"
    return "cold"


def _display(score: float) -> float:
    # Rounded to the cent, and the temperature and MQL mark are read from this shown score, so
    # the two always agree and a lead shows the 40 points it just earned, not 39.99 a
    # millisecond of decay later. The tiny epsilon undoes binary fractions such as 0.29 * 100.
    return math.floor(score * 100 + 0.5 + 1e-6) / 100


# A shown score reaches a threshold T once the exact one reaches T - half a cent, less the
# 1e-8 that _display's epsilon adds (59.99499999 already shows as 60).
_HALF_CENT = 0.005 + 1e-8


def _fit_points(lead: Mapping[str, Any], compiled: _Compiled, rows: list[dict[str, Any]] | None
                ) -> float:
    total = 0.0
    for condition, points, label in compiled.fit:
        if evaluate(condition, lead):
            total += points
            if rows is not None:
                rows.append({"kind": "fit", "rule": label, "event_type": None, "event_id": None,
                             "occurred_at": None, "points_base": points, "points_now": points})
    return total


def _adjustment_label(properties: Mapping[str, Any]) -> str:
    flow_id = properties.get("flow_id")
    label = f"added by flow {flow_id}" if flow_id else "manual adjustment"
    reason = properties.get("reason")
    return f"{label}: {reason}" if reason else label


def _rule_points(kind: str, properties: Mapping[str, Any], lead: Mapping[str, Any],
                 compiled: _Compiled) -> tuple[float, str] | None:
    """Points and label of an event type the model scores by rule or by its own points."""
    ruled = compiled.ruled
    if kind in ruled:
        event_map = {"type": kind, "properties": properties}
        match = next((rule for rule in ruled[kind]
                      if rule[1] is None or evaluate(rule[1], lead, event_map)), None)
        return None if match is None else (match[0], match[2])
    if kind in _ADJUSTMENT_EVENTS:
        manual = properties.get("points")
        if not isinstance(manual, int | float) or isinstance(manual, bool):
            return None
        return manual, _adjustment_label(properties)
    return None


def event_points(kind: str, properties: Mapping[str, Any], lead: Mapping[str, Any],
                 model: ScoringModelDoc | Mapping[str, Any]) -> float:
    """The points one event earns under ``model`` before decay (0 for none): the same rules
    :func:`score_lead` applies, for callers that keep a running score (the simulator)."""
    compiled = _compiled(model)
    entry = compiled.plain.get(kind)
    found = entry if entry is not None else _rule_points(kind, properties, lead, compiled)
    if found is None or properties.get("machine_open"):
        return 0.0
    return float(found[0])


def fit_points(lead: Mapping[str, Any], model: ScoringModelDoc | Mapping[str, Any]) -> float:
    """The sum of the fit rules ``lead`` meets under ``model``."""
    return _fit_points(lead, _compiled(model), None)


def shown_temperature(exact: float, model: ScoringModelDoc | Mapping[str, Any]
                      ) -> tuple[float, Temperature]:
    """The score people see for an exact score (never negative, to the cent) and its
    temperature, as :func:`score_lead` reports them."""
    compiled = _compiled(model)
    shown = _display(max(0.0, exact))
    return shown, _temperature(shown, compiled)


def _behavior_points(lead: Mapping[str, Any], events: Iterable[EventView], compiled: _Compiled,
                     now: datetime, rows: list[dict[str, Any]] | None) -> float:
    plain = compiled.plain
    ruled = compiled.ruled
    # 0.5 ** (age / half_life) == exp(-age * ln2 / half_life); no decay is a rate of 0.
    rate = -math.log(2) / compiled.half_life_seconds if compiled.half_life_seconds else 0.0
    exp = math.exp
    now_seconds = _seconds(now)
    append = rows.append if rows is not None else None
    total = 0.0
    for ev in events:
        kind = ev.type
        entry = plain.get(kind)
        if entry is not None:
            points, label = entry
        elif kind in ruled:  # inline: this loop runs once per event of every lead rescored
            event_map = {"type": kind, "properties": ev.properties}
            match = next((rule for rule in ruled[kind]
                          if rule[1] is None or evaluate(rule[1], lead, event_map)), None)
            if match is None:
                continue
            points, label = match[0], match[2]
        else:
            found = _rule_points(kind, ev.properties, lead, compiled)
            if found is None:
                continue
            points, label = found
        if not points or ev.properties.get("machine_open") or ev.properties.get("repeat"):
            continue
        age = now_seconds - ev.epoch_seconds
        # An event stamped ahead of `now` (clock skew) counts in full, never more.
        points_now = points * exp(age * rate) if age > 0.0 else points
        total += points_now
        if append is not None:
            append({"kind": "behavior", "rule": label, "event_type": kind, "event_id": ev.id,
                    "occurred_at": ev.occurred_at.isoformat() + "+00:00", "points_base": points,
                    "points_now": round(points_now, 2)})
    return total


def score_lead(
    lead: Mapping[str, Any],
    events: Iterable[EventView],
    model: ScoringModelDoc | Mapping[str, Any],
    now: datetime,
    *,
    explain: bool = True,
) -> ScoreResult:
    """Score one lead at ``now``.

    Args:
        lead: the lead's fields as a mapping (``Lead.model_dump()`` will do).
        events: the lead's events; those without points in the model are ignored.
        model: a :class:`ScoringModelDoc` (fastest: compiled once) or its JSON document.
        now: the moment to score at (naive UTC or aware).
        explain: build ``breakdown``; pass False when only the number is wanted.

    Raises:
        Invalid: ``model`` is a document that does not validate.
    """
    compiled = _compiled(model)
    now = _naive_utc(now)
    rows: list[dict[str, Any]] | None = [] if explain else None
    fit = _fit_points(lead, compiled, rows)
    behavior = _behavior_points(lead, events, compiled, now, rows)
    exact = max(0.0, fit + behavior)
    shown = _display(exact)
    return ScoreResult(
        score=shown,
        temperature=_temperature(shown, compiled),
        breakdown=rows if rows is not None else [],
        fit=round(fit, 2),
        behavior=round(behavior, 2),
        exact=exact,
        is_mql=compiled.mql_at is not None and shown >= compiled.mql_at,
        fit_exact=fit,
        behavior_exact=behavior,
    )


def next_temperature_change(
    lead: Mapping[str, Any],
    events: Iterable[EventView],
    model: ScoringModelDoc | Mapping[str, Any],
    now: datetime,
) -> datetime | None:
    """When the temperature will change by decay alone, if no new event arrives; else None.

    The behaviour sum decays as one exponential, ``B(t) = B * 2 ** (-t / half_life)``, so the
    score ``F + B(t)`` crosses a threshold ``T`` at ``t = half_life * log2(B / (T - F))``. With
    positive behaviour the score falls towards the fit points (hot → warm → cold); with net
    negative behaviour (penalties fading) it rises towards them.

    Returns the first whole millisecond after ``now`` at which :func:`score_lead` gives another
    temperature (aware UTC when ``now`` is aware, else naive UTC), so a durable timer set for it
    finds the change done. An event
    stamped after ``now`` (clock skew) does not decay until it happens, which can make the
    moment a little early; the timer then finds no change and simply asks again.
    """
    compiled = _compiled(model)
    if not compiled.half_life_seconds:
        return None
    naive_now = _naive_utc(now)
    fit = _fit_points(lead, compiled, None)
    behavior = _behavior_points(lead, events, compiled, naive_now, None)
    return _next_change(fit, behavior, compiled, now)


def next_change_after(result: ScoreResult, model: ScoringModelDoc | Mapping[str, Any],
                      now: datetime) -> datetime | None:
    """:func:`next_temperature_change` for a lead just scored at ``now`` into ``result``.

    Costs no second pass over the events: the rescoring service calls it on every event.
    """
    return _next_change(result.fit_exact, result.behavior_exact, _compiled(model), now)


def _next_change(fit: float, behavior: float, compiled: _Compiled, now: datetime
                 ) -> datetime | None:
    aware = now.tzinfo is not None
    now = _naive_utc(now)
    seconds = seconds_to_temperature_change(fit, behavior, compiled)
    if seconds is None:
        return None
    try:
        moment = now + timedelta(seconds=seconds)
    except OverflowError:
        return None
    return moment.replace(tzinfo=UTC) if aware else moment


def seconds_to_temperature_change(fit: float, behavior: float,
                                  model: ScoringModelDoc | Mapping[str, Any] | _Compiled
                                  ) -> float | None:
    """Whole milliseconds (as seconds) until a lead with these exact fit and behaviour sums
    changes temperature by decay alone, or None if it never does (see
    :func:`next_temperature_change`). The simulator keeps its clock in POSIX seconds."""
    compiled = model if isinstance(model, _Compiled) else _compiled(model)
    if not compiled.half_life_seconds or behavior == 0.0:
        return None
    current = _temperature(_display(max(0.0, fit + behavior)), compiled)
    half_life = compiled.half_life_seconds
    if behavior > 0:
        level = {"hot": compiled.hot, "warm": compiled.warm}.get(current)
        # The score only falls towards `fit`; it must end below the level to leave this band.
        if level is None or level <= 0 or fit >= level - _HALF_CENT:
            return None
        seconds = half_life * math.log2(behavior / (level - _HALF_CENT - fit))
    else:
        level = {"cold": compiled.warm, "warm": compiled.hot}.get(current)
        # Rising towards `fit`, it reaches the next band only if `fit` lies strictly above it.
        if level is None or fit <= level - _HALF_CENT:
            return None
        seconds = half_life * math.log2(-behavior / (fit - (level - _HALF_CENT)))
    try:
        offset = math.ceil(max(seconds, 0.0) * 1000)  # whole milliseconds
    except OverflowError:
        return None

    # Summed event by event (as score_lead does) the score can differ from this closed form in
    # its last bits: count a change only once it holds a hair past the edge.
    margin = 1e-12 if behavior > 0 else -1e-12

    def changed(after_ms: int) -> bool:
        score = fit + behavior * 2.0 ** (-(after_ms / 1000) / half_life) + margin
        return _temperature(_display(max(0.0, score)), compiled) != current

    # Float rounding can put the shown score a hair either side of the edge at that moment:
    # settle on the first whole millisecond at which the temperature has changed.
    for _ in range(100):
        if changed(offset):
            break
        offset += 1
    for _ in range(100):
        if offset < 1 or not changed(offset - 1):
            break
        offset -= 1
    return offset / 1000
