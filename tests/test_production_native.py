"""The production topology, natively: PostgreSQL, a Temporal server, the API and two workers.

Everything a compose deployment runs, as separate processes on this machine, configured only
through the environment (``LEADFLOW_ENV=production``): the database is created by ``leadflow db
upgrade`` (the API must not create tables in production), and the test talks to the system only
over HTTP, as an integration would. Two workers poll one task queue; both must take work.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from leadflow.config import PROJECT_ROOT
from tests.native_stack import NativeStack, bring_schema_to_models, free_port
from tests.pg import throwaway_postgres

pytestmark = pytest.mark.postgres

FLOW: dict[str, Any] = {
    "id": "native-welcome",
    "name": "Welcome, then a demo invite for those who ask",
    "entry": {"event": "lead.created"},
    "start": "welcome",
    "steps": {
        "welcome": {"type": "email", "template": "trial-welcome", "next": "pause"},
        "pause": {"type": "wait", "duration": "PT2S", "next": "await-demo"},
        "await-demo": {"type": "wait_for", "event": "demo.requested", "timeout": "PT30S",
                       "next": "invite", "on_timeout": "end"},
        "invite": {"type": "email", "template": "demo-invite", "next": "end"},
        "end": {"type": "exit"},
    },
}
LEADS = 12


@pytest.fixture
def fresh_pg() -> Iterator[str]:
    """An empty PostgreSQL database (no tables: ``leadflow db upgrade`` makes them)."""
    with throwaway_postgres("leadflow_native") as url:
        yield url


def wait_until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


def journey_of(http: httpx.Client, lead_id: str) -> dict[str, Any]:
    lead = http.get(f"/api/leads/{lead_id}").raise_for_status().json()
    (journey,) = [j for j in lead["flows"] if j["flow_id"] == FLOW["id"]]
    return journey


def sample(metrics_text: str, name: str, labels: str) -> float:
    """The value of ``name{labels}`` in a Prometheus text page (0 when absent)."""
    for line in metrics_text.splitlines():
        if line.startswith(f"{name}{{{labels}}} "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def worker_identities(address: str) -> set[str]:
    """Identities of the workers that completed workflow or activity tasks, from the histories."""
    from temporalio.client import Client

    client = await Client.connect(address)
    seen: set[str] = set()
    async for execution in client.list_workflows():
        history = await client.get_workflow_handle(execution.id).fetch_history()
        for event in history.events:
            if event.HasField("workflow_task_completed_event_attributes"):
                seen.add(event.workflow_task_completed_event_attributes.identity)
            if event.HasField("activity_task_started_event_attributes"):
                seen.add(event.activity_task_started_event_attributes.identity)
    return seen


def test_api_and_two_workers_on_postgresql_and_temporal(fresh_pg: str, tmp_path: Path) -> None:
    upgrade = subprocess.run(
        [sys.executable, "-m", "leadflow.cli", "db", "upgrade", "--url", fresh_pg],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert upgrade.returncode == 0, upgrade.stderr
    assert "up to date" in upgrade.stdout
    bring_schema_to_models(fresh_pg)  # no-op once the shipped migration is current

    stack = NativeStack(home=tmp_path, database_url=fresh_pg,
                        env={"LEADFLOW_EMAIL_BACKEND": "outbox"})
    metrics_ports = {"worker-1": free_port(), "worker-2": free_port()}
    try:
        stack.start_temporal()
        for name, port in metrics_ports.items():
            stack.start_worker(name, metrics_port=port)
        stack.start_api()
        with stack.client() as http:
            # Publish the flow, as the studio does.
            assert http.post("/api/flows", json=FLOW).status_code == 201
            assert http.post(f"/api/flows/{FLOW['id']}/publish").json()["version"] == 1

            # New leads enter the flow on lead.created.
            lead_ids = []
            for i in range(LEADS):
                response = http.post("/api/leads", json={"email": f"native{i}@example.com",
                                                          "first_name": f"Lead{i}",
                                                          "consent": {"status": "granted", "source": "test"}})
                assert response.status_code == 201, response.text
                lead_ids.append(response.json()["id"])
            askers = set(lead_ids[: LEADS // 2])

            # They reach the wait_for step after the welcome mail and a short wait, where half
            # of them ask for a demo, each as soon as it waits (the step's timeout is short, and
            # a loaded machine must not let it pass while the others are still on their way).
            for lead_id in lead_ids:
                wait_until(lambda lid=lead_id: journey_of(http, lid)["step"] == "await-demo",
                           30, f"{lead_id} at await-demo")
                if lead_id in askers:
                    response = http.post("/api/events", json={"lead_id": lead_id,
                                                              "type": "demo.requested"})
                    assert response.status_code == 202, response.text

            for lead_id in lead_ids:
                wait_until(lambda lid=lead_id: journey_of(http, lid)["status"] == "completed",
                           60, f"{lead_id}'s journey to complete")

            outbox = http.get("/api/outbox", params={"flow_id": FLOW["id"], "limit": 1000}).json()
            by_lead: dict[str, list[str]] = {}
            for mail in outbox:
                by_lead.setdefault(mail["lead_id"], []).append(mail["template"])
            for lead_id in lead_ids:
                expected = ["trial-welcome", "demo-invite"] if lead_id in askers else ["trial-welcome"]
                assert sorted(by_lead.get(lead_id, [])) == sorted(expected), lead_id

            api_metrics = http.get("/metrics").text
            assert sample(api_metrics, "leadflow_http_requests_total",
                          'method="POST",route="/api/leads",status="201"') == LEADS
            # A start is counted by the process that delivered it: the API, or a worker's
            # relay of the intents outbox when it got there first.
            started = sample(api_metrics, "leadflow_journeys_started_total",
                             f'flow="{FLOW["id"]}"')
            for port in metrics_ports.values():
                page = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
                started += sample(page, "leadflow_journeys_started_total", f'flow="{FLOW["id"]}"')
            assert started == LEADS
            assert sample(api_metrics, "leadflow_journeys",
                          f'flow="{FLOW["id"]}",status="completed"') == LEADS

        # Both workers took work: by the identities Temporal recorded, by their own metrics.
        identities = asyncio.run(worker_identities(stack.temporal_address))
        for name in metrics_ports:
            assert any(i.startswith(f"{stack.pid(name)}@") for i in identities), (name, identities)
        sent = 0.0
        for port in metrics_ports.values():
            page = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            sent += sample(page, "leadflow_emails_total", 'outcome="sent"')
        assert sent == len(outbox)
    finally:
        stack.stop_all()


def test_the_api_refuses_to_start_in_production_with_a_placeholder_secret(tmp_path: Path) -> None:
    env = NativeStack(home=tmp_path, database_url="sqlite://").leadflow_env()
    env.pop("LEADFLOW_SECRET_KEY")
    result = subprocess.run([sys.executable, "-m", "leadflow.cli", "api", "--port",
                             str(free_port())], cwd=PROJECT_ROOT, env=env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert "LEADFLOW_SECRET_KEY" in result.stderr
