"""The studio's controls for a flow with leads in it, in Chromium against a live `leadflow dev`:
migrate waiting leads (step map, preview table and canvas, progress), take one lead out of a
flow on its page, pause/resume/stop with confirmations that count the leads they touch."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.ui.test_studio import Stack, browser, page, shot, stack  # noqa: F401 - fixtures

pytestmark = pytest.mark.ui


def _eventually(fetch: Any, ok: Any, what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if ok(value):
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {value!r}"
        time.sleep(0.3)


def _flow(flow_id: str, wait_step: str) -> dict[str, Any]:
    return {"id": flow_id, "name": "Migrate me", "start": "hello", "steps": {
        "hello": {"type": "email", "template": "trial-welcome", "next": wait_step},
        wait_step: {"type": "wait", "duration": "P3D", "next": "end"},
        "end": {"type": "exit"}}}


def test_migrate_waiting_leads_exit_one_and_pause_resume_stop(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from playwright.sync_api import expect

    http = stack.http
    flow_id = f"mig-{uuid.uuid4().hex[:8]}"
    assert http.post("/api/flows", json=_flow(flow_id, "wait-a")).status_code == 201
    assert http.post(f"/api/flows/{flow_id}/publish").status_code == 201
    leads = []
    for i in range(3):
        made = http.post("/api/leads", json={
            "email": f"{flow_id}-{i}@example.com", "first_name": f"Lead{i}",
            "consent": {"status": "granted", "source": "test"}})
        assert made.status_code in (200, 201), made.text
        leads.append(made.json()["id"])
        assert http.post(f"/api/flows/{flow_id}/enroll", json={"lead_id": leads[-1]}).status_code == 201
    _eventually(lambda: http.get(f"/api/flows/{flow_id}/stats").json()["steps"]["wait-a"]["waiting"],
                lambda n: n == 3, "3 leads waiting")
    assert http.put(f"/api/flows/{flow_id}", json=_flow(flow_id, "pause-a")).status_code == 200
    assert http.post(f"/api/flows/{flow_id}/publish").status_code == 201

    # the panel: wait-a is gone in v2, so the map asks for a step and nothing can move yet
    page.goto(f"{stack.base}/flows/{flow_id}/migrate")
    expect(page.get_by_test_id("migrate-panel")).to_be_visible()
    expect(page.get_by_test_id("migrate-problems")).to_contain_text("wait-a")
    expect(page.get_by_test_id("migrate-start")).to_be_disabled()
    page.get_by_test_id("map-wait-a").select_option("pause-a")
    expect(page.get_by_test_id("move-wait-a")).to_contain_text("pause-a")
    expect(page.get_by_test_id("move-wait-a")).to_contain_text("3")
    expect(page.get_by_test_id("migrate-summary")).to_contain_text("3 leads would move")
    expect(page.get_by_test_id("waiting-pause-a")).to_contain_text("3 waiting")
    shot(page, "30-migrate-preview")
    page.get_by_test_id("migrate-start").click()
    expect(page.get_by_test_id("confirm-migrate")).to_contain_text("3 leads")
    page.get_by_test_id("confirm-migrate-confirm").click()
    expect(page.get_by_test_id("migrate-report")).to_contain_text("Done: 3 moved, 0 skipped, 0 failed",
                                                                  timeout=60_000)
    shot(page, "31-migrate-done")
    assert {j["version"] for lead in leads
            for j in http.get(f"/api/leads/{lead}").json()["flows"]} == {2}

    # one lead out of the flow, from its page
    page.goto(f"{stack.base}/leads/{leads[0]}")
    page.get_by_test_id(f"exit-{flow_id}").click()
    expect(page.get_by_test_id("confirm-exit")).to_contain_text("Lead0")
    page.get_by_test_id("confirm-exit-confirm").click()
    _eventually(lambda: http.get(f"/api/leads/{leads[0]}").json()["flows"][0]["status"],
                lambda s: s == "exited", "the lead to leave")

    # pause, resume, stop: each confirmation counts the leads it touches
    page.goto(f"{stack.base}/flows/{flow_id}/versions")
    expect(page.get_by_test_id("pin-v2-trial-welcome")).to_contain_text("as now")
    page.get_by_test_id("flow-pause").click()
    expect(page.get_by_test_id("confirm-pause")).to_contain_text("2 leads")
    page.get_by_test_id("confirm-pause-confirm").click()
    expect(page.get_by_test_id("flow-state")).to_have_text("paused")
    page.get_by_test_id("flow-resume").click()
    page.get_by_test_id("confirm-resume-confirm").click()
    expect(page.get_by_test_id("flow-state")).to_have_text("active")
    page.get_by_test_id("flow-stop").click()
    expect(page.get_by_test_id("confirm-stop")).to_contain_text("2 leads")
    shot(page, "32-stop-confirm")
    page.get_by_test_id("confirm-stop-confirm").click()
    expect(page.get_by_test_id("flow-state")).to_have_text("stopped")
    _eventually(lambda: [http.get(f"/api/leads/{lead}").json()["flows"][0]["status"] for lead in leads[1:]],
                lambda s: s == ["exited", "exited"], "every lead to leave")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{stack.base}/flows/{flow_id}/migrate")
    expect(page.get_by_test_id("migrate-no-source")).to_be_visible()  # every lead left
    expect(page.get_by_test_id("migrate-start")).to_be_disabled()
    shot(page, "33-migrate-narrow")
