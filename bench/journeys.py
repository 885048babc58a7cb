"""Journeys vs bare workflows: leads/s and e-mails/s of a three-email flow; worker RSS in timers.

Run alone with ``python bench/journeys.py [--quick]``, or through ``bench/run``. Cases:

* 2,000 leads (quick: 200) with consent, enrolled at once in a flow of three e-mails and no
  waits, on a Temporal dev server with an in-process worker and the outbox backend. Their
  journey rows are written first (the API's part of an enrolment, which bench/ingest
  measures); the clock runs from the workflows' starts until each has returned its result,
  then every journey must be recorded completed with its three e-mails sent. Beside it, the
  same number of bare workflows that each call three no-op activities (the least a three-step
  workflow costs), started and awaited the same way, on a worker with the same sandbox
  settings. Ratio = ours / baseline (goal >= 0.7).
* the resident memory of a ``leadflow worker`` process holding 10,000 leads (quick: 1,000)
  waiting in a 30-day timer, beside the same worker idle.
* not in ``bench/run`` (it takes long): ``python bench/journeys.py --waiting 100000
  [--cache 2000]`` enrols that many leads in the 30-day wait on one ``leadflow worker`` process
  (the dev server keeps its state in a SQLite file, as ``leadflow dev`` runs it)
  whose workflow cache is ``--cache`` (``LEADFLOW_WORKER_CACHE``), then prints the worker's
  RSS and the p50/p99 of ``GET /api/leads/{id}`` (random leads, through the API in process)
  while the worker holds them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func
from sqlmodel import col, select
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from bench._bare import BARE_WORKFLOW, BareWorkflow, noop
from bench._env import BenchEnv, bench_env, publish
from bench.common import Row, print_table, rss_bytes

THREE_MAILS = {
    "id": "bench-three-mails",
    "name": "Three mails, no waits",
    "start": "one",
    "steps": {
        "one": {"type": "email", "template": "trial-welcome", "next": "two"},
        "two": {"type": "email", "template": "case-study", "next": "three"},
        "three": {"type": "email", "template": "trial-tips", "next": "end"},
        "end": {"type": "exit"},
    },
}
LONG_WAIT = {
    "id": "bench-long-wait",
    "name": "One long wait",
    "start": "wait",
    "steps": {
        "wait": {"type": "wait", "duration": "P30D", "next": "end"},
        "end": {"type": "exit"},
    },
}


BACKLOG = 2000  # --waiting: journeys started but not yet waiting, at most


def _make_leads(db_url: str, n: int, tag: str) -> list[str]:
    from leadflow.db import session_scope
    from leadflow.models import Lead

    with session_scope(db_url) as session:
        # consent granted: without it every e-mail step would be skipped, not sent
        leads = [Lead(email=f"{tag}{i}@example.com", first_name="Ada",
                      consent={"status": "granted", "source": "bench"}) for i in range(n)]
        session.add_all(leads)
        session.flush()
        return [lead.id for lead in leads]


def _enrolments(be: BenchEnv, flow_id: str, lead_ids: list[str]) -> list[Any]:
    """The journey rows of ``lead_ids`` in ``flow_id`` (one transaction), as the API writes
    them when it enrols: their workflows' inputs."""
    from leadflow.db import session_scope
    from leadflow.journeys.enrolment import enrol, journey_input

    with session_scope(be.db_url) as session:
        return [journey_input(enrol(session, lead_id=lid, flow_id=flow_id)) for lid in lead_ids]


async def _start(be: BenchEnv, starts: list[Any]) -> list[str]:
    """Start the journeys' workflows (64 at a time, as the baseline); their workflow ids."""
    from leadflow.dispatch import Dispatch, run_dispatch

    await run_dispatch(be.client, Dispatch(starts=starts), be.db_url, concurrency=64)
    return [s.journey_id for s in starts]


async def _enrol_all(be: BenchEnv, flow_id: str, lead_ids: list[str]) -> list[str]:
    """Enrol ``lead_ids`` (in a thread, as the API's routes run, so an in-process worker's
    event loop is not held) and start their journeys; their workflow ids."""
    starts = await asyncio.to_thread(_enrolments, be, flow_id, lead_ids)
    return await _start(be, starts)


def _count(db_url: str, flow_id: str, **where: str) -> int:
    from leadflow.db import session_scope
    from leadflow.models import Journey

    with session_scope(db_url) as session:
        stmt = select(func.count()).select_from(Journey).where(Journey.flow_id == flow_id)
        for column, value in where.items():
            stmt = stmt.where(getattr(Journey, column) == value)
        return int(session.exec(stmt).one())


