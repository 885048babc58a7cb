"""Flow simulation vs the same flow live on Temporal: leads/s, the 100k-lead time, flat memory.

Run alone with ``python bench/simulation.py [--quick]``, or through ``bench/run``. Cases:

* 100,000 leads (quick: 10,000) through a ten-step flow (e-mails in a send window, waits, a
  branch on temperature, a wait for a click, an update, a hand-off) over 90 simulated days,
  with engagement and a Poisson event stream, on two processes: the median wall time of 3
  runs (goal: under 10 s) and the CPU seconds it cost; beside the same flow run live on
  Temporal's time-skipping test server for 200 leads (quick: 40), timed from enrolment until
  every journey has ended. Ratio = simulated leads/s over live leads/s.
* peak resident memory of a process simulating 10,000, 50,000 and 100,000 leads (quick:
  2,000, 5,000, 10,000) on one process, beside the same process after its imports alone:
  flat means the figure does not grow with the leads.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Row, print_table

TEN_STEPS: dict[str, Any] = {
    "id": "bench-nurture",
    "name": "Ten-step nurture",
    "send_window": {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00"},
    "start": "welcome",
    "steps": {
        "welcome": {"type": "email", "template": "trial-welcome", "next": "wait-2d"},
        "wait-2d": {"type": "wait", "duration": "P2D", "next": "route"},
        "route": {"type": "branch", "on": "temperature", "hot": "to-sales", "warm": "case-study",
                  "cold": "tips"},
        "case-study": {"type": "email", "template": "case-study", "next": "await-click"},
        "await-click": {"type": "wait_for", "event": "email.clicked", "from_step": "case-study",
                        "timeout": "P5D", "next": "engaged", "on_timeout": "tips"},
        "engaged": {"type": "update", "add_tags": ["engaged"], "add_score": 10, "next": "route"},
        "to-sales": {"type": "handoff", "team": "inside-sales", "sla": "PT4H", "next": "end"},
        "tips": {"type": "email", "template": "trial-tips", "next": "wait-7d"},
        "wait-7d": {"type": "wait", "duration": "P7D", "next": "end"},
        "end": {"type": "exit"},
    },
}
CALENDAR = {"timezone": "Europe/Berlin", "days": ["mon", "tue", "wed", "thu", "fri"],
            "from": "09:00", "to": "17:00"}
REQUEST: dict[str, Any] = {
    "days": 90, "seed": 1, "enrol_over_days": 30, "start": "2026-01-05T00:00:00+00:00",
    "engagement": {"open": 0.4, "click": 0.12},
    "events": [{"type": "page.viewed", "rate_per_day": 0.05, "properties": {"path": "/pricing"}}],
    "profile": {"title": ["VP Sales", "Engineer", "Head of IT", "Analyst"],
                "company": ["Acme", "Globex", None], "country": ["DE", "US", "GB", "FR"]},
}


def _world() -> Any:
    from leadflow.scoring.model import DEFAULT_SCORING_MODEL
    from leadflow.usecases.simulation import Team, World

    return World(model=DEFAULT_SCORING_MODEL,
                 teams={"inside-sales": Team(CALENDAR, members=4, capacity=25)})


def simulate(leads: int, workers: int) -> tuple[float, float, dict[str, Any]]:
    """Wall seconds, CPU seconds (this process and its children) and the result."""
    from leadflow.usecases.simulation import parse_request, run_simulation

    req = parse_request({**REQUEST, "leads": leads})
    cpu = _cpu()
    started = time.perf_counter()
    result = run_simulation(TEN_STEPS, req, _world(), workers=workers)
    return time.perf_counter() - started, _cpu() - cpu, result


def _cpu() -> float:
    self_, children = os.times(), os.times()
    return self_.user + self_.system + children.children_user + children.children_system


# ---------------------------------------------------------------- live on Temporal


async def live(leads: int) -> float:
    """Seconds from enrolling ``leads`` in the flow until every journey has ended, live."""
    from sqlmodel import select
    from temporalio.testing import WorkflowEnvironment

    from leadflow.cli.wiring import build_worker
    from leadflow.config import reset_settings
    from leadflow.db import create_schema, session_scope
    from leadflow.dispatch import Dispatch, run_dispatch
    from leadflow.journeys.enrolment import enrol, journey_input
    from leadflow.journeys.flows import publish, save_draft
    from leadflow.models import Journey, Lead
    from leadflow.sales.admin import save_rep, save_team

    home = Path(tempfile.mkdtemp(prefix="leadflow-bench-sim-"))
    db_url = f"sqlite:///{home / 'bench.db'}"
    saved = dict(os.environ)
    os.environ.update({"LEADFLOW_DATABASE_URL": db_url, "LEADFLOW_HOME": str(home),
                       "LEADFLOW_TASK_QUEUE": f"bench-{uuid.uuid4().hex[:8]}",
                       "LEADFLOW_EMAIL_BACKEND": "outbox",
                       "LEADFLOW_SECRET_KEY": "bench-secret-key-" + uuid.uuid4().hex})
    reset_settings()
    create_schema(db_url)
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=shutil.which("temporal-test-server"))
    try:
        with session_scope(db_url) as session:
            save_rep(session, {"id": "ana", "email": "ana@example.com", "name": "Ana"},
                     create=True)
            save_team(session, {"id": "inside-sales", "name": "Inside sales",
                                "members": ["ana"], "calendar": CALENDAR}, create=True)
            save_draft(session, TEN_STEPS, create=True)
            publish(session, TEN_STEPS["id"])
            rows = [Lead(email=f"live{i}@example.com", title="Engineer",
                         consent={"status": "granted"}) for i in range(leads)]
            session.add_all(rows)
            session.flush()
            ids = [row.id for row in rows]

        def asleep_or_done() -> bool:
            with session_scope(db_url) as session:
                running = session.exec(select(Journey).where(Journey.status == "running")).all()
            return all(j.waiting_until is not None for j in running)

        def all_done() -> bool:
            with session_scope(db_url) as session:
                return session.exec(select(Journey).where(Journey.status == "running")
                                    ).first() is None

        async with build_worker(env.client):
            started = time.perf_counter()
            with session_scope(db_url) as session:
                starts = [journey_input(enrol(session, lead_id=i, flow_id=TEN_STEPS["id"]))
                          for i in ids]
            await run_dispatch(env.client, Dispatch(starts=starts), db_url, concurrency=64)
            for _ in range(60):  # half days: the walk takes under two weeks
                for _ in range(100):  # a postponed send sleeps without saying until when
                    if asleep_or_done():
                        break
                    await asyncio.sleep(0.05)
                if all_done():
                    break
                await env.sleep(timedelta(hours=12))
            elapsed = time.perf_counter() - started
            for jid in [s.journey_id for s in starts]:
                try:
                    await env.client.get_workflow_handle(jid).terminate("bench over")
                except Exception:  # noqa: BLE001, S110 - ended already
                    pass
        return elapsed
    finally:
        await env.shutdown()
        os.environ.clear()
        os.environ.update(saved)
        reset_settings()
        shutil.rmtree(home, ignore_errors=True)


# ---------------------------------------------------------------- memory


_PEAK = """
import json, sys
sys.path.insert(0, {root!r})
from bench.simulation import simulate
if {leads}:
    simulate({leads}, 1)
