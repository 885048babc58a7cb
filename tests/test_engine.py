"""The pure journey interpreter, without Temporal: fast checks of its rules."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from leadflow.journeys.engine import JourneyState, advance, split_choice

FLOW: dict[str, Any] = {
    "id": "f", "name": "F", "start": "mail", "exit_when": {"has_tag": "won"},
    "steps": {
        "mail": {"type": "email", "template": "t", "next": "wait"},
        "wait": {"type": "wait", "duration": "PT1H", "next": "await"},
        "await": {"type": "wait_for", "event": "email.clicked", "from_step": "mail",
                  "timeout": "P1D", "next": "end", "on_timeout": "mail"},
        "end": {"type": "exit"},
    },
}


def test_walk_with_absolute_deadlines_and_exit_check() -> None:
    s = JourneyState(journey_id="j", lead_id="l")
    cmd = advance(FLOW, s, {"kind": "start"}, 1000.0)
    assert (cmd.kind, cmd.action) == ("run", "check_exit")
    cmd = advance(FLOW, s, {"kind": "result", "value": False}, 1000.0)
    assert (cmd.kind, cmd.action, cmd.send_id) == ("run", "email", "j.mail.1")
    assert cmd.trail == [["mail", 1, 1000.0]]
    cmd = advance(FLOW, s, {"kind": "result", "value": {"status": "sent"}}, 1001.0)
    assert (cmd.kind, cmd.until) == ("sleep", 1001.0 + 3600)
    assert advance(FLOW, s, {"kind": "timer"}, 2000.0).until == 4601.0, "an early wake sleeps on"
    cmd = advance(FLOW, s, {"kind": "timer"}, 4601.0)
    assert cmd.kind == "sleep" and s.step == "await" and cmd.until == 4601.0 + 86400
    # a click on another journey's mail is not this step's engagement
    other = {"kind": "event", "type": "email.clicked", "journey_id": "x", "step": "mail"}
    assert advance(FLOW, s, other, 5000.0).kind == "sleep" and s.step == "await"
    # timeout loops back to the mail: a second visit has its own send id
    cmd = advance(FLOW, s, {"kind": "timer"}, 4601.0 + 86400)
    assert cmd.send_id == "j.mail.2"


def test_postponed_mail_retries_the_same_send_id() -> None:
    s = JourneyState(journey_id="j", lead_id="l")
    flow = {**FLOW, "exit_when": None}
    cmd = advance(flow, s, {"kind": "start"}, 0.0)
    cmd = advance(flow, s, {"kind": "result", "value": {"status": "postponed", "retry_at": 500.0}}, 1.0)
    assert (cmd.kind, cmd.until) == ("sleep", 500.0)
    cmd = advance(flow, s, {"kind": "timer"}, 500.0)
    assert (cmd.action, cmd.send_id) == ("email", "j.mail.1")


def test_exit_goal_interrupts_a_wait_and_manual_exit() -> None:
    s = JourneyState(journey_id="j", lead_id="l")
    advance(FLOW, s, {"kind": "start"}, 0.0)
    advance(FLOW, s, {"kind": "result", "value": False}, 0.0)
    advance(FLOW, s, {"kind": "result", "value": {"status": "sent"}}, 0.0)
    assert advance(FLOW, s, {"kind": "lead_changed"}, 10.0).action == "check_exit"
    cmd = advance(FLOW, s, {"kind": "result", "value": False}, 10.0)
    assert cmd.kind == "sleep" and cmd.until == 3600.0, "the wait goes on with its deadline"
    advance(FLOW, s, {"kind": "lead_changed"}, 20.0)
    cmd = advance(FLOW, s, {"kind": "result", "value": True}, 20.0)
    assert (cmd.kind, cmd.status, cmd.reason, s.step) == ("finish", "exited", "goal", "wait")


@given(st.text(min_size=1, max_size=40))
def test_split_choice_is_a_function_of_lead_and_step(lead_id: str) -> None:
    first = split_choice(lead_id, "ab", [30, 70])
    assert first == split_choice(lead_id, "ab", [30, 70]) and first in (0, 1)


def test_split_follows_the_weights() -> None:
    counts = Counter(split_choice(f"lead-{i}", "ab", [20, 80]) for i in range(5000))
    assert 0.17 < counts[0] / 5000 < 0.23
