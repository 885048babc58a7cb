"""Prometheus metrics: one registry for Leadflow's own metrics, plus the Temporal SDK's.

Two kinds of numbers live here:

* counters a process increments as things happen (HTTP requests, e-mails by outcome, journeys
  started and ended, SLA transitions, webhook events): per process, reset on restart, so read
  them with ``rate()`` and sum over instances;
* gauges read from the database at scrape time by :class:`StateCollector` (journeys waiting per
  flow and step, journeys and e-mails by status, handoffs by SLA state): the same answer from
  any API replica, whichever worker did the work.

The API serves ``render_latest()`` at ``/metrics``; a worker can serve the same registry with
``start_metrics_server()`` and the SDK's metrics through ``temporal_runtime()``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import Session, col, select
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from leadflow import models

__all__ = [
    "EMAIL_OUTCOMES",
    "JOURNEY_OUTCOMES",
    "REGISTRY",
    "SLA_STATES",
    "MetricsMiddleware",
    "StateCollector",
    "install_state_collector",
    "record_email",
    "record_email_status",
    "record_journey_ended",
    "record_journey_started",
    "record_sla",
    "record_webhook_event",
    "render_latest",
    "route_template",
    "start_metrics_server",
    "temporal_runtime",
]

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry()

EMAIL_OUTCOMES = ("sent", "skipped", "failed", "postponed")
JOURNEY_OUTCOMES = ("completed", "exited", "failed")
SLA_STATES = ("on_time", "due_soon", "breached", "met", "escalated")
# SendGrid's Event Webhook types, and the ``email.*`` event types they are stored as; anything
# else is counted as "other" so a sender cannot grow the label set without bound.
WEBHOOK_EVENT_TYPES = frozenset(
    ["processed", "dropped", "delivered", "deferred", "bounce", "blocked", "open", "click", "spamreport", "unsubscribe", "group_unsubscribe", "group_resubscribe", "email.processed", "email.delivered", "email.deferred", "email.dropped", "email.bounced", "email.opened", "email.clicked", "email.spam_reported", "email.unsubscribed", "email.group_unsubscribed", "email.group_resubscribed"]
)
_METHODS = frozenset(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
UNMATCHED_ROUTE = "<unmatched>"

HTTP_REQUESTS = Counter(
    "leadflow_http_requests",
    "HTTP requests served, by method, route template and status code.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "leadflow_http_request_duration_seconds",
    "Time to serve an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
EMAILS = Counter(
    "leadflow_emails",
    "E-mail send attempts by outcome: sent, skipped (consent, cap, suppression), failed "
    "(refused for good) or postponed (quiet hours, frequency cap, provider asked to retry).",
    ["outcome"],
    registry=REGISTRY,
)
JOURNEYS_STARTED = Counter(
    "leadflow_journeys_started", "Journeys started, by flow.", ["flow"], registry=REGISTRY
)
JOURNEYS_ENDED = Counter(
    "leadflow_journeys_ended",
    "Journeys ended, by flow and outcome (completed, exited, failed).",
    ["flow", "outcome"],
    registry=REGISTRY,
)
SLA_TRANSITIONS = Counter(
    "leadflow_sla_transitions",
    "Handoffs entering an SLA state (on_time, due_soon, breached, met, escalated).",
    ["state"],
    registry=REGISTRY,
)
WEBHOOK_EVENTS = Counter(
    "leadflow_webhook_events",
    "Provider webhook events accepted, by type.",
    ["type"],
    registry=REGISTRY,
)

# Zero-valued series from the start, so dashboards and alerts see 0 rather than "no data".
for _outcome in EMAIL_OUTCOMES:
    EMAILS.labels(_outcome)
for _state in SLA_STATES:
    SLA_TRANSITIONS.labels(_state)


def _check(value: str, allowed: Iterable[str], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; expected one of {sorted(allowed)}")
    return value


def record_email(outcome: str) -> None:
    """Count one send attempt: ``sent``, ``skipped``, ``failed`` or ``postponed``."""
    EMAILS.labels(_check(outcome, EMAIL_OUTCOMES, "e-mail outcome")).inc()


# An EmailMessage status, as delivery records it, to the outcome it counts as. ``sending`` is
# an intent, not an outcome, so it is not counted.
_STATUS_OUTCOMES = {"sent": "sent", "skipped": "skipped", "failed": "failed", "pending": "postponed"}


def record_email_status(status: str | None) -> None:
    """Count an EmailMessage moving to ``status``; ``pending`` counts as postponed.

    Statuses that are not outcomes (``sending``, or None for "unchanged") are ignored, so
    delivery code can call this at every update without deciding what counts.
    """
    outcome = _STATUS_OUTCOMES.get(status or "")
    if outcome is not None:
        EMAILS.labels(outcome).inc()


def record_journey_started(flow_id: str) -> None:
    """Count one journey started in ``flow_id``."""
    JOURNEYS_STARTED.labels(flow_id).inc()


def record_journey_ended(flow_id: str, outcome: str) -> None:
    """Count one journey ended: ``completed``, ``exited`` or ``failed``."""
    JOURNEYS_ENDED.labels(flow_id, _check(outcome, JOURNEY_OUTCOMES, "journey outcome")).inc()


def record_sla(state: str) -> None:
    """Count one handoff entering an SLA state (see ``SLA_STATES``)."""
    SLA_TRANSITIONS.labels(_check(state, SLA_STATES, "SLA state")).inc()


def record_webhook_event(event_type: str) -> None:
    """Count one accepted webhook event; unknown types are counted as ``other``."""
    WEBHOOK_EVENTS.labels(event_type if event_type in WEBHOOK_EVENT_TYPES else "other").inc()


def render_latest(registry: CollectorRegistry = REGISTRY) -> tuple[bytes, str]:
    """The registry in Prometheus text format, with its content type, for ``/metrics``."""
    return generate_latest(registry), CONTENT_TYPE_LATEST


# ---------------------------------------------------------------- HTTP


def route_template(scope: Scope, root_path: str = "") -> str:
    """The matched route's template (``/api/leads/{lead_id}``), never the raw path.

    ``root_path`` is the scope's root path before routing, so mounts can be told apart.
    Unmatched requests share one label: a scanner probing random URLs must not create series.
    """
    route = scope.get("route")
    prefix = str(scope.get("root_path", ""))[len(root_path):]
    if isinstance(route, Mount) or (route is None and prefix):
        # A mounted app without routes of its own (static files): the mount is the template.
        # Routing has already added the mount's path to root_path (FastAPI does not always
        # set scope["route"] for mounts, hence the second test).
        return f"{prefix}/{{path}}"
    if route is None:
        return UNMATCHED_ROUTE
    return prefix + str(getattr(route, "path_format", None) or getattr(route, "path", ""))


class MetricsMiddleware:
    """ASGI middleware counting requests and their latency by method, route template and status.

    Add it to the app (``app.add_middleware(MetricsMiddleware)``); it works for streamed
    responses and counts a request that raised as a 500.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        root_path = str(scope.get("root_path", ""))
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        status = 500
        started = time.perf_counter()

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            route = route_template(scope, root_path)
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)


