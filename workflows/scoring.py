"""Scoring workflows: each lead's temperature timer, and re-scoring every lead after a change.

Deterministic, no I/O: the activities in ``activities/scoring.py`` do the database work.
Inputs and histories carry lead ids and POSIX times only.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from leadflow.temporal import (
        LEAD_SCORE_WORKFLOW,
        REARM_SIGNAL,
        RESCORE_ALL_WORKFLOW,
        LeadScoreInput,
        RescoreAllInput,
        RescoreBatchInput,
        RescoreInput,
    )

__all__ = ["WORKFLOWS", "LeadScoreWorkflow", "RescoreAllWorkflow"]

RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                    maximum_interval=timedelta(minutes=5))
BATCHES_PER_RUN = 100  # continue-as-new after this many batches, keeping the history short


@workflow.defn(name=LEAD_SCORE_WORKFLOW)
class LeadScoreWorkflow:
    """Sleeps until the lead's temperature changes by decay, rescores, and sleeps again.

    Signals carry a moment (``{"due": posix}``); the earliest one wins, because each wake-up
    recomputes the true next moment anyway. Ends when nothing is due (the next rescore that
    foresees a change starts it again).
    """

    def __init__(self) -> None:
        self._due: float | None = None

    @workflow.signal(name=REARM_SIGNAL)
    def rearm(self, payload: dict[str, Any]) -> None:
        due = payload.get("due")
        if due is not None and (self._due is None or float(due) < self._due):
            self._due = float(due)

    @workflow.run
    async def run(self, inp: LeadScoreInput) -> dict[str, Any]:
        if inp.due is not None:
            self.rearm({"due": inp.due})
        wakes = inp.wakes
        while self._due is not None:
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(LeadScoreInput(inp.lead_id, self._due, wakes))
            due = self._due
            wait = due - workflow.now().timestamp()
            if wait > 0:
                try:
                    # An earlier moment signalled meanwhile replaces this one.
                    await workflow.wait_condition(lambda due=due: self._due != due,  # type: ignore[misc]
                                                  timeout=timedelta(seconds=wait))
                    continue
                except TimeoutError:
                    pass
            if self._due != due:
                continue
            self._due = None
            next_due = await workflow.execute_activity(
                "rescore_lead", RescoreInput(inp.lead_id, workflow.now().timestamp()),
                start_to_close_timeout=timedelta(minutes=1), retry_policy=RETRY)
            wakes += 1
            if next_due is not None:
                self.rearm({"due": next_due})
        return {"lead_id": inp.lead_id, "wakes": wakes}


@workflow.defn(name=RESCORE_ALL_WORKFLOW)
class RescoreAllWorkflow:
    """Re-scores every lead with one model version, batch by batch, in lead id order."""

    @workflow.run
    async def run(self, inp: RescoreAllInput) -> dict[str, Any]:
        after, done = inp.after_id, inp.done
        for _ in range(BATCHES_PER_RUN):
            result = await workflow.execute_activity(
                "rescore_batch",
                RescoreBatchInput(inp.version, after, inp.batch_size, workflow.now().timestamp()),
                start_to_close_timeout=timedelta(minutes=5), retry_policy=RETRY)
            done += result["count"]
            if result["superseded"] or result["next_after"] is None:
                return {"version": inp.version, "done": done,
                        "superseded": result["superseded"]}
            after = result["next_after"]
            if workflow.info().is_continue_as_new_suggested():
                break
        workflow.continue_as_new(RescoreAllInput(inp.version, after, inp.batch_size, done))


WORKFLOWS = [LeadScoreWorkflow, RescoreAllWorkflow]
