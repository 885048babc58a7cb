"""Observability: /metrics content, per-route HTTP metrics, DB-read gauges, SDK metrics, JSON logs."""

from __future__ import annotations

import io
import json
import logging
import shutil
import socket
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.responses import PlainTextResponse
from sqlalchemy import create_engine, pool, text
from sqlmodel import Session, SQLModel
from starlette.staticfiles import StaticFiles
from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from leadflow import metrics
from leadflow.logging_setup import configure_logging


def _count(route: str, status: str, method: str = "GET") -> float:
    value = metrics.REGISTRY.get_sample_value(
        "leadflow_http_requests_total", {"method": method, "route": route, "status": status}
    )
    return value or 0.0


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    app = FastAPI()
    app.add_middleware(metrics.MetricsMiddleware)
    leads = APIRouter(prefix="/api/leads")

    @leads.get("/{lead_id}")
    def get_lead(lead_id: str) -> dict[str, str]:
        return {"id": lead_id}

    @leads.post("/{lead_id}/stage")
    def boom(lead_id: str) -> None:
        raise RuntimeError("unexpected")

    @app.get("/metrics")
    def serve_metrics() -> PlainTextResponse:
        body, content_type = metrics.render_latest()
        return PlainTextResponse(body, media_type=content_type)

    app.include_router(leads)
    (tmp_path / "index.html").write_text("<h1>studio</h1>")
    app.mount("/studio", StaticFiles(directory=tmp_path, html=True))
    return app


async def _client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_requests_are_counted_under_their_route_template(app: FastAPI) -> None:
    template = "/api/leads/{lead_id}"
    before = _count(template, "200")

    async with await _client(app) as client:
        for lead_id in ("a1", "b2", "c3"):
            assert (await client.get(f"/api/leads/{lead_id}")).status_code == 200
        body = (await client.get("/metrics")).text

    assert _count(template, "200") == before + 3
    assert 'route="/api/leads/{lead_id}"' in body
    assert "/api/leads/a1" not in body  # raw paths would explode the number of series
    latency = metrics.REGISTRY.get_sample_value(
        "leadflow_http_request_duration_seconds_count", {"method": "GET", "route": template}
    )
    assert latency and latency >= 3


async def test_unmatched_paths_share_one_label_and_errors_count_as_500(app: FastAPI) -> None:
    unmatched_before = _count(metrics.UNMATCHED_ROUTE, "404")
    error_before = _count("/api/leads/{lead_id}/stage", "500", "POST")

    async with await _client(app) as client:
        assert (await client.get(f"/wp-admin/{uuid.uuid4().hex}.php")).status_code == 404
        assert (await client.post("/api/leads/x/stage")).status_code == 500
        assert (await client.get("/studio/index.html")).status_code == 200

    assert _count(metrics.UNMATCHED_ROUTE, "404") == unmatched_before + 1
    assert _count("/api/leads/{lead_id}/stage", "500", "POST") == error_before + 1
    assert _count("/studio/{path}", "200") >= 1


def test_render_contains_every_metric_family() -> None:
    metrics.record_email("sent")
    metrics.record_email("postponed")
    metrics.record_journey_started("welcome")
    metrics.record_journey_ended("welcome", "completed")
    metrics.record_sla("breached")
    metrics.record_webhook_event("click")
    metrics.record_webhook_event("made-up-type")

    body, content_type = metrics.render_latest()
    text_body = body.decode()

    assert content_type.startswith("text/plain")
    for name in (
        "leadflow_http_requests_total",
        "leadflow_http_request_duration_seconds_bucket",
        'leadflow_emails_total{outcome="sent"}',
        'leadflow_emails_total{outcome="skipped"}',  # present before the first skip
        'leadflow_journeys_started_total{flow="welcome"}',
        'leadflow_journeys_ended_total{flow="welcome",outcome="completed"}',
        'leadflow_sla_transitions_total{state="breached"}',
        'leadflow_webhook_events_total{type="click"}',
        'leadflow_webhook_events_total{type="other"}',
    ):
        assert name in text_body, name
    with pytest.raises(ValueError, match="unknown e-mail outcome"):
        metrics.record_email("bounced-ish")


