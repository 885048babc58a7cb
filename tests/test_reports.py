"""The funnel report on a small seeded history, checked against numbers worked out by hand.

The history (period: March 2024; ``*`` = recorded StageChange, creation otherwise implied)::

    A webinar  created 03-02 lead, *MQL 03-03, *SAL 03-04, *SQL 03-06, *opportunity 03-10,
                                   *customer 03-20
    B webinar  created 03-05, *lead 03-05 (recorded creation), *MQL 03-07, *recycled 03-09,
               *MQL 03-15, *SAL 04-05 (after the period)
    C ads      created 02-10 lead, *MQL 02-20, *SAL 03-02, *disqualified 03-05
    D ads      created 03-10 subscriber, never changed
    E (none)   created 03-12 lead, *SQL 03-13 (sales qualified directly)
    F ads      created 01-01 lead, *MQL 01-05: nothing in March, so in no number
    G webinar  created 03-30 lead, *MQL 04-02 (after the period)
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from leadflow.db import create_schema, session_scope
from leadflow.leads.funnel import funnel_csv, funnel_report
from leadflow.models import Lead, StageChange
from tests.pg import throwaway_postgres

START = datetime(2024, 3, 1)
END = datetime(2024, 4, 1)


def d(month: int, day: int) -> datetime:
    return datetime(2024, month, day)


LEADS = [  # id, source, current stage, created
    ("A", "webinar", "customer", d(3, 2)),
    ("B", "webinar", "SAL", d(3, 5)),
    ("C", "ads", "disqualified", d(2, 10)),
    ("D", "ads", "subscriber", d(3, 10)),
    ("E", None, "SQL", d(3, 12)),
    ("F", "ads", "MQL", d(1, 1)),
    ("G", "webinar", "MQL", d(3, 30)),
]
CHANGES = [  # lead, from, to, at
    ("A", "lead", "MQL", d(3, 3)), ("A", "MQL", "SAL", d(3, 4)), ("A", "SAL", "SQL", d(3, 6)),
    ("A", "SQL", "opportunity", d(3, 10)), ("A", "opportunity", "customer", d(3, 20)),
    ("B", None, "lead", d(3, 5)), ("B", "lead", "MQL", d(3, 7)), ("B", "MQL", "recycled", d(3, 9)),
    ("B", "recycled", "MQL", d(3, 15)), ("B", "MQL", "SAL", d(4, 5)),
    ("C", "lead", "MQL", d(2, 20)), ("C", "MQL", "SAL", d(3, 2)),
    ("C", "SAL", "disqualified", d(3, 5)),
    ("E", "lead", "SQL", d(3, 13)),
    ("F", "lead", "MQL", d(1, 5)),
    ("G", "lead", "MQL", d(4, 2)),
]


def _stored(moment: datetime, column: Any) -> datetime:
    # Columns typed by SQLModel want aware datetimes, plain DateTime ones naive UTC.
    return moment.replace(tzinfo=UTC) if getattr(column.type, "timezone", False) else moment


def _seed(url: str) -> None:
    create_schema(url)
    created_column = Lead.__table__.c.created_at  # type: ignore[attr-defined]
    at_column = StageChange.__table__.c.at  # type: ignore[attr-defined]
    with session_scope(url) as session:
        for lead_id, source, stage, created in LEADS:
            created = _stored(created, created_column)
            session.add(Lead(id=lead_id, source=source, stage=stage, created_at=created,
                             updated_at=created))
        for lead_id, src, dst, at in CHANGES:
            session.add(StageChange(lead_id=lead_id, from_stage=src, to_stage=dst,
                                    at=_stored(at, at_column)))


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("reports") / "reports.db"
    url = f"sqlite:///{path}"
    _seed(url)
    return url


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL database holding the seeded history, dropped afterwards."""
    with throwaway_postgres("leadflow_test_reports") as url:
        _seed(url)
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))


def _report(url: str, **kwargs: Any) -> dict[str, Any]:
    with session_scope(url) as session:
        return funnel_report(session, start=START, end=END, **kwargs)