def _sent(db_url: str, lead_ids: list[str]) -> int:
    """E-mails of ``lead_ids`` handed to the mail backend (status ``sent``)."""
    from leadflow.db import session_scope
    from leadflow.models import EmailMessage

    with session_scope(db_url) as session:
        total = 0
        for start in range(0, len(lead_ids), 500):
            total += int(session.exec(select(func.count()).select_from(EmailMessage).where(
                EmailMessage.status == "sent",
                col(EmailMessage.lead_id).in_(lead_ids[start:start + 500]))).one())
        return total


async def _until(check: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark did not finish in time")
        await asyncio.sleep(0.05)


async def journeys_per_second(be: BenchEnv, n: int) -> float:
    """Seconds for ``n`` three-mail journeys, from enrolment to the last completion."""
    from leadflow.cli.wiring import build_worker

    lead_ids = _make_leads(be.db_url, n, f"j{uuid.uuid4().hex[:6]}-")
    before = _count(be.db_url, THREE_MAILS["id"], status="completed")
    async with build_worker(be.client, task_queue=be.task_queue, db_url=be.db_url):
        # the journey rows first (the API's part of an enrolment: bench/ingest measures it),
        # then the clock runs from the workflows' starts to their results, as the baseline's
        starts = _enrolments(be, THREE_MAILS["id"], lead_ids)
        started = time.perf_counter()
        ids = await _start(be, starts)
        # each workflow's result, as the baseline waits for its workflows' results
        results = await asyncio.wait_for(asyncio.gather(
            *(be.client.get_workflow_handle(wid).result() for wid in ids)), 600 + 2 * n)
        took = time.perf_counter() - started
        # then the database must agree: every journey recorded completed, three mails each
        done = _count(be.db_url, THREE_MAILS["id"], status="completed") - before
        if done != n or any(r.get("status") != "completed" for r in results):
            raise RuntimeError(f"{n - done} of {n} journeys did not complete")
        sent = _sent(be.db_url, lead_ids)
        if sent != 3 * n:
            raise RuntimeError(f"{sent} e-mails sent where {3 * n} were due")
        return took


async def bare_per_second(be: BenchEnv, n: int) -> float:
    """Seconds for ``n`` bare workflows of three no-op activities, started the same way."""
    queue = f"{be.task_queue}-bare"
    # the same sandbox settings as Leadflow's worker: its module imported once, not per run
    runner = UnsandboxedWorkflowRunner()
    async with Worker(be.client, task_queue=queue, workflows=[BareWorkflow], activities=[noop],
                      max_cached_workflows=2000, max_concurrent_activities=64,
                      workflow_runner=runner):
        gate = asyncio.Semaphore(64)
        run = uuid.uuid4().hex[:6]

        async def start(i: int) -> object:
            async with gate:
                return await be.client.start_workflow(BARE_WORKFLOW, f"lead-{i}",
                                                      id=f"bare-{run}-{i}", task_queue=queue)

        started = time.perf_counter()
        handles = await asyncio.gather(*(start(i) for i in range(n)))
        await asyncio.gather(*(h.result() for h in handles))  # type: ignore[attr-defined]
        return time.perf_counter() - started


def _spawn_worker(log_path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A ``leadflow worker`` process writing to ``log_path``."""
    with open(log_path, "wb") as log:
        return subprocess.Popen([sys.executable, "-m", "leadflow.cli", "worker"],
                                stdout=log, stderr=subprocess.STDOUT, env=env)


async def _lead_reads(ids: list[str], samples: int) -> list[float]:
    """Seconds each of ``samples`` ``GET /api/leads/{id}`` took (random leads of ``ids``)."""
    import random

    import httpx

    from bench._env import ADMIN_KEY
    from leadflow.api.main import create_app

    app = create_app()
    took = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench",
                                 headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as http:
        for lead_id in random.sample(ids, min(samples, len(ids))):
            started = time.perf_counter()
            response = await http.get(f"/api/leads/{lead_id}")
            took.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
    return sorted(took)


async def worker_rss(be: BenchEnv, n: int, cache: int | None = None,
                     reads: int = 0) -> tuple[float, float]:
    """RSS (MiB) of a ``leadflow worker`` process idle, then with ``n`` leads in a timer.

    ``cache``: the worker's workflow cache (``LEADFLOW_WORKER_CACHE``); ``reads``: that many
    ``GET /api/leads/{id}`` timed meanwhile, their p50/p99 printed."""
    env = {**os.environ, "LEADFLOW_TEMPORAL_ADDRESS": be.temporal_address}
    if cache is not None:
        env["LEADFLOW_WORKER_CACHE"] = str(cache)
    log_path = be.home / "worker.log"
    worker = _spawn_worker(log_path, env)
    try:
        await _until(lambda: "worker polling" in log_path.read_text(errors="replace"), 60)
        await asyncio.sleep(1)
        idle = rss_bytes(worker.pid) / 2**20
        lead_ids = _make_leads(be.db_url, n, f"w{uuid.uuid4().hex[:6]}-")
        started = time.perf_counter()
        report = n >= 10_000  # the long case: print the RSS curve as it goes

        def progress(enrolled: int) -> None:
            if report:
                waiting = _count(be.db_url, LONG_WAIT["id"], current_step="wait")
                print(f"  {time.perf_counter() - started:7.0f} s: {enrolled:,} started, "
                      f"{waiting:,} waiting, worker RSS {rss_bytes(worker.pid) / 2**20:.1f} MiB",
                      flush=True)

        for i in range(0, n, 1000):
            # no more than BACKLOG journeys started and not yet at their wait: a server and a
            # worker swamped with starts time their workflow tasks out and retry them, and
            # never catch up (what kept this case from finishing)
            while i - _count(be.db_url, LONG_WAIT["id"], current_step="wait") > BACKLOG:
                await asyncio.sleep(1)
            await _enrol_all(be, LONG_WAIT["id"], lead_ids[i:i + 1000])
            if (i + 1000) % 10_000 == 0:
                progress(i + 1000)
        deadline = time.monotonic() + 600 + n / 10
        while _count(be.db_url, LONG_WAIT["id"], current_step="wait") < n:
            if time.monotonic() > deadline:
                raise TimeoutError("benchmark did not finish in time")
            await asyncio.sleep(30 if report else 0.2)
            progress(n)
        await asyncio.sleep(2)
        rss = rss_bytes(worker.pid) / 2**20
        if reads:
            took = await _lead_reads(lead_ids, reads)
            p50, p99 = took[len(took) // 2], took[min(len(took) - 1, int(len(took) * 0.99))]
            print(f"{n:,} leads waiting, worker cache {cache}: RSS {rss:.1f} MiB "
                  f"(idle {idle:.1f}); GET /api/leads/{{id}} p50 {p50 * 1000:.1f} ms, "
                  f"p99 {p99 * 1000:.1f} ms ({len(took)} reads)", flush=True)
            rss = max(rss, rss_bytes(worker.pid) / 2**20)
        return rss, idle
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


async def run(quick: bool) -> list[Row]:
    """The rows for ``bench/run``: throughput beside bare workflows, and worker memory."""
    n = 200 if quick else 2_000
    waiting = 1_000 if quick else 10_000
    runs = 1 if quick else 3
    async with bench_env() as be:
        publish(be.db_url, THREE_MAILS)
        publish(be.db_url, LONG_WAIT)
        ours_s, bare_s = [], []
        for _ in range(runs):
            ours_s.append(await journeys_per_second(be, n))
            bare_s.append(await bare_per_second(be, n))
        ours, bare = sorted(ours_s)[len(ours_s) // 2], sorted(bare_s)[len(bare_s) // 2]
        rss, idle = await worker_rss(be, waiting)
    note = f"{n} leads, median of {runs}"
    return [
        Row("journeys (3 e-mails, no waits)", n / ours, n / bare, "leads/s",
            note=f"{note}; baseline: bare workflow, 3 no-op activities; goal ratio >= 0.7"),
        Row("e-mails sent by journeys", 3 * n / ours, 3 * n / bare, "e-mails/s",
            note=f"{note}; baseline: no-op activities/s"),
        Row(f"worker RSS, {waiting:,} leads in timers", rss, idle, "MiB",
            note="baseline: the same worker idle; ratio = times the idle size"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--waiting", type=int, help="only the many-leads-in-timers case: "
                        "this many leads (e.g. 100000)")
    parser.add_argument("--cache", type=int, default=None,
                        help="the worker's workflow cache for --waiting (LEADFLOW_WORKER_CACHE)")
    parser.add_argument("--reads", type=int, default=1000, help="GET /api/leads/{id} to time")
    args = parser.parse_args()
    if args.waiting:
        asyncio.run(_many_waiting(args.waiting, args.cache, args.reads))
        return
    print_table(asyncio.run(run(args.quick)), title="journeys")


async def _many_waiting(n: int, cache: int | None, reads: int) -> None:
    # a file-backed server: the in-memory one crashed at about 70,000 open workflows
    async with bench_env(server_file=True) as be:
        publish(be.db_url, LONG_WAIT)
        started = time.perf_counter()
        await worker_rss(be, n, cache=cache, reads=reads)
        print(f"in {time.perf_counter() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
