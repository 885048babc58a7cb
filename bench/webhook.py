"""How fast the SendGrid Event Webhook takes a batch, beside merely parsing its JSON.

Run ``python bench/webhook.py`` (``--quick`` for a smaller database). A signed batch of 5,000
events (processed, delivered, open, click; 5 % repeated inside the batch) for 1,000 leads is
posted to ``POST /api/webhooks/sendgrid`` of the real app in-process (ASGI, SQLite in a temp
directory): signature verified, events mapped, de-duplicated, stored with their timeline
entries, leads rescored, events marked dispatched. The baseline is ``json.loads`` of the same
body. Goal: at least 2,000 events/s. ``bench/run`` picks this module up through :func:`run`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Row, amedian_time, median_time, print_table

BATCH = 5_000
KINDS = ("processed", "delivered", "open", "click")


def _batch(run: int, leads: list[str], size: int = BATCH) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    stamp = int(time.time())
    for i in range(size):
        if i % 20 == 19:  # SendGrid repeats events: 5 % duplicates to de-duplicate
            events.append(dict(events[-1]))
            continue
        lead = leads[i % len(leads)]
        kind = KINDS[i % len(KINDS)]
        event: dict[str, Any] = {
            "email": f"{lead}@bench.example", "timestamp": stamp, "event": kind,
            "sg_event_id": f"r{run}-e{i}", "sg_message_id": f"r{run}-m{i // 4}.filter",
            "send_id": f"r{run}-send-{i // 4}", "lead_id": lead, "flow_id": "bench",
            "version": "1", "step": "welcome",
        }
        if kind == "click":
            event["url"] = "https://example.com/pricing"
        if kind == "open":
            event["sg_machine_open"] = False
        events.append(event)
    return events


async def run(quick: bool = False, runs: int = 3) -> list[Row]:
    """Rows for ``bench/run``: events/s through the route, and of bare JSON parsing."""
    import httpx

    from tests.fakes.sendgrid_webhook import WebhookSigner

    signer = WebhookSigner.generate()
    from bench._env import bench_database

    with tempfile.TemporaryDirectory() as tmp, bench_database(tmp) as url:
        env = {"LEADFLOW_DATABASE_URL": url, "LEADFLOW_HOME": tmp, "LEADFLOW_ENV": "test",
               "LEADFLOW_SECRET_KEY": "bench-secret-key-0123456789",
               "LEADFLOW_SENDGRID_WEBHOOK_PUBLIC_KEY": signer.public_key}
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            return await _measure(url, signer, httpx, quick=quick, runs=runs)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            from leadflow.config import reset_settings
            from leadflow.db import reset_engine

            reset_engine()
            reset_settings()


async def _measure(url: str, signer: Any, httpx: Any, *, quick: bool, runs: int) -> list[Row]:
    from leadflow.api.main import create_app

    from leadflow.config import reset_settings
    from leadflow.db import create_schema, session_scope
    from leadflow.models import Lead, utcnow

    reset_settings()
    create_schema(url)
    n_leads = 200 if quick else 1_000
    leads = [f"lead{i:05d}" for i in range(n_leads)]
    with session_scope(url) as session:
        at = utcnow()
        session.add_all(Lead(id=lid, email=f"{lid}@bench.example", created_at=at, updated_at=at)
                        for lid in leads)
    import shutil

    from temporalio.testing import WorkflowEnvironment

    # A real Temporal dev server: events wake journeys and arm leads' temperature timers there
    # (no worker is needed for that). The warm-up batch arms every lead's timer once; later
    # batches only re-arm a timer that must fire sooner, as in steady operation.
    temporal = await WorkflowEnvironment.start_local(
        dev_server_existing_path=shutil.which("temporal"),
        dev_server_extra_args=["--log-level", "error"])
    try:
        return await _timed(url, signer, httpx, leads, temporal.client, runs=runs)
    finally:
        await temporal.shutdown()


async def _timed(url: str, signer: Any, httpx: Any, leads: list[str], client: Any, *,
                 runs: int) -> list[Row]:
    from leadflow.api.main import create_app

    n_leads = len(leads)
    app = create_app(temporal_client=client, create_tables=False)
    bodies: list[tuple[bytes, dict[str, str]]] = []
    counter = iter(range(1_000))

    async def setup() -> None:
        bodies.append(signer.signed_batch(_batch(next(counter), leads)))

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://bench") as http:
        async def post() -> None:
            body, headers = bodies[-1]
            r = await http.post("/api/webhooks/sendgrid", content=body, headers=headers)
            assert r.status_code == 200, r.text
            counts = r.json()
            assert counts["accepted"] + counts["duplicates"] == BATCH, counts

        ours = await amedian_time(post, runs=runs, warmup=1, setup=setup)
    body = bodies[-1][0]
    base = median_time(lambda: json.loads(body), runs=runs)
    note = (f"{BATCH} signed events, {n_leads} leads, 5 % duplicates; baseline json.loads; "
            "ratio = fraction of the baseline's speed; goal >= 2,000 events/s")
    return [Row("webhook: verify+dedupe+store+rescore", BATCH / ours, BATCH / base, "events/s",
                note=note)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer leads")
    parser.add_argument("--runs", type=int, default=3, help="timed batches (median shown)")
    args = parser.parse_args()
    rows = asyncio.run(run(quick=args.quick, runs=args.runs))
    print_table(rows, title=f"webhook: median of {args.runs} batches")


if __name__ == "__main__":
    main()
