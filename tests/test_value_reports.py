"""The closed-loop reports on hand-made data: A/B arms and their significance, and the funnel's
hand-over ratios over time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from leadflow.db import session_scope
from leadflow.journeys.engine import split_choice
from leadflow.models import Journey, JourneyStep, Lead, StageChange
from leadflow.sales.value_reports import experiment_report, funnel_trend, table_csv
from tests.helpers import publish_flow

SPLIT_FLOW = {"id": "ab", "name": "A/B test", "start": "split",
              "steps": {"split": {"type": "split", "paths": [{"weight": 50, "next": "a"},
                                                             {"weight": 50, "next": "b"}]},
                        "a": {"type": "exit"}, "b": {"type": "exit"}}}


def _journeys(db_url: str, n: int, converts: dict[str, float]) -> None:
    """``n`` leads through the split; a share ``converts[arm]`` of each arm reach the goal."""
    at = datetime(2026, 3, 1, tzinfo=UTC)
    seen: dict[str, int] = {"a": 0, "b": 0}
    with session_scope(db_url) as session:
        for i in range(n):
            lead_id = f"lead-{i:04d}"
            arm = ["a", "b"][split_choice(lead_id, "split", [50, 50])]
            seen[arm] += 1
            converted = (seen[arm] % 100) < converts[arm] * 100
            session.add(Lead(id=lead_id, email=f"{lead_id}@example.com"))
            jid = f"journey-ab-{lead_id}-1"
            session.add(Journey(id=jid, lead_id=lead_id, flow_id="ab", version=1,
                                status="completed", converted=converted,
                                exit_reason="goal" if converted else "completed"))
            session.add(JourneyStep(journey_id=jid, flow_id="ab", version=1, step_id="split",
                                    entered_at=at, left_at=at))


def test_a_clear_difference_between_arms_is_significant(db_url: str) -> None:
    publish_flow(db_url, SPLIT_FLOW)
    _journeys(db_url, 600, {"a": 0.10, "b": 0.30})
    with session_scope(db_url) as session:
        report = experiment_report(session)
    (experiment,) = report["experiments"]
    arms = {a["arm"]: a for a in experiment["arms"]}
    assert arms["a"]["leads"] + arms["b"]["leads"] == 600
    assert arms["a"]["rate"] < arms["b"]["rate"]
    assert experiment["significant"] and experiment["winner"] == "b"
    assert experiment["p_value"] < 0.001
    assert experiment["sentence"].startswith("Arm b does best")


def test_arms_that_convert_alike_are_not_called_different(db_url: str) -> None:
    publish_flow(db_url, SPLIT_FLOW)
    _journeys(db_url, 400, {"a": 0.20, "b": 0.20})
    with session_scope(db_url) as session:
        (experiment,) = experiment_report(session)["experiments"]
    assert not experiment["significant"] and experiment["winner"] is None
    assert "No significant difference" in experiment["sentence"]


def test_no_data_yet_says_so(db_url: str) -> None:
    publish_flow(db_url, SPLIT_FLOW)
    with session_scope(db_url) as session:
        (experiment,) = experiment_report(session)["experiments"]
    assert experiment["arms"] == [] and experiment["p_value"] is None
    assert experiment["sentence"] == "Not enough data yet to compare the arms."


def test_hand_over_ratios_per_week(db_url: str) -> None:
    monday = datetime(2026, 3, 2, 10, tzinfo=UTC)
    with session_scope(db_url) as session:
        for i in range(4):  # week 1: four MQLs, sales accepts three, one of them becomes SQL
            session.add(StageChange(lead_id=f"l{i}", from_stage="lead", to_stage="MQL", at=monday))
            if i < 3:
                session.add(StageChange(lead_id=f"l{i}", from_stage="MQL", to_stage="SAL",
                                        at=monday + timedelta(days=1)))
        session.add(StageChange(lead_id="l0", from_stage="SAL", to_stage="SQL",
                                at=monday + timedelta(days=2)))
        session.add(StageChange(lead_id="l9", from_stage="lead", to_stage="MQL",
                                at=monday + timedelta(days=7)))  # week 2: one MQL, not accepted
    with session_scope(db_url) as session:
        report = funnel_trend(session, start=monday - timedelta(days=1),
                              end=monday + timedelta(days=14), period="week")
    weeks = {p["start"]: p for p in report["periods"]}
    first, second = weeks["2026-03-02"], weeks["2026-03-09"]
    assert (first["mql"], first["mql_to_sal"], first["mql_to_sal_ratio"]) == (4, 3, 0.75)
    assert (first["sal"], first["sal_to_sql"]) == (3, 1)
    assert (second["mql"], second["mql_to_sal_ratio"]) == (1, 0.0)


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised() -> None:
    text = table_csv([{"source": "=HYPERLINK(\"http://x\")", "leads": 3}], ("source", "leads"))
    assert text.splitlines()[1] == "\"'=HYPERLINK(\"\"http://x\"\")\",3"
