"""Scoring: what a marketer sees on a lead (score, temperature, breakdown) and when it moves."""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.errors import Invalid
from leadflow.scoring.model import (
    DEFAULT_SCORING_MODEL,
    EventView,
    load_model,
    next_temperature_change,
    score_lead,
    scoring_problems,
    temperature_for,
)

NOW = datetime(2024, 6, 1, 12, 0, 0)
DAY = timedelta(days=1)

MODEL: dict[str, Any] = {
    "fit": [
        {"when": {"field": "title", "op": "contains", "value": "VP"}, "points": 15},
        {"name": "German market", "when": {"field": "country", "op": "eq", "value": "DE"},
         "points": 5},
        {"when": {"field": "fields.employees", "op": "lt", "value": 10}, "points": -10},
    ],
    "behavior": {
        "email.opened": 1,
        "email.clicked": 5,
        "demo.requested": 40,
        "page.viewed": [
            {"name": "Pricing", "points": 3,
             "where": {"field": "properties.path", "op": "eq", "value": "/pricing"}},
            {"points": 1},
        ],
        "webinar.attended": {"points": 10,
                             "where": {"field": "properties.live", "op": "eq", "value": True}},
        "email.unsubscribed": -20,
    },
    "decay": {"half_life": "P10D"},
    "temperature": {"hot": 60, "warm": 25},
    "mql_at": 50,
}


def ev(kind: str, age: timedelta = timedelta(0), **props: Any) -> EventView:
    return EventView(id=f"{kind}-{age.total_seconds()}", type=kind, properties=props,
                     occurred_at=NOW - age)


# ---------------------------------------------------------------- decay


def test_points_halve_every_half_life() -> None:
    for halves in (0, 1, 2, 3.5):
        result = score_lead({}, [ev("demo.requested", 10 * DAY * halves)], MODEL, NOW)
        assert result.exact == pytest.approx(40 * 0.5**halves, rel=1e-12)


def test_decay_is_exact_to_the_second() -> None:
    age = timedelta(days=3, hours=7, seconds=13)
    result = score_lead({}, [ev("email.clicked", age)], MODEL, NOW)
    assert result.exact == pytest.approx(5 * 0.5 ** (age.total_seconds() / 864000), rel=1e-12)


def test_without_decay_points_keep_their_value() -> None:
    model = {k: v for k, v in MODEL.items() if k != "decay"}
    result = score_lead({}, [ev("demo.requested", 400 * DAY)], model, NOW)
    assert result.exact == 40
    assert next_temperature_change({}, [ev("demo.requested", 400 * DAY)], model, NOW) is None


def test_aware_and_naive_times_agree() -> None:
    aware_now = NOW.replace(tzinfo=UTC)
    event = EventView("e", "demo.requested", {}, (NOW - 10 * DAY).replace(tzinfo=UTC))
    assert score_lead({}, [event], MODEL, aware_now).exact == pytest.approx(20)


def test_next_change_comes_back_in_the_form_of_now() -> None:
    events = [ev("demo.requested"), ev("score.adjusted", points=30)]
    naive = next_temperature_change({}, events, MODEL, NOW)
    aware = next_temperature_change({}, events, MODEL, NOW.replace(tzinfo=UTC))
    assert naive is not None and naive.tzinfo is None
    assert aware == naive.replace(tzinfo=UTC)


def test_future_events_count_in_full_not_more() -> None:
    result = score_lead({}, [ev("email.clicked", -DAY)], MODEL, NOW)
    assert result.exact == 5


# ---------------------------------------------------------------- rules


def test_fit_rules_match_lead_fields_and_may_subtract() -> None:
    lead = {"title": "vp of marketing", "country": "DE", "fields": {"employees": 5}}
    result = score_lead(lead, [ev("demo.requested")], MODEL, NOW)
    assert result.fit == 10  # 15 + 5 - 10
    assert result.exact == 50
    assert result.is_mql
    fit_rules = [row["rule"] for row in result.breakdown if row["kind"] == "fit"]
    assert fit_rules == ["title contains 'VP'", "German market", "fields.employees lt 10"]


