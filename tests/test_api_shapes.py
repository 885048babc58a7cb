"""Response models never change the JSON on the wire: every field a route carried, it carries.

``response_model`` filters fields and coerces types (an int declared ``float`` comes out as
``1.0``, a time declared ``datetime`` loses its ``+00:00``). One scenario drives every route of
the leads, events, flows, flow changes, templates, outbox, privacy, public (capture forms),
webhook, keys, health and workspace families against the real app, a worker and the Temporal
test server, and reduces each answer to its shape: the keys of every object, recursively, and
the JSON type of every value. ``tests/golden/api_shapes.json`` holds the shapes the routes gave
before they had response models; a route family whose shape differs fails its test.

Re-record (only for a deliberate, documented change of a response):
``LEADFLOW_RECORD_SHAPES=1 pytest tests/test_api_shapes.py``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from leadflow.db import session_scope
from leadflow.models import EmailMessage
from tests.fakes import WebhookSigner
from tests.fakes.api_client import ADMIN_KEY, app_client
from tests.helpers import at_step

pytestmark = pytest.mark.asyncio(loop_scope="session")

GOLDEN = Path(__file__).parent / "golden" / "api_shapes.json"
RECORD = os.environ.get("LEADFLOW_RECORD_SHAPES") == "1"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}

FLOW: dict[str, Any] = {
    "id": "shapes",
    "name": "Shapes",
    "entry": {"event": "lead.created"},
    "start": "hello",
    "steps": {
        "hello": {"type": "email", "template": "trial-welcome", "next": "pause"},
        "pause": {"type": "wait", "duration": "P1D", "next": "tips"},
        "tips": {"type": "email", "template": "trial-tips", "next": "end"},
        "end": {"type": "exit"},
    },
}
TEMPLATE = {"subject": "Hi {{ lead.first_name }}", "text": "Hello",
            "html": "<p>Hello</p><p>{{ postal_address }}</p>"
            "<a href=\"{{ unsubscribe_url }}\">Unsubscribe</a>"}
CSV = (b"email,first_name,company,plan\nimport1@example.com,Imp,Acme,pro\n"
       b"not-an-email,Bad,,\n")


def shape(value: Any) -> Any:
    """The keys and JSON types of ``value``; a list's items merged into one shape."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        merged: Any = None
        for item in value:
            merged = _merge(merged, shape(item))
        return [] if merged is None else [merged]
    if value is None:
        return "null"
    return {bool: "bool", int: "int", float: "float", str: "str"}[type(value)]


def _merge(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _merge(a.get(k), b.get(k)) if k in a and k in b else a.get(k, b.get(k))
                for k in sorted(a.keys() | b.keys())}
    if isinstance(a, list) and isinstance(b, list):
        return [_merge(a[0] if a else None, b[0] if b else None)] if (a or b) else []
    if a == b:
        return a
    kinds = set(str(a).split("|")) | set(str(b).split("|")) if isinstance(a, str) and isinstance(
        b, str) else {json.dumps(a, sort_keys=True), json.dumps(b, sort_keys=True)}
    return "|".join(sorted(kinds))


