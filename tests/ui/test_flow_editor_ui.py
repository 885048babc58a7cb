"""The flow editor as a marketer uses it, in Chromium against a live `leadflow dev`: problems
that take you to the field they name, the step menu on each outgoing handle, per-edge shares
on the live map, the publish dialog's word on leads left on older versions, and a canvas that
opens readable at 1024 and 390 px. Fixtures (stack, browser, signed-in page) from test_studio.py.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import pytest

from tests.ui.test_screens import OVERFLOW, ZOOM
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
    edge = lambda edge_id: page.locator(f'[data-testid="rf__edge-{edge_id}"]')
    expect(edge("route:cold")).to_contain_text("cold · 100%")
    expect(edge("route:warm")).to_contain_text("warm · 0%")
    expect(edge("route:hot")).to_contain_text("hot · 0%")
    for i, n in enumerate(paths):
        expect(edge(f"ab:paths.{i}")).to_contain_text(f"{chr(65 + i)} 50% · {round(n * 100 / 4)}%")
    expect(edge("route:cold")).to_have_attribute("aria-label", "route cold to ab: 4 leads, 100%")
    shot(page, "52-live-edge-shares")


def _settled(page, test_id: str) -> None:  # type: ignore[no-untyped-def]
    """Wait until the step is laid out and the view has stopped moving (its box holds still)."""
    last = None
    for _ in range(40):
        page.wait_for_timeout(250)
        box = page.get_by_test_id(test_id).bounding_box()
        if box and box == last:
            return
        last = box
    raise AssertionError(f"{test_id} kept moving: {last}")


def _two_steps(stack: Stack, connected: bool = True, publish: bool = False) -> str:
    flow_id = f"menu-{uuid.uuid4().hex[:8]}"
    pause: dict[str, Any] = {"type": "wait", "duration": "P2D"}
    if connected:
        pause["next"] = "done"
    return _create(stack, {"id": flow_id, "name": "Two steps", "start": "pause",
                           "steps": {"pause": pause, "done": {"type": "exit"}}}, publish=publish)


def test_the_plus_on_a_handle_opens_a_step_menu_that_adds_the_next_step(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    flow_id = _two_steps(stack)
    page.goto(f"{stack.base}/flows/{flow_id}")
    plus = page.get_by_test_id("add-after-pause-next")
    expect(plus).to_have_attribute("aria-haspopup", "menu")
    plus.click()
    menu = page.get_by_role("menu", name="Add after pause")
    expect(menu.get_by_role("menuitem")).to_have_count(9)
    # Each type with its icon, name and what it does.
    expect(menu.get_by_test_id("step-menu-wait")).to_contain_text("Wait")
    expect(menu.get_by_test_id("step-menu-wait")).to_contain_text("Pause for a fixed time")
    expect(menu.get_by_test_id("step-menu-email")).to_contain_text("Send one e-mail from a template")
    expect(menu.get_by_test_id("step-menu-email")).to_be_focused()
    shot(page, "53-step-menu-1440")

    # Keyboard: arrows move, End jumps, Escape closes and gives the focus back to the "+".
    page.keyboard.press("ArrowDown")
    expect(menu.get_by_test_id("step-menu-wait")).to_be_focused()
    page.keyboard.press("End")
    expect(menu.get_by_test_id("step-menu-exit")).to_be_focused()
    page.keyboard.press("ArrowDown")  # round to the top
    expect(menu.get_by_test_id("step-menu-email")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_role("menu")).to_have_count(0)
    expect(plus).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.get_by_role("menu")).to_have_count(0)
    expect(page.get_by_test_id("node-wait")).to_be_visible()
    expect(page.locator('[data-testid="rf__edge-pause:next"]')).to_have_count(1)
    expect(page.get_by_test_id("step-panel")).to_be_visible()  # the new step, ready to fill in
    expect(page.get_by_test_id("save-state")).to_have_text("All changes saved")
    saved = _eventually(lambda: stack.http.get(f"/api/flows/{flow_id}").json()["steps"],
                        lambda steps: "wait" in steps, "the new step saved")
    assert saved["pause"]["next"] == "wait" and saved["wait"]["type"] == "wait"

    # At 390 px the menu is a sheet along the bottom, inside the screen, and still adds the step.
    narrow = _two_steps(stack, connected=False)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{stack.base}/flows/{narrow}")
    _settled(page, "node-pause")  # the start step, in view
    shot(page, "54a-editor-390")
    plus = page.get_by_test_id("add-after-pause-next")
    plus.focus()  # from the keyboard, as on a phone with a keyboard or a switch
    page.keyboard.press("Enter")
    menu = page.get_by_test_id("step-menu")
    box = menu.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["y"] + box["height"] <= 844 + 1, box
    assert page.evaluate(OVERFLOW) == []
    shot(page, "54-step-menu-390")
    menu.get_by_test_id("step-menu-email").click()
    expect(page.locator('[data-testid="rf__edge-pause:next"]')).to_have_count(1)
    expect(page.get_by_test_id("node-email")).to_have_count(1)


def test_publishing_says_how_many_leads_stay_on_older_versions_and_links_the_migration(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    flow_id = _two_steps(stack, publish=True)
    lead = stack.http.post("/api/leads", json={"email": f"{flow_id}@example.com", "first_name": "Olga",
                                               "consent": {"status": "granted", "source": "e2e"}})
    assert stack.http.post(f"/api/flows/{flow_id}/enroll", json={"lead_id": lead.json()["id"]}).status_code == 201
    _eventually(lambda: stack.http.get(f"/api/flows/{flow_id}/stats").json()["steps"]["pause"]["waiting"],
                lambda n: n == 1, "the lead waiting")
    page.goto(f"{stack.base}/flows/{flow_id}")
    page.get_by_test_id("node-pause").click()
    page.get_by_test_id("field-duration-words").fill("3 days")
    page.get_by_test_id("field-duration-words").press("Enter")
    banner = page.get_by_test_id("unpublished-banner")
    banner.locator("summary").click()
    expect(banner).to_contain_text("Changed “Wait 2 days” to “Wait 3 days”")

    page.get_by_test_id("publish-open").click()
    older = page.get_by_test_id("publish-older")
    expect(older).to_contain_text("1 lead runs version 1: they stay on it when you publish")
    expect(older.get_by_role("link", name="move them to the new version")).to_have_attribute("href", f"/flows/{flow_id}/migrate")
    shot(page, "55-publish-dialog-older")
    page.get_by_test_id("publish-submit").click()
    done = page.get_by_test_id("published-older")
    expect(done).to_contain_text("1 lead stays on older versions")
    done.get_by_role("link", name="Move them to version 2").click()
    page.wait_for_url(f"**/flows/{flow_id}/migrate")
    expect(page.get_by_test_id("migrate-panel")).to_be_visible()
    expect(page.get_by_test_id("migrate-summary")).to_contain_text("1 lead")


@pytest.mark.parametrize("width", [1024, 390])
def test_the_canvas_opens_at_100_percent_with_the_minimap_out_of_the_way(page, stack: Stack, width: int) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.set_viewport_size({"width": width, "height": 800 if width > 500 else 844})
    small = _two_steps(stack)
    page.goto(f"{stack.base}/flows/{small}")
    expect(page.locator(".react-flow__node")).to_have_count(2)
    _settled(page, "node-done")
    assert page.evaluate(ZOOM % '[data-testid="canvas"]') == 1  # fits: no fit-to-view zoom
    expect(page.locator(".react-flow__minimap")).to_be_hidden()
    shot(page, f"56-canvas-small-{width}")

    # A flow larger than the screen: fitted only while it stays readable, the start step in view.
    long_id = f"long-{uuid.uuid4().hex[:8]}"
    steps: dict[str, Any] = {f"w{i}": {"type": "wait", "duration": "P1D", "next": f"w{i + 1}"} for i in range(11)}
    steps["w11"] = {"type": "exit"}
    _create(stack, {"id": long_id, "name": "Long", "start": "w0", "steps": steps})
    page.goto(f"{stack.base}/flows/{long_id}")
    expect(page.locator(".react-flow__node")).to_have_count(12)
    _settled(page, "node-w0")
    zoom = page.evaluate(ZOOM % '[data-testid="canvas"]')
    assert 0.8 <= zoom <= 1, zoom
    start = page.get_by_test_id("node-w0").bounding_box()
    area = page.get_by_test_id("canvas").bounding_box()
    assert start and area and area["y"] - 1 <= start["y"] and start["y"] + start["height"] <= area["y"] + area["height"] + 1
    expect(page.locator(".react-flow__minimap")).to_be_hidden()
    shot(page, f"57-canvas-long-{width}")


def test_a_connection_dropped_anywhere_on_a_card_connects_to_it(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    flow_id = _two_steps(stack, connected=False)
    page.goto(f"{stack.base}/flows/{flow_id}")
    expect(page.locator(".react-flow__node")).to_have_count(2)
    _settled(page, "node-done")
    handle = page.get_by_test_id("handle-pause-next").bounding_box()
    card = page.get_by_test_id("node-done").bounding_box()
    dot = page.locator('.react-flow__node[data-id="done"] .react-flow__handle.target').bounding_box()
    assert handle and card and dot
    # The far end of the card, beyond the 48 px that snap to the input dot.
    drop = {"x": card["x"] + card["width"] - 12, "y": card["y"] + card["height"] - 6}
    assert math.dist((drop["x"], drop["y"]), (dot["x"] + dot["width"] / 2, dot["y"] + dot["height"] / 2)) > 48
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    page.mouse.move(drop["x"], drop["y"] - 30, steps=8)
    page.mouse.move(drop["x"], drop["y"], steps=4)
    page.mouse.up()
    expect(page.locator('[data-testid="rf__edge-pause:next"]')).to_have_count(1)
    expect(page.get_by_test_id("problem-count")).to_have_text("✓ Valid")  # the wait now leads somewhere
