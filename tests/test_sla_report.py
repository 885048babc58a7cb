"""The SLA report on a seeded dataset whose numbers are worked out by hand below."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
import pytest_asyncio
from leadflow.api.main import create_app

from leadflow.auth import create_key
from leadflow.config import reset_settings
from leadflow.db import session_scope
from leadflow.models import Handoff, Lead, utcnow
from leadflow.sales.sla_report import nearest_rank, sla_report
from tests.handoff_support import rep, seed_team

ON_SESSION_LOOP = pytest.mark.asyncio(loop_scope="session")
H = 3600.0


def seed(db_url: str) -> None:
    """Ten handoffs opened three days ago, SLA 4 h, round-the-clock calendars."""
    seed_team(db_url, [rep("ann"), rep("bob")], calendar={})
    seed_team(db_url, [rep("cy")], team="field", calendar={})
    start = utcnow() - timedelta(days=3)
    due = start + timedelta(hours=4)
    rows = [
        # id, rep, team, status, first touch after (s), escalations, rejection, closed after
        ("a1", "ann", "inside", "accepted", 1 * H, 0, None, None),
        ("a2", "ann", "inside", "contacted", 3 * H, 0, None, None),
        ("a3", "ann", "inside", "accepted", 5 * H, 1, None, None),  # touched late: breached
        ("a4", "ann", "inside", "rejected", None, 0, "no budget", 0.5 * H),  # neither
        ("b1", "bob", "inside", "qualified", 2 * H, 0, None, None),
        ("b2", "bob", "inside", "open", None, 2, None, None),  # never touched: breached
        ("b3", "bob", "inside", "rejected", None, 0, "no budget", 1 * H),
        ("b4", "bob", "inside", "rejected", None, 0, "student", 1 * H),
        ("p1", None, "inside", "open", None, 3, None, None),  # back in the pool: breached
        ("c1", "cy", "field", "accepted", 600.0, 0, None, None),
    ]
    with session_scope(db_url) as session:
        for hid, rep_id, team, status, touch, escalations, reason, closed in rows:
            session.add(Lead(id=f"lead-{hid}", email=f"{hid}@example.com"))
            met = start + timedelta(seconds=touch) if touch is not None else None
            session.add(Handoff(
                id=hid, lead_id=f"lead-{hid}", rep_id=rep_id, team=team, status=status,
                sla="PT4H", created_at=start, sla_due_at=due, sla_met_at=met,
                sla_breached_at=due if (met is None and closed is None) or (met and met > due)
                else None,
                updated_at=start + timedelta(seconds=closed) if closed else utcnow(),
                rejection_reason=reason,
                escalations=[{"rung": n + 1} for n in range(escalations)]))


def test_nearest_rank_percentile() -> None:
    assert nearest_rank([5, 1, 4, 2, 3], 0.9) == 5
    assert nearest_rank([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9) == 9
    assert nearest_rank([], 0.9) is None


def test_sla_report_per_rep_and_team(db_url: str) -> None:
    seed(db_url)
    with session_scope(db_url) as session:
        report = sla_report(session)
    reps = {r["rep_id"]: r for r in report["reps"]}
    assert reps["ann"] == {
        "rep_id": "ann", "handoffs": 4, "met": 2, "breached": 1,
        "median_first_touch_seconds": 3 * H,  # of 1 h, 3 h, 5 h
        "p90_first_touch_seconds": 5 * H,  # rank ceil(0.9 * 3) = 3
        "escalations": 1, "rejection_reasons": {"no budget": 1}}
    assert reps["bob"] == {
        "rep_id": "bob", "handoffs": 4, "met": 1, "breached": 1,
        "median_first_touch_seconds": 2 * H, "p90_first_touch_seconds": 2 * H,
        "escalations": 2, "rejection_reasons": {"no budget": 1, "student": 1}}
    assert reps["(pool)"]["breached"] == 1 and reps["(pool)"]["escalations"] == 3
    assert reps["(pool)"]["median_first_touch_seconds"] is None
    teams = {t["team"]: t for t in report["teams"]}
    assert teams["inside"] == {
        "team": "inside", "handoffs": 9, "met": 3, "breached": 3,
        "median_first_touch_seconds": 2.5 * H,  # of 1 h, 2 h, 3 h, 5 h
        "p90_first_touch_seconds": 5 * H,  # rank ceil(0.9 * 4) = 4
        "escalations": 6, "rejection_reasons": {"no budget": 2, "student": 1}}
    assert teams["field"]["met"] == 1 and teams["field"]["median_first_touch_seconds"] == 600
    total = report["total"]
    assert (total["handoffs"], total["met"], total["breached"]) == (10, 4, 3)
    assert total["median_first_touch_seconds"] == 2 * H  # of 600 s, 1 h, 2 h, 3 h, 5 h
    assert total["p90_first_touch_seconds"] == 5 * H


@pytest_asyncio.fixture(loop_scope="session")
async def api(db_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("LEADFLOW_ADMIN_KEY", "admin-key-for-tests-0123456789")
    reset_settings()
    app = create_app(temporal_client=object())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as client:
        yield client


@ON_SESSION_LOOP
async def test_sla_report_over_http_for_marketing_only(api: httpx.AsyncClient,
                                                       db_url: str) -> None:
    seed(db_url)
    with session_scope(db_url) as session:
        marketer = create_key(session, role="marketer")
        sales = create_key(session, role="sales", rep_id="ann")
    ok = await api.get("/api/reports/sla?team=field",
                       headers={"Authorization": f"Bearer {marketer}"})
    assert ok.status_code == 200
    assert [t["team"] for t in ok.json()["teams"]] == ["field"]
    denied = await api.get("/api/reports/sla", headers={"Authorization": f"Bearer {sales}"})
    assert denied.status_code == 403
