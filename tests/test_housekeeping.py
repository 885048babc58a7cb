"""Housekeeping: the intent outbox (temporal_intent) keeps its queue and drops what it delivered
long ago, through the hourly Temporal schedule every worker makes sure exists."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select
from temporalio.client import ScheduleIntervalSpec
from temporalio.testing import WorkflowEnvironment

from leadflow.db import session_scope
from leadflow.intents import prune_delivered
from leadflow.models import TemporalIntent, utcnow
from tests.helpers import eventually, running_worker

asyncio = pytest.mark.asyncio(loop_scope="session")


def _outbox(db_url: str) -> dict[str, int]:
    """Rows of every age and outcome: the names say which must survive a 7-day retention."""
    now = utcnow()
    rows = {
        "queued-for-a-month": (None, None, 30),  # never delivered: the queue itself
        "delivered-8-days-ago": (8, "delivered", 9),
        "gone-10-days-ago": (10, "gone", 10),
        "refused-9-days-ago": (9, "refused", 9),
        "delivered-yesterday": (1, "delivered", 2),
        "delivered-just-now": (0, "delivered", 0),
    }
    ids = {}
    with session_scope(db_url) as session:
        for name, (delivered_days, outcome, created_days) in rows.items():
            row = TemporalIntent(
                kind="signal", workflow_id=name, name="journey_event", payload={},
                created_at=now - timedelta(days=created_days),
                delivered_at=None if delivered_days is None else now - timedelta(days=delivered_days),
                outcome=outcome)
            session.add(row)
            session.flush()
            ids[name] = row.id
    return ids


def _left(db_url: str) -> set[str]:
    with session_scope(db_url) as session:
        return set(session.exec(select(TemporalIntent.workflow_id)).all())


KEPT = {"queued-for-a-month", "delivered-yesterday", "delivered-just-now"}


def test_pruning_drops_old_deliveries_and_keeps_the_queue(any_db_url: str) -> None:
    _outbox(any_db_url)
    # batches of one: every batch its own transaction, until nothing old is left
    assert prune_delivered(any_db_url, timedelta(days=7), batch=1) == 3
    assert _left(any_db_url) == KEPT
    assert prune_delivered(any_db_url, timedelta(days=7)) == 0
    with session_scope(any_db_url) as session:
        queued = session.exec(select(TemporalIntent).where(
            col(TemporalIntent.delivered_at).is_(None))).one()
    assert queued.workflow_id == "queued-for-a-month"


@asyncio
async def test_the_worker_schedule_prunes_the_outbox_every_hour(
        dev_env: WorkflowEnvironment, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from leadflow.cli import _ensure_schedules
    from leadflow.config import get_settings, reset_settings
    from leadflow.temporal import (
        HOUSEKEEPING_EVERY,
        ensure_housekeeping_schedule,
        housekeeping_schedule_id,
    )

    monkeypatch.setenv("LEADFLOW_INTENT_RETENTION_DAYS", "7")
    reset_settings()
    _outbox(db_url)
    client = dev_env.client
    handle = client.get_schedule_handle(housekeeping_schedule_id(task_queue))
    async with running_worker(client, db_url, task_queue):
        try:
            await _ensure_schedules(client, get_settings())  # what `leadflow worker` does
            # a second worker (or a restart) finds it there: one schedule
            assert await ensure_housekeeping_schedule(client) is False
            described = await handle.describe()
            [interval] = described.schedule.spec.intervals
            assert interval == ScheduleIntervalSpec(every=HOUSEKEEPING_EVERY)
            assert HOUSEKEEPING_EVERY == timedelta(hours=1)
            await handle.trigger()  # the hour has come
            await eventually(lambda: _left(db_url) == KEPT, 30, "the old deliveries pruned")
            described = await handle.describe()
            [run] = described.info.recent_actions
            result = await client.get_workflow_handle(
                run.action.workflow_id, run_id=run.action.first_execution_run_id).result()
            assert result == {"pruned": 3, "retention_days": 7.0}
        finally:
            await handle.delete()


@asyncio
async def test_a_retention_of_zero_keeps_every_row(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from leadflow.config import reset_settings
    from leadflow.temporal import HOUSEKEEPING_WORKFLOW

    monkeypatch.setenv("LEADFLOW_INTENT_RETENTION_DAYS", "0")
    reset_settings()
    ids = _outbox(db_url)
    async with running_worker(time_env.client, db_url, task_queue):
        result = await time_env.client.execute_workflow(
            HOUSEKEEPING_WORKFLOW, id=f"housekeeping-{task_queue}", task_queue=task_queue)
    assert result == {"pruned": 0, "retention_days": 0.0}
    assert _left(db_url) == set(ids)
