"""Lifecycle stages: which moves a marketer or the CRM may make, and what "at least" means."""

from __future__ import annotations

import pytest

from leadflow.errors import Conflict, Invalid
from leadflow.journeys.conditions import evaluate
from leadflow.leads.lifecycle import (
    ALL_STAGES,
    ALLOWED_TRANSITIONS,
    STAGES,
    can_transition,
    check_transition,
    stage_at_least,
)


def test_the_funnel_order() -> None:
    assert STAGES == ("subscriber", "lead", "MQL", "SAL", "SQL", "opportunity", "customer")
    assert set(ALLOWED_TRANSITIONS) == set(ALL_STAGES)


@pytest.mark.parametrize(("src", "dst"), [
    ("subscriber", "lead"), ("lead", "MQL"), ("MQL", "SAL"), ("SAL", "SQL"),
    ("SQL", "opportunity"), ("opportunity", "customer"),
    ("lead", "SQL"),  # sales qualifies directly
    ("subscriber", "customer"),
    ("MQL", "recycled"), ("SQL", "disqualified"), ("opportunity", "recycled"),
    ("recycled", "MQL"), ("recycled", "lead"), ("recycled", "SQL"), ("recycled", "disqualified"),
    ("disqualified", "recycled"),
    (None, "subscriber"), (None, "MQL"),
])
def test_allowed_moves(src: str | None, dst: str) -> None:
    assert can_transition(src, dst)
    check_transition(src, dst)


@pytest.mark.parametrize(("src", "dst"), [
    ("MQL", "lead"), ("SQL", "MQL"), ("customer", "opportunity"), ("customer", "recycled"),
    ("disqualified", "MQL"), ("disqualified", "lead"), ("recycled", "subscriber"),
    ("MQL", "MQL"), ("lead", "nonsense"),
])
def test_refused_moves(src: str, dst: str) -> None:
    assert not can_transition(src, dst)


def test_backward_move_is_refused_with_a_way_out() -> None:
    with pytest.raises(Conflict) as caught:
        check_transition("SQL", "MQL")
    assert caught.value.status_code == 409
    assert caught.value.detail == (
        "A lead cannot move from SQL to MQL. Leads never move back inside the funnel; move it "
        "to recycled instead. From SQL it can move to opportunity, customer, recycled, "
        "disqualified.")


def test_terminal_and_repeated_moves_say_why() -> None:
    with pytest.raises(Conflict, match="customer cannot change stage any more"):
        check_transition("customer", "recycled")
    with pytest.raises(Conflict, match="already at stage MQL"):
        check_transition("MQL", "MQL")
    with pytest.raises(Conflict, match="From disqualified it can move to recycled"):
        check_transition("disqualified", "SQL")


def test_unknown_stage_is_invalid_input() -> None:
    with pytest.raises(Invalid) as caught:
        check_transition("lead", "hot")
    assert caught.value.problems[0]["path"] == "stage"
    assert "'hot' is not a lifecycle stage" in caught.value.detail


def test_stage_at_least_in_the_funnel() -> None:
    assert stage_at_least("SQL", "MQL")
    assert stage_at_least("MQL", "MQL")
    assert not stage_at_least("lead", "MQL")
    assert stage_at_least("customer", "subscriber")


def test_side_stages_rank_like_lead() -> None:
    for side in ("recycled", "disqualified"):
        assert stage_at_least(side, "lead")
        assert stage_at_least(side, "subscriber")
        assert not stage_at_least(side, "MQL")
    assert stage_at_least("recycled", "recycled")
    assert not stage_at_least("SQL", "recycled")
    assert not stage_at_least("disqualified", "recycled")


def test_exit_when_conditions_use_these_ranks() -> None:
    assert evaluate({"stage_at_least": "SQL"}, {"stage": "opportunity"})
    assert not evaluate({"stage_at_least": "SQL"}, {"stage": "recycled"})
