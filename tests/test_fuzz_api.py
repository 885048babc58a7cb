"""Fuzzing the HTTP API from its own OpenAPI document (schemathesis).

The live app (uvicorn in a thread of this process, a real SQLite database and a real Temporal
dev server) gets generated requests for every documented operation, with a valid admin key.
Whatever arrives, the API must not answer 5xx, and every error must have the documented shape
``{"error": "<Type>", "detail": "..."}``.

Bounded for CI: ``LEADFLOW_FUZZ_EXAMPLES`` examples per operation (default 50, under a minute on
a small machine); raise it for a deeper run, e.g. ``LEADFLOW_FUZZ_EXAMPLES=300``. A second test
puts nasty values (NaN, infinities, huge integers, long strings, deep nesting, template bombs)
into valid documents of the main write endpoints (``LEADFLOW_FUZZ_NASTY_EXAMPLES`` per
endpoint, default 25), derandomized like the first.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from leadflow.config import reset_settings
from tests.native_stack import ADMIN_KEY, NativeStack, free_port

EXAMPLES = int(os.environ.get("LEADFLOW_FUZZ_EXAMPLES", "50"))
# "METHOD /path" of operations to leave out (none today; say why beside any added).
SKIP: set[str] = set()


@pytest.fixture
def live_api(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The API served over HTTP from this process, on a real database and Temporal server."""
    temporal = NativeStack(home=tmp_path, database_url=db_url)
    temporal.start_temporal()
    monkeypatch.setenv("LEADFLOW_ADMIN_KEY", ADMIN_KEY)
    monkeypatch.setenv("LEADFLOW_TEMPORAL_ADDRESS", temporal.temporal_address)
    monkeypatch.setenv("LEADFLOW_TASK_QUEUE", temporal.task_queue)  # no worker: journeys queue up
    reset_settings()
    from leadflow.api.main import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        temporal.stop_all()
        reset_settings()


def _problem(case: Any, response: Any) -> str | None:
    """What is wrong with ``response`` by the API's contract, or None."""
    where = f"{case.method} {case.formatted_path}"
    if response.status_code >= 500:
        return f"{where} -> {response.status_code}: {response.text[:300]}"
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            return f"{where} -> {response.status_code} with a non-JSON body: {response.text[:200]}"
        if not (isinstance(body, dict) and isinstance(body.get("error"), str)
                and isinstance(body.get("detail"), str)):
            return f"{where} -> {response.status_code} not in the error shape: {body!r:.300}"
    return None


def _exercise(operation: Any, label: str, auth: dict[str, str],
              problems: dict[str, str]) -> Any:
    """A Hypothesis test sending generated requests to ``operation``; notes its first problem."""

    # No shrinking: one bad answer per operation is enough to report, and CI time is bounded.
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def exercise(case: Any) -> None:
        try:
            response = case.call(headers=auth, timeout=30)
        except httpx.HTTPError as exc:  # pragma: no cover - the server died
            problems.setdefault(label, f"{label}: no answer: {exc}")
            return
        problem = _problem(case, response)
        if problem:
            problems.setdefault(label, problem)

    return exercise


def test_no_5xx_and_every_error_documented(live_api: str) -> None:
    schema = schemathesis.openapi.from_url(f"{live_api}/openapi.json")
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    problems: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if label in SKIP:
            continue
        operations += 1

        _exercise(operation, label, auth, problems)()
    assert operations > 20, "the OpenAPI document lists too few operations"
    assert not problems, "\n".join(problems.values())


# ---------------------------------------------------------------- nasty values in real documents
#
# Generated requests from the schema rarely reach deep into a document. These take a valid
# document per endpoint and put one nasty value somewhere in it: NaN and infinities, integers
# far beyond 64 bits, long strings, nesting a hundred levels deep. No answer may be 5xx, and a
# refused lead must not have been saved.

NASTY_EXAMPLES = int(os.environ.get("LEADFLOW_FUZZ_NASTY_EXAMPLES", "25"))


def _nested(depth: int) -> Any:
    value: Any = 1
    for i in range(depth):
        value = {"k": value} if i % 2 else [value]
    return value


