"""The studio's screens as marketers and reps use them, in Chromium against a live `leadflow dev`.

Every screen is opened at 1440 and 390 px, screenshotted under test-artifacts/screenshots/ and
checked for horizontal overflow. The stack, browser and signed-in page fixtures are the ones of
test_studio.py (one live stack for this module).
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.ui.test_studio import SHOTS, Stack, _eventually

pytestmark = pytest.mark.ui

OVERFLOW = """() => {
  const width = window.innerWidth;
  const wide = [];
  if (document.documentElement.scrollWidth > width) wide.push('document ' + document.documentElement.scrollWidth);
  for (const el of document.querySelectorAll('body *')) {
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height) continue;
    if (el.closest('.react-flow__viewport, .react-flow__minimap, .react-flow__edges, svg, [hidden], details:not([open]) > :not(summary)')) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    // Content inside a scrolling box (a wide table that scrolls) does not widen the page.
    let clipped = false;
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const s = getComputedStyle(p);
      if (['auto', 'scroll', 'hidden', 'clip'].includes(s.overflowX)) { clipped = true; break; }
    }
    if (!clipped && box.right > width + 1) wide.push(el.tagName + '.' + el.className + ' ' + Math.round(box.right));
  }
  return wide.slice(0, 8);
}"""


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def settle(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until no skeleton is left (every list has its first answer)."""
    page.wait_for_load_state("networkidle")
    deadline = time.monotonic() + 15
    while page.locator('[data-testid="skeleton"]').count() and time.monotonic() < deadline:
        time.sleep(0.2)


def _seed(stack: Stack) -> dict[str, str]:
    """A published flow with a lead in it, a rep and a team: every screen has something to show."""
    suffix = uuid.uuid4().hex[:6]
    rep = stack.http.post("/api/reps", json={"id": f"sam-{suffix}", "email": f"sam-{suffix}@example.com",
                                             "name": "Sam Seller", "timezone": "Europe/Berlin"})
    assert rep.status_code == 201, rep.text
    team = stack.http.post("/api/teams", json={"id": f"inside-{suffix}", "name": "Inside sales",
                                               "members": [f"sam-{suffix}"], "routing": "round_robin"})
    assert team.status_code == 201, team.text
    flow_id = f"screens-{suffix}"
    doc = {"id": flow_id, "name": "Screens nurture", "start": "welcome", "steps": {
        "welcome": {"type": "email", "template": "trial-welcome", "next": "pause"},
        "pause": {"type": "wait", "duration": "P2D", "next": "done"},
        "done": {"type": "exit"}}}
    assert stack.http.post("/api/flows", json=doc).status_code == 201
    assert stack.http.post(f"/api/flows/{flow_id}/publish", json={"note": "v1"}).status_code == 201
    lead = stack.http.post("/api/leads", json={
        "email": f"lin-{suffix}@example.com", "first_name": "Lin", "last_name": "Screens", "company": "Acme",
        "consent": {"status": "granted", "source": "e2e", "text_version": "v1"}})
    assert lead.status_code == 201, lead.text
    lead_id = lead.json()["id"]
    assert stack.http.post(f"/api/flows/{flow_id}/enroll", json={"lead_id": lead_id}).status_code == 201
    _eventually(lambda: stack.http.get(f"/api/flows/{flow_id}/stats").json()["steps"]["pause"]["waiting"],
                lambda n: n == 1, "the lead waiting at pause")
    return {"flow": flow_id, "lead": lead_id, "rep": f"sam-{suffix}", "team": f"inside-{suffix}"}


@pytest.fixture(scope="module")
def seeded(stack: Stack) -> dict[str, str]:
    return _seed(stack)


SCREENS = [
    ("flows", "/flows"), ("leads", "/leads"), ("templates", "/templates"),
    ("template-editor", "/templates/trial-welcome"), ("outbox", "/outbox"), ("inbox", "/inbox"),
    ("team", "/team"), ("reports", "/reports"), ("scoring", "/scoring"), ("forms", "/forms"),
    ("keys", "/keys"), ("settings", "/settings"), ("lead", "/leads/{lead}"), ("editor", "/flows/{flow}"),
    ("live", "/flows/{flow}/live"), ("versions", "/flows/{flow}/versions"),
    ("migrate", "/flows/{flow}/migrate"), ("simulate", "/flows/{flow}/simulate"), ("not-found", "/no-such-page"),
]

