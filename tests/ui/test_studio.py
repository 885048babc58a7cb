"""End-to-end tests of the flow studio in Debian's Chromium, against a live `leadflow dev`.

The stack runs as a subprocess with its own LEADFLOW_HOME and a known admin key; the studio
is built first when ui/dist is missing. Each page visited is saved as a screenshot under
test-artifacts/screenshots/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.ui

ROOT = Path(__file__).resolve().parents[2]
UI = ROOT / "ui"
SHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ADMIN_KEY = "lf_admin_studio_e2e_" + uuid.uuid4().hex
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _build_ui() -> None:
    """Build the studio when dist/ is missing or older than any source file."""
    built = UI / "dist" / "index.html"
    sources = [*UI.glob("src/**/*"), UI / "index.html", UI / "package.json", UI / "vite.config.ts"]
    if built.is_file() and all(f.stat().st_mtime <= built.stat().st_mtime for f in sources if f.is_file()):
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is missing: the studio cannot be built")
    if not (UI / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=UI, check=True)
    subprocess.run([npm, "run", "build", "--silent"], cwd=UI, check=True)


class Stack:
    """The running server: its address and an admin API client."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.key = ADMIN_KEY
        self.http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                                 timeout=30)

    def has_route(self, method: str, path: str) -> bool:
        """Whether the server offers `method path` (read from its OpenAPI document)."""
        paths = self.http.get("/openapi.json").json()["paths"]
        return method.lower() in paths.get(path, {})


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if shutil.which("leadflow") is None:
        pytest.skip("the leadflow CLI is not installed (pip install -e .)")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    _build_ui()
    home = tmp_path_factory.mktemp("studio-home")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}
    env.update(LEADFLOW_HOME=str(home), LEADFLOW_ADMIN_KEY=ADMIN_KEY)
    # Serve this working tree (its code and ui/dist), whatever checkout `pip install -e` last pointed at.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    log = open(home / "dev.log", "wb")  # noqa: SIM115 - closed after the server stops
    proc = subprocess.Popen(["leadflow", "dev", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"leadflow dev exited: {(home / 'dev.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"leadflow dev did not answer: {(home / 'dev.log').read_text()[-3000:]}")
            time.sleep(0.5)
        running = Stack(base)
        try:
            yield running
        finally:
            running.http.close()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def browser(stack: Stack) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def sign_in(context, address: str, key: str, heading: str):  # type: ignore[no-untyped-def]
    """Open `address` in `context`, sign in with `key` through the form, wait for `heading`.

    Returns the page and the list that collects its uncaught errors."""
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(address)
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name=heading).wait_for()
    return page, errors


@pytest.fixture
def page(browser, stack: Stack):  # type: ignore[no-untyped-def]
    """A signed-in page (the key goes in through the sign-in form, as a user does)."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page, errors = sign_in(context, stack.base + "/flows", stack.key, "Flows")
    yield page
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def drag_handle_to_node(page, source: str, handle: str, target: str) -> None:  # type: ignore[no-untyped-def]
    """Drag from a step's outcome handle onto another step's input, as a user connects steps."""
    start = page.get_by_test_id(f"handle-{source}-{handle}").bounding_box()
    end = page.locator(f'.react-flow__node[data-id="{target}"] .react-flow__handle.target').bounding_box()
    assert start and end
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2 - 20, steps=8)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=4)
    page.mouse.up()


def test_sign_in_is_required_and_a_wrong_key_is_refused(browser, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    context = browser.new_context()
    page = context.new_page()
    page.goto(stack.base + "/flows/anything")
    page.get_by_label("API key").fill("not-a-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid")
    shot(page, "01-sign-in")
    context.close()


def test_the_first_screen_shows_the_shipped_example_flows(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    """`leadflow dev` on a fresh home loads the examples: the studio opens on something real."""
    from playwright.sync_api import expect

    for path in sorted((ROOT / "flows").glob("*.json")):
        name = json.loads(path.read_text())["name"]
        expect(page.get_by_text(name, exact=True).first).to_be_visible()
    assert stack.http.get("/api/teams/inside-sales").status_code == 200


def test_build_validate_fix_publish_and_watch_a_lead_move(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    flow_id = f"studio-{uuid.uuid4().hex[:8]}"
    shot(page, "02-flows")
    page.get_by_label("Name", exact=True).fill("Studio e2e")
    page.get_by_label("Id (lowercase").fill(flow_id)
    page.get_by_test_id("new-flow-create").click()
    page.wait_for_url(f"**/flows/{flow_id}")

    # Build: drag two steps from the palette onto the canvas, then connect them.
    canvas = page.get_by_test_id("canvas")
    page.get_by_test_id("palette-wait").drag_to(canvas, target_position={"x": 300, "y": 90})
    page.get_by_test_id("palette-exit").drag_to(canvas, target_position={"x": 300, "y": 330})
    expect(page.locator(".react-flow__node")).to_have_count(2)
    drag_handle_to_node(page, "wait", "next", "exit")
    expect(page.locator('.react-flow__edge[data-id="wait:next"], [data-testid="rf__edge-wait:next"]')).to_have_count(1)

    # The validator's problem shows on the node it concerns, and in the list.
    expect(page.get_by_test_id("node-problems-wait")).to_be_visible()
    expect(page.get_by_test_id("node-wait")).to_contain_text("needs a duration")
    expect(page.get_by_test_id("node-problems-exit")).to_have_count(0)
    shot(page, "03-editor-problem")

    # Publishing is refused while it remains.
    page.get_by_test_id("publish-open").click()
    page.get_by_test_id("publish-submit").click()
    # In words: the sentence, and where it is as a link to the step.
    expect(page.get_by_test_id("publish-refused")).to_contain_text("Step “wait”, the wait")
    page.get_by_role("button", name="Cancel").click()

    # Fix it in the side panel, in words.
    page.get_by_test_id("node-wait").click()
    page.get_by_test_id("field-duration-words").fill("2 days")
    page.get_by_test_id("field-duration-words").press("Enter")
    expect(page.get_by_test_id("node-wait")).to_contain_text("2 days")
    expect(page.get_by_test_id("problem-count")).to_have_text("✓ Valid")
    expect(page.get_by_test_id("node-problems-wait")).to_have_count(0)

    # The JSON tab shows exactly the flow format.
    page.get_by_test_id("tab-json").click()
    expect(page.get_by_test_id("save-state")).to_have_text("All changes saved")
    shown = json.loads(page.get_by_test_id("flow-json").input_value())
    assert shown == {"id": flow_id, "name": "Studio e2e", "description": "", "start": "wait",
                     "steps": {"wait": {"type": "wait", "duration": "P2D", "next": "exit"},
                               "exit": {"type": "exit"}}}
    assert stack.http.get(f"/api/flows/{flow_id}").json() == shown
    shot(page, "04-editor-json")

    page.get_by_test_id("publish-open").click()
    page.get_by_test_id("publish-note").fill("first version")
    page.get_by_test_id("publish-submit").click()
    expect(page.get_by_test_id("published")).to_contain_text("Published version 1")

    # The live map: nobody waits yet; enrol a lead through the API and watch the count move.
    page.get_by_test_id("flow-tab-live").click()
    page.wait_for_url(f"**/flows/{flow_id}/live")
    expect(page.get_by_test_id("waiting-wait")).to_contain_text("0 waiting")
    email = f"ada-{uuid.uuid4().hex[:6]}@example.com"
    lead = stack.http.post("/api/leads", json={"email": email, "first_name": "Ada",
                                                   "consent": {"status": "granted", "source": "test"}})
    assert lead.status_code in (200, 201), lead.text
    lead_id = lead.json()["id"]
    enrol = stack.http.post(f"/api/flows/{flow_id}/enroll", json={"lead_id": lead_id})
    assert enrol.status_code in (200, 201), enrol.text
    expect(page.get_by_test_id("waiting-wait")).to_contain_text("1 waiting", timeout=30_000)
    expect(page.get_by_test_id("journey-counts")).to_contain_text("1 running")
    shot(page, "05-live-map")

    # Clicking the node lists the leads waiting there, each linking to its page.
    page.get_by_test_id("node-wait").click()
    waiting = page.get_by_test_id("waiting-leads")
    expect(waiting.get_by_test_id(f"why-{lead_id}")).to_contain_text("waiting until")  # why it waits
    waiting.get_by_role("link", name="Ada").click()
    page.wait_for_url(f"**/leads/{lead_id}")
    expect(page.get_by_test_id("lead-page")).to_contain_text(email)
    expect(page.get_by_role("cell", name="Studio e2e")).to_be_visible()  # the flow by its name
    shot(page, "06-lead")

    # Versions: the history with the running count; the address is bookmarkable.
    page.goto(f"{stack.base}/flows/{flow_id}/versions")
    expect(page.get_by_test_id("running-v1")).to_have_text("1")
    expect(page.get_by_test_id("versions-table")).to_contain_text("first version")

    # A second version: the running lead stays on v1; the diff names what changed.
    draft = stack.http.get(f"/api/flows/{flow_id}").json()
    draft["steps"]["wait"]["duration"] = "P3D"
    assert stack.http.put(f"/api/flows/{flow_id}", json=draft).status_code == 200
    published = stack.http.post(f"/api/flows/{flow_id}/publish", json={"note": "wait longer"})
    assert published.status_code in (200, 201), published.text
    page.reload()
    expect(page.get_by_test_id("running-v1")).to_have_text("1")
    expect(page.get_by_test_id("running-v2")).to_have_text("0")
    page.get_by_label("From").select_option("1")
    page.get_by_label("to", exact=True).select_option("2")
    expect(page.get_by_test_id("diff-summary")).to_have_text("Changed “Wait 2 days” to “Wait 3 days”")
    expect(page.locator(".diff-removed")).to_contain_text('"duration": "P2D"')
    expect(page.locator(".diff-added")).to_contain_text('"duration": "P3D"')
    shot(page, "07-versions")


def test_editor_draws_a_bookmarked_flow_and_edits_both_ways(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    flow_id = f"studio-{uuid.uuid4().hex[:8]}"
    doc = {
        "id": flow_id, "name": "Two ways", "start": "pause",
        "steps": {
            "pause": {"type": "wait", "duration": "PT4H", "next": "route"},
            "route": {"type": "branch", "on": "temperature", "hot": "done", "warm": "done",
                      "cold": "pause-more"},
            "pause-more": {"type": "wait", "duration": "P1D", "next": "done"},
            "done": {"type": "exit"},
        },
    }
    created = stack.http.post("/api/flows", params={"allow_invalid": "true"}, json=doc)
    assert created.status_code == 201, created.text
    page.goto(f"{stack.base}/flows/{flow_id}")
    expect(page.locator(".react-flow__node")).to_have_count(4)
    expect(page.locator(".react-flow__edge")).to_have_count(5)
    expect(page.get_by_test_id("node-route")).to_contain_text("hot")
    expect(page.get_by_test_id("problem-count")).to_have_text("✓ Valid")

    # Canvas → JSON: copy and paste a step, then undo and redo it.
    page.get_by_test_id("node-pause-more").click()
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    expect(page.locator(".react-flow__node")).to_have_count(5)
    expect(page.get_by_test_id("node-pause-more-2")).to_be_visible()
    page.get_by_role("button", name="Undo").click()
    expect(page.locator(".react-flow__node")).to_have_count(4)
    page.keyboard.press("Control+Shift+z")
    expect(page.locator(".react-flow__node")).to_have_count(5)
    page.get_by_test_id("tab-json").click()
    shown = json.loads(page.get_by_test_id("flow-json").input_value())
    assert shown["steps"]["pause-more-2"] == {"type": "wait", "duration": "P1D", "next": "done"}

    # JSON → canvas: a step typed into the JSON appears on the canvas, its bad reference on its edge list.
    shown["steps"]["shout"] = {"type": "notify", "channel": "slack", "to": "#sales", "message": "hi",
                              "next": "nowhere"}
    page.get_by_test_id("flow-json").fill(json.dumps(shown, indent=2))
    expect(page.get_by_test_id("node-shout")).to_be_visible()
    expect(page.get_by_test_id("node-problems-shout")).to_be_visible()
    page.get_by_test_id("tab-problems").click()
    expect(page.get_by_test_id("problem-list")).to_contain_text("Step “shout”, the next step")
    shot(page, "08-editor-json-edit")

    # An edge is removed from the keyboard too: focus it, select it, delete it.
    page.locator('[data-testid="rf__edge-pause-more-2:next"]').focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Delete")
    expect(page.locator('[data-testid="rf__edge-pause-more-2:next"]')).to_have_count(0)
    del shown["steps"]["pause-more-2"]["next"]

    # Saved to the draft exactly; the layout lives apart from it.
    expect(page.get_by_test_id("save-state")).to_have_text("All changes saved")
    _eventually(lambda: stack.http.get(f"/api/flows/{flow_id}").json(), lambda d: d == shown, "the saved draft")
    deadline = time.monotonic() + 10
    while not set(positions := stack.http.get(f"/api/flows/{flow_id}/layout").json()["positions"]) >= {
            "pause", "route", "pause-more", "done", "shout"}:
        assert time.monotonic() < deadline, f"layout not saved: {positions}"
        time.sleep(0.3)
    assert "positions" not in stack.http.get(f"/api/flows/{flow_id}").json()


UNLABELLED_CONTROLS = """() => [...document.querySelectorAll('.side input, .side select, .side textarea, .palette button')]
    .filter((el) => el.type !== 'hidden' && !el.hidden)
    .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                    && !el.getAttribute('aria-labelledby') && !(el.tagName === 'BUTTON' && el.textContent.trim()))
    .map((el) => el.outerHTML.slice(0, 120))"""


def test_every_step_type_can_be_added_and_edited_from_the_keyboard(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    flow_id = f"keys-{uuid.uuid4().hex[:8]}"
    assert stack.http.post("/api/flows", params={"allow_invalid": "true"},
                           json={"id": flow_id, "name": "Keyboard", "steps": {}}).status_code == 201
    page.goto(f"{stack.base}/flows/{flow_id}")
    assert page.evaluate(UNLABELLED_CONTROLS) == []  # the flow settings panel
    kinds = ["email", "wait", "wait_for", "branch", "split", "update", "handoff", "notify", "exit"]
    for count, kind in enumerate(kinds, start=1):
        page.get_by_test_id(f"palette-{kind}").focus()
        page.keyboard.press("Enter")
        expect(page.locator(".react-flow__node")).to_have_count(count)
        expect(page.get_by_test_id("step-panel")).to_be_visible()
        assert page.evaluate(UNLABELLED_CONTROLS) == [], kind
    # Connect by keyboard through the side panel: the handoff continues at the exit.
    # (by focus and Enter: with nine steps the node may sit under the editor's overlays)
    page.locator('.react-flow__node[data-id="handoff"]').focus()
    page.keyboard.press("Enter")
    page.get_by_test_id("target-next").select_option("exit")
    expect(page.locator('[data-testid="rf__edge-handoff:next"]')).to_have_count(1)
    # A node takes focus and is selected with Enter, like any control.
    page.locator('.react-flow__node[data-id="wait"]').focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("field-duration")).to_be_visible()
    shot(page, "15-editor-all-kinds")


def _drawn_edges(doc: dict) -> int:
    """How many edges the studio must draw for a flow: every reference to an existing step."""
    steps = doc["steps"]
    count = 0
    for step in steps.values():
        for key in ("next", "hot", "warm", "cold", "else", "on_timeout", "on_rejected"):
            count += step.get(key) in steps
        for item in step.get("cases", []) + step.get("paths", []):
            count += item.get("next") in steps
    return count


@pytest.mark.parametrize("path", sorted((ROOT / "flows").glob("*.json")), ids=lambda p: p.stem)
def test_importing_a_shipped_flow_file_draws_it(page, stack: Stack, path: Path) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    doc = json.loads(path.read_text())
    page.on("dialog", lambda dialog: dialog.accept())  # "replace the existing draft?" when seeded
    page.get_by_label("Flow file to import").set_input_files(str(path))
    page.wait_for_url(f"**/flows/{doc['id']}")
    expect(page.locator(".react-flow__node")).to_have_count(len(doc["steps"]))
    expect(page.locator(".react-flow__edge")).to_have_count(_drawn_edges(doc))
    page.get_by_test_id("tab-json").click()
    assert json.loads(page.get_by_test_id("flow-json").input_value()) == doc
    assert stack.http.get(f"/api/flows/{doc['id']}").json() == doc
    # Laid out automatically, and those positions saved through /layout: no step on another.
    deadline = time.monotonic() + 10
    while set(positions := stack.http.get(f"/api/flows/{doc['id']}/layout").json()["positions"]) != set(doc["steps"]):
        assert time.monotonic() < deadline, f"layout not saved: {positions}"
        time.sleep(0.3)
    boxes = [page.get_by_test_id(f"node-{step}").bounding_box() for step in doc["steps"]]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a and b
            assert (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                    or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"]), (a, b)
    shot(page, f"14-import-{path.stem}")


def test_an_email_step_picked_in_the_panel_sends_a_mail_seen_in_the_outbox(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    flow_id = f"mail-{uuid.uuid4().hex[:8]}"
    assert stack.http.post("/api/flows", params={"allow_invalid": "true"},
                           json={"id": flow_id, "name": "Mail", "steps": {}}).status_code == 201
    page.goto(f"{stack.base}/flows/{flow_id}")
    page.get_by_test_id("palette-email").click()
    page.get_by_test_id("field-template").select_option("trial-welcome")
    page.get_by_test_id("palette-exit").click()
    page.get_by_test_id("node-email").click()
    page.get_by_test_id("target-next").select_option("exit")
    expect(page.get_by_test_id("problem-count")).to_have_text("✓ Valid")
    page.get_by_test_id("publish-open").click()
    page.get_by_test_id("publish-submit").click()
    expect(page.get_by_test_id("published")).to_contain_text("Published version 1")

    email = f"grace-{uuid.uuid4().hex[:6]}@example.com"
    lead = stack.http.post("/api/leads", json={
        "email": email, "first_name": "Grace",
        "consent": {"status": "granted", "source": "e2e", "text_version": "v1"}}).json()
    assert stack.http.post(f"/api/flows/{flow_id}/enroll", json={"lead_id": lead["id"]}).status_code in (200, 201)
    page.get_by_test_id("flow-tab-live").click()
    expect(page.get_by_test_id("stats-email")).to_contain_text("✉ 1", timeout=30_000)
    expect(page.get_by_test_id("journey-counts")).to_contain_text("1 completed", timeout=30_000)

    page.goto(f"{stack.base}/outbox?flow_id={flow_id}")
    expect(page.get_by_test_id("outbox-list")).to_contain_text("Welcome to your trial, Grace")
    mail = page.frame_locator("iframe.mail-frame")
    expect(mail.locator("body")).to_contain_text("Grace")
    shot(page, "09-outbox")


def test_pages_around_the_flows(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.get_by_role("link", name="Outbox").click()
    page.wait_for_url("**/outbox")
    expect(page.get_by_role("heading", name="Outbox")).to_be_visible()
    page.get_by_role("link", name="Leads").click()
    expect(page.get_by_role("heading", name="Leads")).to_be_visible()
    shot(page, "10-leads")
    page.get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", name="Reports")).to_be_visible()
    shot(page, "11-reports")


def _eventually(fetch, ok, what: str, timeout: float = 30):  # type: ignore[no-untyped-def]
    """Poll `fetch()` until `ok(value)`; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not ok(value := fetch()):
        assert time.monotonic() < deadline, f"{what}: still {value!r}"
        time.sleep(0.4)
    return value


