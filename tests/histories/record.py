"""Record journey histories for the replay test: ``python -m tests.histories.record``.

Run it only when a deliberate, patched change to the journey workflow needs new recordings;
the replay test exists to catch accidental non-determinism against the recorded ones.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

HERE = Path(__file__).parent


async def main() -> None:
    tmp = tempfile.mkdtemp()
    url = f"sqlite:///{tmp}/app.db"
    os.environ["LEADFLOW_DATABASE_URL"] = url
    os.environ["LEADFLOW_TASK_QUEUE"] = "record"
    from leadflow.config import reset_settings
    from leadflow.db import create_schema

    reset_settings()
    create_schema(url)
    from tests.helpers import (
        at_step,
        ended,
        enrol_lead,
        make_lead,
        post_event,
        publish_flow,
        running_worker,
        sent_mails,
    )
    from tests.test_journey_workflow import NURTURE

    flow = {**NURTURE, "id": "replay", "exit_when": {"has_tag": "stop"}}
    publish_flow(url, flow)
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=shutil.which("temporal-test-server"))
    try:
        async with running_worker(env.client, url, "record"):
            clicked = await enrol_lead(env.client, url, "replay", make_lead(url, "a@example.com"))
            timed_out = await enrol_lead(env.client, url, "replay", make_lead(url, "b@example.com"))
            await at_step(url, clicked, "wait-2d")
            await env.sleep(timedelta(days=2, minutes=1))
            await at_step(url, clicked, "await-click")
            lead_a = make_lead(url, "a@example.com")
            case_study = [m for m in sent_mails(url, lead_a) if m.step == "case-study"][0]
            await post_event(env.client, url, lead_a, "email.clicked", send_id=case_study.send_id)
            await ended(url, clicked)
            await env.sleep(timedelta(days=6))
            await ended(url, timed_out)
            for name, wid in (("clicked", clicked), ("timed_out", timed_out)):
                history = await env.client.get_workflow_handle(wid).fetch_history()
                (HERE / f"journey_{name}.json").write_text(history.to_json())
                print("recorded", name)
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
