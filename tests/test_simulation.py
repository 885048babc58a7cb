"""The flow simulator: the live interpreter in simulated time, over synthetic or sampled leads."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio
from sqlmodel import SQLModel, func, select, text

from leadflow.api.main import create_app
from leadflow.config import PROJECT_ROOT, reset_settings
from leadflow.db import session_scope
from leadflow.errors import Invalid
from leadflow.mail.policy import window_opens_at
from leadflow.scoring.model import DEFAULT_SCORING_MODEL, EventView, score_lead
from leadflow.usecases.simulation import (
    LeadSeed,
    Team,
    Totals,
    World,
    _Context,
    _Lead,
    parse_request,
    run_simulation,
    synthetic_lead,
)
from tests.helpers import SIMPLE_MODEL, make_lead, publish_flow, set_scoring_model

SHIPPED = sorted((PROJECT_ROOT / "flows").glob("*.json"))
START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
MONDAY_TO_FRIDAY = {"timezone": "Europe/Berlin", "days": ["mon", "tue", "wed", "thu", "fri"],
                    "from": "09:00", "to": "17:00"}
MAILS = {
    "id": "five-mails", "name": "Five mails", "start": "m1",
    "steps": {**{f"m{i}": {"type": "email", "template": "trial-tips", "next": f"m{i + 1}"}
                 for i in range(1, 5)},
              "m5": {"type": "email", "template": "trial-tips", "next": "end"},
              "end": {"type": "exit"}},
}
SHAPE = {"leads", "days", "steps", "emails", "exits", "handoffs", "mql", "paths", "elapsed_ms"}


def world(**teams: Team) -> World:
    return World(model=DEFAULT_SCORING_MODEL, teams=dict(teams))


def simulate(flow: dict[str, Any], body: dict[str, Any] | None = None, *,
             w: World | None = None, **kw: Any) -> dict[str, Any]:
    req = parse_request({"leads": 300, "days": 60, "seed": 7, "start": START.isoformat(),
                         **(body or {})})
    return run_simulation(flow, req, w or world(), **kw)


def without_time(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "elapsed_ms"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_the_shipped_flows_simulate_with_the_contract_shape(path: Path) -> None:
    flow = json.loads(path.read_text())
    result = simulate(flow, {"events": [{"type": "webinar.attended", "rate_per_day": 0.3},
                                        {"type": "page.viewed", "rate_per_day": 0.2}]})
    assert SHAPE <= set(result)
    assert set(result["steps"]) == set(flow["steps"])
    for row in result["steps"].values():
        assert set(row) == {"entered", "left", "waiting_at_end"}
        assert row["left"] == row["entered"] - row["waiting_at_end"] >= 0
    assert result["steps"][flow["start"]]["entered"] >= 300 or flow["steps"][flow["start"]][
        "type"] == "split"
    emails = result["emails"]
    assert {"sent", "per_lead", "max_per_lead_per_week"} <= set(emails)
    assert set(emails["per_lead"]) == {"p50", "p95", "max"}
    assert sum(emails["per_week"]) == emails["sent"] > 0
    assert sum(result["exits"].values()) + sum(
        r["waiting_at_end"] for r in result["steps"].values()) == 300
    assert set(result["mql"]) == {"count", "days_to_mql_p50"}
    assert set(result["handoffs"]) == {"total", "per_team_per_business_day"}
    assert sum(p["leads"] for p in result["paths"]) <= 300 and result["paths"]
    assert isinstance(result["elapsed_ms"], int)


def test_the_same_seed_gives_the_same_answer_and_another_seed_another() -> None:
    flow = json.loads((PROJECT_ROOT / "flows" / "trial-nurture.json").read_text())
    body = {"engagement": {"open": 0.5, "click": 0.3}, "profile": {"title": ["VP", "Dev"]},
            "events": [{"type": "form.submitted", "rate_per_day": 0.05}]}
    first = simulate(flow, body, w=world(**{"inside-sales": Team(MONDAY_TO_FRIDAY, 2, 5)}))
    again = simulate(flow, body, w=world(**{"inside-sales": Team(MONDAY_TO_FRIDAY, 2, 5)}))
    other = simulate(flow, {**body, "seed": 8},
                     w=world(**{"inside-sales": Team(MONDAY_TO_FRIDAY, 2, 5)}))
    assert without_time(first) == without_time(again)
    assert without_time(first) != without_time(other)


def test_two_processes_give_the_answer_one_gives() -> None:
    flow = json.loads((PROJECT_ROOT / "flows" / "reengage-cold.json").read_text())
    body = {"leads": 1200, "engagement": {"open": 0.4, "click": 0.2}}
    assert without_time(simulate(flow, body, workers=1)) == without_time(
        simulate(flow, body, workers=2))


@pytest.mark.parametrize(("body", "path"), [
    ({"leads": 100_001}, "leads"),
    ({"leads": 0}, "leads"),
    ({"leads": "everyone"}, "leads"),
    ({"days": 366}, "days"),
    ({"days": 0}, "days"),
    ({"engagement": {"open": -0.1}}, "engagement.open"),
    ({"engagement": {"templates": {"x": {"click": 1.5}}}}, "engagement.templates.x.click"),
    ({"events": [{"type": "demo.requested", "rate_per_day": -1}]}, "events.0.rate_per_day"),
    ({"sales": {"respond_within": "soon"}}, "sales.respond_within"),
    ({"profile": {"country": []}}, "profile"),
    ({"unknown": 1}, "unknown"),
    ({"days": 10, "enrol_over_days": 20}, "enrol_over_days"),
])
def test_bad_requests_are_refused_with_the_path(body: dict[str, Any], path: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_request(body)
    assert path in [p["path"] for p in caught.value.problems], caught.value.problems


def test_the_frequency_cap_holds_and_postpones() -> None:
    result = simulate(MAILS, {"leads": 50})
    assert result["emails"]["sent"] == 250, "postponed, never dropped"
    assert result["emails"]["max_per_lead_per_week"] == 3, "the default cap: 3 in 7 days"
    assert result["emails"]["postponed"] == 50, "the 4th waits a week; the 5th goes with it"
    assert result["emails"]["per_lead"] == {"p50": 5.0, "p95": 5.0, "max": 5}


def test_the_send_window_agrees_with_the_live_rule() -> None:
    window = {"days": ["tue", "thu"], "from": "22:00", "to": "02:00"}
    ctx = _Context({**MAILS, "send_window": window}, parse_request({"days": 30}), world(),
                   START.timestamp())
    rng = random.Random(1)
    for zone in (ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")):
        opens = ctx.window_opens(zone)
        for _ in range(400):
            at = START + timedelta(seconds=rng.uniform(0, 29 * 86400))
            live = window_opens_at(window, zone, at)
            assert opens(at.timestamp()) == (None if live is None else live.timestamp())


def test_the_running_score_is_the_live_score_with_decay() -> None:
    ctx = _Context(MAILS, parse_request({"days": 60}), world(), START.timestamp())
    view = {"id": "x", "email": "a@acme.com", "company": "Acme", "title": "VP Sales",
            "fields": {}, "tags": [], "score": 0.0, "temperature": "cold", "stage": "lead"}
    lead = _Lead(ctx, LeadSeed("x", dict(view), fresh=True), START.timestamp())
    events, totals = [], Totals()
    rng = random.Random(3)
    at = START
    for _ in range(25):
        at += timedelta(hours=rng.uniform(1, 60))
        kind = rng.choice(["email.opened", "email.clicked", "form.submitted", "demo.requested"])
        events.append(EventView(None, kind, {}, at))
        lead.arrive(at.timestamp(), {"kind": "event", "type": kind}, totals)
        live = score_lead(view, events, DEFAULT_SCORING_MODEL, at)
        assert lead.view["score"] == pytest.approx(live.score, abs=0.011)
        assert lead.view["temperature"] == live.temperature


def test_branches_on_temperature_follow_the_scoring_model() -> None:
    flow = {"id": "route", "name": "Route", "start": "route", "steps": {
        "route": {"type": "branch", "on": "temperature", "hot": "hot", "warm": "warm",
                  "cold": "cold"},
        "hot": {"type": "exit"}, "warm": {"type": "exit"}, "cold": {"type": "exit"}}}
    model = {**SIMPLE_MODEL, "fit": [
        {"when": {"field": "title", "op": "eq", "value": "VP"}, "points": 70},
        {"when": {"field": "title", "op": "eq", "value": "Lead"}, "points": 30}]}
    result = simulate(flow, {"leads": 600, "profile": {"title": ["VP", "Lead", "Dev"]}},
                      w=World(model=model))
    steps = result["steps"]
    assert steps["hot"]["entered"] + steps["warm"]["entered"] + steps["cold"]["entered"] == 600
    for name in ("hot", "warm", "cold"):
        assert 150 < steps[name]["entered"] < 250, steps
    assert result["mql"]["count"] == 0, "VPs were MQLs before the flow"


def test_clicks_wake_wait_for_from_step_and_updates_score() -> None:
    flow = {"id": "click", "name": "Click", "start": "mail", "steps": {
        "mail": {"type": "email", "template": "case-study", "next": "await"},
        "await": {"type": "wait_for", "event": "email.clicked", "from_step": "mail",
                  "timeout": "P3D", "next": "bump", "on_timeout": "end"},
        "bump": {"type": "update", "add_score": 60, "next": "end"},
        "end": {"type": "exit"}}}
    result = simulate(flow, {"leads": 1000, "engagement": {"templates": {
        "case-study": {"open": 0.5, "click": 0.25}}}})
    clicked = result["steps"]["bump"]["entered"]
    assert 190 < clicked < 310
    assert result["mql"]["count"] == clicked, "60 points from the update make an MQL"
    assert result["mql"]["days_to_mql_p50"] == pytest.approx(3 / 24, abs=0.05), "click at +3 h"


def test_handoffs_are_counted_per_team_business_day_beside_capacity() -> None:
    flow = {"id": "sales", "name": "Sales", "start": "to-sales", "steps": {
        "to-sales": {"type": "handoff", "team": "inside-sales", "sla": "PT4H", "next": "end",
                     "on_rejected": "nurture"},
        "nurture": {"type": "email", "template": "trial-tips", "next": "end"},
        "end": {"type": "exit"}}}
    team = Team(MONDAY_TO_FRIDAY, members=3, capacity=20)
    result = simulate(flow, {"leads": 700, "days": 14, "enrol_over_days": 7,
                             "sales": {"accept_rate": 0.5}}, w=world(**{"inside-sales": team}))
    row = result["handoffs"]["per_team_per_business_day"]["inside-sales"]
    assert result["handoffs"]["total"] == 700
    assert row["business_days"] == 10 and row["capacity"] == 20 and row["members"] == 3
    assert row["mean"] == 70.0, "700 hand-offs over ten working days"
    weekend = [d for d in row["days"] if datetime.fromisoformat(d["date"]).weekday() >= 5]
    assert not weekend, "weekend hand-offs count on Monday"
    assert row["max"] > 100 and row["days_over_capacity"] >= 5
    assert 280 < result["steps"]["nurture"]["entered"] < 420, "half sent back"


ROUTED = {"id": "routed", "name": "Routed", "start": "to-sales", "steps": {
    "to-sales": {"type": "handoff", "team": "emea", "sla": "PT4H", "next": "end"},
    "end": {"type": "exit"}}}
# emea sends leads from the Americas on to amer, which works round the clock in New York
TERRITORY = {"territory": [{"when": {"field": "country", "op": "in", "value": ["US", "CA"]},
                            "team": "amer"}]}
NEW_YORK = {"timezone": "America/New_York"}


def test_handoffs_routed_to_another_team_count_on_that_team_s_days() -> None:
    profile = {"country": ["DE", "US", "FR", "CA", "GB"]}
    teams = {"emea": Team(MONDAY_TO_FRIDAY, members=2, capacity=30, routing=TERRITORY,
                          member_ids=("eva", "emil")),
             "amer": Team(NEW_YORK, members=1, capacity=5, member_ids=("al",))}
    result = simulate(ROUTED, {"leads": 200, "days": 14, "profile": profile},
                      w=World(model=DEFAULT_SCORING_MODEL, teams=teams))
    americas = sum(synthetic_lead(7, i, profile).view["country"] in ("US", "CA")
                   for i in range(200))
    assert 40 < americas < 120
    per_team = result["handoffs"]["per_team_per_business_day"]
    assert set(per_team) == {"emea", "amer"}
    assert result["handoffs"]["total"] == 200
    emea, amer = per_team["emea"], per_team["amer"]
    assert sum(d["count"] for d in emea["days"]) == 200 - americas
    assert sum(d["count"] for d in amer["days"]) == americas
    assert (emea["members"], emea["capacity"]) == (2, 30)
    assert (amer["members"], amer["capacity"]) == (1, 5)
    # all enrolled Monday 00:00 UTC: Sunday evening in New York (amer works then), Monday
    # 09:00 in Berlin
    assert amer["max"] == americas and emea["max"] == 200 - americas
    assert [d["date"] for d in amer["days"] if d["count"]] == ["2026-01-04"]
    assert [d["date"] for d in emea["days"] if d["count"]] == ["2026-01-05"]
    assert amer["days_over_capacity"] == 1 and amer["business_days"] == 15

    # a team nobody is routed to still shows, beside its capacity, with no hand-offs
    quiet = simulate(ROUTED, {"leads": 20, "days": 14, "profile": {"country": ["DE"]}},
                     w=World(model=DEFAULT_SCORING_MODEL, teams=teams))
    assert quiet["handoffs"]["per_team_per_business_day"]["amer"]["max"] == 0
    # without the territory rule every hand-off stays in the step's team
    plain = {**teams, "emea": Team(MONDAY_TO_FRIDAY, members=2, capacity=30)}
    alone = simulate(ROUTED, {"leads": 200, "days": 14, "profile": profile},
                     w=World(model=DEFAULT_SCORING_MODEL, teams=plain))
    assert set(alone["handoffs"]["per_team_per_business_day"]) == {"emea"}


def test_a_lead_still_with_sales_at_the_end_waits_there() -> None:
    flow = {"id": "slow", "name": "Slow", "start": "h", "steps": {
        "h": {"type": "handoff", "team": "t", "sla": "P30D", "next": "end"},
        "end": {"type": "exit"}}}
    result = simulate(flow, {"leads": 10, "days": 5})
    assert result["steps"]["h"] == {"entered": 10, "left": 0, "waiting_at_end": 10}


# ---------------------------------------------------------------- the API and the CLI


class Boom:
    """A Temporal client that fails the test if anyone uses it."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the simulation touched Temporal ({name})")


