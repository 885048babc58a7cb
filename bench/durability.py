#!/usr/bin/env python3
"""Durability at full size: crashes at random points while events arrive, and still every
journey completes, every e-mail is accepted exactly once, every accepted event is applied.

Not part of CI (it takes long at full size); run it by hand::

    python bench/durability.py                 # 1,000 leads (tens of minutes on 2 cores)
    python bench/durability.py --leads 200     # smaller
    python bench/durability.py --seed 3        # other random kill points

The production topology runs as separate processes (tests/native_stack.py): PostgreSQL, a
Temporal dev server on its SQLite file, ``leadflow api`` and two ``leadflow worker``, against a
local server playing SendGrid that refuses 30% of sends (429 or 500) and sometimes takes a mail
but drops the connection (tests/test_durability.py's ChaosProvider, which also posts SendGrid's
``processed`` events back, signed). Each lead runs a flow of three e-mails with waits and a
``wait_for`` an event (tests/test_durability.py's FLOW). While a poster sends each waiting
lead's ``app.used`` event (retrying with the same event id until it gets a 2xx, as an
integration should), the worker, then the API, then the Temporal server are SIGKILLed at random
moments and restarted.

At the end it checks, and prints: every journey completed; each lead got its three e-mails
and the provider accepted each send id exactly once; every event the API accepted is stored,
dispatched and applied (its lead took the branch the event asked for, not the timeout path).
Exit status 1 when any of these fails. Needs PostgreSQL at 127.0.0.1:5432 (see tests/pg.py).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds for the whole run")
    args = parser.parse_args(argv)

    import httpx
    import sqlalchemy as sa
    from sqlmodel import Session, col, select

    from leadflow.db import create_schema
    from leadflow.models import EmailMessage, Event, Journey
    from tests.fakes.sendgrid_server import running_fake_sendgrid
    from tests.fakes.sendgrid_webhook import WebhookSigner
    from tests.native_stack import NativeStack
    from tests.pg import throwaway_postgres
    from tests.test_durability import EXPECTED, FLOW, ChaosProvider

    rnd = random.Random(args.seed)
    n = args.leads
    started = time.monotonic()
    deadline = started + args.timeout
    figures: dict[str, Any] = {"leads": n}

    def left() -> float:
        if time.monotonic() > deadline:
            raise SystemExit("durability: out of time")
        return deadline - time.monotonic()

    with throwaway_postgres("leadflow_bench_durable") as url, \
            tempfile.TemporaryDirectory(prefix="leadflow-durability-") as home:
        create_schema(url)
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)

        def count(stmt: Any) -> int:
            with Session(engine) as session:
                return len(session.exec(stmt).all())

        signer = WebhookSigner.generate()
        fakes = running_fake_sendgrid()
        fake = next(fakes)
        chaos = ChaosProvider(fake, signer, seed=args.seed)
        stack = NativeStack(home=Path(home), database_url=url, env={
            "LEADFLOW_EMAIL_BACKEND": "sendgrid",
            "LEADFLOW_SENDGRID_HOST": fake.host,
            "SENDGRID_API_KEY": "SG.bench-durability-not-a-real-key",
            "LEADFLOW_SENDGRID_WEBHOOK_PUBLIC_KEY": signer.public_key,
            "LEADFLOW_EMAIL_RECONCILE_WINDOW_SECONDS": "60",
            "LEADFLOW_FREQUENCY_CAP": "100",
            "LEADFLOW_RECONCILE_EVERY": "30",
        })
        chaos.webhook_url = f"{stack.api_url}/api/webhooks/sendgrid"
        stop = threading.Event()
        poster_back = threading.Thread(target=chaos.post_back, daemon=True)
        poster_back.start()
        accepted_events: set[str] = set()
        posted: set[str] = set()
        errors: list[str] = []

        def post(path: str, body: Any) -> httpx.Response:
            """Like a well-behaved integration: the same body, retried until 2xx."""
            while True:
                left()
                try:
                    response = httpx.post(f"{stack.api_url}{path}", json=body, timeout=15,
                                          headers={"Authorization": f"Bearer {stack.admin_key}"})
                    if response.status_code < 300:
                        return response
                    if response.status_code < 500:
                        errors.append(f"{path}: {response.status_code} {response.text[:200]}")
                        return response
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)

        def waiting() -> list[str]:
            with Session(engine) as session:
                return list(session.exec(select(Journey.lead_id).where(
                    Journey.current_step == "await-use", Journey.status == "running")).all())

        def events_poster() -> None:
            while not stop.is_set() and len(posted) < n:
                for lead_id in waiting():
                    if lead_id in posted or stop.is_set():
                        continue
                    event_id = f"use-{lead_id}"
                    response = post("/api/events", {"id": event_id, "lead_id": lead_id,
                                                    "type": "app.used"})
                    if response.status_code < 300:
                        accepted_events.add(event_id)
                        posted.add(lead_id)
                time.sleep(0.3)

        kills: list[tuple[str, float]] = []

        def killer() -> None:
            """SIGKILL the worker, then the API, then Temporal, each at a random moment."""
            for name, back_after in (("worker-1", 1.0), ("api", 1.0), ("temporal", 2.0)):
                pause = rnd.uniform(5, 25)
                if stop.wait(pause):
                    return
                stack.kill(name)
                kills.append((name, round(time.monotonic() - started, 1)))
                time.sleep(back_after)
                if name == "temporal":
                    stack.start_temporal()
                elif name == "api":
                    stack.start_api()
                else:
                    stack.start_worker(name)

        try:
            stack.start_temporal()
            stack.start_worker("worker-1")
            stack.start_worker("worker-2")
            stack.start_api()
            with stack.client() as http:
                assert http.post("/api/flows", json=FLOW).status_code == 201
                assert http.post(f"/api/flows/{FLOW['id']}/publish").status_code == 201
            threads = [threading.Thread(target=events_poster, daemon=True),
                       threading.Thread(target=killer, daemon=True)]
            for t in threads:
                t.start()
            lead_ids = [post("/api/leads", {
                "email": f"durable{i}@example.com",
                "consent": {"status": "granted", "source": "bench"}}).json()["id"]
                for i in range(n)]
            figures["leads created (s)"] = round(time.monotonic() - started, 1)
            while len(posted) < n or len(kills) < 3:
                left()
                time.sleep(1)
            for t in threads:
                t.join(timeout=left())
            while count(select(Journey.id).where(Journey.status == "running")):
                left()
                time.sleep(1)
            figures["all journeys ended (s)"] = round(time.monotonic() - started, 1)
            # the provider's processed events for the last sends reach the webhook
            time.sleep(5)
            with Session(engine) as session:
                journeys = session.exec(select(Journey)).all()
                mails = session.exec(select(EmailMessage)).all()
                events = {e.id: e for e in session.exec(
                    select(Event).where(col(Event.id).in_(accepted_events))).all()}
        finally:
            stop.set()
            chaos.stop.set()
            stack.stop_all()
            poster_back.join(timeout=10)
            next(fakes, None)
            engine.dispose()

    statuses = Counter(j.status for j in journeys)
    by_lead: dict[str, list[Any]] = {}
    for mail in mails:
        by_lead.setdefault(mail.lead_id or "", []).append(mail)
    wrong_mails = [lid for lid in lead_ids
                   if sorted(m.template for m in by_lead.get(lid, [])) != EXPECTED]
    accepted = Counter(r.send_id for r in fake.requests if r.accepted)
    applied = sum(1 for lid in lead_ids
                  if "demo-invite" in {m.template for m in by_lead.get(lid, [])})
    figures.update({
        "kills (process, at s)": ", ".join(f"{k} {t}" for k, t in kills),
        "journeys": len(journeys),
        "journeys completed": statuses.get("completed", 0),
        "journeys not completed": len(journeys) - statuses.get("completed", 0),
        "e-mails expected": 3 * n,
        "send ids accepted by the provider": len(accepted),
        "send ids accepted more than once": sum(1 for v in accepted.values() if v > 1),
        "provider calls refused or dropped": sum(1 for r in fake.requests if not r.accepted),
        "provider calls in all": len(fake.requests),
        "leads with wrong mails": len(wrong_mails),
        "events accepted by the API": len(accepted_events),
        "events stored and dispatched": sum(1 for e in events.values() if e.dispatched),
        "events applied (took the event's branch)": applied,
        "4xx answers": len(errors),
    })
    width = max(len(k) for k in figures)
    print(f"\nbench/durability ({n} leads, seed {args.seed})")
    for key, value in figures.items():
        print(f"  {key:<{width}}  {value}")
    ok = (statuses.get("completed", 0) == len(journeys) == n and len(accepted) == 3 * n
          and set(accepted.values()) == {1} and not wrong_mails
          and len(events) == len(accepted_events) == n and applied == n and not errors)
    print("  result" + " " * (width - 4) + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