def _stage(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(row for row in report["stages"] if row["stage"] == name)


def test_stage_rows(url: str) -> None:
    report = _report(url)
    rows = {row["stage"]: (row["entered"], row["converted"], row["conversion"],
                           row["median_hours_in_stage"]) for row in report["stages"]}
    assert rows == {
        "subscriber": (1, 0, 0.0, None),       # D, still there
        "lead": (4, 3, 0.75, 24.0),            # A B E G; G not yet; stays 24, 48, 24 h
        "MQL": (2, 1, 0.5, 36.0),              # A on, B recycled; stays 24, 48 (B's 2nd open)
        "SAL": (2, 1, 0.5, 60.0),              # A on, C disqualified; stays 48, 72
        "SQL": (2, 1, 0.5, 96.0),              # A on, E waiting; A's stay 96 h
        "opportunity": (1, 1, 1.0, 240.0),
        "customer": (1, None, None, None),
        "recycled": (1, None, None, 144.0),
        "disqualified": (1, None, None, None),
    }
    assert [row["stage"] for row in report["stages"]][:7] == [
        "subscriber", "lead", "MQL", "SAL", "SQL", "opportunity", "customer"]
    assert report["mql_to_sal"] == 0.5
    assert (report["start"], report["end"]) == ("2024-03-01T00:00:00+00:00",
                                                "2024-04-01T00:00:00+00:00")


def test_sources_are_cohorts_of_new_leads(url: str) -> None:
    assert _report(url)["sources"] == [
        {"source": "webinar", "leads": 3, "MQL": 2, "SQL": 1, "customer": 1},  # A B G
        {"source": "ads", "leads": 1, "MQL": 0, "SQL": 0, "customer": 0},      # D (C is older)
        {"source": None, "leads": 1, "MQL": 1, "SQL": 1, "customer": 0},       # E skipped MQL
    ]


def test_one_source_only(url: str) -> None:
    report = _report(url, source="ads")
    assert report["source"] == "ads"
    assert {row["stage"]: row["entered"] for row in report["stages"] if row["entered"]} == {
        "subscriber": 1, "SAL": 1, "disqualified": 1}
    assert _stage(report, "SAL")["conversion"] == 0.0
    assert _stage(report, "SAL")["median_hours_in_stage"] == 72.0
    assert report["mql_to_sal"] is None
    assert report["sources"] == [
        {"source": "ads", "leads": 1, "MQL": 0, "SQL": 0, "customer": 0}]


def test_later_period_sees_what_happened_after(url: str) -> None:
    with session_scope(url) as session:
        april = funnel_report(session, start=END, end=datetime(2024, 5, 1, tzinfo=UTC))
    assert {row["stage"]: row["entered"] for row in april["stages"] if row["entered"]} == {
        "SAL": 1, "MQL": 1}  # B accepted, G qualified
    # B's second MQL stay began in March: not an April entry, so it is not in April's median.
    assert _stage(april, "MQL")["median_hours_in_stage"] is None
    assert april["sources"] == []


def test_empty_period(url: str) -> None:
    with session_scope(url) as session:
        report = funnel_report(session, start=datetime(2020, 1, 1), end=datetime(2020, 2, 1))
    assert all(row["entered"] == 0 for row in report["stages"])
    assert report["mql_to_sal"] is None and report["sources"] == []


def test_csv_has_every_row(url: str) -> None:
    rows = list(csv.DictReader(io.StringIO(funnel_csv(_report(url)))))
    assert [(r["section"], r["name"]) for r in rows] == [
        ("stage", s) for s in ("subscriber", "lead", "MQL", "SAL", "SQL", "opportunity",
                               "customer", "recycled", "disqualified")
    ] + [("summary", "MQL to SAL"), ("source", "webinar"), ("source", "ads"),
         ("source", "(none)")]
    assert rows[1] == {"section": "stage", "name": "lead", "entered": "4", "converted": "3",
                       "conversion": "0.75", "median_hours_in_stage": "24.0", "leads": "",
                       "MQL": "", "SQL": "", "customer": ""}
    assert rows[9]["conversion"] == "0.5"
    assert rows[10]["leads"] == "3" and rows[10]["customer"] == "1"
