"""Issue 17's "done when", walked through in Chromium against a live `leadflow dev`.

A marketer, with nothing but the studio: creates reps and a team, writes a template and sees it
rendered, draws a flow with the palette and the "+" on each step, publishes it, imports leads
from a CSV file, watches them arrive on the live map and reads why they wait; then creates a
key for a rep. The rep signs in with that key and works the inbox: leads by name, the soonest
SLA first. The API is read only to check what the screens said.
"""

from __future__ import annotations

import re
import uuid

import pytest

from tests.ui.test_screens import ISO_TIMESTAMP, OVERFLOW, write_template
from tests.ui.test_studio import SHOTS, Stack, shot, sign_in

pytestmark = pytest.mark.ui


def _create_rep(page, name: str, email: str) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.get_by_test_id("rep-new").click()
    form = page.get_by_test_id("rep-form")
    form.get_by_label("Name").fill(name)
    form.get_by_label("E-mail").fill(email)
    form.get_by_label("Time zone").select_option("Europe/Berlin")
    page.get_by_test_id("rep-save").click()
    expect(page.get_by_test_id("reps-table")).to_contain_text(name)


def _add_after(page, source: str, kind: str, new_id: str) -> None:  # type: ignore[no-untyped-def]
    """The "+" under a step's "next" handle: a new step of `kind`, connected, opened in the panel."""
    from playwright.sync_api import expect

    item = page.get_by_test_id(f"step-menu-{kind}")
    for _ in range(3):  # a click while the canvas still fits itself (a loaded machine) can miss
        page.get_by_test_id(f"add-after-{source}-next").click()
        try:
            item.wait_for(state="visible", timeout=5000)
            break
        except Exception:  # noqa: BLE001, S112 - the menu did not open: click the "+" again
            continue
    item.click()
    expect(page.get_by_test_id(f"node-{new_id}")).to_be_visible()
    expect(page.locator(f'[data-testid="rf__edge-{source}:next"]')).to_have_count(1)