@pytest.fixture
def state_db(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    engine = create_engine(url, poolclass=pool.NullPool)
    SQLModel.metadata.create_all(engine)
    with engine.begin() as conn:
        # Plain SQL keeps this test about the collector, not about ORM defaults.
        for i, (flow, step, status) in enumerate([
            ("welcome", "wait_2d", "running"),
            ("welcome", "wait_2d", "running"),
            ("welcome", "send_intro", "running"),
            ("welcome", None, "completed"),
            ("trial", "wait_reply", "running"),
        ]):
            conn.execute(
                text(
                    "INSERT INTO journey (id, lead_id, flow_id, version, seq, status, "
                    "current_step, converted, started_at) VALUES "
                    "(:id, :lead, :flow, 1, 1, :status, :step, 0, '2026-01-01 00:00:00')"
                ),
                {"id": f"j{i}", "lead": f"l{i}", "flow": flow, "status": status, "step": step},
            )
        for i, status in enumerate(["sent", "sent", "failed"]):
            conn.execute(
                text(
                    "INSERT INTO emailmessage (send_id, status, attempts, internal, created_at) "
                    "VALUES (:sid, :status, 1, false, '2026-01-01 00:00:00')"
                ),
                {"sid": f"s{i}", "status": status},
            )
    engine.dispose()
    yield url


def test_state_gauges_are_read_from_the_database_at_scrape_time(state_db: str) -> None:
    engine = create_engine(state_db, poolclass=pool.NullPool)
    metrics.install_state_collector(lambda: Session(engine))
    try:
        waiting = {"flow": "welcome", "step": "wait_2d"}
        assert metrics.REGISTRY.get_sample_value("leadflow_journeys_waiting", waiting) == 2
        assert metrics.REGISTRY.get_sample_value(
            "leadflow_journeys_waiting", {"flow": "trial", "step": "wait_reply"}
        ) == 1
        assert metrics.REGISTRY.get_sample_value(
            "leadflow_journeys", {"flow": "welcome", "status": "completed"}
        ) == 1
        assert metrics.REGISTRY.get_sample_value(
            "leadflow_email_messages", {"status": "sent"}
        ) == 2
        assert metrics.REGISTRY.get_sample_value("leadflow_state_up") == 1

        # A journey moving on is visible at the very next scrape: nothing is cached.
        with engine.begin() as conn:
            conn.execute(text("UPDATE journey SET current_step = 'send_intro' WHERE id = 'j0'"))
        assert metrics.REGISTRY.get_sample_value("leadflow_journeys_waiting", waiting) == 1
    finally:
        metrics.install_state_collector(lambda: Session(engine))  # replace, not duplicate
        engine.dispose()


def test_unreachable_database_reports_down_instead_of_failing(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'missing' / 'no.db'}", poolclass=pool.NullPool)
    metrics.install_state_collector(lambda: Session(engine))

    body, _ = metrics.render_latest()

    assert b"leadflow_state_up 0.0" in body
    assert b"leadflow_http_requests_total" in body


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_worker_can_serve_the_registry_itself() -> None:
    metrics.record_email("failed")
    port = _free_port()
    server = metrics.start_metrics_server(f"127.0.0.1:{port}")
    try:
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        server.shutdown()
        server.server_close()
    assert 'leadflow_emails_total{outcome="failed"}' in body


@workflow.defn(sandboxed=False)
class _Hello:
    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(timedelta(seconds=1))
        return "hi"


async def test_temporal_runtime_exports_sdk_metrics() -> None:
    port = _free_port()
    runtime = metrics.temporal_runtime(f"127.0.0.1:{port}")
    env = await WorkflowEnvironment.start_time_skipping(
        runtime=runtime, test_server_existing_path=shutil.which("temporal-test-server")
    )
    async with env:
        task_queue = f"metrics-{uuid.uuid4().hex}"
        async with Worker(env.client, task_queue=task_queue, workflows=[_Hello]):
            result = await env.client.execute_workflow(
                _Hello.run, id=f"wf-{uuid.uuid4().hex}", task_queue=task_queue
            )
        assert result == "hi"
        async with httpx.AsyncClient() as client:
            body = (await client.get(f"http://127.0.0.1:{port}/metrics", timeout=5)).text
    assert "temporal_workflow_completed" in body
    assert "temporal_request" in body
    assert metrics.temporal_runtime(None) is metrics.temporal_runtime(None)  # the shared default


def test_json_logs_parse_and_hide_secrets() -> None:
    stream = io.StringIO()
    configure_logging(json=True, level="INFO", stream=stream)
    log = logging.getLogger("leadflow.test")
    try:
        log.info("lead %s captured", "L1", extra={"lead_id": "L1", "api_key": "lf_live_abc"})
        log.info("called SendGrid with Authorization: Bearer SG.abcdefghijkl.mnopqrstuvwx")
        log.info("GET /u/eyJsZWFkIjoiTDEifQ.sig?token=t0k3n HTTP/1.1")
        log.debug("below the level")
        try:
            raise ValueError("bad")
        except ValueError:
            log.exception("it failed")
    finally:
        configure_logging(json=False, level="WARNING")

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [entry["message"] for entry in lines][0] == "lead L1 captured"
    assert len(lines) == 4
    first = lines[0]
    assert first["level"] == "INFO" and first["logger"] == "leadflow.test"
    assert first["lead_id"] == "L1" and first["api_key"] == "[redacted]"
    assert first["ts"].endswith("+00:00")
    everything = stream.getvalue()
    for secret in ("lf_live_abc", "SG.abcdefghijkl", "eyJsZWFkIjoiTDEifQ", "t0k3n"):
        assert secret not in everything
    assert "ValueError: bad" in lines[3]["exc"]


def test_text_logs_hide_secrets_too() -> None:
    stream = io.StringIO()
    configure_logging(json=False, level="INFO", stream=stream)
    try:
        logging.getLogger("leadflow.test").info("key=%s", "Bearer lf_live_secret")
    finally:
        configure_logging(json=False, level="WARNING")
    assert "lf_live_secret" not in stream.getvalue()
    assert "leadflow.test: key=Bearer [redacted]" in stream.getvalue()


async def test_the_real_app_serves_metrics_with_route_templates_and_state(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadflow.api.main import create_app

    from leadflow.config import reset_settings

    monkeypatch.setenv("LEADFLOW_ADMIN_KEY", "lf_admin_metrics_test_key_0123456789")
    reset_settings()
    app = create_app()
    before = _count("/api/leads/{lead_id}", "401")

    async with await _client(app) as client:
        assert (await client.get("/api/leads/someone")).status_code == 401
        response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert _count("/api/leads/{lead_id}", "401") == before + 1
    assert "leadflow_state_up 1.0" in response.text  # the collector reads this app's database
    assert "/metrics" not in app.openapi()["paths"]  # not part of the integrators' API


def test_email_statuses_count_as_outcomes() -> None:
    def sample(outcome: str) -> float:
        return metrics.REGISTRY.get_sample_value(
            "leadflow_emails_total", {"outcome": outcome}) or 0.0

    before = {o: sample(o) for o in metrics.EMAIL_OUTCOMES}
    for status in ("sending", "sent", "pending", "failed", None):
        metrics.record_email_status(status)

    assert sample("sent") == before["sent"] + 1
    assert sample("postponed") == before["postponed"] + 1  # back to pending: retried later
    assert sample("failed") == before["failed"] + 1
    assert sample("skipped") == before["skipped"]  # "sending" is an intent, not an outcome