status = open("/proc/self/status").read()
print(json.dumps(int(next(l for l in status.splitlines() if l.startswith("VmHWM:")).split()[1])))
"""


def peak_rss_mib(leads: int) -> float:
    """Peak resident memory of a fresh process simulating ``leads`` (0: imports alone)."""
    root = str(Path(__file__).resolve().parent.parent)
    code = _PEAK.format(root=root, leads=leads)
    if not leads:
        code = code.replace("from bench.simulation import simulate",
                            "from bench.simulation import simulate, _world\n_world()\n"
                            "from leadflow.usecases.simulation import run_simulation")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=root)
    return int(json.loads(out.stdout.strip().splitlines()[-1])) / 1024


# ---------------------------------------------------------------- the benchmark


def run(quick: bool) -> list[Row]:
    leads = 10_000 if quick else 100_000
    live_leads = 40 if quick else 200
    simulate(1_000, 1)  # warm up: imports, compiled model
    runs = [simulate(leads, 2) for _ in range(3)]
    wall = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[1] for r in runs)
    live_seconds = asyncio.run(live(live_leads))
    load = os.getloadavg()[0]
    goal = ("quick size; the goal is for 100,000 leads" if quick
            else "met" if wall < 10 else "not met")
    rows = [
        Row(f"simulation: {leads:,} leads x 90 days, 10-step flow", leads / wall,
            live_leads / live_seconds, "leads/s",
            note=f"2 processes, median of 3; baseline: the same flow live on Temporal's "
                 f"time-skipping server, {live_leads} leads"),
        Row(f"simulation wall time, {leads:,} leads", wall, None, "s",
            note=f"goal < 10 s: {goal}; CPU {cpu:.1f} s "
                 f"(both processes); load average {load:.1f} on {os.cpu_count()} cores"),
    ]
    base = peak_rss_mib(0)
    for n in ((2_000, 5_000, 10_000) if quick else (10_000, 50_000, 100_000)):
        rows.append(Row(f"simulator peak RSS, {n:,} leads", peak_rss_mib(n), base, "MiB",
                        note="one process; baseline: the same process after its imports"))
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    print_table(run(parser.parse_args().quick))
