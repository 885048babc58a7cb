"""An event Leadflow accepted while a journey waited for it counts, even when its signal reaches
Temporal only after the wait's timeout (Temporal down or overloaded while the outbox retries):
at the timeout the journey asks the database, and takes the event's path.

Found by bench/durability at 1,000 leads on a loaded machine: the Temporal dev server failed
its writes for minutes, the signals of accepted ``app.used`` events kept timing out, and the
journeys waiting for them took the timeout path.
"""

from __future__ import annotations

from datetime import timedelta
import pytest
from temporalio.testing import WorkflowEnvironment

from leadflow.db import session_scope
from leadflow.intents import pending_count
from leadflow.usecases.events import EventIn, ingest_events
from leadflow.models import Event
from tests.helpers import (
    at_step, ended, enrol_lead, make_lead, publish_flow, running_worker, sent_mails)
from tests.test_durability import EXPECTED, FLOW  # the bench's flow: three mails, waits, a wait_for

pytestmark = pytest.mark.asyncio(loop_scope="session")



def _accepted_while_temporal_is_away(db_url: str, lead_id: str, *,
                                     received_late: bool = False) -> None:
    """``POST /api/events`` stored it and queued its signal; Temporal never took it."""
    with session_scope(db_url) as session:
        [result], plan = ingest_events(session, [EventIn(lead_id=lead_id, type="app.used")])
        plan.record(session)
        if received_late:  # after the wait's deadline: too late to count
            event = session.get(Event, result["id"])
            assert event is not None
            event.received_at = event.received_at + timedelta(days=3)
            session.add(event)


async def test_an_event_accepted_in_time_counts_though_its_signal_never_arrived(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str) -> None:
    publish_flow(db_url, FLOW)
    in_time = make_lead(db_url, "in-time@example.com")
    too_late = make_lead(db_url, "too-late@example.com")
    async with running_worker(time_env.client, db_url, task_queue):
        jids = {lid: await enrol_lead(time_env.client, db_url, FLOW["id"], lid)
                for lid in (in_time, too_late)}
        for lid, jid in jids.items():
            await at_step(db_url, jid, "await-use", timeout=30)
            _accepted_while_temporal_is_away(db_url, lid, received_late=lid == too_late)
        with session_scope(db_url) as session:
            assert pending_count(session)[0] == 2  # neither signal was delivered
        await time_env.sleep(timedelta(days=1))  # well past the wait's 5 minutes
        for jid in jids.values():
            assert (await ended(db_url, jid, timeout=30)).status == "completed"
    assert sorted(m.template for m in sent_mails(db_url, in_time)) == EXPECTED
    assert sorted(m.template for m in sent_mails(db_url, too_late)) == [
        "case-study", "trial-tips", "trial-welcome"]