def test_property_conditions_pick_the_first_matching_rule() -> None:
    events = [ev("page.viewed", path="/pricing"), ev("page.viewed", path="/blog"),
              ev("webinar.attended", live=True), ev("webinar.attended", live=False)]
    result = score_lead({}, events, MODEL, NOW)
    assert [row["points_base"] for row in result.breakdown] == [3, 1, 10]
    assert result.breakdown[0]["rule"] == "Pricing"
    assert result.breakdown[2]["rule"] == "webinar.attended where properties.live eq True"
    assert result.exact == 14


def test_machine_opens_earn_nothing() -> None:
    events = [ev("email.opened", machine_open=True), ev("email.opened", machine_open=False),
              ev("email.opened")]
    result = score_lead({}, events, MODEL, NOW)
    assert result.exact == 2
    assert len(result.breakdown) == 2


def test_unknown_events_are_ignored_and_score_never_negative() -> None:
    result = score_lead({}, [ev("email.unsubscribed"), ev("something.else")], MODEL, NOW)
    assert result.score == 0
    assert result.behavior == -20
    assert result.temperature == "cold"


def test_manual_adjustments_count_and_decay() -> None:
    events = [EventView("adj", "score.adjusted", {"points": 30, "reason": "met at fair"},
                        NOW - 10 * DAY)]
    result = score_lead({}, events, MODEL, NOW)
    assert result.exact == pytest.approx(15)
    assert result.breakdown[0]["rule"] == "manual adjustment: met at fair"


def test_flow_update_steps_add_points() -> None:
    events = [EventView("u1", "lead.updated", {"points": 12, "flow_id": "trial-nurture"}, NOW),
              EventView("u2", "lead.updated", {"points": 0, "flow_id": "trial-nurture"}, NOW)]
    result = score_lead({}, events, MODEL, NOW)
    assert result.exact == 12
    assert [row["rule"] for row in result.breakdown] == ["added by flow trial-nurture"]


def test_breakdown_is_readable_json() -> None:
    result = score_lead({"title": "VP"}, [ev("email.clicked", 10 * DAY)], MODEL, NOW)
    assert result.breakdown == [
        {"kind": "fit", "rule": "title contains 'VP'", "event_type": None, "event_id": None,
         "occurred_at": None, "points_base": 15.0, "points_now": 15.0},
        {"kind": "behavior", "rule": "email.clicked", "event_type": "email.clicked",
         "event_id": "email.clicked-864000.0", "occurred_at": "2024-05-22T12:00:00+00:00",
         "points_base": 5.0, "points_now": 2.5},
    ]
    assert score_lead({}, [ev("email.clicked")], MODEL, NOW, explain=False).breakdown == []


def test_shown_score_agrees_with_temperature() -> None:
    # 60 points decayed by a hair still show as 60, and are hot; below 59.995 they show 59.99.
    result = score_lead({}, [ev("score.adjusted", timedelta(seconds=1), points=60)], MODEL, NOW)
    assert (result.score, result.temperature, result.is_mql) == (60, "hot", True)
    lower = score_lead({}, [ev("score.adjusted", points=59.994)], MODEL, NOW)
    assert (lower.score, lower.temperature) == (59.99, "warm")


def test_temperature_thresholds() -> None:
    assert [temperature_for(s, MODEL) for s in (0, 24.99, 25, 59.99, 60, 1000)] == [
        "cold", "cold", "warm", "warm", "hot", "hot"]


# ---------------------------------------------------------------- next temperature change


def _assert_changes_exactly_at(lead: dict, events: list[EventView], model: dict,
                               change: datetime, since: datetime = NOW) -> None:
    """The temperature at ``since`` lasts until a millisecond before ``change``, not at it."""
    before = score_lead(lead, events, model, change - timedelta(milliseconds=1))
    at = score_lead(lead, events, model, change)
    now = score_lead(lead, events, model, since)
    assert before.temperature == now.temperature
    assert at.temperature != now.temperature


