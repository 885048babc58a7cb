"""The handoff workflow: one lead handed to sales, waiting for the sales loop to answer.

This first version assigns and waits for the rep's answer; SLA clocks, reminders and escalation
come with the sales-handoff work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from leadflow.temporal import HANDOFF_WORKFLOW

__all__ = ["HandoffInput", "HandoffWorkflow", "HANDOFF_SIGNAL"]

HANDOFF_SIGNAL = "handoff_action"
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=5))


@dataclass
class HandoffInput:
    journey_id: str
    lead_id: str
    flow_id: str
    version: int
    step: str
    visit: int = 1


@workflow.defn(name=HANDOFF_WORKFLOW)
class HandoffWorkflow:
    def __init__(self) -> None:
        self._actions: list[dict[str, Any]] = []

    @workflow.signal(name=HANDOFF_SIGNAL)
    def on_action(self, payload: dict[str, Any]) -> None:
        self._actions.append(payload)

    @workflow.run
    async def run(self, inp: HandoffInput) -> dict[str, Any]:
        await workflow.execute_activity(
            "open_handoff", inp, start_to_close_timeout=timedelta(minutes=1), retry_policy=RETRY)
        while True:
            await workflow.wait_condition(lambda: bool(self._actions))
            action = self._actions.pop(0).get("action")
            if action in ("reject", "disqualify"):
                return {"outcome": "rejected", "action": action}
            if action in ("accept", "contacted", "qualify"):
                return {"outcome": "accepted", "action": action}