class Recorder:
    """Calls the API and keeps each answer's status, media type and shape by route."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.seen: dict[str, dict[str, Any]] = {}

    async def __call__(self, family: str, method: str, route: str, path: str | None = None,
                       *, auth: bool = True, **kw: Any) -> httpx.Response:
        headers = {**(AUTH if auth else {}), **kw.pop("headers", {})}
        r = await self.http.request(method, path or route, headers=headers, **kw)
        assert r.status_code < 400, f"{method} {path or route}: {r.status_code} {r.text[:300]}"
        media = r.headers.get("content-type", "").split(";")[0]
        entry: dict[str, Any] = {"status": r.status_code, "media": media}
        if media == "application/json":
            entry["shape"] = shape(r.json())
        key = f"{method} {route}"
        previous = self.seen.setdefault(family, {}).get(key)
        if previous is not None and "shape" in previous and "shape" in entry:
            entry["shape"] = _merge(previous["shape"], entry["shape"])
            entry["status"] = _merge(previous["status"], entry["status"])
        self.seen[family][key] = entry
        return r


async def _scenario(call: Recorder, db_url: str) -> None:
    fid, signer_events = FLOW["id"], []
    # health and keys
    await call("health", "GET", "/api/health", auth=False)
    await call("health", "GET", "/api/meta")
    key = (await call("keys", "POST", "/api/keys", json={"role": "marketer", "label": "ci"})).json()
    await call("keys", "GET", "/api/keys")
    await call("keys", "DELETE", "/api/keys/{key_id}", f"/api/keys/{key['id']}")
    # workspace
    await call("workspace", "GET", "/api/settings/workspace")
    await call("workspace", "PUT", "/api/settings/workspace",
               json={"sender_name": "Acme", "postal_address": "1 Main St, Springfield"})
    # templates
    await call("templates", "GET", "/api/templates")
    await call("templates", "PUT", "/api/templates/{name}", "/api/templates/shapes-mail",
               json=TEMPLATE)
    # flows
    await call("flows", "GET", "/api/flows/schema", auth=False)
    await call("flows", "GET", "/api/examples")
    await call("flows", "POST", "/api/flows/validate", json=FLOW)
    await call("flows", "POST", "/api/flows", json=FLOW)
    await call("flows", "PUT", "/api/flows/{flow_id}", f"/api/flows/{fid}", json=FLOW)
    await call("flows", "GET", "/api/flows/{flow_id}", f"/api/flows/{fid}")
    await call("flows", "PUT", "/api/flows/{flow_id}/layout", f"/api/flows/{fid}/layout",
               json={"positions": {"hello": {"x": 1, "y": 2.5}}})
    await call("flows", "GET", "/api/flows/{flow_id}/layout", f"/api/flows/{fid}/layout")
    await call("flows", "POST", "/api/flows/{flow_id}/publish", f"/api/flows/{fid}/publish",
               json={"note": "first"})
    # leads: created (201) into the flow, updated (200), imported
    made = await call("leads", "POST", "/api/leads", json={
        "email": "ada@example.com", "first_name": "Ada", "company": "Acme", "tags": ["vip"],
        "fields": {"plan": "pro"}, "consent": {"status": "granted", "source": "shapes"}})
    lead_id = made.json()["id"]
    await call("leads", "POST", "/api/leads", json={"email": "ada@example.com", "title": "CTO"})
    await call("leads", "POST", "/api/leads/import", content=CSV,
               headers={"Content-Type": "text/csv"})
    journey = (await call("leads", "GET", "/api/leads/{lead_id}",
                          f"/api/leads/{lead_id}")).json()["flows"][0]
    await at_step(db_url, journey["journey_id"], "pause")
    # events: one, then a batch with a duplicate
    await call("events", "POST", "/api/events", json={
        "lead_id": lead_id, "type": "page.visited", "id": "ev-1",
        "properties": {"url": "/pricing"}})
    await call("events", "POST", "/api/events", json=[
        {"email": "ada@example.com", "type": "webinar.attended", "id": "ev-2"},
        {"lead_id": lead_id, "type": "page.visited", "id": "ev-1"}])
    await call("leads", "POST", "/api/leads/{lead_id}/notes", f"/api/leads/{lead_id}/notes",
               json={"text": "Called, interested"})
    await call("leads", "POST", "/api/leads/{lead_id}/stage", f"/api/leads/{lead_id}/stage",
               json={"stage": "MQL", "reason": "shapes"})
    await call("leads", "GET", "/api/leads", params={"q": "ada"})
    await call("leads", "GET", "/api/leads/{lead_id}", f"/api/leads/{lead_id}")
    await call("leads", "GET", "/api/leads/{lead_id}/timeline", f"/api/leads/{lead_id}/timeline")
    # flows, with a lead in them
    await call("flows", "GET", "/api/flows")
    await call("flows", "GET", "/api/flows/{flow_id}/versions", f"/api/flows/{fid}/versions")
    await call("flows", "GET", "/api/flows/{flow_id}/versions/{version}",
               f"/api/flows/{fid}/versions/1")
    await call("flows", "GET", "/api/flows/{flow_id}/stats", f"/api/flows/{fid}/stats")
    await call("flows", "GET", "/api/flows/{flow_id}/steps/{step_id}/leads",
               f"/api/flows/{fid}/steps/pause/leads")
    await call("flows", "POST", "/api/flows/{flow_id}/simulate", f"/api/flows/{fid}/simulate",
               json={"leads": 20, "days": 5, "seed": 1})
    # templates, with a real lead
    await call("templates", "GET", "/api/templates/{name}", "/api/templates/trial-welcome")
    await call("templates", "GET", "/api/templates/{name}/preview",
               "/api/templates/trial-welcome/preview", params={"lead_id": lead_id})
    await call("templates", "POST", "/api/templates/{name}/preview",
               "/api/templates/shapes-mail/preview", json=TEMPLATE)
    await call("templates", "POST", "/api/templates/{name}/test-send",
               "/api/templates/shapes-mail/test-send", json={"to": "me@example.com"})
    await call("outbox", "GET", "/api/outbox")
    await call("outbox", "GET", "/api/outbox", params={"lead_id": lead_id})
    # the SendGrid webhook: the mail the journey sent was opened
    with session_scope(db_url) as session:
        msg = session.exec(select(EmailMessage).where(EmailMessage.lead_id == lead_id)).first()
        assert msg is not None
        signer_events.append({
            "email": msg.to, "timestamp": int(time.time()), "event": "open",
            "sg_event_id": f"open-{msg.send_id}", "sg_message_id": "m1.filter",
            "send_id": msg.send_id, "lead_id": lead_id, "flow_id": fid,
            "version": str(msg.version), "step": msg.step})
    signer: WebhookSigner = call.http._shapes_signer  # type: ignore[attr-defined]
    body, headers = signer.signed_batch(signer_events)
    await call("webhooks", "POST", "/api/webhooks/sendgrid", content=body, headers=headers,
               auth=False)
    # privacy: the export while nothing moves (the erasure comes last)
    await call("privacy", "GET", "/api/leads/{lead_id}/export", f"/api/leads/{lead_id}/export")
    # flow changes
    await call("flow_changes", "GET", "/api/flows/{flow_id}/state", f"/api/flows/{fid}/state")
    await call("flow_changes", "POST", "/api/flows/{flow_id}/pause", f"/api/flows/{fid}/pause")
    await call("flow_changes", "POST", "/api/flows/{flow_id}/resume", f"/api/flows/{fid}/resume")
    await call("flows", "POST", "/api/flows/{flow_id}/publish", f"/api/flows/{fid}/publish")
    body = {"to_version": 2, "from_versions": [1]}
    await call("flow_changes", "POST", "/api/flows/{flow_id}/migrations/preview",
               f"/api/flows/{fid}/migrations/preview", json=body)
    migration = (await call("flow_changes", "POST", "/api/flows/{flow_id}/migrations",
                            f"/api/flows/{fid}/migrations", json=body)).json()
    await call("flow_changes", "GET", "/api/flows/{flow_id}/migrations",
               f"/api/flows/{fid}/migrations")
    await call("flow_changes", "GET", "/api/flows/{flow_id}/migrations/{migration_id}",
               f"/api/flows/{fid}/migrations/{migration['id']}")
    await call("flow_changes", "POST", "/api/leads/{lead_id}/flows/{flow_id}/exit",
               f"/api/leads/{lead_id}/flows/{fid}/exit")
    again = (await call("flows", "POST", "/api/flows/{flow_id}/enroll",
                        f"/api/flows/{fid}/enroll", json={"lead_id": lead_id})).json()
    await at_step(db_url, again["journey_id"], "pause")
    await call("flow_changes", "POST", "/api/flows/{flow_id}/stop", f"/api/flows/{fid}/stop")
    # capture forms (public)
    await call("public", "PUT", "/api/forms/{form}", "/api/forms/trial",
               json={"double_opt_in": False, "consent_text_version": "v1"})
    await call("public", "GET", "/api/forms")
    await call("public", "GET", "/api/forms/{form}", "/api/forms/trial")
    await call("public", "POST", "/api/capture/{form}", "/api/capture/trial", auth=False,
               json={"email": "form@example.com", "consent": "on"})
    # privacy
    await call("privacy", "DELETE", "/api/leads/{lead_id}", f"/api/leads/{lead_id}")


_SEEN: dict[str, dict[str, Any]] = {}


@pytest.fixture
async def seen(time_env: WorkflowEnvironment, db_url: str, task_queue: str,
               monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The scenario's answers, run once for the module (each family's test reads its part)."""
    if not _SEEN:
        signer = WebhookSigner.generate()
        async with app_client(time_env.client, db_url, task_queue, monkeypatch,
                              sendgrid_webhook_public_key=signer.public_key) as http:
            http._shapes_signer = signer  # type: ignore[attr-defined]
            recorder = Recorder(http)
            await _scenario(recorder, db_url)
        _SEEN.update(recorder.seen)
        if RECORD:
            GOLDEN.parent.mkdir(exist_ok=True)
            GOLDEN.write_text(json.dumps(_SEEN, indent=1, sort_keys=True) + "\n")
    return _SEEN


FAMILIES = ["health", "keys", "workspace", "templates", "flows", "leads", "events", "outbox",
            "webhooks", "flow_changes", "public", "privacy"]


@pytest.mark.parametrize("family", FAMILIES)
async def test_route_family_keeps_every_field_and_type(family: str, seen: dict[str, Any]) -> None:
    golden = json.loads(GOLDEN.read_text())[family]
    assert seen[family].keys() == golden.keys()
    for route, before in golden.items():
        changes = list(_differences(before, seen[family][route]))
        assert not changes, f"{route} answers differently than before: {changes}"


def _differences(before: Any, now: Any, path: str = "") -> Any:
    """``(path, before, now)`` wherever two shapes differ."""
    if isinstance(before, dict) and isinstance(now, dict):
        for key in sorted(before.keys() | now.keys()):
            yield from _differences(before.get(key, "<absent>"), now.get(key, "<absent>"),
                                    f"{path}.{key}")
    elif isinstance(before, list) and isinstance(now, list) and before and now:
        yield from _differences(before[0], now[0], f"{path}[]")
    elif before != now:
        yield path, before, now
