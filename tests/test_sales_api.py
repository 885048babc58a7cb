"""The sales API: reps and teams (admin), handoffs per role, actions, errors, out of office."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from leadflow.auth import create_key
from leadflow.db import session_scope
from leadflow.models import Handoff, Lead, utcnow
from tests.handoff_support import (
    HANDOFF_FLOW,
    OFFICE,
    assignments,
    rep,
    seed_team,
    the_handoff,
    timeline_types,
)
from tests.helpers import (
    ADMIN,
    bearer,
    enrol_lead,
    eventually,
    make_lead,
    publish_flow,
    running_worker,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")



def keys(db_url: str) -> dict[str, str]:
    with session_scope(db_url) as session:
        return {"marketer": create_key(session, role="marketer"),
                "ann": create_key(session, role="sales", rep_id="ann"),
                "bob": create_key(session, role="sales", rep_id="bob")}


def seed_handoffs(db_url: str) -> None:
    """Two open handoffs, one each for ann and bob, without workflows behind them."""
    now = utcnow()
    with session_scope(db_url) as session:
        for rep_id in ("ann", "bob"):
            session.add(Lead(id=f"lead-{rep_id}", email=f"{rep_id}-lead@example.com",
                             score=72, temperature="hot", stage="MQL",
                             score_breakdown=[{"name": "Demo requested", "points": 40}]))
            session.add(Handoff(id=f"h-{rep_id}", lead_id=f"lead-{rep_id}", team="inside",
                                rep_id=rep_id, sla="PT4H", created_at=now,
                                sla_due_at=now + timedelta(hours=4),
                                assignment_reason="round robin"))


async def test_reps_and_teams_admin_only_with_problems(api: httpx.AsyncClient,
                                                       db_url: str) -> None:
    admin = bearer(ADMIN)
    created = await api.post("/api/reps", headers=admin, json={
        "id": "ann", "email": "ann@sales.example.com", "name": "Ann", "timezone": "Europe/Berlin",
        "capacity": 5, "out_of_office": [{"from": "2030-08-03", "to": "2030-08-07"}]})
    assert created.status_code == 201, created.text
    assert (await api.post("/api/reps", headers=admin, json={
        "id": "ann", "email": "x@example.com", "name": "X"})).status_code == 409
    bad = await api.post("/api/reps", headers=admin, json={
        "id": "zed", "email": "nope", "name": "Zed", "timezone": "Mars/Olympus",
        "manager_id": "ghost", "out_of_office": [{"from": "2030-08-07", "to": "2030-08-03"}]})
    assert bad.status_code == 422
    paths = {p["path"] for p in bad.json()["problems"]}
    assert {"email", "timezone", "manager_id", "out_of_office[0]"} <= paths
    assert (await api.get("/api/reps/ghost", headers=admin)).status_code == 404
    assert (await api.put("/api/reps/ghost", headers=admin, json={"name": "G"})).status_code \
        == 404

    team = {"id": "inside", "name": "Inside", "members": ["ann"], "routing": "round_robin",
            "calendar": OFFICE}
    assert (await api.post("/api/teams", headers=admin, json=team)).status_code == 201
    assert (await api.post("/api/teams", headers=admin, json=team)).status_code == 409
    bad = await api.post("/api/teams", headers=admin, json={
        "id": "Bad Id", "name": "B", "members": ["ghost"],
        "routing": {"territory": [{"when": {"field": "country", "op": "eq", "value": "DE"},
                                   "rep": "ghost"}]},
        "calendar": {"timezone": "UTC", "from": "17:00", "to": "09:00", "days": ["funday"]}})
    assert bad.status_code == 422
    paths = {p["path"] for p in bad.json()["problems"]}
    assert {"id", "members[0]", "routing.territory[0].rep", "calendar.to",
            "calendar.days[0]"} <= paths
    updated = await api.put("/api/teams/inside", headers=admin, json={"name": "Inside sales"})
    assert updated.status_code == 200 and updated.json()["members"] == ["ann"]
    assert (await api.get("/api/teams/nope", headers=admin)).status_code == 404

    marketer = keys_for_marketer(db_url)
    # marketers read reps and teams (handoff steps name them) but only an admin changes them
    assert (await api.get("/api/reps", headers=bearer(marketer))).status_code == 200
    assert (await api.post("/api/reps", headers=bearer(marketer),
                           json={"id": "zed", "email": "z@example.com", "name": "Zed"})).status_code == 403


def keys_for_marketer(db_url: str) -> str:
    with session_scope(db_url) as session:
        return create_key(session, role="marketer")


async def test_sales_sees_and_acts_on_own_handoffs_only(api: httpx.AsyncClient,
                                                        db_url: str) -> None:
    seed_team(db_url, [rep("ann"), rep("bob")])
    seed_handoffs(db_url)
    k = keys(db_url)
    everything = await api.get("/api/handoffs", headers=bearer(k["marketer"]))
    assert {h["id"] for h in everything.json()} == {"h-ann", "h-bob"}
    own = (await api.get("/api/handoffs?rep_id=bob", headers=bearer(k["ann"]))).json()
    assert own == [], "a sales key never sees another rep's handoffs, whatever it asks"
    mine = (await api.get("/api/handoffs", headers=bearer(k["ann"]))).json()
    assert [h["id"] for h in mine] == ["h-ann"]
    shown = mine[0]
    assert shown["sla_status"] == "on_time" and shown["escalations"] == []
    assert shown["lead"]["temperature"] == "hot" and shown["lead"]["score"] == 72
    assert shown["lead"]["score_breakdown"][0]["name"] == "Demo requested"
    assert shown["assignment_reason"] == "round robin" and shown["sla_due_at"]

    assert (await api.post("/api/handoffs/h-bob/accept",
                           headers=bearer(k["ann"]))).status_code == 403
    assert (await api.get("/api/handoffs/h-bob", headers=bearer(k["ann"]))).status_code == 403
    one = await api.get("/api/handoffs/h-ann", headers=bearer(k["ann"]))
    assert one.status_code == 200 and one.json() == shown, "one handoff reads as listed"
    assert (await api.get("/api/handoffs/h-nope", headers=bearer(k["ann"]))).status_code == 404
    assert (await api.post("/api/handoffs/h-nope/accept",
                           headers=bearer(k["ann"]))).status_code == 404
    assert (await api.post("/api/handoffs/h-ann/accept",
                           headers=bearer(k["marketer"]))).status_code == 403

    accepted = await api.post("/api/handoffs/h-ann/accept", headers=bearer(k["ann"]))
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    assert accepted.json()["sla_status"] == "met"
    assert (await api.post("/api/handoffs/h-ann/accept",
                           headers=bearer(k["ann"]))).status_code == 409
    assert (await api.post("/api/handoffs/h-ann/contacted",
                           headers=bearer(k["ann"]))).status_code == 200
    qualified = await api.post("/api/handoffs/h-ann/qualify", headers=bearer(k["ann"]))
    assert qualified.json()["status"] == "qualified"
    assert (await api.post("/api/handoffs/h-ann/reject", headers=bearer(k["ann"]),
                           json={"reason": "late"})).status_code == 409
    with session_scope(db_url) as session:
        assert session.get(Lead, "lead-ann").stage == "SQL"

    no_reason = await api.post("/api/handoffs/h-bob/reject", headers=bearer(k["bob"]), json={})
    assert no_reason.status_code == 422
    rejected = await api.post("/api/handoffs/h-bob/reject", headers=bearer(k["bob"]),
                              json={"reason": "no budget"})
    assert rejected.json()["status"] == "rejected"
    with session_scope(db_url) as session:
        assert session.get(Lead, "lead-bob").stage == "recycled"
    assert "handoff.rejected" in timeline_types(db_url, "lead-bob")


async def test_going_out_of_office_reassigns_open_handoffs_at_once(
        api: httpx.AsyncClient, time_env: WorkflowEnvironment, db_url: str,
        task_queue: str) -> None:
    seed_team(db_url, [rep("ann"), rep("bob")], calendar={})
    publish_flow(db_url, HANDOFF_FLOW)
    lead_id = make_lead(db_url)
    async with running_worker(time_env.client, db_url, task_queue):
        await enrol_lead(time_env.client, db_url, "to-sales", lead_id)
        h = await eventually(lambda: (x if (x := the_handoff(db_url)) and x.rep_id else None))
        assert h.rep_id == "ann"
        server_now = await time_env.get_current_time()
        away = {"from": (utcnow() - timedelta(days=1)).isoformat(timespec="minutes"),
                "to": (max(server_now, utcnow()) + timedelta(days=30)).isoformat(
                    timespec="minutes")}
        away = {k: v.replace("+00:00", "") for k, v in away.items()}
        put = await api.put("/api/reps/ann", headers=bearer(ADMIN),
                            json={"out_of_office": [away]})
        assert put.status_code == 200, put.text
        assert put.json()["reassigning"] == [h.id]
        moved = await eventually(lambda: (x if (x := the_handoff(db_url)).rep_id == "bob"
                                          else None), what="reassignment to bob")
    assert "ann is out of office" in (moved.assignment_reason or "")
    assert [a.method for a in assignments(db_url, h.id)] == ["round_robin", "out_of_office"]
    assert timeline_types(db_url, lead_id).count("handoff.assigned") == 2

