"""The flow editor as a marketer uses it, in Chromium against a live `leadflow dev`: problems
that take you to the field they name, the step menu on each outgoing handle, per-edge shares
on the live map, the publish dialog's word on leads left on older versions, and a canvas that
opens readable at 1024 and 390 px. Fixtures (stack, browser, signed-in page) from test_studio.py.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.ui.test_studio import Stack, _eventually, shot

pytestmark = pytest.mark.ui


def _create(stack: Stack, doc: dict[str, Any], publish: bool = False) -> str:
    created = stack.http.post("/api/flows", params={"allow_invalid": "true"}, json=doc)
    assert created.status_code == 201, created.text
    _eventually(lambda: stack.http.get(f"/api/flows/{doc['id']}").status_code, lambda c: c == 200, "the flow")
    if publish:
        published = stack.http.post(f"/api/flows/{doc['id']}/publish", json={"note": "e2e"})
        assert published.status_code == 201, published.text
    return str(doc["id"])


def test_a_problem_link_opens_the_step_and_focuses_the_field_it_names(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    flow_id = f"focus-{uuid.uuid4().hex[:8]}"
    _create(stack, {
        "id": flow_id, "name": "Focus", "start": "pause",
        "entry": {"event": "form.submitted", "where": {"field": "company", "op": "nope", "value": "x"}},
        "steps": {
            "pause": {"type": "wait", "duration": "P1D", "next": "route"},
            "route": {"type": "branch", "cases": [{"when": {"field": "company", "op": "bogus", "value": "x"},
                                                   "next": "mail"}], "else": "mail"},
            "mail": {"type": "email", "next": "done"},  # no template
            "done": {"type": "exit"},
        }})
    page.goto(f"{stack.base}/flows/{flow_id}")
    expect(page.get_by_test_id("problem-count")).to_have_text("3 problem(s)")
    page.get_by_test_id("tab-problems").click()
    problems = page.get_by_test_id("problem-list")
    # Sentences in words; the path is only the link (its text in words too).
    expect(problems).to_contain_text("An email step needs the name of its template.")
    expect(problems).to_contain_text("The comparison must be one of")
    assert "steps." not in problems.inner_text()
    shot(page, "50-problems-list")

    # The template problem: the e-mail step's panel opens with its template picker focused.
    problems.locator('button[data-path="steps.mail.template"]').click()
    expect(page.get_by_test_id("step-panel")).to_be_visible()
    expect(page.get_by_test_id("step-id")).to_have_value("mail")
    template = page.get_by_test_id("field-template")
    expect(template).to_be_focused()
    expect(page.locator('[data-field="template"]')).to_have_attribute("data-focused", "true")
    shot(page, "51-problem-focused-template")

    # A condition's operator inside a branch case: that select, not just the step.
    page.get_by_test_id("tab-problems").click()
    problems.locator('button[data-path="steps.route.cases[0].when.op"]').click()
    expect(page.get_by_test_id("step-id")).to_have_value("route")
    expect(page.locator('[data-field="cases.0.when.op"]')).to_be_focused()

    # A flow-level problem opens the flow settings at the entry rule's operator.
    page.get_by_test_id("tab-problems").click()
    problems.locator('button[data-path="entry.where.op"]').click()
    expect(page.get_by_test_id("flow-settings")).to_be_visible()
    expect(page.locator('[data-field="entry.where.op"]')).to_be_focused()

    # Picking the template fixes it; the link in the publish dialog focuses the same way.
    page.get_by_test_id("node-mail").click()
    page.get_by_test_id("field-template").select_option("trial-welcome")
    expect(page.get_by_test_id("problem-count")).to_have_text("2 problem(s)")
    page.get_by_test_id("publish-open").click()
    page.get_by_test_id("publish-submit").click()
    page.get_by_test_id("publish-refused").locator('button[data-path="steps.route.cases[0].when.op"]').click()
    expect(page.get_by_test_id("publish-dialog")).to_be_hidden()
    expect(page.locator('[data-field="cases.0.when.op"]')).to_be_focused()


def test_live_map_edges_show_the_share_of_leads_that_took_each_edge(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    """Warm and cold lead to the same split, whose two paths meet again: each edge still shows
    its own share (old behaviour: both edges of a shared target showed the pair's total)."""
    from playwright.sync_api import expect

    flow_id = f"share-{uuid.uuid4().hex[:8]}"
    _create(stack, {"id": flow_id, "name": "Shares", "start": "route", "steps": {
        "route": {"type": "branch", "on": "temperature", "hot": "end", "warm": "ab", "cold": "ab"},
        "ab": {"type": "split", "paths": [{"weight": 50, "next": "end"}, {"weight": 50, "next": "end"}]},
        "end": {"type": "exit"}}}, publish=True)
    for i in range(4):
        lead = stack.http.post("/api/leads", json={"email": f"{flow_id}-{i}@example.com", "first_name": f"L{i}",
                                                   "consent": {"status": "granted", "source": "e2e"}})
        assert lead.status_code == 201, lead.text
        enrolled = stack.http.post(f"/api/flows/{flow_id}/enroll", json={"lead_id": lead.json()["id"]})
        assert enrolled.status_code == 201, enrolled.text
    stats = _eventually(lambda: stack.http.get(f"/api/flows/{flow_id}/stats", params={"version": 1}).json(),
                        lambda s: s["journeys"]["completed"] == 4, "four leads through the flow")
    edges = stats["edges"]
    assert edges["route:cold"] == 4 and "route:warm" not in edges  # new leads are cold
    paths = [edges.get("ab:paths.0", 0), edges.get("ab:paths.1", 0)]
    assert sum(paths) == 4

    page.goto(f"{stack.base}/flows/{flow_id}/live")
    edge = lambda edge_id: page.locator(f'[data-testid="rf__edge-{edge_id}"]')  # noqa: E731
    expect(edge("route:cold")).to_contain_text("cold · 100%")
    expect(edge("route:warm")).to_contain_text("warm · 0%")
    expect(edge("route:hot")).to_contain_text("hot · 0%")
    for i, n in enumerate(paths):
        expect(edge(f"ab:paths.{i}")).to_contain_text(f"{chr(65 + i)} 50% · {round(n * 100 / 4)}%")
    expect(edge("route:cold")).to_have_attribute("aria-label", "route cold to ab: 4 leads, 100%")
    shot(page, "52-live-edge-shares")