def test_hot_lead_cools_when_its_score_falls_below_hot() -> None:
    lead = {"title": "VP", "country": "DE"}  # fit 20
    events = [ev("demo.requested"), ev("email.clicked", 2 * DAY)]
    assert score_lead(lead, events, MODEL, NOW).temperature == "hot"
    change = next_temperature_change(lead, events, MODEL, NOW)
    assert change is not None
    _assert_changes_exactly_at(lead, events, MODEL, change)
    b = 40 + 5 * 0.5**0.2
    # the shown score (to the cent) drops below 60 when the exact one drops below 59.995
    expected = NOW + timedelta(seconds=864000 * math.log2(b / (59.995 - 20)))
    assert abs((change - expected).total_seconds()) <= 0.002
    assert score_lead(lead, events, MODEL, change).temperature == "warm"
    # and from there, warm to cold
    later = next_temperature_change(lead, events, MODEL, change)
    assert later is not None and later > change
    _assert_changes_exactly_at(lead, events, MODEL, later, since=change)
    assert score_lead(lead, events, MODEL, later).temperature == "cold"
    assert next_temperature_change(lead, events, MODEL, later) is None


def test_fit_alone_keeps_a_lead_warm_forever() -> None:
    lead = {"title": "VP", "country": "DE"}  # fit 20, at the warm threshold below
    events = [ev("demo.requested", 10 * DAY)]  # 20 now: hot at 40, fading towards warm
    model = copy.deepcopy(MODEL)
    model["temperature"] = {"hot": 35, "warm": 20}
    change = next_temperature_change(lead, events, model, NOW)
    assert change is not None
    _assert_changes_exactly_at(lead, events, model, change)
    assert score_lead(lead, events, model, change).temperature == "warm"
    assert next_temperature_change(lead, events, model, change) is None


def test_fading_penalty_warms_the_lead_up() -> None:
    lead = {"title": "VP", "country": "DE"}  # fit 20 ...
    model = copy.deepcopy(MODEL)
    model["fit"][0]["points"] = 30  # ... now 35
    events = [ev("email.unsubscribed")]  # 35 - 20 = 15: cold, rising towards 35
    assert score_lead(lead, events, model, NOW).temperature == "cold"
    change = next_temperature_change(lead, events, model, NOW)
    assert change is not None
    _assert_changes_exactly_at(lead, events, model, change)
    assert score_lead(lead, events, model, change).temperature == "warm"


def test_cold_lead_with_fading_points_never_changes() -> None:
    assert next_temperature_change({}, [ev("email.clicked")], MODEL, NOW) is None
    assert next_temperature_change({}, [], MODEL, NOW) is None


def test_score_exactly_on_the_threshold_changes_once_it_shows_below() -> None:
    events = [ev("score.adjusted", points=25)]
    change = next_temperature_change({}, events, MODEL, NOW)
    assert change is not None
    _assert_changes_exactly_at({}, events, MODEL, change)
    # 25 falls to 24.995 after half_life * log2(25 / 24.995): about 25 minutes of 10-day decay
    expected = 864000 * math.log2(25 / 24.995)
    assert abs((change - NOW).total_seconds() - expected) < 0.01
    assert score_lead({}, events, MODEL, change).score == 24.99


# ---------------------------------------------------------------- validation


def test_default_model_is_valid_and_scores() -> None:
    assert scoring_problems(DEFAULT_SCORING_MODEL) == []
    result = score_lead({"title": "Head of Growth", "company": "Acme", "email": "a@acme.io"},
                        [EventView("1", "page.viewed", {"path": "/pricing"}, NOW)],
                        DEFAULT_SCORING_MODEL, NOW)
    assert result.exact == 25 and result.temperature == "warm"


