"""``/api/scoring`` through the real app, a real worker and the Temporal time-skipping server."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from leadflow.api.main import create_app
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from leadflow.config import reset_settings
from leadflow.db import session_scope
from leadflow.models import Lead, TimelineEntry
from leadflow.scoring.model import DEFAULT_SCORING_MODEL
from leadflow.scoring.service import save_model
from leadflow.temporal import start_rescore_all
from tests.helpers import running_worker
from tests.test_temperature import stop_timers

pytestmark = pytest.mark.asyncio(loop_scope="session")

ADMIN = "test-admin-key"


class Api:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def call(self, method: str, path: str, key: str = ADMIN, **kw: Any) -> httpx.Response:
        return await self.http.request(method, path, headers={"Authorization": f"Bearer {key}"},
                                       **kw)


@pytest_asyncio.fixture(loop_scope="session")
async def api(time_env: WorkflowEnvironment, db_url: str, task_queue: str,
              monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Api]:
    monkeypatch.setenv("LEADFLOW_ADMIN_KEY", ADMIN)
    reset_settings()
    app = create_app(temporal_client=time_env.client)
    async with running_worker(time_env.client, db_url, task_queue):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://test") as http:
            try:
                yield Api(http)
            finally:
                await stop_timers(time_env.client, db_url)


async def make_leads(api: Api, count: int) -> list[str]:
    ids = []
    for n in range(count):
        r = await api.call("POST", "/api/leads", json={"email": f"lead{n}@example.com"})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
        r = await api.call("POST", "/api/events", json={"lead_id": ids[-1], "type": "demo.requested"})
        assert r.status_code == 202, r.text
    return ids


def stored(db_url: str, lead_id: str) -> Lead:
    with session_scope(db_url) as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        return lead


async def test_read_replace_and_version_the_model(api: Api, db_url: str,
                                                  time_env: WorkflowEnvironment) -> None:
    first = (await api.call("GET", "/api/scoring")).json()
    assert (first["version"], first["default"], first["model"]) == (0, True, DEFAULT_SCORING_MODEL)
    [lead_id] = await make_leads(api, 1)
    before = (await api.call("GET", f"/api/leads/{lead_id}")).json()
    assert (before["score"], before["temperature"]) == (40, "warm")
    assert before["score_breakdown"][0]["rule"] == "demo.requested"

    model = copy.deepcopy(DEFAULT_SCORING_MODEL)
    model["behavior"]["demo.requested"] = 70
    r = await api.call("PUT", "/api/scoring", json=model)
    assert r.status_code == 200, r.text
    saved = r.json()
    assert (saved["version"], saved["default"], saved["model"]) == (1, False, model)
    await time_env.client.get_workflow_handle(saved["rescore"]["workflow_id"]).result()

    after = (await api.call("GET", f"/api/leads/{lead_id}")).json()
    assert after["stage"] == "MQL" and stored(db_url, lead_id).score_model_version == 1
    with session_scope(db_url) as session:
        changes = session.exec(select(TimelineEntry).where(
            TimelineEntry.lead_id == lead_id, TimelineEntry.kind == "score",
            TimelineEntry.type == "score.changed")).all()
    # Re-scored at 70 by version 1 (the test server's clock, ahead of ours after earlier tests,
    # may then have let the lead's timer decay it further).
    assert [(c.data["model_version"], c.data["new"]) for c in changes][:2] == [(0, 40), (1, 70)]

    assert (await api.call("GET", "/api/scoring")).json()["version"] == 1
    listed = (await api.call("GET", "/api/scoring/versions")).json()
    assert [(v["version"], v["current"]) for v in listed] == [(1, True), (0, False)]
    assert (await api.call("GET", "/api/scoring/versions/0")).json()["model"] == DEFAULT_SCORING_MODEL
    assert (await api.call("GET", "/api/scoring/versions/7")).status_code == 404


async def test_an_invalid_model_is_refused_with_every_problem(api: Api) -> None:
    bad = {"behavior": {"email.clicked": "five"}, "decay": {"half_life": "soon"},
           "temperature": {"hot": 20, "warm": 30}, "colour": "red"}
    r = await api.call("PUT", "/api/scoring", json=bad)
    assert r.status_code == 422
    body = r.json()
    paths = {p["path"] for p in body["problems"]}
    assert {"behavior.email.clicked", "decay.half_life", "temperature.warm", "colour"} <= paths
    assert all(p["message"].endswith(".") for p in body["problems"])
    assert (await api.call("GET", "/api/scoring")).json()["version"] == 0, "nothing was saved"
    assert len((await api.call("GET", "/api/scoring/versions")).json()) == 1
    assert (await api.call("PUT", "/api/scoring", content=b"{nope")).status_code == 400


async def test_only_marketers_read_or_change_the_model(api: Api) -> None:
    r = await api.call("POST", "/api/reps", json={"id": "rep-1", "email": "rep@example.com",
                                                  "name": "Rep One"})
    assert r.status_code == 201, r.text
    r = await api.call("POST", "/api/keys", json={"role": "sales", "rep_id": "rep-1"})
    assert r.status_code == 201, r.text
    sales = r.json()["key"]
    assert (await api.call("GET", "/api/scoring", key=sales)).status_code == 403
    assert (await api.call("PUT", "/api/scoring", key=sales,
                           json=DEFAULT_SCORING_MODEL)).status_code == 403
    assert (await api.call("GET", "/api/scoring", key="wrong")).status_code == 401


async def test_rescoring_every_lead_goes_in_batches_and_yields_to_a_newer_model(
        api: Api, db_url: str, time_env: WorkflowEnvironment) -> None:
    ids = await make_leads(api, 5)
    model = copy.deepcopy(DEFAULT_SCORING_MODEL)
    model["behavior"]["demo.requested"] = 30
    version = (await api.call("PUT", "/api/scoring", json=model)).json()["version"]
    await time_env.client.get_workflow_handle(f"rescore-all-v{version}").result()
    model["behavior"]["demo.requested"] = 10
    newer = (await api.call("PUT", "/api/scoring", json=model)).json()["version"]
    await time_env.client.get_workflow_handle(f"rescore-all-v{newer}").result()
    assert {stored(db_url, i).score for i in ids} == {10}

    with session_scope(db_url) as session:
        model["behavior"]["demo.requested"] = 15
        older = save_model(session, model).version
        model["behavior"]["demo.requested"] = 20
        latest = save_model(session, model).version
    # A job for an older version stops at once: the newer model's job owns the leads.
    stale = await start_rescore_all(time_env.client, older, batch_size=2)
    stale_result = await time_env.client.get_workflow_handle(stale).result()
    assert (stale_result["done"], stale_result["superseded"]) == (0, True)
    assert {stored(db_url, i).score for i in ids} == {10}
    small = await start_rescore_all(time_env.client, latest, batch_size=2)
    result = await time_env.client.get_workflow_handle(small).result()
    assert (result["done"], result["superseded"]) == (5, False)
    assert {stored(db_url, i).score for i in ids} == {20}
