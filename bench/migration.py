"""Migration of waiting leads: the preview against what the move then does, and how long it takes.

Run alone with ``python bench/migration.py [--quick]``, or through ``bench/run``. 1,000 leads
(quick: 100) wait in three steps of a flow on a Temporal dev server; version 2 renames one step
(wait-a -> pause-a), shortens a delay (wait-b: 10 days -> 1 second, so those leads mail at once)
and removes one (wait-c, mapped to pause-a). The preview is computed, then the migration job
moves every lead; the benchmark checks, lead by lead, that each journey is where the preview
said, and reports the preview's time and the migration's throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlmodel import select

from bench._env import BenchEnv, bench_env, publish
from bench.common import Row, print_table

V1: dict[str, Any] = {
    "id": "bench-migrate",
    "name": "Three waiting steps",
    "start": "fork",
    "steps": {
        "fork": {"type": "split", "paths": [{"weight": 1, "next": "mail-a"},
                                            {"weight": 1, "next": "mail-b"},
                                            {"weight": 1, "next": "mail-c"}]},
        "mail-a": {"type": "email", "template": "trial-welcome", "next": "wait-a"},
        "wait-a": {"type": "wait", "duration": "P3D", "next": "end"},
        "mail-b": {"type": "email", "template": "case-study", "next": "wait-b"},
        "wait-b": {"type": "wait", "duration": "P10D", "next": "mail-d"},
        "mail-d": {"type": "email", "template": "trial-tips", "next": "end"},
        "mail-c": {"type": "email", "template": "webinar-thanks", "next": "wait-c"},
        "wait-c": {"type": "wait_for", "event": "email.clicked", "timeout": "P7D",
                   "next": "end", "on_timeout": "end"},
        "end": {"type": "exit"},
    },
}
STEP_MAP = {"wait-a": "pause-a", "wait-c": "pause-a"}


def edited() -> dict[str, Any]:
    doc = copy.deepcopy(V1)
    steps = doc["steps"]
    steps["pause-a"] = steps.pop("wait-a")
    steps["mail-a"]["next"] = steps["mail-c"]["next"] = "pause-a"
    steps["wait-b"]["duration"] = "PT1S"
    del steps["wait-c"]
    return doc


def _journeys(db_url: str) -> dict[str, Any]:
    from leadflow.db import session_scope
    from leadflow.models import Journey

    with session_scope(db_url) as session:
        return {j.lead_id: (j.version, j.current_step, j.status, j.waiting_until)
                for j in session.exec(select(Journey).where(Journey.flow_id == V1["id"])).all()}


async def _until(check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark did not finish in time")
        await asyncio.sleep(0.2)


async def measure(be: BenchEnv, n: int) -> dict[str, Any]:
    """Leads waiting -> preview -> migration; returns the figures and the comparison."""
    from leadflow.cli.wiring import build_worker
    from leadflow.db import session_scope
    from leadflow.dispatch import Dispatch, run_dispatch
    from leadflow.journeys.enrolment import enrol, journey_input
    from leadflow.journeys.flow_changes import (
        create_migration,
        migration_view,
        preview,
        preview_view,
    )
    from leadflow.journeys.migration import Request
    from leadflow.models import Lead
    from leadflow.temporal import MigrationJobInput, start_migration_job

    publish(be.db_url, V1)
    tag = uuid.uuid4().hex[:6]
    with session_scope(be.db_url) as session:
        leads = [Lead(email=f"m{tag}{i}@example.com", consent={"status": "granted"})
                 for i in range(n)]
        session.add_all(leads)
        session.flush()
        lead_ids = [lead.id for lead in leads]
    async with build_worker(be.client, task_queue=be.task_queue, db_url=be.db_url):
        with session_scope(be.db_url) as session:
            starts = [journey_input(enrol(session, lead_id=lid, flow_id=V1["id"]))
                      for lid in lead_ids]
        await run_dispatch(be.client, Dispatch(starts=starts), be.db_url, concurrency=64)
        await _until(lambda: sum(1 for v in _journeys(be.db_url).values() if v[3]) >= n,
                     120 + n / 5)
        with session_scope(be.db_url) as session:
            from leadflow.journeys.flows import publish as publish_version
            from leadflow.journeys.flows import save_draft

            save_draft(session, edited(), flow_id=V1["id"], create=False)
            publish_version(session, V1["id"])
        await asyncio.sleep(1.5)  # wait-b's new delay is past: those leads mail at once
        request = Request(to_version=2, step_map=STEP_MAP)
        started = time.perf_counter()
        with session_scope(be.db_url) as session:
            plan = preview(session, V1["id"], request)
            shown = preview_view(plan)
        preview_s = time.perf_counter() - started
        expected = {m.lead_id: m.to_step for m in plan.moves}
        started = time.perf_counter()
        with session_scope(be.db_url) as session:
            mid = create_migration(session, V1["id"], request).id
        await start_migration_job(be.client, MigrationJobInput(mid, V1["id"]))

        def done() -> bool:
            with session_scope(be.db_url) as session:
                return migration_view(session, V1["id"], mid)["status"] == "done"
        await _until(done, 600)
        migrate_s = time.perf_counter() - started
        with session_scope(be.db_url) as session:
            report = migration_view(session, V1["id"], mid)
    after = _journeys(be.db_url)
    wrong = [lead for lead, to_step in expected.items()
             if after[lead][0] != 2 or (after[lead][1] != to_step and to_step != "wait-b")]
    return {"n": n, "preview_s": preview_s, "migrate_s": migrate_s, "moves": shown["moves"],
            "report": report, "wrong": wrong, "expected": Counter(expected.values()),
            "sends_at_once": shown["sends_at_once"]}


async def run(quick: bool) -> list[Row]:
    """The rows for ``bench/run``: preview time and migration throughput."""
    n = 100 if quick else 1_000
    async with bench_env() as be:
        r = await measure(be, n)
    report = r["report"]
    note = (f"{n} leads in 3 steps; moved {report['moved']}, skipped {len(report['skipped'])}, "
            f"failed {report['failed']}; preview == move for "
            f"{n - len(r['wrong'])}/{n} leads")
    return [
        Row(f"migration preview, {n:,} waiting leads", r["preview_s"] * 1000, None, "ms",
            note=", ".join(f"{m['from_step']}->{m['to_step']}: {m['leads']}"
                           f" ({m['sends_at_once']} mail at once)" for m in r["moves"])),
        Row(f"migration of {n:,} waiting leads", report["moved"] / r["migrate_s"], None,
            "leads/s", note=f"{note}; {r['migrate_s']:.1f} s in all"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100 leads instead of 1,000")
    args = parser.parse_args()
    rows = asyncio.run(run(args.quick))
    print_table(rows, title="migration")


if __name__ == "__main__":
    main()
