"""Bounded work for every input: each bad input the probe found answers 4xx with its path and
leaves nothing half-written; templates cannot hold the process."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from sqlmodel import func, select
from temporalio.testing import WorkflowEnvironment

from leadflow import sandbox
from leadflow.db import session_scope
from leadflow.journeys.validate import validate_flow
from leadflow.models import Flow, Lead, Template
from leadflow.rendering import SAMPLE_LEAD, build_context, render_string, template_string_errors
from tests.fakes.api_client import admin, app_client
from tests.fakes.sendgrid_webhook import WebhookSigner

NOTIFY_FLOW: dict[str, Any] = {
    "id": "tell-ops", "name": "Tell ops", "start": "tell",
    "steps": {"tell": {"type": "notify", "channel": "email", "to": "ops@company.example",
                       "message": "New lead {{ lead.first_name }}", "next": "end"},
              "end": {"type": "exit"}},
}
FREEZERS = [
    "{{ 9**(9**8) }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% for i in range(9000) %}{% for j in range(9000) %}{% endfor %}{% endfor %}",
    "{{ 'x' * 10**9 }}",
    "{{ '%0999999999d' % 1 }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ 'x'|center(10**9) }}",
    ("{% set ns = namespace(x=2) %}{% for i in range(40) %}{% set ns.x = ns.x * ns.x %}"
     "{% endfor %}{{ ns.x }}"),
    ("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
     "{% endfor %}{{ ns.s|length }}"),
    "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(60) }}",
    "{{ 'ab'.replace('', 'x' * 100000) }}",
    "{{ '{:{}}'.format(1, 10**9) }}",
    "{{ lipsum(n=10**9) }}",
    "{{ [1] * 100000 * 100000 }}",
    "{{ lead|tojson(indent=10**9) }}",
]


@pytest.mark.parametrize("source", FREEZERS)
def test_the_sandbox_refuses_work_that_would_freeze_the_process(source: str) -> None:
    problems = template_string_errors(source)
    assert len(problems) == 1 and problems[0], source


def test_a_render_past_its_deadline_fails_cleanly(monkeypatch: pytest.MonkeyPatch) -> None:
    # the clock is read as the work goes: a render already past its deadline stops itself
    monkeypatch.setattr(sandbox, "DEADLINE_SECONDS", -1.0)
    problems = template_string_errors("{% for i in range(5000) %}{{ i }}{% endfor %}")
    assert problems == ["the template takes too long to render (over -1 s)."]
    assert template_string_errors("Hi {{ lead.first_name }}") == []  # little work: no check


def test_ordinary_templates_still_render() -> None:
    source = ("Hi {{ lead.first_name|title }} {{ 2**10 }} {{ 'a' ~ 'b' }} {{ 'x' * 3 }} "
              "{% for t in ['p', 'q'] %}{{ loop.index }}{{ t }}{% endfor %} "
              "{{ '%05d'|format(42) }} {{ 'abc'|replace('b', 'B') }} {{ 'a'.ljust(3) }}|")
    out = render_string(source, build_context(SAMPLE_LEAD))
    assert out == "Hi Jamie 1024 ab xxx 1p2q 00042 aBc a  |"


def test_publish_renders_notify_messages_and_subjects() -> None:
    for message in ("{{ lead.nonexistent.deeper }}", "{{ ''.__class__.__mro__ }}",
                    "{{ 9**(9**8) }}"):
        doc = copy.deepcopy(NOTIFY_FLOW)
        doc["steps"]["tell"]["message"] = message
        problems = validate_flow(doc)
        assert [p["path"] for p in problems] == ["steps.tell.message"], (message, problems)
    doc = {"id": "s", "name": "S", "start": "m", "steps": {
        "m": {"type": "email", "template": "trial-welcome", "subject": "{{ lead.nope.deeper }}",
              "next": "end"}, "end": {"type": "exit"}}}
    assert [p["path"] for p in validate_flow(doc)] == ["steps.m.subject"]


def test_deep_conditions_long_flows_and_huge_durations_are_refused() -> None:
    cond: dict[str, Any] = {"field": "country", "op": "eq", "value": "DE"}
    for _ in range(900):
        cond = {"not": cond}
    doc = {"id": "d", "name": "D", "start": "a", "exit_when": cond,
           "steps": {"a": {"type": "exit"}}}
    problems = validate_flow(doc)
    assert len(problems) == 1 and "at most 16 levels" in problems[0]["message"]

    steps = {f"s{i}": {"type": "update", "add_tags": ["x"], "next": f"s{i + 1}"}
             for i in range(1000)}
    steps["s1000"] = {"type": "exit"}
    problems = validate_flow({"id": "long", "name": "L", "start": "s0", "steps": steps})
    assert problems and problems[0]["path"] == "steps"

    doc = {"id": "w", "name": "W", "start": "a", "steps": {
        "a": {"type": "wait", "duration": "P999999999D", "next": "end"}, "end": {"type": "exit"}}}
    problems = validate_flow(doc)
    assert [p["path"] for p in problems] == ["steps.a.duration"]
    assert "ten years" in problems[0]["message"]


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"x": [value]}
    return value


def _count(db_url: str, model: Any) -> int:
    with session_scope(db_url) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


@pytest.mark.asyncio(loop_scope="session")
async def test_bad_inputs_answer_4xx_with_their_path_and_write_nothing(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    signer = WebhookSigner.generate()
    async with app_client(time_env.client, db_url, task_queue, monkeypatch,
                          sendgrid_webhook_public_key=signer.public_key) as http:
        json_h = admin(**{"Content-Type": "application/json"})
        # NaN, Infinity, 1e999 in a lead: refused with the path, the lead not saved
        for literal in ("NaN", "Infinity", "-Infinity", "1e999"):
            body = '{"email": "nan@example.com", "fields": {"size": ' + literal + "}}"
            r = await http.post("/api/leads", content=body, headers=json_h)
            assert r.status_code == 422, (literal, r.text)
            assert r.json()["problems"][0]["path"] == "fields.size"
        r = await http.post("/api/leads", content='{"email": "big@example.com", "fields": '
                            '{"n": ' + "9" * 5000 + "}}", headers=json_h)
        assert r.status_code in (400, 422), r.text
        assert _count(db_url, Lead) == 0

        # deeply nested JSON: events, flows, the signed webhook
        deep = _nested(200)
        r = await http.post("/api/events", headers=admin(), json={
            "email": "deep@example.com", "type": "page.viewed", "properties": deep})
        assert r.status_code == 422 and r.json()["error"] == "Invalid", r.text
        assert r.json()["problems"][0]["path"].startswith("properties.x[0]")
        r = await http.post("/api/flows", headers=json_h,
                            content=b'{"id": "deep", "steps": ' + b"[" * 5000 + b"]" * 5000 + b"}")
        assert r.status_code == 422, r.text
        assert _count(db_url, Flow) == 0
        body, headers = signer.signed_batch([{"event": "click", "deep": _nested(300)}])
        r = await http.post("/api/webhooks/sendgrid", content=body, headers=headers)
        assert r.status_code == 422, r.text

        # a flow with a duration past what dates can hold, conditions 900 deep, 1,000 steps
        doc = {"id": "far", "name": "Far", "start": "a", "steps": {
            "a": {"type": "wait", "duration": "P999999999D", "next": "end"},
            "end": {"type": "exit"}}}
        r = await http.post("/api/flows", headers=admin(), json=doc)
        assert r.status_code == 422 and "steps.a.duration" in r.text, r.text
        steps = {f"s{i}": {"type": "update", "add_tags": ["x"], "next": f"s{i + 1}"}
                 for i in range(1000)}
        steps["s1000"] = {"type": "exit"}
        r = await http.post("/api/flows", headers=admin(),
                            json={"id": "long", "name": "Long", "start": "s0", "steps": steps})
        assert r.status_code == 422, r.text
        assert _count(db_url, Flow) == 0

        # a template that would freeze the process is refused at save, with a sentence
        nested = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
        for source in ("{{ 9**(9**8) }}", nested):
            r = await http.put("/api/templates/freezer", headers=admin(), json={
                "subject": "Hi", "html": source + "{{ unsubscribe_url }} {{ postal_address }}"})
            assert r.status_code == 422, r.text
            assert r.json()["problems"][0]["path"] == "html"
            assert "too" in r.json()["problems"][0]["message"]
        assert _count(db_url, Template) == 0
        assert (await http.get("/api/health")).status_code == 200

        # a notify message that cannot render is refused at publish
        doc = copy.deepcopy(NOTIFY_FLOW)
        doc["steps"]["tell"]["message"] = "{{ lead.nonexistent.deeper }}"
        r = await http.post("/api/flows", headers=admin(), json=doc, params={
            "allow_invalid": "true"})
        assert r.status_code in (200, 201), r.text
        r = await http.post("/api/flows/tell-ops/publish", headers=admin())
        assert r.status_code == 422 and "steps.tell.message" in r.text, r.text

        # a CSV field over 128 KB is a row error, the other rows are imported
        csv_body = ("email,note\nok1@example.com,fine\nbig@example.com," + "x" * 140_000
                    + "\nok2@example.com,fine\n")
        r = await http.post("/api/leads/import", content=csv_body.encode(),
                            headers=admin(**{"Content-Type": "text/csv"}))
        assert r.status_code == 200, r.text
        report = r.json()
        assert report["created"] == 2 and report["rejected_count"] == 1, report
        assert "128 KB" in report["rejected"][0]["errors"][0]

        # a JSON body too large to be anything but an attack
        huge = b'{"email": "huge@example.com", "fields": {"x": "' + b"x" * (33 * 2**20) + b'"}}'
        r = await http.post("/api/leads", content=huge, headers=json_h)
        assert r.status_code == 413 and r.json()["error"] == "TooLarge", r.text[:200]

        # a bearer key with characters beyond ASCII
        for key in ("Bearer clé-é-ü".encode(), "Bearer \u00ff\u00fe".encode("latin-1")):
            r = await http.get("/api/leads", headers={"Authorization": key})
            assert r.status_code == 401, r.text


def test_flows_validate_reads_a_too_deep_file_without_a_traceback(
        tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from leadflow.cli import build_parser

    cond: Any = {"field": "country", "op": "eq", "value": "DE"}
    for _ in range(900):
        cond = {"not": cond}
    deep = tmp_path / "deep.json"
    deep.write_text('{"id": "deep", "exit_when": ' + json.dumps(cond) + "}")
    nan = tmp_path / "nan.json"
    nan.write_text('{"id": "nan", "steps": {"a": {"type": "wait", "duration": NaN}}}')
    args = build_parser().parse_args(["flows", "validate", str(deep), str(nan)])
    assert args.func(args) == 1  # (main() would leave the process)
    out = capsys.readouterr().out
    assert "deep.json: cannot read: exit_when.not.not" in out and "nests deeper" in out
    assert "nan.json: cannot read: steps.a.duration: NaN" in out