def test_every_problem_is_reported_with_its_path() -> None:
    doc = {
        "fit": [{"when": {"field": "title", "op": "like", "value": "VP"}, "points": "many"},
                {"points": 3}],
        "behavior": {"page.viewed": [{"points": 1, "where": {"field": "properties.path"}}],
                     "email.clicked": "five",
                     "form.submitted": {"points": 2, "where": {"score": {"gte": 10}}}},
        "decay": {"half_life": "thirty days"},
        "temperature": {"hot": 20, "warm": 40},
        "mql_at": -1,
        "colour": "red",
    }
    paths = {p["path"] for p in scoring_problems(doc)}
    assert paths == {
        "fit[0].when.op", "fit[0].points", "fit[1].when",
        "behavior.page.viewed[0].where.op", "behavior.email.clicked",
        "behavior.form.submitted.where.score",
        "decay.half_life", "temperature.warm", "mql_at", "colour",
    }
    for problem in scoring_problems(doc):
        assert problem["message"].endswith(".") and not problem["message"].endswith("..")


def test_fit_rules_cannot_test_event_properties() -> None:
    doc = {"fit": [{"when": {"field": "properties.path", "op": "eq", "value": "/"},
                    "points": 1}]}
    assert [p["path"] for p in scoring_problems(doc)] == ["fit[0].when.field"]


def test_invalid_model_is_refused_when_scoring() -> None:
    with pytest.raises(Invalid) as caught:
        load_model({"temperature": {"hot": 10, "warm": 10}})
    assert caught.value.problems == [
        {"path": "temperature.warm", "message": "The warm threshold (10) must be below the hot "
         "one (10)."}]


def test_years_in_half_life_are_refused() -> None:
    problems = scoring_problems({"decay": {"half_life": "P1M"}})
    assert [p["path"] for p in problems] == ["decay.half_life"]


# ---------------------------------------------------------------- properties

points = st.floats(min_value=-100, max_value=100, allow_nan=False)
ages = st.floats(min_value=-5, max_value=400)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(points, ages), max_size=30), points)
def test_score_is_never_negative(entries: list[tuple[float, float]], fit: float) -> None:
    model = copy.deepcopy(MODEL)
    model["fit"] = [{"when": {"field": "country", "op": "exists"}, "points": fit}]
    events = [EventView(str(i), "score.adjusted", {"points": p}, NOW - timedelta(days=a))
              for i, (p, a) in enumerate(entries)]
    result = score_lead({"country": "FR"}, events, model, NOW)
    assert result.score >= 0 and result.exact >= 0


_ORDER = {"cold": 0, "warm": 1, "hot": 2}


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0, max_value=1e6), st.floats(min_value=0, max_value=1e6),
       st.floats(min_value=0.01, max_value=1000), st.floats(min_value=0.01, max_value=1000))
def test_temperature_is_monotone_in_score(a: float, b: float, warm: float, gap: float) -> None:
    model = {"temperature": {"warm": warm, "hot": warm + gap}}
    low, high = sorted((a, b))
    assert _ORDER[temperature_for(low, model)] <= _ORDER[temperature_for(high, model)]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(min_value=1, max_value=50),
                          st.floats(min_value=0, max_value=60)), min_size=1, max_size=10),
       st.floats(min_value=-10, max_value=40))
def test_next_change_is_when_the_temperature_really_changes(
    entries: list[tuple[float, float]], fit: float
) -> None:
    model = copy.deepcopy(MODEL)
    model["fit"] = [{"when": {"field": "country", "op": "exists"}, "points": fit}]
    lead = {"country": "FR"}
    events = [EventView(str(i), "score.adjusted", {"points": p}, NOW - timedelta(days=a))
              for i, (p, a) in enumerate(entries)]
    change = next_temperature_change(lead, events, model, NOW)
    if change is None:
        far = score_lead(lead, events, model, NOW + timedelta(days=3650))
        assert far.temperature == score_lead(lead, events, model, NOW).temperature
    else:
        assert change > NOW
        _assert_changes_exactly_at(lead, events, model, change)
