"""Lead routing: who gets a handed-off lead, and the sentence that says why."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.sales.routing import (
    RepState,
    TeamRouting,
    describe_condition,
    next_rep_for_escalation,
    out_of_office_problems,
    parse_out_of_office,
    route_lead,
    routing_problems,
)

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
SALES = TeamRouting(id="inside-sales", members=("ana", "ben", "cai", "dee"))
DACH_RULES = {"territory": [
    {"when": {"field": "country", "op": "eq", "value": "FR"}, "rep": "cai"},
    {"when": {"field": "country", "op": "in", "value": ["DE", "AT"]}, "team": "dach"},
    {"when": {"score": {"gte": 80}}, "rep": "ana"},
]}
DACH = TeamRouting(id="dach", members=("dora", "emil"), cursor=1)


def rep(rep_id: str, *, capacity: int = 10, open_count: int = 0, away: tuple[str, str] | None = None,
        last: datetime | None = None, active: bool = True) -> RepState:
    return RepState.from_doc(
        {"id": rep_id, "capacity": capacity, "timezone": "Europe/Berlin", "active": active,
         "out_of_office": [{"from": away[0], "to": away[1]}] if away else []},
        open_count=open_count, last_assigned_at=last)


def everyone(**changes: RepState) -> list[RepState]:
    base = {r: rep(r) for r in ("ana", "ben", "cai", "dee", "dora", "emil", "olga")}
    return list({**base, **changes}.values())


# ---------------------------------------------------------------- round robin


def test_round_robin_takes_turns_and_moves_the_cursor() -> None:
    team, chosen = SALES, []
    for _ in range(5):
        decision = route_lead(team, everyone(), {"country": "US"}, now=NOW)
        chosen.append(decision.rep_id)
        team = TeamRouting(team.id, team.members, cursor=decision.cursor)
    assert chosen == ["ana", "ben", "cai", "dee", "ana"]
    assert decision.reason == "round robin: next available after dee"
    assert decision.method == "round_robin" and decision.team_id == "inside-sales"


def test_round_robin_skips_reps_out_of_office_or_at_capacity_and_says_so() -> None:
    reps = everyone(ben=rep("ben", away=("2026-06-15", "2026-06-19")),
                    cai=rep("cai", capacity=5, open_count=5))
    team = TeamRouting(SALES.id, SALES.members, cursor=1)
    decision = route_lead(team, reps, {}, now=NOW)
    assert decision.rep_id == "dee"
    assert decision.cursor == 0
    assert decision.reason == (
        "round robin: next available after ana; skipped ben (out of office until "
        "2026-06-20 00:00 Europe/Berlin), cai (at capacity, 5 of 5 open)")


def test_a_rep_is_back_the_moment_their_time_off_ends() -> None:
    reps = everyone(ana=rep("ana", away=("2026-06-15T08:00:00+00:00", "2026-06-15T10:00:00+00:00")))
    assert route_lead(SALES, reps, {}, now=NOW - timedelta(seconds=1)).rep_id == "ben"
    assert route_lead(SALES, reps, {}, now=NOW).rep_id == "ana"


def test_when_nobody_can_take_the_lead_it_waits_in_the_team_pool() -> None:
    reps = [rep("ana", away=("2026-06-01", "2026-06-30")), rep("ben", capacity=0),
            rep("cai", active=False)]  # dee is not a known rep
    team = TeamRouting(SALES.id, SALES.members, cursor=2)
    decision = route_lead(team, reps, {}, now=NOW)
    assert decision.rep_id is None and decision.method == "unassigned"
    assert decision.cursor == 2
    assert decision.reason == (
        "nobody in team inside-sales can take the lead: cai (inactive), dee (not a known rep), "
        "ana (out of office until 2026-07-01 00:00 Europe/Berlin), ben (at capacity, 0 of 0 "
        "open); the lead waits in the team pool")
    empty = route_lead(TeamRouting("ghost", ()), reps, {}, now=NOW)
    assert empty.rep_id is None and "has no members" in empty.reason


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), capacities=st.lists(st.integers(1, 8), min_size=4,
                                                            max_size=4))
def test_200_assignments_never_exceed_capacity(seed: int, capacities: list[int]) -> None:
    rng = random.Random(seed)
    ids = ["ana", "ben", "cai", "dee"]
    open_counts = dict.fromkeys(ids, 0)
    team = TeamRouting("inside-sales", tuple(ids))
    assigned = Counter[str]()
    for i in range(200):
        reps = [RepState(r, capacity=c, open_count=open_counts[r]) for r, c in zip(ids, capacities)]
        decision = route_lead(team, reps, {}, now=NOW + timedelta(minutes=i))
        team = TeamRouting(team.id, team.members, cursor=decision.cursor)
        if decision.rep_id is None:
            assert all(open_counts[r] >= c for r, c in zip(ids, capacities))
            assert "waits in the team pool" in decision.reason
        else:
            open_counts[decision.rep_id] += 1
            assigned[decision.rep_id] += 1
        for r, c in zip(ids, capacities):
            assert open_counts[r] <= c
        # Reps work leads off at random; some days they close several.
        for r in ids:
            if open_counts[r] and rng.random() < 0.3:
                open_counts[r] -= 1
    assert sum(assigned.values()) > 0


def test_200_assignments_are_even_when_everyone_is_available() -> None:
    ids = ("ana", "ben", "cai", "dee")
    team, assigned = TeamRouting("inside-sales", ids), Counter[str]()
    reps = [RepState(r, capacity=1000) for r in ids]
    for i in range(200):
        decision = route_lead(team, reps, {}, now=NOW)
        team = TeamRouting(team.id, ids, cursor=decision.cursor)
        assigned[decision.rep_id or ""] += 1
        assert max(assigned.values()) - min(assigned[r] for r in ids) <= 1, i
    assert assigned == Counter(dict.fromkeys(ids, 50))


def test_a_rep_back_from_leave_rejoins_the_rotation_in_their_place() -> None:
    ids = ("ana", "ben", "cai")
    team, got = TeamRouting("t", ids), []
    for day in range(9):
        now = NOW + timedelta(days=day)
        away = ("2026-06-15", "2026-06-17")  # ben away the first three days
        reps = [RepState("ana", 99), rep("ben", capacity=99, away=away), RepState("cai", 99)]
        decision = route_lead(team, reps, {}, now=now)
        team = TeamRouting("t", ids, cursor=decision.cursor)
        got.append(decision.rep_id)
    assert got == ["ana", "cai", "ana", "ben", "cai", "ana", "ben", "cai", "ana"]


# ---------------------------------------------------------------- territory


def territory_team(cursor: int = 0) -> TeamRouting:
    return TeamRouting(SALES.id, SALES.members, DACH_RULES, cursor)


def test_a_territory_rule_sends_the_lead_to_its_rep() -> None:
    decision = route_lead(territory_team(), everyone(), {"country": "fr"}, now=NOW)
    assert (decision.rep_id, decision.method) == ("cai", "territory")
    assert decision.reason == "territory rule 1: country = FR"
    assert decision.cursor == 0  # a territory assignment is not a round-robin turn


def test_a_territory_rule_moves_the_lead_into_another_team() -> None:
    decision = route_lead(territory_team(), everyone(), {"country": "AT"}, now=NOW,
                          teams={"dach": DACH})
    assert (decision.rep_id, decision.team_id, decision.cursor) == ("emil", "dach", 0)
    assert decision.method == "territory"
    assert decision.reason == ("territory rule 2: country in [DE, AT] → team dach; "
                               "round robin: next available after dora")


def test_rules_are_tried_in_order() -> None:
    decision = route_lead(territory_team(), everyone(), {"country": "FR", "score": 95}, now=NOW)
    assert decision.rep_id == "cai"
    decision = route_lead(territory_team(), everyone(), {"country": "US", "score": 95}, now=NOW)
    assert (decision.rep_id, decision.reason) == ("ana", "territory rule 3: score ≥ 80")


def test_a_territory_rep_who_cannot_take_the_lead_falls_back_to_round_robin() -> None:
    reps = everyone(cai=rep("cai", away=("2026-06-14", "2026-06-16")))
    decision = route_lead(territory_team(cursor=2), reps, {"country": "FR"}, now=NOW)
    assert decision.rep_id == "dee"
    assert decision.reason == (
        "territory rule 1: country = FR, but cai is out of office until 2026-06-17 00:00 "
        "Europe/Berlin; round robin: next available after ben; skipped cai (out of office "
        "until 2026-06-17 00:00 Europe/Berlin)")


def test_no_matching_rule_means_round_robin_in_the_team() -> None:
    decision = route_lead(territory_team(), everyone(), {"country": "US"}, now=NOW)
    assert decision.rep_id == "ana"
    assert decision.reason.startswith("no territory rule matched; round robin:")


def test_a_rule_naming_a_missing_team_leaves_the_lead_in_the_pool() -> None:
    decision = route_lead(territory_team(), everyone(), {"country": "DE"}, now=NOW, teams={})
    assert decision.rep_id is None and decision.team_id == "inside-sales"
    assert "team dach does not exist" in decision.reason


def test_territory_rules_that_loop_between_teams_end_in_round_robin() -> None:
    back = {"territory": [{"when": {"field": "country", "op": "eq", "value": "DE"},
                           "team": "inside-sales"}]}
    dach = TeamRouting("dach", ("dora", "emil"), back)
    start = territory_team()
    decision = route_lead(start, everyone(), {"country": "DE"}, now=NOW,
                          teams={"dach": dach, "inside-sales": start})
    assert decision.team_id == "inside-sales" and decision.rep_id == "ana"


# ---------------------------------------------------------------- owner stickiness


def test_a_lead_whose_company_has_an_owner_goes_to_the_owner() -> None:
    decision = route_lead(territory_team(), everyone(), {"company": "Acme Corp", "country": "FR"},
                          now=NOW, owner_id="olga")
    assert (decision.rep_id, decision.method) == ("olga", "owner")
    assert decision.reason == "owner of Acme Corp"
    assert decision.team_id == "inside-sales" and decision.cursor == 0


def test_an_owner_on_leave_hands_over_to_the_usual_rules() -> None:
    reps = everyone(olga=rep("olga", away=("2026-06-01", "2026-06-30")))
    decision = route_lead(territory_team(), reps, {"company": "Acme Corp", "country": "FR"},
                          now=NOW, owner_id="olga")
    assert decision.rep_id == "cai"
    assert decision.reason == ("owner of Acme Corp, olga, is out of office until 2026-07-01 "
                               "00:00 Europe/Berlin; territory rule 1: country = FR")


# ---------------------------------------------------------------- escalation


def test_escalation_picks_the_longest_idle_available_colleague() -> None:
    reps = [rep("ana", last=NOW - timedelta(hours=1)), rep("ben", last=NOW - timedelta(hours=5)),
            rep("cai", last=None, capacity=1, open_count=1), rep("dee", last=NOW - timedelta(days=1))]
    decision = next_rep_for_escalation(SALES, reps, exclude=["dee"], now=NOW)
    assert (decision.rep_id, decision.method) == ("ben", "escalation")
    assert decision.reason == ("escalation: ben was idle longest; skipped cai (at capacity, "
                               "1 of 1 open), dee (already had the lead)")
    fresh = next_rep_for_escalation(SALES, [*reps, rep("cai")], exclude=[], now=NOW)
    assert fresh.rep_id == "cai"  # never assigned beats everyone


def test_escalation_with_nobody_left_says_so() -> None:
    decision = next_rep_for_escalation(TeamRouting("t", ("ana", "ben")), [rep("ana"), rep("ben")],
                                       exclude=["ana", "ben"], now=NOW)
    assert decision.rep_id is None
    assert decision.reason == ("escalation: nobody else in team t can take the lead; skipped "
                               "ana (already had the lead), ben (already had the lead)")


# ---------------------------------------------------------------- reps' time off


def test_out_of_office_dates_are_whole_days_on_the_reps_clock() -> None:
    (week,) = parse_out_of_office([{"from": "2026-08-03", "to": "2026-08-07"}], "America/New_York")
    ny = ZoneInfo("America/New_York")
    assert week.start == datetime(2026, 8, 3, tzinfo=ny)
    assert week.end == datetime(2026, 8, 8, tzinfo=ny)
    assert week.covers(datetime(2026, 8, 7, 23, 59, tzinfo=ny))
    (afternoon,) = parse_out_of_office([{"from": "2026-08-03T13:00", "to": "2026-08-03T18:00Z"}],
                                       "Europe/Berlin")
    assert afternoon.start == datetime(2026, 8, 3, 11, 0, tzinfo=UTC)
    assert afternoon.end == datetime(2026, 8, 3, 18, 0, tzinfo=UTC)


def test_out_of_office_problems() -> None:
    assert out_of_office_problems([{"from": "2026-08-03", "to": "2026-08-07"}]) == []
    problems = out_of_office_problems([{"from": "2026-08-07", "to": "2026-08-03T00:00"},
                                       {"from": "next week", "to": "2026-08-03"},
                                       {"from": "2026-08-03"}])
    assert [p["path"] for p in problems] == ["out_of_office[0]", "out_of_office[1]",
                                             "out_of_office[2]"]
    assert "ends before it starts" in problems[0]["message"]
    assert "2026-08-03T13:00" in problems[1]["message"]
    assert out_of_office_problems("soon")[0]["path"] == "out_of_office"
    with pytest.raises(ValueError):
        parse_out_of_office([{"from": "2026-08-07", "to": "2026-08-03"}])


# ---------------------------------------------------------------- routing documents


def test_routing_problems() -> None:
    assert routing_problems("round_robin") == []
    assert routing_problems(DACH_RULES, teams={"dach"}, reps={"ana", "cai"}) == []
    problems = routing_problems({"territory": [
        {"when": {"field": "country", "op": "is", "value": "DE"}, "rep": "zed"},
        {"when": {"temperature": "hot"}, "rep": "ana", "team": "dach"},
        {"rep": "ana", "note": "x"},
    ]}, "teams.inside-sales.routing", teams={"dach"}, reps={"ana"})
    paths = [p["path"] for p in problems]
    base = "teams.inside-sales.routing.territory"
    assert paths == [f"{base}[0].when.op", f"{base}[0].rep", f"{base}[1]", f"{base}[2].note",
                     f"{base}[2]"]
    assert routing_problems("random")[0]["path"] == "routing"
    assert routing_problems({"territory": []})[0]["path"] == "routing"


def test_conditions_read_as_sentences() -> None:
    assert describe_condition({"field": "country", "op": "in", "value": ["DE", "AT"]}) \
        == "country in [DE, AT]"
    assert describe_condition({"all": [{"temperature": "hot"}, {"not": {"has_tag": "student"}},
                                       {"any": [{"stage_at_least": "MQL"},
                                                {"field": "fields.plan", "op": "exists"}]}]}) \
        == "lead is hot and not (tagged student) and (stage at least MQL or fields.plan is set)"


def test_from_docs_match_the_api_shapes() -> None:
    team = TeamRouting.from_doc({"id": "inside-sales", "name": "Inside", "members": ["ana"],
                                 "routing": "round_robin", "calendar": {}}, cursor=3)
    assert team == TeamRouting("inside-sales", ("ana",), "round_robin", 3)
    ana = RepState.from_doc({"id": "ana", "email": "a@example.com", "name": "Ana",
                             "timezone": "Europe/Berlin", "capacity": 2, "manager_id": "max",
                             "out_of_office": []}, open_count=1)
    assert (ana.capacity, ana.open_count, ana.manager_id) == (2, 1, "max")