def test_reject_a_handoff_in_the_sales_inbox(page, browser, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    """A hot lead through POST /api/events reaches the inbox; rejected there, its journey goes on."""
    from playwright.sync_api import expect

    suffix = uuid.uuid4().hex[:6]
    rep = stack.http.post("/api/reps", json={"id": f"rep-{suffix}", "email": f"rep-{suffix}@example.com",
                                              "name": "Rita Rep", "timezone": "UTC", "capacity": 10})
    assert rep.status_code == 201, rep.text
    rep_id = rep.json()["id"]
    team = stack.http.post("/api/teams", json={"id": f"team-{suffix}", "name": "Inside sales",
                                               "members": [rep_id], "routing": "round_robin"})
    assert team.status_code == 201, team.text
    # The API answers 201 a moment before its transaction commits (the session dependency's exit
    # runs after the response is sent), so each write is awaited before the next step relies on it.
    _eventually(lambda: stack.http.get(f"/api/teams/team-{suffix}").status_code, lambda c: c == 200, "the team")
    flow_id = f"hot-{suffix}"
    doc = {"id": flow_id, "name": "Hot leads to sales", "entry": {"event": "demo.requested"},
           "start": "check",
           "steps": {"check": {"type": "branch", "on": "temperature", "hot": "to-sales",
                               "warm": "done", "cold": "done"},
                     "to-sales": {"type": "handoff", "team": f"team-{suffix}", "sla": "PT4H",
                                  "next": "done", "on_rejected": "nurture"},
                     "nurture": {"type": "wait", "duration": "P30D", "next": "done"},
                     "done": {"type": "exit"}}}
    created = stack.http.post("/api/flows", json=doc)
    assert created.status_code == 201, created.text
    _eventually(lambda: stack.http.get(f"/api/flows/{flow_id}").status_code, lambda c: c == 200, "the flow")
    assert stack.http.post(f"/api/flows/{flow_id}/publish", json={"note": "e2e"}).status_code == 201
    _eventually(lambda: stack.http.get(f"/api/flows/{flow_id}/versions").json(), bool, "the published version")
    email = f"grace-{suffix}@acme.example"
    lead = stack.http.post("/api/leads", json={"email": email, "first_name": "Grace", "last_name": "Hopper",
                                               "company": "Acme", "title": "VP Engineering",
                                               "consent": {"status": "granted", "source": "test"}})
    assert lead.status_code == 201, lead.text
    lead_id = lead.json()["id"]
    _eventually(lambda: stack.http.get(f"/api/leads/{lead_id}").status_code, lambda c: c == 200, "the lead")
    # Senior title (15) + company e-mail (5) + demo request (40) = 60: hot in the built-in model.
    posted = stack.http.post("/api/events", json={"email": email, "type": "demo.requested"})
    assert posted.status_code in (200, 201, 202), posted.text
    found = _eventually(lambda: stack.http.get("/api/handoffs", params={"lead_id": lead_id}).json(),
                        bool, "the handoff")
    handoff_id = found[0]["id"]
    assert found[0]["rep_id"] == rep_id

    page.get_by_role("link", name="Sales inbox").click()
    page.wait_for_url("**/inbox")
    page.get_by_label("Rep").select_option(rep_id)
    card = page.get_by_test_id(f"handoff-{handoff_id}")
    expect(card.locator(f'a[href="/leads/{lead_id}"]')).to_have_text("Grace Hopper")
    expect(card).to_contain_text("hot")
    expect(page.get_by_test_id(f"handoff-sla-{handoff_id}")).to_contain_text(re.compile(r"SLA (due in|breached)"))
    expect(page.get_by_test_id(f"why-{handoff_id}")).to_contain_text("+40")
    expect(page.get_by_test_id(f"why-{handoff_id}")).to_contain_text("Senior title")
    shot(page, "12-inbox")

    # The rep signs in with a sales key: their own handoffs only; they send this lead back.
    key = stack.http.post("/api/keys", json={"role": "sales", "rep_id": rep_id, "label": "e2e rep"})
    assert key.status_code == 201, key.text
    rep_context = browser.new_context(viewport={"width": 1440, "height": 900})
    rep_page = rep_context.new_page()
    rep_page.goto(stack.base + "/")
    rep_page.get_by_label("API key").fill(key.json()["key"])
    rep_page.get_by_role("button", name="Sign in").click()
    expect(rep_page.get_by_role("heading", name="My handoffs")).to_be_visible()
    rep_card = rep_page.get_by_test_id(f"handoff-{handoff_id}")
    expect(rep_card).to_contain_text("Grace Hopper")
    mine = {h["id"] for h in stack.http.get("/api/handoffs", params={"rep_id": rep_id}).json()}
    expect(rep_page.locator("li.handoff")).to_have_count(len(mine))
    rep_card.get_by_test_id(f"reject-{handoff_id}").click()
    rep_card.get_by_test_id("reject-reason").select_option("not-a-fit")
    expect(rep_card.get_by_test_id("reject-reason-meaning")).to_contain_text("bad lead")
    rep_card.get_by_test_id("reject-note").fill("Student, no budget")
    rep_card.get_by_test_id("reject-submit").click()
    expect(rep_page.get_by_test_id("inbox-message")).to_contain_text("Rejected")
    expect(rep_page.get_by_test_id(f"handoff-status-{handoff_id}")).to_have_text("rejected", timeout=15_000)
    shot(rep_page, "12b-inbox-rep-rejected")
    rep_context.close()

    # Marketing's inbox shows the outcome and the reason.
    page.reload()
    expect(page.get_by_test_id(f"handoff-status-{handoff_id}")).to_have_text("rejected")
    expect(card).to_contain_text("Not a fit")
    expect(card).to_contain_text("Student, no budget")
    rejected = stack.http.get(f"/api/handoffs/{handoff_id}").json()
    assert (rejected["rejection_reason_id"], rejected["rejection_note"]) == ("not-a-fit",
                                                                           "Student, no budget")
    shot(page, "13-inbox-rejected")

    # The journey continues at the handoff's on_rejected step, as the lead page shows.
    _eventually(lambda: stack.http.get(f"/api/leads/{lead_id}").json()["flows"],
                lambda flows: flows and flows[0]["step"] == "nurture", "the journey after the rejection")
    card.locator(f'a[href="/leads/{lead_id}"]').click()
    page.wait_for_url(f"**/leads/{lead_id}")
    expect(page.get_by_test_id(f"journey-step-{flow_id}")).to_have_text("nurture", timeout=15_000)
    expect(page.get_by_test_id("lead-stage")).to_have_text("recycled")
    expect(page.get_by_test_id("lead-score")).to_have_text("60")
    expect(page.get_by_test_id("lead-temperature")).to_have_text("hot")
    expect(page.get_by_test_id("lead-breakdown")).to_contain_text("Senior title")
    expect(page.get_by_test_id("timeline")).to_contain_text("demo.requested")
    ui_url = stack.http.get("/api/meta").json().get("temporal_ui_url")
    if ui_url:
        link = page.get_by_role("link", name="Temporal Web UI").first
        expect(link).to_have_attribute("href", re.compile(re.escape(ui_url.rstrip("/")) + r"/namespaces/.+/workflows/"))
    shot(page, "19-lead")


def test_inbox_counts_down_and_sends_the_reason_with_a_reject(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    """The inbox's own behaviour, with the handoff endpoints answered at the browser's network layer.

    This pins what the page sends and shows (countdown, reason) independently of the server; the
    test above covers the same through the real API.
    """
    from datetime import UTC, datetime, timedelta

    from playwright.sync_api import expect

    due = (datetime.now(UTC) + timedelta(hours=1, minutes=30)).replace(tzinfo=None).isoformat()
    handoff = {"id": "h-1", "lead_id": "lead-1", "rep_id": "rep-1", "team": "inside-sales",
               "status": "open", "sla_due_at": due, "sla_status": "on_time", "escalations": [],
               "lead": {"email": "grace@example.com", "first_name": "Grace", "company": "Navy",
                        "score": 72, "temperature": "hot"}}
    posted: list[dict] = []

    def handoffs(route) -> None:  # type: ignore[no-untyped-def]
        route.fulfill(json=[handoff])

    def reject(route) -> None:  # type: ignore[no-untyped-def]
        posted.append(route.request.post_data_json)
        handoff["status"] = "rejected"
        route.fulfill(json=handoff)

    page.route("**/api/handoffs?*", handoffs)
    page.route("**/api/handoffs", handoffs)
    page.route("**/api/handoffs/h-1/reject", reject)
    page.get_by_role("link", name="Sales inbox").click()
    card = page.get_by_test_id("handoff-h-1")
    expect(card).to_contain_text("Grace")
    expect(card).to_contain_text(re.compile(r"SLA due in 1 h (29|30) min"))  # ticking down from 1 h 30 min
    shot(page, "16-inbox-countdown")
    card.get_by_test_id("reject-h-1").click()
    card.get_by_test_id("reject-reason").select_option(label="No budget")
    expect(card.get_by_test_id("reject-reason-meaning")).to_contain_text("rests for 180 days")
    card.get_by_test_id("reject-note").fill("next fiscal year")
    card.get_by_test_id("reject-submit").click()
    expect(page.get_by_test_id("handoff-status-h-1")).to_have_text("rejected")
    assert posted == [{"reason": "no-budget", "note": "next fiscal year"}]


def test_reports_draw_the_funnel_and_the_sla_from_the_real_reports(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    source = f"e2e-{uuid.uuid4().hex[:6]}"
    # Three leads of one source: one stays a lead, two become MQL, one of those goes on to SAL.
    ids = []
    for n in range(3):
        made = stack.http.post("/api/leads", json={"email": f"r{n}-{source}@example.com", "source": source})
        assert made.status_code == 201, made.text
        ids.append(made.json()["id"])
        _eventually(lambda: stack.http.get(f"/api/leads/{ids[-1]}").status_code, lambda c: c == 200, "the lead")
    for lead_id, stages in ((ids[1], ["MQL"]), (ids[2], ["MQL", "SAL"])):
        for stage in stages:
            moved = stack.http.post(f"/api/leads/{lead_id}/stage", json={"stage": stage, "reason": "e2e"})
            assert moved.status_code == 200, moved.text
    expected = stack.http.get("/api/reports/funnel", params={"source": source}).json()
    assert expected["mql_to_sal"] == 0.5

    page.get_by_role("link", name="Reports").click()
    page.get_by_label("Source", exact=True).fill(source)
    funnel = page.get_by_test_id("funnel")
    expect(funnel).to_contain_text(f"source {source}")
    expect(page.get_by_test_id("mql-to-sal")).to_have_text("50%")
    mql = page.get_by_test_id("funnel-table").locator("tr", has_text="MQL").first
    expect(mql).to_contain_text("2")
    expect(page.get_by_test_id("sources-table")).to_contain_text(source)
    expect(page.get_by_test_id("funnel-chart").locator("g[data-stage]")).to_have_count(
        len([s for s in expected["stages"] if s["stage"] not in ("recycled", "disqualified")]))

    # The CSV is the API's own export, downloaded with the signed-in key.
    with page.expect_download() as info:
        page.get_by_test_id("funnel-csv").click()
    text = Path(info.value.path()).read_text()
    assert text.startswith("section,name,entered"), text[:200]
    assert "MQL to SAL" in text

    sla = stack.http.get("/api/reports/sla").json()
    expect(page.get_by_test_id("sla")).to_contain_text(f"{sla['total']['handoffs']}handoffs")
    names = {r["id"]: r["name"] for r in stack.http.get("/api/reps").json()}
    for rep in sla["reps"]:  # by name, not id
        expect(page.get_by_test_id("sla-reps")).to_contain_text(names.get(rep["rep_id"], rep["rep_id"]) if rep["rep_id"] else "(unassigned)")
    if sla["total"]["handoffs"]:
        expect(page.get_by_test_id("sla-reps-chart")).to_be_visible()
    shot(page, "17-reports")


def test_panels_pick_teams_reps_and_templates_from_the_server(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    suffix = uuid.uuid4().hex[:6]
    assert stack.http.post("/api/reps", json={"id": f"ann-{suffix}", "email": f"ann-{suffix}@example.com",
                                              "name": "Ann Picker"}).status_code == 201
    _eventually(lambda: stack.http.get(f"/api/reps/ann-{suffix}").status_code, lambda c: c == 200, "the rep")
    assert stack.http.post("/api/teams", json={"id": f"pick-{suffix}", "name": "Pickers",
                                               "members": [f"ann-{suffix}"]}).status_code == 201
    _eventually(lambda: stack.http.get(f"/api/teams/pick-{suffix}").status_code, lambda c: c == 200, "the team")
    flow_id = f"pick-{suffix}"
    assert stack.http.post("/api/flows", params={"allow_invalid": "true"}, json={
        "id": flow_id, "name": "Pickers", "start": "mail",
        "steps": {"mail": {"type": "email", "next": "sales"}, "sales": {"type": "handoff", "sla": "PT4H"}}}).status_code == 201
    _eventually(lambda: stack.http.get(f"/api/flows/{flow_id}").status_code, lambda c: c == 200, "the flow")
    page.goto(f"{stack.base}/flows/{flow_id}")

    page.get_by_test_id("node-mail").click()
    template = page.get_by_test_id("field-template")
    # labelled with its subject (the pickers load beside the flow: allow a loaded machine time)
    expect(template.locator("option", has_text="trial-welcome —")).to_have_count(1, timeout=20000)
    template.select_option("trial-welcome")

    page.get_by_test_id("node-sales").click()
    team = page.get_by_test_id("field-team")
    expect(team.locator("option", has_text="Pickers (pick-")).to_have_text(f"Pickers (pick-{suffix}) · 1 rep")
    team.select_option(f"pick-{suffix}")
    expect(page.get_by_test_id("node-sales")).to_contain_text("Hand off to Pickers")
    shot(page, "18-pickers")
    # Naming one rep instead drops the team: a handoff names one or the other.
    page.get_by_test_id("field-rep").select_option(f"ann-{suffix}")
    expect(page.get_by_test_id("node-sales")).to_contain_text("Hand off to Ann Picker")
    expect(page.get_by_test_id("save-state")).to_have_text("All changes saved")
    saved = _eventually(lambda: stack.http.get(f"/api/flows/{flow_id}").json()["steps"],
                        lambda steps: steps["sales"].get("rep") == f"ann-{suffix}", "the saved draft")
    assert saved["mail"]["template"] == "trial-welcome"
    assert "team" not in saved["sales"]


def test_scoring_page_shows_problems_and_saves_a_version(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.get_by_role("link", name="Scoring").click()
    page.wait_for_url("**/scoring")
    before = stack.http.get("/api/scoring").json()
    expect(page.get_by_test_id("scoring-current")).to_contain_text(f"version {before['version']}")
    box = page.get_by_test_id("scoring-json")
    expect(box).not_to_have_value("")
    model = json.loads(box.input_value())
    assert model == before["model"]

    # A model the server refuses: its problems are listed, nothing is saved.
    box.fill(json.dumps({**model, "temperature": {"hot": "very", "warm": 25}}, indent=2))
    page.get_by_test_id("scoring-save").click()
    expect(page.get_by_test_id("scoring-problems")).to_contain_text("temperature")
    assert stack.http.get("/api/scoring").json()["version"] == before["version"]
    shot(page, "20-scoring-problems")

    # Not JSON at all: said before anything is sent.
    box.fill("{ not json")
    page.get_by_test_id("scoring-save").click()
    expect(page.get_by_test_id("scoring-problems")).to_contain_text("Not valid JSON")

    box.fill(json.dumps({**model, "name": "E2E model"}, indent=2))
    page.get_by_test_id("scoring-save").click()
    expect(page.get_by_test_id("scoring-saved")).to_contain_text(f"Saved version {before['version'] + 1}")
    after = stack.http.get("/api/scoring").json()
    assert after["version"] == before["version"] + 1 and after["model"]["name"] == "E2E model"
    versions = page.get_by_test_id("scoring-versions")
    expect(versions.locator("tr.current")).to_contain_text(f"v{after['version']}")
    expect(versions).to_contain_text("v0 (built-in)")
    versions.locator("tr", has_text="v0 (built-in)").get_by_role("button", name="Show").click()
    expect(page.get_by_test_id("scoring-version-doc")).to_contain_text('"demo.requested": 40')
    shot(page, "21-scoring")


def test_auto_layout_left_to_right_is_saved_and_readable(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    doc = json.loads((ROOT / "flows" / "trial-nurture.json").read_text())
    flow_id = f"lr-{uuid.uuid4().hex[:6]}"
    doc["id"] = flow_id
    assert stack.http.post("/api/flows", params={"allow_invalid": "true"}, json=doc).status_code == 201
    _eventually(lambda: stack.http.get(f"/api/flows/{flow_id}").status_code, lambda c: c == 200, "the flow")
    page.goto(f"{stack.base}/flows/{flow_id}")
    expect(page.locator(".react-flow__node")).to_have_count(len(doc["steps"]))
    top_down = _eventually(lambda: stack.http.get(f"/api/flows/{flow_id}/layout").json()["positions"],
                           lambda p: set(p) == set(doc["steps"]), "the first layout")
    assert top_down["welcome"]["y"] < top_down["wait-2d"]["y"] < top_down["route"]["y"]

    page.get_by_label("Layout direction").select_option("RIGHT")
    across = _eventually(lambda: stack.http.get(f"/api/flows/{flow_id}/layout").json()["positions"],
                         lambda p: p != top_down and set(p) == set(doc["steps"]), "the new layout")
    assert across["welcome"]["x"] < across["wait-2d"]["x"] < across["route"]["x"] < across["to-sales"]["x"]
    # The branch's outcomes fan out top to bottom in the order hot, warm, cold.
    hot, warm = (page.get_by_test_id(f"handle-route-{h}").bounding_box() for h in ("hot", "warm"))
    assert hot and warm and hot["y"] < warm["y"] and abs(hot["x"] - warm["x"]) < 2
    shot(page, "14b-layout-left-to-right")
    # The choice sticks for this flow in this browser.
    page.reload()
    expect(page.get_by_label("Layout direction")).to_have_value("RIGHT")


def test_sales_outcomes_train_a_model_that_the_studio_explains(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    """Issue 15 in the studio: outcomes on the lead page, training on the scoring page (refused
    with its reason when there are too few outcomes), revenue per source and rejection reasons
    on the reports page, and the reasons' editor."""
    from playwright.sync_api import expect

    email = f"won-{uuid.uuid4().hex[:6]}@example.com"
    lead = stack.http.post("/api/leads", json={"email": email, "first_name": "Wanda",
                                               "source": "partner-e2e"}).json()
    page.goto(f"{stack.base}/leads/{lead['id']}")
    card = page.get_by_test_id("lead-outcome")
    expect(card.get_by_test_id("lead-likelihood")).to_contain_text("No predictive model")
    card.get_by_test_id("outcome-kind").select_option("won")
    card.get_by_test_id("outcome-amount").fill("12000")
    card.get_by_test_id("outcome-save").click()
    expect(card.get_by_test_id("lead-outcomes")).to_contain_text("won")
    expect(page.get_by_test_id("lead-stage")).to_have_text("customer", timeout=15_000)
    shot(page, "30-lead-outcome")

    page.get_by_role("link", name="Scoring").click()
    panel = page.get_by_test_id("predictive")
    expect(panel.get_by_test_id("predictive-none")).to_be_visible()
    panel.get_by_test_id("predictive-train").click()
    expect(panel.get_by_test_id("predictive-result")).to_contain_text("Not enough outcomes yet")
    editor = page.get_by_test_id("rejection-reasons-editor")
    expect(editor.get_by_test_id("reason-not-a-fit")).to_be_visible()
    expect(editor).to_contain_text("back to nurture after a rest")
    shot(page, "31-scoring-predictive")

    page.get_by_role("link", name="Reports").click()
    value = page.get_by_test_id("value-reports")
    expect(value.get_by_test_id("sources-value-table")).to_contain_text("partner-e2e")
    row = value.get_by_test_id("sources-value-table").locator("tr", has_text="partner-e2e")
    expect(row).to_contain_text("12,000")
    shot(page, "32-reports-value")
