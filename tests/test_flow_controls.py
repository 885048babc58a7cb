"""Pause, resume, stop, exit one lead, and templates pinned with the versions that use them."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from leadflow.db import session_scope
from leadflow.models import Flow
from tests.helpers import enrol_lead, eventually, journey, make_lead, publish_flow, sent_mails
from tests.test_migrations_live import GRANTED, stack

pytestmark = pytest.mark.asyncio(loop_scope="session")

SLOW: dict[str, Any] = {
    "id": "slow",
    "name": "Slow",
    "start": "wait",
    "steps": {
        "wait": {"type": "wait", "duration": "PT1S", "next": "hello"},
        "hello": {"type": "email", "template": "trial-welcome", "next": "later"},
        "later": {"type": "wait", "duration": "P30D", "next": "end"},
        "end": {"type": "exit"},
    },
}


async def test_pause_holds_the_next_send_until_resumed(
        dev_env: WorkflowEnvironment, db_url: str, task_queue: str) -> None:
    publish_flow(db_url, SLOW)
    lead = make_lead(db_url, consent=GRANTED)
    other = make_lead(db_url, "bo@example.com", consent=GRANTED)
    async with stack(dev_env, db_url, task_queue) as (api, key):
        jid = await enrol_lead(dev_env.client, db_url, "slow", lead)
        paused = await api.post("/api/flows/slow/pause", headers=key)
        assert paused.status_code == 200 and paused.json()["state"] == "paused"
        assert paused.json()["running"] == 1
        refused = await api.post("/api/flows/slow/enroll", headers=key, json={"lead_id": other})
        assert refused.status_code == 409, "a paused flow enrols nobody"

        async def held() -> bool:
            stats = (await api.get("/api/flows/slow/stats", headers=key)).json()
            return stats["steps"]["hello"]["held"]["paused"] == 1
        await eventually_true(held)
        stats = (await api.get("/api/flows/slow/stats", headers=key)).json()
        assert stats["steps"]["hello"]["held"] == {"paused": 1, "send_window": 0,
                                                   "frequency_cap": 0, "consent": 0}
        assert sent_mails(db_url, lead) == []
        state = (await api.get("/api/flows/slow/state", headers=key)).json()
        assert state == {"flow_id": "slow", "state": "paused", "running": 1, "held": 1}

        resumed = await api.post("/api/flows/slow/resume", headers=key)
        assert resumed.status_code == 200 and resumed.json()["state"] == "active"
        await eventually(lambda: sent_mails(db_url, lead), what="the held mail")
        await eventually(lambda: journey(db_url, jid).current_step == "later", what="next wait")
        stats = (await api.get("/api/flows/slow/stats", headers=key)).json()
        assert stats["steps"]["hello"]["held"]["paused"] == 0


async def eventually_true(check: Any, timeout: float = 20) -> None:
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_stop_exits_every_journey_and_enrols_nobody_until_published_again(
        dev_env: WorkflowEnvironment, db_url: str, task_queue: str) -> None:
    publish_flow(db_url, SLOW)
    leads = [make_lead(db_url, f"l{i}@example.com", consent=GRANTED) for i in range(3)]
    async with stack(dev_env, db_url, task_queue) as (api, key):
        jids = [await enrol_lead(dev_env.client, db_url, "slow", lead) for lead in leads]
        stopped = await api.post("/api/flows/slow/stop", headers=key)
        assert stopped.status_code == 200 and stopped.json()["running"] == 3
        for jid in jids:
            await eventually(lambda jid=jid: journey(db_url, jid).status == "exited")
            assert journey(db_url, jid).exit_reason == "stopped"
        lead = (await api.get(f"/api/leads/{leads[0]}", headers=key)).json()
        assert lead["flows"][0]["status"] == "exited"
        again = await api.post("/api/flows/slow/enroll", headers=key, json={"lead_id": leads[0]})
        assert again.status_code == 409
        assert (await api.post("/api/flows/slow/resume", headers=key)).status_code == 409
        assert (await api.post("/api/flows/slow/publish", headers=key)).status_code == 201
        with session_scope(db_url) as session:
            flow = session.get(Flow, "slow")
            assert flow is not None and flow.state == "active"
        assert (await api.post("/api/flows/slow/enroll", headers=key,
                               json={"lead_id": leads[0]})).status_code == 201


async def test_exit_one_lead_from_one_flow(dev_env: WorkflowEnvironment, db_url: str,
                                           task_queue: str) -> None:
    publish_flow(db_url, SLOW)
    lead, stays = make_lead(db_url, consent=GRANTED), make_lead(db_url, "st@example.com")
    async with stack(dev_env, db_url, task_queue) as (api, key):
        jid = await enrol_lead(dev_env.client, db_url, "slow", lead)
        kept = await enrol_lead(dev_env.client, db_url, "slow", stays)
        out = await api.post(f"/api/leads/{lead}/flows/slow/exit", headers=key)
        assert out.status_code == 200, out.text
        await eventually(lambda: journey(db_url, jid).status == "exited")
        assert journey(db_url, jid).exit_reason == "manual"
        assert journey(db_url, kept).status == "running"
        again = await api.post(f"/api/leads/{lead}/flows/slow/exit", headers=key)
        assert again.status_code == 404 and again.json()["error"] == "NotFound"
        assert (await api.post("/api/leads/nobody/flows/slow/exit", headers=key)).status_code == 404


PINNED: dict[str, Any] = {
    "id": "pinned",
    "name": "Pinned",
    "start": "hello",
    "steps": {
        "hello": {"type": "email", "template": "pin-me", "next": "end"},
        "end": {"type": "exit"},
    },
}


def template(subject: str) -> dict[str, str]:
    return {"subject": subject, "html": "{% extends '_layout.html.j2' %}{% block body %}"
            f"<p>{subject}</p>{{% endblock %}}", "text": f"{subject} {{{{ unsubscribe_url }}}}"}


async def test_a_template_edit_reaches_only_versions_published_after_it(
        dev_env: WorkflowEnvironment, db_url: str, task_queue: str) -> None:
    first, second = make_lead(db_url, consent=GRANTED), make_lead(db_url, "b@example.com",
                                                                  consent=GRANTED)
    async with stack(dev_env, db_url, task_queue) as (api, key):
        saved = await api.put("/api/templates/pin-me", headers=key, json=template("Old words"))
        assert saved.status_code == 200, saved.text
        publish_flow(db_url, PINNED)
        edited = await api.put("/api/templates/pin-me", headers=key, json=template("New words"))
        assert edited.status_code == 200
        await enrol_lead(dev_env.client, db_url, "pinned", first)  # on version 1
        await eventually(lambda: sent_mails(db_url, first), what="version 1's mail")
        publish_flow(db_url, PINNED)
        await enrol_lead(dev_env.client, db_url, "pinned", second)  # on version 2
        await eventually(lambda: sent_mails(db_url, second), what="version 2's mail")
        shown = (await api.get("/api/templates/pin-me", headers=key)).json()
        listed = (await api.get("/api/flows/pinned/versions", headers=key)).json()
    assert [v["templates"][0]["current"] for v in listed] == [False, True]
    assert sent_mails(db_url, first)[0].subject == "Old words"
    assert "Old words" in (sent_mails(db_url, first)[0].text or "")
    assert sent_mails(db_url, second)[0].subject == "New words"
    versions = {v["version"]: v for v in shown["versions"]}
    assert versions[1]["current"] is False and versions[2]["current"] is True
    assert versions[2]["hash"] == shown["hash"] != versions[1]["hash"]


async def test_a_send_held_by_the_frequency_cap_shows_as_held(
        dev_env: WorkflowEnvironment, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from leadflow.config import reset_settings

    monkeypatch.setenv("LEADFLOW_FREQUENCY_CAP", "1")
    reset_settings()
    publish_flow(db_url, {"id": "twice", "name": "Twice", "start": "one", "steps": {
        "one": {"type": "email", "template": "trial-welcome", "next": "two"},
        "two": {"type": "email", "template": "trial-tips", "next": "end"},
        "end": {"type": "exit"}}})
    lead = make_lead(db_url, consent=GRANTED)
    async with stack(dev_env, db_url, task_queue) as (api, key):
        await enrol_lead(dev_env.client, db_url, "twice", lead)

        async def held() -> bool:
            stats = (await api.get("/api/flows/twice/stats", headers=key)).json()
            return stats["steps"]["two"]["held"]["frequency_cap"] == 1
        await eventually_true(held)
    assert len(sent_mails(db_url, lead)) == 1


async def test_bad_requests_get_clear_answers(dev_env: WorkflowEnvironment, db_url: str,
                                              task_queue: str) -> None:
    publish_flow(db_url, SLOW)
    async with stack(dev_env, db_url, task_queue) as (api, key):
        for body in ({"to_version": "two"}, {}, {"to_version": 1, "step_map": {"a": 3}},
                     {"to_version": 1, "surprise": True}, {"to_version": 0}):
            answer = await api.post("/api/flows/slow/migrations/preview", headers=key, json=body)
            assert answer.status_code in (400, 422), (body, answer.text)
            assert {"error", "detail"} <= set(answer.json())
        shown = (await api.post("/api/flows/slow/migrations/preview", headers=key,
                                json={"to_version": 1, "timers": "someday"})).json()
        assert [p["path"] for p in shown["problems"]] == ["timers"]
        refused = await api.post("/api/flows/slow/migrations", headers=key,
                                 json={"to_version": 9})
        assert refused.status_code == 422 and refused.json()["problems"][0]["path"] == "to_version"
        for method, path in (("post", "/api/flows/nope/pause"), ("post", "/api/flows/nope/stop"),
                             ("post", "/api/flows/nope/migrations/preview"),
                             ("get", "/api/flows/slow/migrations/unknown")):
            answer = await getattr(api, method)(path, headers=key, **(
                {"json": {"to_version": 1}} if method == "post" else {}))
            assert answer.status_code == 404, (path, answer.text)
        assert (await api.post("/api/flows/slow/pause")).status_code == 401
