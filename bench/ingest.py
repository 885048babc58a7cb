"""Lead ingest through the API (POST /api/leads) vs a bare INSERT plus workflow start.

Run alone with ``python bench/ingest.py [--quick]``, or through ``bench/run``. The API runs in
this process (ASGI, no network) on SQLite and a Temporal dev server; every new lead is scored,
recorded with its ``lead.created`` event and timeline, and enrolled in a flow (its journey
workflow started). The clock stops once every request has answered and every journey start has
been delivered to Temporal (the API delivers them in the background). The baseline inserts the
same lead row and starts one bare workflow: the least a system that starts a workflow per lead
must do. 16 requests in flight at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench._bare import BARE_WORKFLOW
from bench._env import ADMIN_KEY, BenchEnv, bench_env, publish
from bench.common import Row, print_table

CONCURRENCY = 16
ON_CREATE = {
    "id": "bench-on-create",
    "name": "Enrol every new lead",
    "entry": {"event": "lead.created"},
    "start": "wait",
    "steps": {
        "wait": {"type": "wait", "duration": "P30D", "next": "end"},
        "end": {"type": "exit"},
    },
}


async def _in_flight(n: int, one: object) -> float:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def limited(i: int) -> None:
        async with gate:
            await one(i)  # type: ignore[operator]

    started = time.perf_counter()
    await asyncio.gather(*(limited(i) for i in range(n)))
    return time.perf_counter() - started


async def through_api(be: BenchEnv, n: int) -> float:
    """Seconds to create ``n`` leads with ``POST /api/leads``."""
    from leadflow.api.main import create_app
    from leadflow.dispatch import settle_deliveries

    app = create_app(temporal_client=be.client)
    run = uuid.uuid4().hex[:6]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench",
                                 headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as http:

        async def create(i: int) -> None:
            response = await http.post("/api/leads", json={
                "email": f"api-{run}-{i}@example.com", "first_name": "Ada", "source": "bench"})
            assert response.status_code == 201, response.text

        started = time.perf_counter()
        await _in_flight(n, create)
        # the requests answer before Temporal has their starts (the outbox delivers them in
        # the background): the clock stops once every start is out, as the baseline's are
        await settle_deliveries()
        return time.perf_counter() - started


async def bare_insert_and_start(be: BenchEnv, n: int) -> float:
    """Seconds to insert ``n`` lead rows and start one bare workflow for each."""
    from leadflow.db import session_scope
    from leadflow.models import Lead

    run = uuid.uuid4().hex[:6]

    def insert(i: int) -> str:
        with session_scope(be.db_url) as session:
            lead = Lead(email=f"bare-{run}-{i}@example.com", first_name="Ada", source="bench")
            session.add(lead)
            session.flush()
            return lead.id

    async def create(i: int) -> None:
        lead_id = await asyncio.to_thread(insert, i)
        await be.client.start_workflow(BARE_WORKFLOW, lead_id, id=f"bare-ingest-{lead_id}",
                                       task_queue=f"{be.task_queue}-idle")

    return await _in_flight(n, create)


async def run(quick: bool) -> list[Row]:
    """The row for ``bench/run``: leads/s through the API beside the bare baseline."""
    n = 200 if quick else 2_000
    runs = 1 if quick else 3
    async with bench_env() as be:
        publish(be.db_url, ON_CREATE)
        ours = sorted([await through_api(be, n) for _ in range(runs)])[runs // 2]
        bare = sorted([await bare_insert_and_start(be, n) for _ in range(runs)])[runs // 2]
    return [Row("lead ingest (POST /api/leads)", n / ours, n / bare, "leads/s",
                note=f"{n} leads, {CONCURRENCY} in flight, median of {runs}; "
                     "baseline: INSERT + bare workflow start")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes")
    args = parser.parse_args()
    print_table(asyncio.run(run(args.quick)), title="ingest")


if __name__ == "__main__":
    main()
