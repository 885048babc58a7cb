"""Fuzzing the HTTP API from its own OpenAPI document (schemathesis).

The live app (uvicorn in a thread of this process, a real SQLite database and a real Temporal
dev server) gets generated requests for every documented operation, with a valid admin key.
Whatever arrives, the API must not answer 5xx, and every error must have the documented shape
``{"error": "<Type>", "detail": "..."}``.

Bounded for CI: ``LEADFLOW_FUZZ_EXAMPLES`` examples per operation (default 50, under a minute on
a small machine); raise it for a deeper run, e.g. ``LEADFLOW_FUZZ_EXAMPLES=300``.
"""

from __future__ import annotations

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