#: A date as a machine writes it (2026-12-03T07:55:15): the studio says moments in words instead.
ISO_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d")


@pytest.mark.parametrize("width", [1440, 390])
def test_every_screen_fits_the_window(page, stack: Stack, seeded: dict[str, str], width: int) -> None:  # type: ignore[no-untyped-def]
    """Each screen at 1440 and 390 px: nothing wider than the window, no ISO timestamp in the text."""
    page.set_viewport_size({"width": width, "height": 900})
    problems = {}
    timestamps = {}
    for name, path in SCREENS:
        page.goto(stack.base + path.format(**seeded))
        settle(page)
        if width < 900:
            # The navigation is folded into a menu that opens without widening the page.
            page.get_by_test_id("menu-button").click()
            assert page.get_by_role("navigation", name="Main").get_by_role("link", name="Flows").is_visible()
        shot(page, f"30-{name}-{width}")
        wide = page.evaluate(OVERFLOW)
        if wide:
            problems[name] = wide
        if found := ISO_TIMESTAMP.findall(page.locator("body").inner_text()):
            timestamps[name] = found[:3]
    assert not problems, f"elements wider than {width} px: {problems}"
    assert not timestamps, f"ISO timestamps shown instead of words: {timestamps}"


@pytest.mark.parametrize("width", [1440, 390])
def test_signed_out_and_server_down_screens_fit_the_window(browser, stack: Stack, width: int) -> None:  # type: ignore[no-untyped-def]
    """The two screens outside the shell: the sign-in form, and "cannot reach the server"."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(stack.base + "/flows")
    expect(page.get_by_label("API key")).to_be_visible()
    shot(page, f"30-sign-in-{width}")
    assert page.evaluate(OVERFLOW) == []
    page.get_by_label("API key").fill(stack.key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Flows")).to_be_visible()
    page.route("**/api/**", lambda route: route.abort())
    page.reload()
    expect(page.get_by_test_id("server-down")).to_be_visible()
    shot(page, f"30-server-down-{width}")
    assert page.evaluate(OVERFLOW) == []
    context.close()


#: Every screen of the shell, and what its lists answer when there is nothing yet.
EMPTY_ANSWERS = {
    r"/api/flows$": [], r"/api/leads\?.*": {"items": [], "total": 0}, r"/api/templates$": [],
    r"/api/outbox(\?.*)?$": [], r"/api/handoffs(\?.*)?$": [], r"/api/reps$": [], r"/api/teams$": [],
    r"/api/keys$": [], r"/api/forms$": [], r"/api/flows/[^/]+/versions$": [],
}
#: The flow studio's tabs with nothing published: versions, live map and migrate say what to do.
EMPTY_SCREENS = ["/flows", "/leads", "/templates", "/outbox", "/inbox", "/team", "/keys", "/forms",
                 "/flows/{flow}/versions", "/flows/{flow}/live", "/flows/{flow}/migrate", "/flows/{flow}/simulate"]


def test_every_screen_says_when_it_is_loading_failing_or_empty(page, stack: Stack, seeded: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    """While the first answer is on its way: skeletons; when the server cannot be reached: a
    sentence with a retry (and the session stays); when there is nothing yet: what to do."""
    from playwright.sync_api import Error, expect

    api_but_meta = re.compile(r".*/api/(?!meta).*")
    screens = [(name, path.format(**seeded)) for name, path in SCREENS if name != "not-found"]
    slow = []
    for name, path in screens:
        held: list = []
        page.route(api_but_meta, lambda route: held.append(route))
        page.goto(stack.base + path)
        page.wait_for_function("() => document.querySelector('.page')")
        if not page.locator('[data-testid="skeleton"], [role="status"]').first.is_visible():
            slow.append(name)
        shot(page, f"40-loading-{name}")
        for route in held:
            with contextlib.suppress(Error):  # a request the page gave up on is handled already
                route.continue_()
        page.unroute(api_but_meta)
    assert not slow, f"screens with nothing to show while loading: {slow}"

    failing = []
    for name, path in screens:
        page.route(api_but_meta, lambda route: route.abort())
        page.goto(stack.base + path)
        expect(page.get_by_role("navigation", name="Main")).to_be_attached()  # still signed in
        try:
            expect(page.get_by_role("alert").first).to_be_visible(timeout=5000)
        except AssertionError:
            failing.append(name)
        shot(page, f"41-error-{name}")
        page.unroute(api_but_meta)
    assert not failing, f"screens that stay silent when the server cannot be reached: {failing}"

    def empty(route) -> None:  # type: ignore[no-untyped-def]
        path = route.request.url.split(stack.base, 1)[1]
        body = next((b for pattern, b in EMPTY_ANSWERS.items() if re.match(pattern, path)), None)
        if route.request.method == "GET" and body is not None:
            route.fulfill(json=body)
        else:
            route.continue_()

    page.route("**/api/**", empty)
    silent = []
    for path in (p.format(**seeded) for p in EMPTY_SCREENS):
        page.goto(stack.base + path)
        settle(page)
        if not page.get_by_test_id("empty-state").first.is_visible():
            silent.append(path)
        shot(page, f"42-empty-{path.strip('/').replace('/', '-')}")
    page.unroute("**/api/**")
    assert not silent, f"screens without an empty state: {silent}"


def test_a_marketer_sets_up_the_sales_team(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    suffix = uuid.uuid4().hex[:5]
    page.goto(stack.base + "/team")
    page.get_by_test_id("rep-new").click()
    form = page.get_by_test_id("rep-form")
    form.get_by_label("Name").fill(f"Rita Rep {suffix}")
    form.get_by_label("E-mail").fill(f"rita-{suffix}@example.com")
    form.get_by_label("Time zone").select_option("Europe/Berlin")
    page.get_by_test_id("rep-save").click()
    expect(page.get_by_test_id("reps-table")).to_contain_text(f"Rita Rep {suffix}")

    page.get_by_test_id("team-new").click()
    team = page.get_by_test_id("team-form")
    team.get_by_label("Team name").fill(f"EMEA {suffix}")
    team.get_by_label(f"Rita Rep {suffix}").check()
    team.get_by_label("By territory").check()
    team.get_by_role("button", name="Add a rule").click()
    team.get_by_label("Value").fill("DE")
    team.get_by_label("Rep", exact=True).select_option(label=f"Rita Rep {suffix}")
    team.get_by_label("Holidays").fill("2026-12-25")
    page.get_by_test_id("team-save").click()
    row = page.get_by_test_id("teams-table").locator("tr", has_text=f"EMEA {suffix}")
    expect(row).to_contain_text(f"Rita Rep {suffix}")
    expect(row).to_contain_text(f"country eq DE → Rita Rep {suffix}")
    expect(row).to_contain_text("mon, tue, wed, thu, fri 09:00–17:00")
    saved = next(t for t in stack.http.get("/api/teams").json() if t["name"] == f"EMEA {suffix}")
    assert saved["calendar"]["holidays"] == ["2026-12-25"]
    assert saved["routing"]["territory"][0]["when"] == {"field": "country", "op": "eq", "value": "DE"}
    shot(page, "31-team-created")


def write_template(page, stack: Stack, name: str, subject: str, body: str) -> None:  # type: ignore[no-untyped-def]
    """Create template `name` on the templates page and type its subject and body (not saved yet)."""
    page.goto(stack.base + "/templates")
    page.get_by_test_id("new-template-name").fill(name)
    page.get_by_role("button", name="Create").click()
    page.get_by_test_id("tpl-subject").fill(subject)
    html = page.get_by_test_id("tpl-html").input_value().replace("Write your message here.", body)
    page.get_by_test_id("tpl-html").fill(html)


def test_a_template_is_written_previewed_and_sent_to_yourself(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    name = f"hello-{uuid.uuid4().hex[:6]}"
    write_template(page, stack, name, "Hello {{ lead.first_name }}", "Welcome aboard, {{ lead.company }}!")
    # The live preview renders what is typed, for the sample lead.
    expect(page.get_by_test_id("tpl-preview-subject")).to_have_text("Hello Jamie")
    expect(page.frame_locator("iframe.mail-frame").locator("body")).to_contain_text("Welcome aboard, Example Corp!")
    # A mistake is named in a sentence, not a stack trace.
    page.get_by_test_id("tpl-subject").fill("Hello {{ lead.first_name ")
    expect(page.get_by_test_id("tpl-preview-problems")).to_contain_text("subject does not render")
    page.get_by_test_id("tpl-subject").fill("Hello {{ lead.first_name }}")
    page.get_by_test_id("tpl-save").click()
    expect(page.get_by_test_id("notice")).to_contain_text("Saved")
    assert stack.http.get(f"/api/templates/{name}").json()["subject"] == "Hello {{ lead.first_name }}"
    shot(page, "32-template-editor")

    page.get_by_label("Send a test to").fill("me@example.com")
    page.get_by_test_id("tpl-test-send").click()
    expect(page.get_by_test_id("notice")).to_contain_text("Test sent to me@example.com")
    mails = _eventually(lambda: [m for m in stack.http.get("/api/outbox").json() if m["to"] == "me@example.com"],
                        bool, "the test mail")
    assert mails[0]["subject"] == "[Test] Hello Jamie" and mails[0]["lead_id"] is None


def test_workspace_forms_and_keys_screens_save(page, stack: Stack, seeded: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.goto(stack.base + "/settings")
    page.get_by_label("Postal address").fill("Acme GmbH, Hauptstr. 1, Berlin")
    page.get_by_label("Send only within a window").check()
    page.get_by_test_id("ws-save").click()
    expect(page.get_by_test_id("notice")).to_contain_text("Saved")
    ws = stack.http.get("/api/settings/workspace").json()
    assert ws["postal_address"] == "Acme GmbH, Hauptstr. 1, Berlin"
    assert ws["send_window"] == {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00"}
    # Mail rendering uses it.
    preview = stack.http.get("/api/templates/trial-welcome/preview").json()
    assert "Hauptstr. 1" in preview["html"]
    assert stack.http.put("/api/settings/workspace", json={"send_window": None}).status_code == 200

    page.goto(stack.base + "/forms")
    page.get_by_test_id("new-form-name").fill("webinar")
    page.get_by_role("button", name="Add", exact=True).click()
    card = page.get_by_test_id("form-webinar")
    card.get_by_label("Double opt-in").check()
    card.get_by_label("Consent wording version").fill("2026-12")
    card.get_by_role("button", name="Save").click()
    expect(card.get_by_test_id("notice")).to_contain_text("Saved")
    assert stack.http.get("/api/forms/webinar").json()["consent_text_version"] == "2026-12"

    if not stack.has_route("get", "/api/keys"):
        pytest.skip("GET /api/keys is not on this server yet")
    page.goto(stack.base + "/keys")
    page.get_by_label("Role").select_option("sales")
    page.get_by_label("Rep", exact=True).select_option(seeded["rep"])
    page.get_by_label("Label").fill("Sam's laptop")
    page.get_by_test_id("key-create").click()
    expect(page.get_by_test_id("key-created")).to_contain_text("lf_")
    row = page.get_by_test_id("keys-table").locator("tr", has_text="Sam's laptop")
    expect(row).to_contain_text("Sam Seller")
    page.on("dialog", lambda d: d.accept())
    row.get_by_role("button", name="Revoke").click()
    expect(row).to_contain_text("revoked")
    shot(page, "33-keys")


def test_leads_are_created_imported_and_worked(page, stack: Stack, seeded: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    suffix = uuid.uuid4().hex[:6]
    page.goto(stack.base + "/leads")
    page.get_by_test_id("lead-new").click()
    page.get_by_label("E-mail", exact=True).fill(f"new-{suffix}@example.com")
    page.get_by_label("First name").fill("Nia")
    page.get_by_label("Company").fill("Initech")
    page.get_by_test_id("lead-create").click()
    page.wait_for_url("**/leads/*")
    expect(page.get_by_test_id("lead-page")).to_contain_text("Nia")

    page.get_by_label("Flow", exact=True).select_option(label="Screens nurture")
    page.get_by_test_id("enrol-submit").click()
    expect(page.get_by_test_id("notice").first).to_contain_text("Enrolled in Screens nurture")
    page.get_by_label("New stage").select_option("MQL")
    page.get_by_test_id("stage-submit").click()
    page.get_by_test_id("note-text").fill("Called, wants a demo next week")
    page.get_by_test_id("note-submit").click()
    timeline = page.get_by_test_id("timeline")
    expect(timeline).to_contain_text("Note: Called, wants a demo next week", timeout=15_000)
    expect(timeline).to_contain_text("Stage lead → MQL")
    expect(page.get_by_role("cell", name="Screens nurture")).to_be_visible()
    # Sentences, with the raw event one click away.
    expect(timeline.locator("pre.json").first).to_be_hidden()
    timeline.locator("summary", has_text="raw event").first.click()
    expect(timeline.locator("pre.json").first).to_be_visible()
    assert "journey_id" not in timeline.locator(".tl-sentence").all_inner_texts().__str__()
    shot(page, "34-lead-worked")

    page.goto(stack.base + "/leads")
    csv = f"email,first_name,company\nok-{suffix}@example.com,Oli,Acme\nnot-an-email,Bad,Row\n"
    path = SHOTS.parent / f"import-{suffix}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(csv)
    page.get_by_label("CSV file to import").set_input_files(str(path))
    report = page.get_by_test_id("import-report")
    expect(report).to_contain_text("1 created")
    expect(report).to_contain_text("1 rejected")
    expect(report.locator("td", has_text="not-an-email")).to_be_visible()
    shot(page, "35-import-report")


def test_an_outage_keeps_the_session_and_says_so(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.route("**/api/**", lambda route: route.abort())
    page.reload()
    expect(page.get_by_test_id("server-down")).to_contain_text("Cannot reach the Leadflow server")
    expect(page.get_by_label("API key")).to_have_count(0)
    shot(page, "36-server-down")
    page.unroute("**/api/**")
    page.route("**/api/**", lambda route: route.fulfill(status=503, json={"error": "Unavailable", "detail": "down"}))
    page.get_by_role("button", name="Try again now").click()
    expect(page.get_by_test_id("server-down")).to_contain_text("503")
    page.unroute("**/api/**")
    page.get_by_role("button", name="Try again now").click()
    expect(page.get_by_role("heading", name="Flows")).to_be_visible()
    # While signed in: a banner, not the sign-in form.
    page.route("**/api/**", lambda route: route.abort())
    page.get_by_role("link", name="Leads", exact=True).click()
    expect(page.get_by_test_id("offline-banner")).to_be_visible()
    expect(page.get_by_test_id("error-state").first).to_contain_text("cannot be reached")
    page.unroute("**/api/**")


def test_previewing_a_mail_in_the_outbox_is_not_an_open(page, stack: Stack, seeded: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    mail = _eventually(lambda: stack.http.get("/api/outbox", params={"lead_id": seeded["lead"]}).json(), bool, "the mail")
    assert "/t/o/" in (mail[0]["html"] or ""), "the outbox mail should carry the open pixel"
    tracking: list[str] = []
    page.on("request", lambda r: tracking.append(r.url) if "/t/o/" in r.url or "/t/c/" in r.url else None)
    page.goto(f"{stack.base}/outbox?lead_id={seeded['lead']}")
    frame = page.frame_locator("iframe.mail-frame")
    expect(frame.locator("body")).to_contain_text("Lin")
    assert "/t/o/" not in page.locator("iframe.mail-frame").get_attribute("srcdoc")
    page.wait_for_timeout(1500)
    assert tracking == []
    timeline = stack.http.get(f"/api/leads/{seeded['lead']}/timeline").json()
    assert not [t for t in timeline if t["type"] == "email.opened"]


def test_the_inbox_sorts_by_sla_and_names_people(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    now = datetime.now(UTC)

    def handoff(hid: str, status: str, due_minutes: int, temperature: str = "hot") -> dict:
        return {"id": hid, "lead_id": f"lead-{hid}", "rep_id": "rep-1", "rep_name": "Rita Rep", "team": "inside",
                "team_name": "Inside sales", "status": status, "created_at": now.isoformat(),
                "sla_due_at": (now + timedelta(minutes=due_minutes)).replace(tzinfo=None).isoformat(),
                "sla_status": "on_time", "escalations": [],
                "lead": {"email": f"{hid}@example.com", "first_name": hid.title(), "score": 70, "temperature": temperature}}

    items = [handoff("later", "open", 300), handoff("taken", "accepted", 30), handoff("sooner", "open", 45),
             handoff("gone", "rejected", 10)]
    page.route(re.compile(r".*/api/handoffs(\?.*)?$"), lambda route: route.fulfill(json=items))
    page.get_by_role("link", name="Sales inbox").click()
    open_list = page.get_by_test_id("inbox-open").locator("li.handoff")
    expect(open_list).to_have_count(2)
    expect(open_list.nth(0)).to_contain_text("Sooner")
    expect(open_list.nth(1)).to_contain_text("Later")
    expect(open_list.nth(0)).to_contain_text("Rita Rep")
    expect(open_list.nth(0)).to_contain_text("Inside sales")
    expect(page.get_by_test_id("handoff-sla-sooner")).to_contain_text(re.compile(r"SLA due in (44|45) min"))
    expect(page.get_by_test_id("handoff-due-sooner")).to_contain_text(re.compile(r"by (today|[A-Z][a-z]{2}) \d\d:\d\d"))
    # Once taken, a lead is no longer sent back: the rep disqualifies it instead.
    working = page.get_by_test_id("inbox-working")
    expect(working.get_by_test_id("handoff-taken")).to_contain_text("accepted")
    expect(working.get_by_test_id("disqualify-taken")).to_be_visible()
    expect(working.get_by_test_id("reject-taken")).to_have_count(0)
    expect(page.get_by_test_id("reject-sooner")).to_be_visible()
    closed = page.get_by_test_id("inbox-closed")
    expect(closed.get_by_test_id("handoff-gone")).not_to_contain_text("hot")
    expect(closed.get_by_test_id("reject-gone")).to_have_count(0)
    assert "rep-1" not in page.get_by_test_id("inbox-open").inner_text()
    shot(page, "37-inbox-sorted")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate(OVERFLOW) == []
    shot(page, "37b-inbox-390")


ZOOM = """() => {
  const t = getComputedStyle(document.querySelector('%s .react-flow__viewport')).transform;
  return t === 'none' ? 1 : new DOMMatrix(t).a;
}"""


def _inside(page, node: str, canvas: str) -> bool:  # type: ignore[no-untyped-def]
    box = page.get_by_test_id(node).bounding_box()
    area = page.get_by_test_id(canvas).bounding_box()
    return bool(box and area and box["x"] >= area["x"] - 1 and box["y"] >= area["y"] - 1
                and box["x"] + box["width"] <= area["x"] + area["width"] + 1
                and box["y"] + box["height"] <= area["y"] + area["height"] + 1)


def test_the_canvas_is_readable_and_explains_itself(page, stack: Stack, seeded: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    flow_id = seeded["flow"]
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto(f"{stack.base}/flows/{flow_id}")
    node = page.get_by_test_id("node-welcome")
    # Cards say what each step does, in words, with the template's subject.
    expect(node).to_contain_text("E-mail: Welcome to your trial")
    expect(page.get_by_test_id("node-pause")).to_contain_text("Wait 2 days")
    page.wait_for_timeout(400)
    assert page.evaluate(ZOOM % '[data-testid="canvas"]') >= 0.8
    assert _inside(page, "node-welcome", "canvas")
    expect(page.locator(".react-flow__minimap")).to_be_hidden()  # out of the way at 1024 px
    shot(page, "38-editor-1024")

    # The "+" on an outgoing handle adds the next step, connected.
    assert page.get_by_test_id("add-after-done-next").count() == 0  # an exit has no outgoing handle
    page.get_by_test_id("add-after-pause-next").click()
    page.get_by_role("menu").get_by_test_id("step-menu-email").click()
    expect(page.locator('[data-testid="rf__edge-pause:next"]')).to_have_count(1)
    expect(page.get_by_test_id("node-email")).to_be_visible()
    # The draft now differs from version 1: a banner says how, in words.
    banner = page.get_by_test_id("unpublished-banner")
    expect(banner).to_contain_text("Unpublished changes")
    banner.locator("summary").click()
    # By the steps' titles, not their ids.
    expect(banner).to_contain_text("Added step “E-mail: pick a template” after “Wait 2 days”")
    expect(banner).not_to_contain_text("“pause”")
    # The draft autosaves after a pause: leave the page only once the server has the new step.
    deadline = time.monotonic() + 20
    while "email" not in stack.http.get(f"/api/flows/{flow_id}").json().get("steps", {}):
        assert time.monotonic() < deadline, "the draft with the new step was never saved"
        time.sleep(0.2)

    # The live map at 1024 px: the start step is in view, counts are large, and leads say why they wait.
    page.goto(f"{stack.base}/flows/{flow_id}/live")
    # (other tests of this module may have enrolled more leads in this flow)
    expect(page.get_by_test_id("waiting-pause")).to_contain_text(re.compile(r"[1-9]\d* waiting"))
    page.wait_for_timeout(400)
    assert _inside(page, "node-welcome", "live-canvas")
    page.get_by_test_id("node-pause").click()
    why = page.get_by_test_id(f"why-{seeded['lead']}")
    expect(why).to_contain_text("waiting until")
    expect(page.get_by_test_id("waiting-leads")).to_contain_text("Lin Screens")
    shot(page, "39-live-1024")

    # Publishing says how many leads stay on the older version, with the way to move them.
    page.goto(f"{stack.base}/flows/{flow_id}")
    page.locator('.react-flow__node[data-id="email"]').focus()  # by keyboard: it may sit below the fold
    page.keyboard.press("Enter")
    page.get_by_test_id("field-template").select_option("trial-welcome")
    page.get_by_test_id("target-next").select_option("done")
    expect(page.get_by_test_id("problem-count")).to_have_text("✓ Valid")
    page.get_by_test_id("publish-open").click()
    page.get_by_test_id("publish-submit").click()
    older = page.get_by_test_id("published-older")
    expect(older).to_contain_text(re.compile(r"[1-9]\d* leads? stays? on older versions"))
    expect(older.get_by_role("link", name="Move them to version 2")).to_have_attribute("href", f"/flows/{flow_id}/migrate")
    page.get_by_role("link", name="Flows").first.click()
    expect(page.get_by_test_id(f"flow-version-{flow_id}")).to_contain_text("v2 live")


def test_the_scoring_rules_are_built_in_a_form_that_writes_the_model_json(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.goto(stack.base + "/scoring")
    builder = page.get_by_test_id("scoring-builder")
    expect(builder.get_by_label("Name of fit rule 1")).to_have_value("Senior title")
    # "any of" title tests read as one comma-separated list.
    expect(builder.get_by_label("Values of fit rule 1")).to_have_value("VP, Head of, Director, Chief")
    builder.get_by_test_id("fit-add").click()
    n = len(json.loads(page.get_by_test_id("scoring-json").input_value())["fit"])
    builder.get_by_label(f"Name of fit rule {n}").fill("Germany")
    builder.get_by_label(f"Field of fit rule {n}").select_option("country")
    builder.get_by_label(f"Test of fit rule {n}").select_option("eq")
    builder.get_by_label(f"Values of fit rule {n}").fill("DE")
    builder.get_by_label(f"Points of fit rule {n}").fill("7")
    builder.get_by_label("Points for demo.requested").fill("45")
    builder.get_by_label("Hot at (points)").fill("70")
    model = json.loads(page.get_by_test_id("scoring-json").input_value())
    assert model["fit"][-1] == {"name": "Germany", "points": 7, "when": {"field": "country", "op": "eq", "value": "DE"}}
    assert model["behavior"]["demo.requested"] == 45 and model["temperature"]["hot"] == 70
    page.get_by_test_id("scoring-save").click()
    expect(page.get_by_test_id("scoring-saved")).to_contain_text("Saved version")
    assert stack.http.get("/api/scoring").json()["model"]["fit"][-1]["name"] == "Germany"
    shot(page, "40-scoring-builder")