def test_a_marketer_builds_it_all_in_the_studio_and_a_rep_works_the_inbox(page, browser, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    s = uuid.uuid4().hex[:5]
    rosa, raj, team_name = f"Rosa Walker {s}", f"Raj Walker {s}", f"Walk-through team {s}"

    # 1. Reps and a team that works round the clock (so every SLA runs from now).
    page.goto(stack.base + "/team")
    _create_rep(page, rosa, f"rosa-{s}@example.com")
    _create_rep(page, raj, f"raj-{s}@example.com")
    page.get_by_test_id("team-new").click()
    team = page.get_by_test_id("team-form")
    team.get_by_label("Team name").fill(team_name)
    team.get_by_label(rosa).check()
    team.get_by_label(raj).check()
    team.get_by_label("This team keeps business hours").set_checked(False)
    page.get_by_test_id("team-save").click()
    row = page.get_by_test_id("teams-table").locator("tr", has_text=team_name)
    expect(row).to_contain_text(rosa)
    expect(row).to_contain_text("Round robin")
    shot(page, "50-walk-team")

    # 2. A template, rendered as it is typed.
    template = f"walk-welcome-{s}"
    write_template(page, stack, template, "Welcome aboard, {{ lead.first_name }}", "Your trial at {{ lead.company }} starts today.")
    expect(page.get_by_test_id("tpl-preview-subject")).to_have_text("Welcome aboard, Jamie")
    expect(page.frame_locator("iframe.mail-frame").locator("body")).to_contain_text("Your trial at Example Corp starts today.")
    page.get_by_test_id("tpl-save").click()
    expect(page.get_by_test_id("notice")).to_contain_text("Saved")
    shot(page, "51-walk-template")

    # 3. A flow drawn in the editor: e-mail → hand-off to the team → wait → exit.
    flow_id, flow_name = f"walk-{s}", f"Walk-through welcome {s}"
    page.goto(stack.base + "/flows")
    page.get_by_label("Name", exact=True).fill(flow_name)
    page.get_by_label("Id (lowercase").fill(flow_id)
    page.get_by_test_id("new-flow-create").click()
    page.wait_for_url(f"**/flows/{flow_id}")
    page.get_by_test_id("palette-email").click()
    expect(page.get_by_test_id("node-email")).to_be_visible()
    page.get_by_test_id("field-template").select_option(template)
    expect(page.get_by_test_id("node-email")).to_contain_text("E-mail: Welcome aboard, ‹first name›")
    _add_after(page, "email", "handoff", "handoff")
    team_id = next(t["id"] for t in stack.http.get("/api/teams").json() if t["name"] == team_name)
    page.get_by_test_id("field-team").select_option(team_id)
    panel = page.get_by_test_id("step-panel")
    panel.get_by_label("…or in words").fill("4 hours")
    panel.get_by_label("…or in words").press("Enter")
    expect(page.get_by_test_id("node-handoff")).to_contain_text(f"Hand off to {team_name}, SLA 4 hours")
    _add_after(page, "handoff", "wait", "wait")
    page.get_by_test_id("field-duration-words").fill("2 days")
    page.get_by_test_id("field-duration-words").press("Enter")
    _add_after(page, "wait", "exit", "exit")
    # Every new lead enters it (the flow's settings show when no step is selected).
    page.keyboard.press("Escape")
    if not page.get_by_test_id("flow-settings").is_visible():
        box = page.get_by_test_id("canvas").bounding_box()
        assert box
        page.mouse.click(box["x"] + box["width"] - 40, box["y"] + 40)
    page.get_by_test_id("entry-event").fill("lead.created")
    page.get_by_test_id("entry-event").press("Tab")
    expect(page.get_by_test_id("problem-count")).to_have_text("✓ Valid")
    shot(page, "52-walk-flow")
    page.get_by_test_id("publish-open").click()
    page.get_by_test_id("publish-submit").click()
    expect(page.get_by_test_id("published")).to_contain_text("Published version 1")
    assert stack.http.get(f"/api/flows/{flow_id}/versions/1").json()["document"]["entry"]["event"] == "lead.created"

    # 4. Leads from a CSV file, through the leads page.
    people = [("Ada", "Lovelace"), ("Grace", "Hopper"), ("Alan", "Turing"), ("Edsger", "Dijkstra")]
    csv = "email,first_name,last_name,company,consent_status\n" + "".join(
        f"{f.lower()}-{s}@example.com,{f},{last},Walk {s},granted\n" for f, last in people)
    path = SHOTS.parent / f"walk-{s}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(csv)
    page.goto(stack.base + "/leads")
    page.get_by_label("CSV file to import").set_input_files(str(path))
    expect(page.get_by_test_id("import-report")).to_contain_text("4 created")

    # 5. The live map: the leads arrive at the hand-off, and each says why it waits there.
    page.goto(f"{stack.base}/flows/{flow_id}/live")
    expect(page.get_by_test_id("waiting-handoff")).to_contain_text("4 waiting", timeout=60_000)
    page.get_by_test_id("node-handoff").click()
    waiting = page.get_by_test_id("waiting-leads")
    expect(waiting).to_contain_text("Ada Lovelace")
    expect(waiting).to_contain_text(re.compile(rf"waiting for (Rosa|Raj) Walker {s} to take the lead, SLA due in (3 h 5\d min|4 h)"))
    assert not ISO_TIMESTAMP.search(waiting.inner_text())
    shot(page, "53-walk-live-why")

    # 6. A key for Rosa, made on the keys page.
    page.goto(stack.base + "/keys")
    page.get_by_label("Role").select_option("sales")
    page.get_by_label("Rep", exact=True).select_option(label=rosa)
    page.get_by_label("Label").fill(f"Rosa's laptop {s}")
    page.get_by_test_id("key-create").click()
    created = page.get_by_test_id("key-created")
    expect(created).to_contain_text("lf_")
    rep_key = re.search(r"lf_\S+", created.inner_text())
    assert rep_key, created.inner_text()

    # 7. Rosa signs in with it and works her inbox: names, the soonest SLA first.
    context = browser.new_context(viewport={"width": 390, "height": 844})
    rep_page, errors = sign_in(context, stack.base + "/inbox", rep_key.group(0), "My handoffs")
    open_cards = rep_page.get_by_test_id("inbox-open").locator("li.handoff")
    expect(open_cards.first).to_be_visible(timeout=30_000)
    rosa_id = next(r["id"] for r in stack.http.get("/api/reps").json() if r["name"] == rosa)
    hers = sorted((h for h in stack.http.get("/api/handoffs", params={"rep_id": rosa_id}).json() if h["status"] == "open"),
                  key=lambda h: h["sla_due_at"])
    assert hers, "round robin gave Rosa no lead"
    expect(open_cards).to_have_count(len(hers))
    names = [f"{h['lead']['first_name']} {h['lead']['last_name']}" for h in hers]
    for i, name in enumerate(names):
        expect(open_cards.nth(i)).to_contain_text(name)
        expect(open_cards.nth(i)).to_contain_text(team_name)
        expect(open_cards.nth(i)).to_contain_text(re.compile(r"SLA due in (3 h \d+ min|4 h)"))
    inbox_text = rep_page.get_by_test_id("inbox-open").inner_text()
    raj_id = next(r["id"] for r in stack.http.get("/api/reps").json() if r["name"] == raj)
    for raw_id in (rosa_id, raj_id, team_id, flow_id):  # people, the team and the flow by name only
        assert raw_id not in inbox_text, (raw_id, inbox_text)
    expect(open_cards.first).to_contain_text(f"from {flow_name}")
    expect(open_cards.first).to_contain_text(f"next available after {raj}")
    assert not ISO_TIMESTAMP.search(inbox_text)
    assert rep_page.evaluate(OVERFLOW) == []
    shot(rep_page, "54-walk-rep-inbox-390")

    first = hers[0]
    rep_page.get_by_test_id(f"accept-{first['id']}").click()
    working = rep_page.get_by_test_id("inbox-working")
    expect(working.get_by_test_id(f"handoff-{first['id']}")).to_contain_text(names[0])
    expect(working.get_by_test_id(f"reject-{first['id']}")).to_have_count(0)
    expect(open_cards).to_have_count(len(hers) - 1)
    shot(rep_page, "55-walk-rep-accepted")
    context.close()
    assert not errors, f"uncaught errors in the rep's page: {errors}"

    # 8. Back on the live map, the accepted lead has moved on to the wait, and says until when.
    page.goto(f"{stack.base}/flows/{flow_id}/live")
    expect(page.get_by_test_id("waiting-wait")).to_contain_text("1 waiting", timeout=60_000)
    expect(page.get_by_test_id("waiting-handoff")).to_contain_text("3 waiting")
    page.get_by_test_id("node-wait").click()
    expect(page.get_by_test_id(f"why-{first['lead_id']}")).to_contain_text(re.compile(r"waiting until \w+ \d\d:\d\d"))
    shot(page, "56-walk-live-moved")
