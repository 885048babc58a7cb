"""``GET /api/reports/funnel`` on a seeded dataset, with numbers worked out by hand."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
import pytest_asyncio
from leadflow.api.main import create_app

from leadflow.config import reset_settings
from leadflow.db import session_scope
from leadflow.models import Lead, StageChange

pytestmark = pytest.mark.asyncio(loop_scope="session")

ADMIN = "test-admin-key"
HEADERS = {"Authorization": f"Bearer {ADMIN}"}


def day(d: int, month: int = 1, year: int = 2026) -> datetime:
    return datetime(year, month, d, tzinfo=UTC)


# lead: (created, source, [(from, to, at), ...]); the period is January 2026.
DATASET = {
    "a": (day(2), "webinar", [("lead", "MQL", day(3)), ("MQL", "SAL", day(5)),
                              ("SAL", "SQL", day(10))]),
    "b": (day(4), "webinar", [("lead", "MQL", day(6))]),
    "c": (day(5), "ads", []),
    "d": (day(6), "ads", [("lead", "MQL", day(7)), ("MQL", "SAL", day(8)), ("SAL", "SQL", day(9)),
                          ("SQL", "opportunity", day(12)), ("opportunity", "customer", day(20))]),
    "e": (day(20, 12, 2025), "ads", [("lead", "MQL", day(10))]),  # created before the period
}


@pytest_asyncio.fixture(loop_scope="session")
async def http(db_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    with session_scope(db_url) as session:
        for lead_id, (created, source, changes) in DATASET.items():
            stage = changes[-1][1] if changes else "lead"
            session.add(Lead(id=lead_id, email=f"{lead_id}@example.com", source=source,
                             stage=stage, created_at=created))
            for old, new, at in changes:
                session.add(StageChange(lead_id=lead_id, from_stage=old, to_stage=new, at=at,
                                        cause="seed", actor="test"))
    monkeypatch.setenv("LEADFLOW_ADMIN_KEY", ADMIN)
    reset_settings()
    app = create_app(temporal_client=object())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as client:
        yield client


def by_stage(report: dict) -> dict[str, dict]:
    return {row["stage"]: row for row in report["stages"]}


async def test_funnel_json(http: httpx.AsyncClient) -> None:
    r = await http.get("/api/reports/funnel?from=2026-01-01&to=2026-02-01", headers=HEADERS)
    assert r.status_code == 200, r.text
    report = r.json()
    stages = by_stage(report)
    # lead: a, b, c, d entered (e before the period); a, b, d moved on; stays 24h, 48h, 24h
    assert stages["lead"] == {"stage": "lead", "entered": 4, "converted": 3, "conversion": 0.75,
                              "median_hours_in_stage": 24.0}
    # MQL: a, b, d, e; a and d accepted by sales (48h, 24h in MQL)
    assert (stages["MQL"]["entered"], stages["MQL"]["converted"],
            stages["MQL"]["median_hours_in_stage"]) == (4, 2, 36.0)
    assert report["mql_to_sal"] == 0.5
    assert (stages["SAL"]["entered"], stages["SAL"]["conversion"],
            stages["SAL"]["median_hours_in_stage"]) == (2, 1.0, 72.0)
    assert (stages["SQL"]["entered"], stages["SQL"]["conversion"]) == (2, 0.5)
    assert (stages["customer"]["entered"], stages["customer"]["conversion"]) == (1, None)
    assert report["sources"] == [
        {"source": "ads", "leads": 2, "MQL": 1, "SQL": 1, "customer": 1},
        {"source": "webinar", "leads": 2, "MQL": 2, "SQL": 1, "customer": 0},
    ]


async def test_funnel_of_one_source_and_as_csv(http: httpx.AsyncClient) -> None:
    r = await http.get("/api/reports/funnel", headers=HEADERS,
                 params={"from": "2026-01-01", "to": "2026-02-01T00:00:00Z",
                         "source": "webinar", "format": "csv"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    mql = next(row for row in rows if row["section"] == "stage" and row["name"] == "MQL")
    assert (mql["entered"], mql["converted"], mql["conversion"]) == ("2", "1", "0.5")
    summary = next(row for row in rows if row["section"] == "summary")
    assert (summary["name"], summary["conversion"]) == ("MQL to SAL", "0.5")
    [source] = [row for row in rows if row["section"] == "source"]
    assert (source["name"], source["leads"], source["MQL"], source["SQL"]) == (
        "webinar", "2", "2", "1")


async def test_bad_periods_are_refused(http: httpx.AsyncClient) -> None:
    r = await http.get("/api/reports/funnel?from=yesterday", headers=HEADERS)
    assert r.status_code == 422 and r.json()["problems"][0]["path"] == "from"
    r = await http.get("/api/reports/funnel?from=2026-02-01&to=2026-01-01", headers=HEADERS)
    assert r.status_code == 422
    assert (await http.get("/api/reports/funnel?format=xml", headers=HEADERS)).status_code == 422
    assert (await http.get("/api/reports/funnel")).status_code == 401
