"""Closing the loop through the API: rejection reasons as data, recycling after a cooldown,
outcomes (by sales, API and CSV), predictive training, and the reports that use them."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlmodel import select
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from leadflow.auth import create_key
from leadflow.config import reset_settings
from leadflow.db import session_scope
from leadflow.models import Handoff, Journey, Lead, utcnow
from leadflow.scoring.service import save_model
from tests.handoff_support import rep, seed_team
from tests.helpers import ADMIN, bearer, eventually, publish_flow, running_worker
from tests.synthetic_outcomes import POINTS_MODEL, generate

pytestmark = pytest.mark.asyncio(loop_scope="session")

RECYCLE_FLOW = {"id": "win-back", "name": "Win back", "start": "tag",
                "steps": {"tag": {"type": "update", "add_tags": ["recycled-in"], "next": "end"},
                          "end": {"type": "exit"}}}



def seed(db_url: str) -> dict[str, str]:
    """Two handed-over leads (ann's and bob's) and a key for each role."""
    seed_team(db_url, [rep("ann"), rep("bob")])
    now = utcnow()
    with session_scope(db_url) as session:
        for rep_id, source in (("ann", "partner"), ("bob", "ads")):
            session.add(Lead(id=f"lead-{rep_id}", email=f"{rep_id}-lead@example.com",
                             stage="MQL", source=source))
            session.add(Handoff(id=f"h-{rep_id}", lead_id=f"lead-{rep_id}", team="inside",
                                rep_id=rep_id, sla="PT4H", created_at=now, flow_id="to-sales",
                                sla_due_at=now + timedelta(hours=4)))
        return {"marketer": create_key(session, role="marketer"),
                "ann": create_key(session, role="sales", rep_id="ann"),
                "bob": create_key(session, role="sales", rep_id="bob")}


async def test_rejection_reasons_are_a_list_every_role_reads_and_admins_keep(
        api: httpx.AsyncClient, db_url: str) -> None:
    k = seed(db_url)
    listed = await api.get("/api/settings/rejection-reasons", headers=bearer(k["ann"]))
    assert listed.status_code == 200
    ids = [r["id"] for r in listed.json()]
    assert ids == ["not-a-fit", "bad-timing", "no-budget", "wrong-contact", "duplicate",
                   "bad-data", "not-worked"]
    assert (await api.put("/api/settings/rejection-reasons", headers=bearer(k["marketer"]),
                          json=[])).status_code == 403

    bad = await api.put("/api/settings/rejection-reasons", headers=bearer(ADMIN), json=[
        {"id": "Not A Slug", "label": "x"},
        {"id": "later", "label": "Later", "outcome": "recycle", "recycle_flow": "ghost",
         "cooldown": "soon"},
        {"id": "dup", "label": "One", "outcome": "maybe"},
        {"id": "dup", "label": "Two"}])
    assert bad.status_code == 422
    paths = {p["path"] for p in bad.json()["problems"]}
    assert {"0.id", "1.cooldown", "2.outcome", "3.id"} <= paths
    assert (await api.get("/api/settings/rejection-reasons",
                          headers=bearer(ADMIN))).json()[0]["id"] == "not-a-fit"  # unchanged

    publish_flow(db_url, RECYCLE_FLOW)
    saved = await api.put("/api/settings/rejection-reasons", headers=bearer(ADMIN), json=[
        {"id": "later", "label": "Ask again later", "outcome": "recycle",
         "recycle_flow": "win-back", "cooldown": "P30D"},
        {"id": "junk", "label": "Junk", "outcome": "exclude"}])
    assert saved.status_code == 200, saved.text
    assert [r["id"] for r in saved.json()] == ["later", "junk"]


async def test_a_reject_needs_a_known_reason_and_keeps_its_note(
        api: httpx.AsyncClient, db_url: str) -> None:
    k = seed(db_url)
    missing = await api.post("/api/handoffs/h-bob/reject", headers=bearer(k["bob"]), json={})
    assert missing.status_code == 422
    assert "not-a-fit" in missing.json()["detail"]
    unknown = await api.post("/api/handoffs/h-bob/reject", headers=bearer(k["bob"]),
                             json={"reason": "the moon"})
    assert unknown.status_code == 422 and unknown.json()["problems"][0]["path"] == "reason"
    with session_scope(db_url) as session:
        assert session.get(Handoff, "h-bob").status == "open"  # nothing half-written

    done = await api.post("/api/handoffs/h-bob/reject", headers=bearer(k["bob"]),
                          json={"reason": "not-a-fit", "note": "a student project"})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["rejection_reason_id"] == "not-a-fit"
    assert body["rejection_reason"] == "Not a fit"
    assert body["rejection_note"] == "a student project"
    # A label still names its reason (integrations written before reasons were data).
    assert (await api.post("/api/handoffs/h-ann/reject", headers=bearer(k["ann"]),
                           json={"reason": "Duplicate"})).json()["rejection_reason_id"] == \
        "duplicate"


async def test_a_recycle_reason_enrols_the_lead_in_its_flow_after_the_cooldown(
        api: httpx.AsyncClient, time_env: WorkflowEnvironment, db_url: str,
        task_queue: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADFLOW_TASK_QUEUE", task_queue)
    reset_settings()
    k = seed(db_url)
    publish_flow(db_url, RECYCLE_FLOW)
    assert (await api.put("/api/settings/rejection-reasons", headers=bearer(ADMIN), json=[
        {"id": "later", "label": "Ask again later", "outcome": "recycle",
         "recycle_flow": "win-back", "cooldown": "P30D"}])).status_code == 200
    async with running_worker(time_env.client, db_url, task_queue):
        rejected = await api.post("/api/handoffs/h-bob/reject", headers=bearer(k["bob"]),
                                  json={"reason": "later"})
        assert rejected.status_code == 200, rejected.text
        with session_scope(db_url) as session:
            assert session.get(Lead, "lead-bob").stage == "recycled"
            assert not session.exec(select(Journey).where(Journey.flow_id == "win-back")).all()
        # The reject answers once its intents are stored; the timer starts in the background.
        async def started() -> bool:
            try:
                await time_env.client.get_workflow_handle("recycle-h-bob").describe()
            except RPCError:
                return False
            return True

        deadline = asyncio.get_running_loop().time() + 15
        while not await started():
            assert asyncio.get_running_loop().time() < deadline, "the recycle timer never started"
            await asyncio.sleep(0.05)
        await time_env.sleep(timedelta(days=29))
        with session_scope(db_url) as session:  # still resting
            assert not session.exec(select(Journey).where(Journey.flow_id == "win-back")).all()
        await time_env.sleep(timedelta(days=2))

        def enrolled() -> Lead | None:
            with session_scope(db_url) as session:
                lead = session.get(Lead, "lead-bob")
                return lead if lead and "recycled-in" in (lead.tags or []) else None

        await eventually(enrolled, what="the recycled lead to run the win-back flow")
    timeline = (await api.get("/api/leads/lead-bob/timeline", headers=bearer(ADMIN))).json()
    assert "recycle.enrolled" in [t["type"] for t in timeline]


async def test_outcomes_move_the_stage_show_on_the_timeline_and_respect_ownership(
        api: httpx.AsyncClient, db_url: str) -> None:
    k = seed(db_url)
    with session_scope(db_url) as session:
        session.get(Lead, "lead-ann").stage = "SQL"
    won = await api.post("/api/leads/lead-ann/outcome", headers=bearer(k["ann"]),
                         json={"outcome": "won", "amount": 12000, "currency": "eur"})
    assert won.status_code == 201, won.text
    assert won.json()["stage"] == "customer" and won.json()["currency"] == "EUR"
    assert (await api.post("/api/leads/lead-ann/outcome", headers=bearer(k["bob"]),
                           json={"outcome": "lost"})).status_code == 403
    for bad in ({"outcome": "maybe"}, {"outcome": "won", "amount": -5},
                {"outcome": "won", "currency": "euros"}):
        assert (await api.post("/api/leads/lead-ann/outcome", headers=bearer(k["marketer"]),
                               json=bad)).status_code == 422, bad
    assert (await api.post("/api/leads/nobody/outcome", headers=bearer(k["marketer"]),
                           json={"outcome": "lost"})).status_code == 404
    timeline = (await api.get("/api/leads/lead-ann/timeline", headers=bearer(ADMIN))).json()
    types = [t["type"] for t in timeline]
    assert "outcome.won" in types and "stage.changed" in types
    listed = (await api.get("/api/leads/lead-ann/outcomes", headers=bearer(k["ann"]))).json()
    assert [(o["outcome"], o["amount"]) for o in listed] == [("won", 12000)]


async def test_outcomes_from_a_csv_report_every_bad_row(api: httpx.AsyncClient,
                                                        db_url: str) -> None:
    k = seed(db_url)
    csv_text = ("email,outcome,amount,currency\n"
                "ann-lead@example.com,won,5000,USD\n"
                "bob-lead@example.com,opportunity,,\n"
                "ghost@example.com,won,1,USD\n"
                "ann-lead@example.com,maybe,,\n")
    report = await api.post("/api/outcomes/import", headers={**bearer(k["marketer"]),
                                                             "Content-Type": "text/csv"},
                            content=csv_text)
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["recorded"] == 2 and body["rejected_count"] == 2
    assert [r["row"] for r in body["rejected"]] == [4, 5]
    no_header = await api.post("/api/outcomes/import", headers={**bearer(k["marketer"]),
                                                                "Content-Type": "text/csv"},
                               content="a,b\n1,2\n")
    assert no_header.status_code == 422


async def test_source_report_shows_revenue_and_rejections_by_source(
        api: httpx.AsyncClient, db_url: str) -> None:
    k = seed(db_url)
    await api.post("/api/leads/lead-ann/outcome", headers=bearer(k["marketer"]),
                   json={"outcome": "won", "amount": 9000, "currency": "EUR"})
    await api.post("/api/handoffs/h-bob/reject", headers=bearer(k["bob"]),
                   json={"reason": "not-a-fit"})
    sources = (await api.get("/api/reports/sources", headers=bearer(k["marketer"]))).json()
    partner = next(s for s in sources["sources"] if s["source"] == "partner")
    assert partner["won"] == 1 and partner["revenue"] == 9000
    assert partner["revenue_per_lead"] == 9000 and sources["currency"] == "EUR"
    assert sources["sources"][0]["source"] == "partner"  # the most valuable first
    csv_text = (await api.get("/api/reports/sources?format=csv",
                              headers=bearer(k["marketer"]))).text
    assert csv_text.splitlines()[0].startswith("source,leads,MQL,SAL,SQL")
    rejections = (await api.get("/api/reports/rejections",
                                headers=bearer(k["marketer"]))).json()
    assert rejections["reasons"][0]["id"] == "not-a-fit"
    assert rejections["by_source"] == [{"source": "ads", "total": 1,
                                        "reasons": {"not-a-fit": 1}}]
    assert rejections["by_flow"][0]["flow_id"] == "to-sales"
    assert (await api.get("/api/reports/sources?from=tomorrow",
                          headers=bearer(k["marketer"]))).status_code == 422


async def test_training_through_the_api_promotes_and_explains(api: httpx.AsyncClient,
                                                              db_url: str) -> None:
    with session_scope(db_url) as session:
        save_model(session, POINTS_MODEL)
        generate(session, 150, seed=3)
    marketer = bearer(ADMIN)
    assert (await api.get("/api/scoring/predictive", headers=marketer)).status_code == 404
    refused = (await api.post("/api/scoring/predictive/train", headers=marketer)).json()
    assert refused["promoted"] is False and "at least 200" in refused["why"]
    with session_scope(db_url) as session:
        generate(session, 1500, seed=4)
    run = await api.post("/api/scoring/predictive/train", headers=marketer)
    assert run.status_code == 200
    body = run.json()
    assert body["promoted"] is True, body["why"]
    assert set(body["metrics"]) >= {"auc", "brier", "calibration_slope", "lift_top_decile",
                                    "baseline_auc"}
    active = (await api.get("/api/scoring/predictive", headers=marketer)).json()
    assert active["id"] == body["id"] and active["features"][0]["label"]
    lead = (await api.get("/api/leads/syn-4-000001", headers=marketer)).json()
    assert 0 < lead["likelihood"] < 1 and lead["likelihood_factors"]
    runs = (await api.get("/api/scoring/predictive/runs", headers=marketer)).json()
    assert [r["promoted"] for r in runs] == [True, False]
    assert (await api.post("/api/scoring/predictive/train", headers=marketer,
                           json={"min_per_class": 3})).status_code == 422
    funnel = (await api.get("/api/reports/funnel/trend?from=2026-01-01&to=2026-12-01&period=month",
                            headers=marketer)).json()
    assert sum(p["mql"] for p in funnel["periods"]) == 1650
    assert all(p["mql_to_sal"] <= p["mql"] for p in funnel["periods"])