ADMIN = "test-admin-key"


@pytest_asyncio.fixture
async def http(db_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("LEADFLOW_ADMIN_KEY", ADMIN)
    reset_settings()
    app = create_app(temporal_client=Boom(), create_tables=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                 headers={"Authorization": f"Bearer {ADMIN}"}) as client:
        yield client


def row_counts(db_url: str) -> dict[str, int]:
    with session_scope(db_url) as session:
        return {name: int(session.exec(select(func.count()).select_from(text(f'"{name}"'))).one())
                for name in SQLModel.metadata.tables}


def leads_as_stored(db_url: str) -> list[tuple[Any, ...]]:
    with session_scope(db_url) as session:
        return [tuple(r) for r in session.exec(text(
            "select id, score, temperature, stage, tags, updated_at from lead order by id"))]


@pytest.mark.asyncio
async def test_the_api_simulates_versions_documents_and_samples_and_changes_nothing(
        http: httpx.AsyncClient, db_url: str) -> None:
    set_scoring_model(db_url, {**SIMPLE_MODEL, "decay": {"half_life": "P30D"}})
    r = await http.post("/api/reps", json={"id": "ana", "email": "ana@example.com",
                                           "name": "Ana"})
    assert r.status_code == 201, r.text
    r = await http.post("/api/teams", json={"id": "inside-sales", "name": "Inside sales",
                                            "members": ["ana"], "capacity": 12,
                                            "calendar": MONDAY_TO_FRIDAY})
    assert r.status_code == 201 and r.json()["capacity"] == 12, r.text
    for path in SHIPPED:
        publish_flow(db_url, json.loads(path.read_text()))
    for i in range(40):
        make_lead(db_url, f"l{i}@example.com", title="VP" if i % 2 else "Dev",
                  consent={"status": "granted"})
    before, leads_before = row_counts(db_url), leads_as_stored(db_url)

    body = {"leads": 500, "days": 30, "seed": 3, "start": START.isoformat(),
            "engagement": {"open": 0.5, "click": 0.3}}
    r = await http.post("/api/flows/trial-nurture/simulate", json=body)
    assert r.status_code == 200, r.text
    result = r.json()
    assert SHAPE <= set(result) and result["leads"] == 500 and result["version"] == 1
    sales = result["handoffs"]["per_team_per_business_day"]["inside-sales"]
    assert sales["capacity"] == 12 and sales["members"] == 1
    again = (await http.post("/api/flows/trial-nurture/simulate", json=body)).json()
    assert without_time(again) == without_time(result)

    for path in SHIPPED:  # every shipped flow, over the real leads (read-only)
        r = await http.post(f"/api/flows/{path.stem}/simulate",
                            json={"leads": "sample", "days": 20, "version": 1})
        assert r.status_code == 200, r.text
        assert r.json()["leads"] == 40 and r.json()["flow_id"] == path.stem

    draft = json.loads((PROJECT_ROOT / "flows" / "webinar-follow-up.json").read_text())
    draft["steps"]["thanks"]["template"] = "case-study"
    r = await http.post("/api/flows/webinar-follow-up/simulate",
                        json={"document": draft, "leads": 200, "days": 10})
    assert r.status_code == 200 and r.json()["version"] is None, r.text

    assert row_counts(db_url) == before, "nothing written: no lead, mail, journey or event"
    assert leads_as_stored(db_url) == leads_before
    assert (await http.get("/api/outbox")).json() == [], "nothing sent"


@pytest.mark.asyncio
async def test_the_api_refuses_bad_input_with_422_and_unknown_flows_with_404(
        http: httpx.AsyncClient, db_url: str) -> None:
    publish_flow(db_url, json.loads((SHIPPED[-1]).read_text()))
    flow_id = SHIPPED[-1].stem
    for body, path in (({"leads": 1_000_000}, "leads"), ({"days": 4000}, "days"),
                       ({"events": [{"type": "x.y", "rate_per_day": -2}]},
                        "events.0.rate_per_day")):
        r = await http.post(f"/api/flows/{flow_id}/simulate", json=body)
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "Invalid" and path in [p["path"] for p in r.json()["problems"]]
    broken = json.loads(SHIPPED[-1].read_text())
    broken["steps"][broken["start"]]["next"] = "nowhere"
    r = await http.post(f"/api/flows/{flow_id}/simulate", json={"document": broken})
    assert r.status_code == 422 and any(p["path"].startswith("document.steps")
                                        for p in r.json()["problems"]), r.text
    r = await http.post("/api/flows/no-such-flow/simulate", json={"leads": 10})
    assert r.status_code == 404
    r = await http.post(f"/api/flows/{flow_id}/simulate", json={"version": 9})
    assert r.status_code == 404
    r = await http.post(f"/api/flows/{flow_id}/simulate", content=b"[1, 2")
    assert r.status_code == 400
    await http.post("/api/reps", json={"id": "ana", "email": "ana@example.com", "name": "Ana"})
    key = (await http.post("/api/keys", json={"role": "sales", "rep_id": "ana"})).json()["key"]
    r = await http.post(f"/api/flows/{flow_id}/simulate", json={"leads": 10},
                        headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 403


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_the_cli_simulates_each_shipped_flow_file(path: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "leadflow.cli", "flows", "simulate", str(path), "--leads", "300",
         "--days", "30", "--seed", "2", "--json"],
        check=False, capture_output=True, text=True, cwd=tmp_path,
        timeout=120,
        env={**__import__("os").environ, "LEADFLOW_HOME": str(tmp_path / "home")})
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["leads"] == 300 and result["seed"] == 2 and SHAPE <= set(result)
    assert result["flow_id"] == path.stem


def test_the_cli_prints_tables_and_refuses_bad_input(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = PROJECT_ROOT / "flows" / "webinar-follow-up.json"
    table = subprocess.run(
        [sys.executable, "-m", "leadflow.cli", "flows", "simulate", str(path), "--leads", "100",
         "--days", "10"], check=False, capture_output=True, text=True, cwd=tmp_path,
        timeout=120,
        env={**__import__("os").environ, "LEADFLOW_HOME": str(tmp_path / "home"),
             "COLUMNS": "160"})
    assert table.returncode == 0, table.stderr
    assert "most common paths" in table.stdout and "await-attendance" in table.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "leadflow.cli", "flows", "simulate", str(path), "--days", "999"],
        check=False, capture_output=True, text=True, cwd=tmp_path,
        timeout=120,
        env={**__import__("os").environ, "LEADFLOW_HOME": str(tmp_path / "home")})
    assert bad.returncode == 2 and "days" in bad.stderr