NASTY = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([float("nan"), float("inf"), float("-inf"), 1e308]),
    st.integers(min_value=-(2**200), max_value=2**200),
    st.integers(min_value=300, max_value=3000).map(lambda n: 10**n),
    st.integers(min_value=1, max_value=150).map(_nested),
    st.builds(lambda c, n: c * n, st.characters(codec="utf-8"),
              st.integers(min_value=1000, max_value=200_000)),
    st.text(max_size=40),
    st.sampled_from(["{{ 9**(9**8) }}", "P999999999D", "=HYPERLINK(\"x\")", "\u0000", "",
                     ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}"
                      "{% endfor %}")]),
    st.none(), st.booleans(),
    st.recursive(st.none() | st.floats(allow_nan=True) | st.text(max_size=8),
                 lambda inner: st.lists(inner, max_size=3)
                 | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8),
)

_FLOW: dict[str, Any] = {
    "id": "fuzz-flow", "name": "Fuzz", "entry": {"event": "demo.requested"},
    "exit_when": {"field": "stage", "op": "eq", "value": "customer"}, "start": "hello",
    "steps": {
        "hello": {"type": "email", "template": "trial-welcome", "next": "pause"},
        "pause": {"type": "wait", "duration": "P1D", "next": "listen"},
        "listen": {"type": "wait_for", "event": "email.clicked", "timeout": "P2D",
                   "where": {"field": "properties.url", "op": "contains", "value": "x"},
                   "next": "pick", "on_timeout": "pick"},
        "pick": {"type": "branch", "cases": [{"when": {"all": [{"field": "country", "op": "eq",
                                                                  "value": "DE"}]},
                                              "next": "tag"}], "else": "tag"},
        "tag": {"type": "update", "add_tags": ["x"], "set": {"fields.size": 3}, "next": "tell"},
        "tell": {"type": "notify", "channel": "email", "to": "ops@example.com",
                 "message": "Hi {{ lead.first_name }}", "next": "end"},
        "end": {"type": "exit"},
    },
}
# (method, path, document): documents the API accepts as they are
BASES: list[tuple[str, str, Any]] = [
    ("POST", "/api/leads", {"email": "base@example.com", "first_name": "Ann", "company": "Acme",
                            "fields": {"size": 10}, "tags": ["a"],
                            "consent": {"status": "granted", "source": "fuzz"}}),
    ("POST", "/api/events", {"email": "base@example.com", "type": "page.viewed",
                             "properties": {"url": "/pricing", "n": 1}}),
    ("POST", "/api/events", [{"email": "base@example.com", "type": "demo.requested"}]),
    ("POST", "/api/flows/validate", _FLOW),
    ("POST", "/api/flows", _FLOW),
    ("PUT", "/api/templates/fuzz", {"subject": "Hi {{ lead.first_name }}",
                                    "html": "<p>{{ unsubscribe_url }} {{ postal_address }}</p>"}),
    ("POST", "/api/webhooks/sendgrid", [{"event": "open", "email": "a@example.com",
                                         "timestamp": 1700000000, "sg_event_id": "e1"}]),
    ("POST", "/api/capture/newsletter", {"email": "cap@example.com", "first_name": "Cap"}),
    ("POST", "/api/flows/validate", {**_FLOW, "send_window": {
        "days": ["mon", "tue"], "from": "09:00", "to": "17:00", "timezone": "lead"}}),
    ("PUT", "/api/scoring", {
        "fit": [{"when": {"field": "title", "op": "contains", "value": "VP"}, "points": 15}],
        "behavior": {"email.clicked": 5, "demo.requested": {"points": 40, "decay": "P30D"}},
        "temperature": {"hot": 60, "warm": 25}, "mql_at": 60}),
    ("POST", "/api/reps", {"id": "fuzz-rep", "email": "rep@example.com", "name": "Rep",
                           "timezone": "Europe/Berlin", "capacity": 5,
                           "working_hours": {"days": ["mon"], "from": "09:00", "to": "17:00"},
                           "out_of_office": [{"from": "2026-01-01", "to": "2026-01-02"}]}),
    ("POST", "/api/teams", {"id": "fuzz-team", "name": "Team", "members": [],
                            "routing": [{"when": {"field": "country", "op": "eq",
                                                  "value": "DE"}, "method": "round_robin"}],
                            "calendar": {"timezone": "UTC", "days": ["mon"], "from": "09:00",
                                         "to": "17:00", "holidays": ["2026-12-25"]}}),
    ("PUT", "/api/forms/newsletter", {"double_opt_in": False, "rate_limit": 10,
                                      "rate_window_seconds": 60}),
]


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in ``doc`` a value can be replaced (including the whole document)."""
    out = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += _paths(value, (*prefix, i))
    return out


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = json.loads(json.dumps(doc))
    node = copy
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return copy


def _body(doc: Any) -> bytes:
    try:
        return json.dumps(doc, allow_nan=True).encode()
    except (ValueError, RecursionError):  # pragma: no cover - int too long to write
        return b"{}"


_serial = itertools.count(1)


def _exercise_document(http: httpx.Client, method: str, path: str, base: Any,
                       problems: list[str]) -> Any:
    """A Hypothesis test putting one nasty value somewhere in ``base``; notes problems."""

    @settings(max_examples=NASTY_EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(where=st.sampled_from(_paths(base)), value=NASTY)
    def exercise(where: tuple[Any, ...], value: Any) -> None:
        doc = _replace(base, where, value)
        email = f"fuzz-{next(_serial)}@example.com"  # never one an earlier example used
        lead = path == "/api/leads" and isinstance(doc, dict) and where != ("email",)
        if lead:
            doc["email"] = email
        response = http.request(method, path, content=_body(doc))
        label = f"{method} {path} with {where} = {str(value)[:80]!r}"
        if response.status_code >= 500:
            problems.append(f"{label} -> {response.status_code}: {response.text[:200]}")
        elif response.status_code >= 400:
            body = response.json()
            if not (isinstance(body, dict) and isinstance(body.get("error"), str)
                    and isinstance(body.get("detail"), str)):
                problems.append(f"{label} -> {response.status_code}: {body!r:.200}")
            if lead and http.get("/api/leads", params={"q": email}).json()["total"]:
                problems.append(f"{label} refused, yet the lead was saved")

    return exercise


def _bases_on(lead_id: str) -> list[tuple[str, str, Any]]:
    """Documents for endpoints about an existing flow (``fuzz-flow``, published) and lead."""
    return [
        ("POST", "/api/flows/fuzz-flow/simulate", {"leads": 20, "days": 5, "seed": 1}),
        ("PUT", "/api/flows/fuzz-flow/layout", {"positions": {"hello": {"x": 1.5, "y": 2}}}),
        ("PUT", "/api/flows/fuzz-flow", _FLOW),
        ("POST", "/api/flows/fuzz-flow/enroll", {"lead_id": lead_id}),
        ("POST", f"/api/leads/{lead_id}/stage", {"stage": "MQL", "reason": "fuzz"}),
        ("POST", f"/api/leads/{lead_id}/outcome", {"outcome": "won", "amount": 100,
                                                   "currency": "EUR",
                                                   "at": "2026-01-01T00:00:00Z"}),
        ("POST", "/api/keys", {"role": "marketer", "label": "fuzz"}),
        ("PUT", "/api/settings/rejection-reasons", [
            {"id": "no-budget", "label": "No budget", "outcome": "recycle",
             "recycle_flow": "fuzz-flow", "cooldown": "P30D"}]),
    ]


def test_nasty_values_in_real_documents_never_answer_5xx(live_api: str) -> None:
    problems: list[str] = []
    auth = {"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"}
    with httpx.Client(base_url=live_api, headers=auth, timeout=30) as http:
        assert http.post("/api/flows", json=_FLOW).status_code == 201
        assert http.post("/api/flows/fuzz-flow/publish").status_code == 201
        lead = http.post("/api/leads", json={"email": "fixture@example.com"})
        assert lead.status_code in (200, 201), lead.text
        for method, path, base in [*BASES, *_bases_on(lead.json()["id"])]:
            _exercise_document(http, method, path, base, problems)()
    assert not problems, "\n".join(problems[:20])
