"""The handoff workflow: one lead handed to sales, under an SLA counted in business time.

It assigns a rep (activity ``open_handoff``), notifies them, then waits on durable timers for
the "due soon" reminders and the deadline, and on signals for the sales loop. At the deadline it
climbs the escalation ladder, one rung per SLA period (see :mod:`leadflow.sales.handoffs`).
Notifications run as activities the workflow starts but never waits for, so a Slack outage
cannot delay a reminder or an escalation.

The result is ``{"outcome": "accepted" | "rejected", "action", "handoff_id"}``: ``accept``,
``contacted`` and ``qualify`` stop the clock and let the journey go on at ``next``;
``reject`` and ``disqualify`` send it to the step's ``on_rejected``. History carries ids only.

When its journey ends meanwhile (an exit, ``exit_when``, a stopped flow, an erasure), the
journey cancels this workflow: the handoff is closed as ``withdrawn``, the rep is told, and the
answer is ``{"outcome": "withdrawn"}``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from leadflow.sales.handoffs import EscalateInput, ReassignInput, RemindInput, WithdrawInput
    from leadflow.sales.notifications import NotifyInput
    from leadflow.temporal import HANDOFF_SIGNAL, HANDOFF_WITHDRAWN, HANDOFF_WORKFLOW, HandoffInput

__all__ = ["HandoffWorkflow"]

# Transient errors retry with backoff for at most a day; then the handoff (and its journey)
# fails, and the marketer can retry it from the journey.
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=5),
                    maximum_attempts=400)
WITHDRAW_PATCH = "handoff-withdrawn-on-cancel"
# Notifications keep retrying for a day: a rep should still hear of a lead after an outage.
NOTIFY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2),
                           maximum_interval=timedelta(minutes=10))
# When sales answers, notifications still in flight get this long to finish before the journey
# moves on; a channel that is down does not hold the lead for longer.
NOTIFY_GRACE = timedelta(seconds=10)
ACCEPTING = ("accept", "contacted", "qualify")
REJECTING = ("reject", "disqualify")


@dataclass
class _Timer:
    at: datetime
    kind: str  # remind | escalate
    number: int  # reminder index or escalation rung


@workflow.defn(name=HANDOFF_WORKFLOW)
class HandoffWorkflow:
    """One handoff: assignment, notifications, SLA timers, escalation, the sales answer."""

    def __init__(self) -> None:
        self._actions: list[dict[str, Any]] = []
        self._notices = 0
        self._sending: list[Any] = []

    @workflow.signal(name=HANDOFF_SIGNAL)
    def on_action(self, payload: dict[str, Any]) -> None:
        """A sales action (already stored by the API) or ``reassign`` (rep went away)."""
        self._actions.append(payload)

    def _now(self) -> str:
        return workflow.now().isoformat()

    async def _run(self, name: str, arg: Any) -> Any:
        return await workflow.execute_activity(
            name, arg, start_to_close_timeout=timedelta(minutes=1), retry_policy=RETRY,
            schedule_to_close_timeout=timedelta(days=1))

    def _notify(self, hid: str, targets: list[dict[str, Any]]) -> None:
        for target in targets:
            self._notices += 1
            for channel in target.get("channels", []):
                key = f"{hid}.{target['kind']}.{self._notices}.{channel}"
                self._sending.append(workflow.start_activity(
                    "handoff_notify",
                    NotifyInput(handoff_id=hid, kind=target["kind"], rep_id=target["rep_id"],
                                channel=channel, key=key),
                    start_to_close_timeout=timedelta(seconds=30),
                    schedule_to_close_timeout=timedelta(days=1), retry_policy=NOTIFY_RETRY))

    async def _finish(self, outcome: str, action: str, hid: str) -> dict[str, Any]:
        try:
            await workflow.wait_condition(lambda: all(s.done() for s in self._sending),
                                          timeout=NOTIFY_GRACE)
        except TimeoutError:
            workflow.logger.warning("handoff %s: notifications still retrying at its end", hid)
        return {"outcome": outcome, "action": action, "handoff_id": hid}

    @workflow.run
    async def run(self, inp: HandoffInput) -> dict[str, Any]:
        self._hid: str | None = None
        try:
            return await self._handle(inp)
        except asyncio.CancelledError:
            if not workflow.patched(WITHDRAW_PATCH):
                raise
            # the journey left: close the handoff and tell the rep, then answer
            withdrawn = await self._run("withdraw_handoff", WithdrawInput(
                journey_id=inp.journey_id, handoff_id=self._hid, at=self._now()))
            hid = withdrawn.get("handoff_id") or self._hid or ""
            for target in withdrawn.get("notify", []):
                for channel in target.get("channels", []):
                    self._sending.append(workflow.start_activity(
                        "handoff_notify",
                        NotifyInput(handoff_id=hid, kind=target["kind"], rep_id=target["rep_id"],
                                    channel=channel, key=f"{hid}.withdrawn.{channel}"),
                        start_to_close_timeout=timedelta(seconds=30),
                        schedule_to_close_timeout=timedelta(days=1), retry_policy=NOTIFY_RETRY))
            return await self._finish(HANDOFF_WITHDRAWN, "withdraw", hid)

    async def _handle(self, inp: HandoffInput) -> dict[str, Any]:
        opened = await self._run("open_handoff", HandoffInput(
            journey_id=inp.journey_id, lead_id=inp.lead_id, flow_id=inp.flow_id,
            version=inp.version, step=inp.step, visit=inp.visit, at=self._now()))
        hid = self._hid = opened["handoff_id"]
        self._notify(hid, opened["notify"])
        timers = [_Timer(datetime.fromisoformat(t), "remind", i)
                  for i, t in enumerate(opened.get("reminders") or [])]
        if opened.get("due_at"):
            timers.append(_Timer(datetime.fromisoformat(opened["due_at"]), "escalate", 1))

        while True:
            timers.sort(key=lambda t: t.at)
            if not self._actions:
                timeout = (timers[0].at - workflow.now()).total_seconds() if timers else None
                if timeout is None or timeout > 0:
                    try:
                        await workflow.wait_condition(lambda: bool(self._actions),
                                                      timeout=timeout)
                    except TimeoutError:
                        pass
            if self._actions:
                payload = self._actions.pop(0)
                action = payload.get("action")
                if action in ACCEPTING:
                    return await self._finish("accepted", action, hid)
                if action in REJECTING:
                    return await self._finish("rejected", action, hid)
                if action == "reassign":
                    moved = await self._run("handoff_reassign", ReassignInput(
                        handoff_id=hid, rep_id=payload.get("rep_id"), at=self._now(),
                        reason=payload.get("reason") or "out of office"))
                    self._notify(hid, moved["notify"])
                continue
            timer = timers.pop(0)
            if timer.kind == "remind":
                reminded = await self._run("handoff_remind", RemindInput(
                    handoff_id=hid, index=timer.number, at=self._now()))
                self._notify(hid, reminded["notify"])
                continue
            climbed = await self._run("handoff_escalate", EscalateInput(
                handoff_id=hid, rung=timer.number, at=self._now()))
            self._notify(hid, climbed["notify"])
            if climbed.get("applied") and climbed.get("next_at"):
                timers.append(_Timer(datetime.fromisoformat(climbed["next_at"]), "escalate",
                                     int(climbed["rung"]) + 1))
