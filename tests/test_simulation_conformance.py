"""The simulator tells the truth: the same seeded leads walk the same paths and get the same mails
in the simulator as in live journeys on Temporal's time-skipping test server.

Engagement is decided on both sides by :func:`engagement_draw` of the seed and the send id: the
simulator draws it itself, and live a worker interceptor draws it when ``send_email`` has sent a
mail and posts the open and click as the tracking endpoints would (at once: the simulation is
told ``open_after`` and ``click_after`` of zero).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select
from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from leadflow.db import session_scope
from leadflow.dispatch import run_dispatch
from leadflow.models import Handoff, Journey, JourneyStep, Lead, Rep, Team
from leadflow.usecases.events import EventIn, ingest_events
from leadflow.usecases.simulation import (
    engagement_draw,
    load_world,
    parse_request,
    run_simulation,
    sample_leads,
)
from tests.helpers import (
    ended,
    enrol_lead,
    eventually,
    publish_flow,
    running_worker,
    sent_mails,
    set_scoring_model,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

SEED = 11
RATES = {"open": 0.6, "click": 0.35}
MODEL: dict[str, Any] = {  # no decay: live scores at wall-clock time, the journey at its own
    "fit": [{"when": {"field": "title", "op": "eq", "value": "VP"}, "points": 30},
            {"when": {"field": "title", "op": "eq", "value": "Director"}, "points": 10}],
    "behavior": {"email.opened": 1, "email.clicked": 5},
    "temperature": {"hot": 30, "warm": 6},
    "mql_at": 30,
}
FLOW: dict[str, Any] = {
    "id": "conformance",
    "name": "Conformance",
    "start": "welcome",
    "steps": {
        "welcome": {"type": "email", "template": "trial-welcome", "next": "wait-1d"},
        "wait-1d": {"type": "wait", "duration": "P1D", "next": "ab"},
        "ab": {"type": "split", "paths": [{"weight": 60, "next": "route"},
                                          {"weight": 40, "next": "tips"}]},
        "route": {"type": "branch", "on": "temperature", "hot": "vip", "warm": "case-study",
                  "cold": "tips"},
        "case-study": {"type": "email", "template": "case-study", "next": "await-click"},
        "await-click": {"type": "wait_for", "event": "email.clicked", "from_step": "case-study",
                        "timeout": "P3D", "next": "engaged", "on_timeout": "tips"},
        "engaged": {"type": "update", "add_score": 25, "add_tags": ["engaged"],
                    "next": "route"},
        "vip": {"type": "email", "template": "demo-invite", "next": "end"},
        "tips": {"type": "email", "template": "trial-tips", "next": "end"},
        "end": {"type": "exit"},
    },
}


class _Engage(ActivityInboundInterceptor):
    def __init__(self, nxt: ActivityInboundInterceptor, db_url: str, client: Any) -> None:
        super().__init__(nxt)
        self.db_url, self.client = db_url, client

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        result = await super().execute_activity(input)
        if activity.info().activity_type == "send_email" and result.get("status") == "sent":
            inp = input.args[0]
            clicked = engagement_draw(SEED, inp.send_id, "click") < RATES["click"]
            opened = clicked or engagement_draw(SEED, inp.send_id, "open") < RATES["open"]
            kinds = (["email.opened"] if opened else []) + (["email.clicked"] if clicked else [])
            if kinds:
                with session_scope(self.db_url) as session:
                    _, plan = ingest_events(session, [
                        EventIn(id=f"{inp.send_id}.{kind}", lead_id=inp.lead_id, type=kind,
                                properties={"send_id": inp.send_id}) for kind in kinds])
                await run_dispatch(self.client, plan, self.db_url)
        return result


class Engagement(Interceptor):
    """Opens and clicks for each mail the live worker sends, drawn as the simulator draws."""

    def __init__(self, db_url: str, client: Any) -> None:
        self.db_url, self.client = db_url, client

    def intercept_activity(self, next: ActivityInboundInterceptor
                           ) -> ActivityInboundInterceptor:
        return _Engage(next, self.db_url, self.client)


def settled(db_url: str) -> bool:
    """Every journey has ended or sleeps at a wait: nothing is due before time moves on."""
    with session_scope(db_url) as session:
        running = session.exec(select(Journey).where(Journey.status == "running")).all()
    return all(j.current_step and FLOW["steps"][j.current_step]["type"] in ("wait", "wait_for")
               and j.waiting_until is not None for j in running)


def live_walks(db_url: str, lead_ids: list[str]) -> dict[str, tuple[list[str], list[tuple[str, str]]]]:
    out = {}
    with session_scope(db_url) as session:
        for lead_id in lead_ids:
            jid = f"journey-{FLOW['id']}-{lead_id}-1"
            steps = [s.step_id for s in session.exec(
                select(JourneyStep).where(JourneyStep.journey_id == jid)
                .order_by(col(JourneyStep.entered_at), col(JourneyStep.id))).all()]
            mails = [(m.send_id, m.template) for m in sent_mails(db_url, lead_id)]
            out[lead_id] = (steps, sorted(mails))
    return out


async def test_seeded_leads_walk_the_same_paths_live_and_simulated(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str) -> None:
    set_scoring_model(db_url, MODEL)
    publish_flow(db_url, FLOW)
    titles = ["VP", "Director", "Engineer", "Analyst"]
    # Fixed ids: the split and the engagement draws depend on them, so every run walks the
    # same paths (covering every step, clicks and timeouts alike).
    with session_scope(db_url) as session:
        session.add_all([Lead(id=f"conformance-lead-{i:02d}", email=f"c{i}@example.com",
                              title=titles[i % 4], consent={"status": "granted"})
                         for i in range(36)])
    leads = [f"conformance-lead-{i:02d}" for i in range(36)]

    start = datetime.now(UTC)
    simulated: dict[str, tuple[list[str], list[tuple[str, str]]]] = {}
    with session_scope(db_url) as session:
        seeds = sample_leads(session, SEED, start)
        req = parse_request({"leads": "sample", "days": 30, "seed": SEED, "engagement": {
            **RATES, "open_after": "PT0S", "click_after": "PT0S"}})
        result = run_simulation(FLOW, req, load_world(session), seeds=seeds, start=start,
                                trace=lambda lead, steps, mails: simulated.__setitem__(
                                    lead, (list(steps), sorted(mails))))
    assert set(simulated) == set(leads)

    async with running_worker(time_env.client, db_url, task_queue,
                              interceptors=[Engagement(db_url, time_env.client)]):
        jids = [await enrol_lead(time_env.client, db_url, FLOW["id"], lead) for lead in leads]
        for _ in range(12):  # the longest walk takes under five days
            await eventually(lambda: settled(db_url), timeout=60, what="journeys asleep")
            await time_env.sleep(timedelta(hours=12))
        for jid in jids:
            await ended(db_url, jid, timeout=60)
    live = live_walks(db_url, leads)

    for lead in leads:
        assert simulated[lead] == live[lead], f"lead {lead} walked differently"
    paths = {tuple(steps) for steps, _ in live.values()}
    visited = {step for path in paths for step in path}
    assert visited == set(FLOW["steps"]), "the leads exercise every step"
    assert any("engaged" in p for p in paths) and any(
        "await-click" in p and "engaged" not in p for p in paths), "clicks and timeouts"
    assert result["emails"]["sent"] == sum(len(mails) for _, mails in live.values())


ROUTED_FLOW: dict[str, Any] = {
    "id": "conformance-routing",
    "name": "Conformance routing",
    "start": "welcome",
    "steps": {
        "welcome": {"type": "email", "template": "trial-welcome", "next": "to-sales"},
        "to-sales": {"type": "handoff", "team": "emea", "sla": "PT4H", "next": "end"},
        "end": {"type": "exit"},
    },
}
AMERICAS = {"any": [{"field": "country", "op": "in", "value": ["US", "CA"]},
                    {"field": "fields.region", "op": "eq", "value": "americas"}]}


async def test_hand_offs_land_in_the_teams_live_routing_picks(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str) -> None:
    countries = ["DE", "US", "FR", "CA", "DE"]
    with session_scope(db_url) as session:
        session.add_all([Rep(id="eva", email="eva@example.com", name="Eva"),
                         Rep(id="al", email="al@example.com", name="Al")])
        session.add_all([
            Team(id="emea", name="EMEA", members=["eva"], capacity=8,
                 calendar={"timezone": "Europe/Berlin", "days": ["mon", "tue", "wed", "thu",
                                                                 "fri"]},
                 routing={"territory": [{"when": AMERICAS, "team": "amer"}]}),
            Team(id="amer", name="Americas", members=["al"], capacity=3,
                 calendar={"timezone": "America/New_York"})])
        session.add_all([Lead(id=f"routing-lead-{i:02d}", email=f"r{i}@example.com",
                              country=countries[i % 5], consent={"status": "granted"},
                              # a German address run from the Americas desk: routed by a field
                              fields={"region": "americas"} if i % 10 == 4 else {})
                         for i in range(20)])
    publish_flow(db_url, ROUTED_FLOW)  # its hand-off names a team that exists now
    leads = [f"routing-lead-{i:02d}" for i in range(20)]
    # 8 from the US or Canada, 2 Germans of region americas
    expected = {lead: "amer" if i % 5 in (1, 3) or i % 10 == 4 else "emea"
                for i, lead in enumerate(leads)}

    with session_scope(db_url) as session:
        seeds = sample_leads(session, SEED, datetime.now(UTC))
        result = run_simulation(ROUTED_FLOW, parse_request({"leads": "sample", "days": 5,
                                                            "seed": SEED}),
                                load_world(session), seeds=seeds, start=datetime.now(UTC))
    simulated = {team: sum(d["count"] for d in row["days"])
                 for team, row in result["handoffs"]["per_team_per_business_day"].items()}

    async with running_worker(time_env.client, db_url, task_queue):
        for lead in leads:
            await enrol_lead(time_env.client, db_url, ROUTED_FLOW["id"], lead)

        def opened() -> dict[str, str] | None:
            with session_scope(db_url) as session:
                rows = session.exec(select(Handoff.lead_id, Handoff.team)).all()
            return dict(rows) if len(rows) == len(leads) else None

        live = await eventually(opened, timeout=60, what="every lead handed off")
    assert live == expected, "live routing follows the territory rule"
    assert simulated == {"emea": 10, "amer": 10} == {t: list(live.values()).count(t) for t in simulated}
    assert result["handoffs"]["per_team_per_business_day"]["amer"]["capacity"] == 3