# ---------------------------------------------------------------- state read at scrape time

SessionFactory = Callable[[], AbstractContextManager[Session]]


class StateCollector(Collector):
    """Gauges read from the database on each scrape, so every replica reports the same.

    ``session_factory`` returns a context manager yielding a session, e.g.
    ``lambda: session_scope(url)`` or ``lambda: Session(engine)``.
    """

    def __init__(self, session_factory: SessionFactory) -> None:
        self._sessions = session_factory

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Without describe() the registry would call collect(), i.e. query the database,
        # at registration time.
        yield from self._families()

    def _families(self) -> tuple[GaugeMetricFamily, ...]:
        return (
            GaugeMetricFamily(
                "leadflow_journeys_waiting",
                "Running journeys, by flow and the step they are at.",
                labels=["flow", "step"],
            ),
            GaugeMetricFamily(
                "leadflow_journeys", "Journeys by flow and status.", labels=["flow", "status"]
            ),
            GaugeMetricFamily(
                "leadflow_email_messages", "E-mails on record, by status.", labels=["status"]
            ),
            GaugeMetricFamily(
                "leadflow_handoffs_sla",
                "Handoffs by SLA state: open (clock running), met or breached.",
                labels=["state"],
            ),
            GaugeMetricFamily(
                "leadflow_state_up", "1 when the last scrape could read the database, else 0."
            ),
        )

    def collect(self) -> Iterator[GaugeMetricFamily]:
        waiting, journeys, emails, sla, up = self._families()
        try:
            with self._sessions() as session:
                self._read(session, waiting, journeys, emails, sla)
        except Exception:  # a failing scrape must say so, not break /metrics
            log.warning("could not read state metrics from the database", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield from (waiting, journeys, emails, sla, up)

    @staticmethod
    def _read(session: Session, waiting: GaugeMetricFamily, journeys: GaugeMetricFamily,
              emails: GaugeMetricFamily, sla: GaugeMetricFamily) -> None:
        J = models.Journey
        rows: Any = session.exec(
            select(J.flow_id, J.current_step, func.count())
            .where(J.status == "running")
            .group_by(J.flow_id, J.current_step)
        )
        for flow_id, step, n in rows:
            waiting.add_metric([flow_id, step or ""], n)
        rows = session.exec(select(J.flow_id, J.status, func.count()).group_by(J.flow_id, J.status))
        for flow_id, status, n in rows:
            journeys.add_metric([flow_id, status], n)
        E = models.EmailMessage
        for status, n in session.exec(select(E.status, func.count()).group_by(E.status)):
            emails.add_metric([status], n)
        H = getattr(models, "Handoff", None)
        if H is not None and hasattr(H, "sla_met_at") and hasattr(H, "sla_breached_at"):
            # Read straight from the recorded timestamps: the handoff workflow decides states.
            met = session.exec(select(func.count()).where(col(H.sla_met_at).is_not(None))).one()
            breached = session.exec(
                select(func.count()).where(
                    col(H.sla_met_at).is_(None), col(H.sla_breached_at).is_not(None)
                )
            ).one()
            running = session.exec(
                select(func.count()).where(
                    col(H.sla_met_at).is_(None),
                    col(H.sla_breached_at).is_(None),
                    col(H.sla_due_at).is_not(None),
                )
            ).one()
            sla.add_metric(["met"], met)
            sla.add_metric(["breached"], breached)
            sla.add_metric(["open"], running)


_installed: dict[int, StateCollector] = {}


def install_state_collector(
    session_factory: SessionFactory, registry: CollectorRegistry = REGISTRY
) -> StateCollector:
    """Register a :class:`StateCollector`, replacing one installed earlier in ``registry``.

    Safe to call from every app start-up (tests build many apps in one process).
    """
    previous = _installed.pop(id(registry), None)
    if previous is not None:
        registry.unregister(previous)
    collector = StateCollector(session_factory)
    registry.register(collector)
    _installed[id(registry)] = collector
    return collector


# ---------------------------------------------------------------- worker processes


def _split_bind(bind: str) -> tuple[str, int]:
    host, _, port = bind.rpartition(":")
    return host or "0.0.0.0", int(port)


def start_metrics_server(bind: str, registry: CollectorRegistry = REGISTRY) -> Any:
    """Serve ``registry`` over HTTP at ``host:port`` from a daemon thread (worker processes).

    Returns the server; call ``.shutdown()`` on it to stop.
    """
    host, port = _split_bind(bind)
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server


def temporal_runtime(prometheus_bind: str | None) -> Runtime:
    """A Temporal runtime exporting the SDK's metrics (polls, task latencies, slots, ...).

    With ``prometheus_bind`` (``"0.0.0.0:9464"``) the SDK serves them at that address in
    Prometheus format; without it, the default runtime (no metrics endpoint). Pass the result
    as ``runtime=`` to ``Client.connect``.
    """
    if not prometheus_bind:
        return Runtime.default()
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=prometheus_bind, durations_as_seconds=True)
        )
    )