def test_the_cli_simulates_a_stored_flow_by_id(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "LEADFLOW_HOME": str(tmp_path / "home"), "COLUMNS": "160"}
    env.pop("LEADFLOW_DATABASE_URL", None)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "leadflow.cli", *args], check=False,
                              capture_output=True, text=True, cwd=tmp_path, timeout=120, env=env)

    path = PROJECT_ROOT / "flows" / "webinar-follow-up.json"
    assert cli("flows", "import", str(path), "--publish").returncode == 0
    out = cli("flows", "simulate", "webinar-follow-up", "--leads", "200", "--days", "20",
              "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["version"] == 1
    missing = cli("flows", "simulate", "no-such-flow", "--leads", "10")
    assert missing.returncode == 2 and "no-such-flow" in missing.stderr


def test_a_sampled_lead_s_recent_mails_count_against_the_cap(db_url: str) -> None:
    from leadflow.models import EmailMessage
    from leadflow.usecases.simulation import sample_leads

    lead_id = make_lead(db_url, "busy@example.com", consent={"status": "granted"})
    with session_scope(db_url) as session:
        session.add_all([EmailMessage(send_id=f"earlier-{i}", lead_id=lead_id, status="sent",
                                      sent_at=START - timedelta(days=1)) for i in range(3)])
    with session_scope(db_url) as session:
        seeds = sample_leads(session, 1, START)
    assert len(seeds[0].sent_before) == 3
    req = parse_request({"leads": "sample", "days": 30, "start": START.isoformat()})
    result = run_simulation(MAILS, req, world(), seeds=seeds)
    assert result["emails"]["sent"] == 5, "the earlier mails are not this flow's"
    assert result["emails"]["postponed"] == 2, "the first mail waits for the earlier ones to age"
    assert leads_as_stored(db_url) and row_counts(db_url)["emailmessage"] == 3
