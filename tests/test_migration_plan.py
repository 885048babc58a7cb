"""The migration planner (pure): step maps, problems with their paths, timer policies."""

from __future__ import annotations

import copy
from typing import Any

from leadflow.journeys.migration import Position, Request, plan, templates_sent

DAY = 86400.0
NOW = 1_000 * DAY

V1: dict[str, Any] = {
    "id": "f", "start": "hello",
    "steps": {
        "hello": {"type": "email", "template": "trial-welcome", "next": "wait-a"},
        "wait-a": {"type": "wait", "duration": "P4D", "next": "tips"},
        "tips": {"type": "email", "template": "trial-tips", "next": "wait-b"},
        "wait-b": {"type": "wait_for", "event": "email.clicked", "timeout": "P10D",
                   "next": "end", "on_timeout": "end"},
        "old": {"type": "wait", "duration": "P1D", "next": "end"},
        "end": {"type": "exit"},
    },
}


def v2() -> dict[str, Any]:
    doc = copy.deepcopy(V1)
    steps = doc["steps"]
    steps["pause-a"] = steps.pop("wait-a")  # renamed
    steps["hello"]["next"] = "pause-a"
    steps["pause-a"]["duration"] = "P1D"  # shorter
    del steps["old"]  # removed
    return doc


def at(step: str, lead: str, entered_days_ago: float, wait_days: float,
       waiting: str = "timer", version: int = 1) -> Position:
    entered = NOW - entered_days_ago * DAY
    return Position(f"j-{lead}", lead, version, step, waiting, entered + wait_days * DAY)


def test_same_ids_map_to_themselves_and_renames_follow_the_map() -> None:
    leads = [at("wait-a", "a", 2, 4), at("wait-b", "b", 1, 10, "event")]
    result = plan({1: V1, 2: v2()}, leads, Request(2, step_map={"wait-a": "pause-a"}), NOW)
    assert not result.problems
    assert [(m.from_step, m.to_step) for m in result.moves] == [("wait-a", "pause-a"),
                                                                ("wait-b", "wait-b")]


def test_an_unmapped_waiting_step_is_a_problem_with_its_path() -> None:
    leads = [at("old", "a", 0.5, 1), at("wait-a", "b", 1, 4)]
    result = plan({1: V1, 2: v2()}, leads, Request(2), NOW)
    paths = sorted(p["path"] for p in result.problems)
    assert paths == ["step_map.old", "step_map.wait-a"]
    # a step nobody waits at needs no mapping
    assert not plan({1: V1, 2: v2()}, [at("wait-b", "c", 1, 10, "event")], Request(2), NOW).problems


def test_bad_requests_name_their_field() -> None:
    docs = {1: V1, 2: v2()}
    assert plan(docs, [], Request(7), NOW).problems[0]["path"] == "to_version"
    assert plan(docs, [], Request(2, timers="soon"), NOW).problems[0]["path"] == "timers"
    assert plan(docs, [], Request(2, from_versions=[2]), NOW).problems[0]["path"] == "from_versions.0"
    problems = plan(docs, [], Request(2, step_map={"nope": "pause-a", "old": "hello"}), NOW).problems
    assert {p["path"] for p in problems} == {"step_map.nope", "step_map.old"}


def test_timer_policies() -> None:
    docs = {1: V1, 2: v2()}
    lead = [at("wait-a", "a", 0.5, 4)]  # entered 12 h ago, due in 3.5 days; new delay: 1 day
    amap = {"wait-a": "pause-a"}
    from_entry = plan(docs, lead, Request(2, step_map=amap), NOW).moves[0]
    assert from_entry.next_action_at == NOW + 0.5 * DAY and not from_entry.sends_at_once
    keep = plan(docs, lead, Request(2, step_map=amap, timers="keep_deadline"), NOW).moves[0]
    assert keep.next_action_at == NOW + 3.5 * DAY
    restart = plan(docs, lead, Request(2, step_map=amap, timers="restart"), NOW).moves[0]
    assert restart.next_action_at == NOW + DAY
    # entered 3 days ago: the new 1-day delay is past, so the lead is due now and mails at once
    late = plan(docs, [at("wait-a", "b", 3, 4)], Request(2, step_map=amap), NOW).moves[0]
    assert late.next_action_at == NOW and late.sends_at_once


def test_busy_and_other_versions_do_not_move() -> None:
    docs = {1: V1, 2: v2(), 3: v2()}
    leads = [at("wait-a", "a", 1, 4, waiting=""), at("wait-b", "b", 1, 10, "event", version=2),
             at("wait-b", "c", 1, 10, "event", version=3), at("hello", "d", 1, 4, "handoff"),
             at("tips", "e", 1, 4, "postponed")]
    result = plan(docs, leads, Request(3, from_versions=[1], step_map={"wait-a": "pause-a"}), NOW)
    assert not result.moves
    assert [s.code for s in result.skipped] == ["busy", "version", "version", "handoff", "held"]


def test_preview_groups_and_sample() -> None:
    leads = [at("wait-a", f"l{i}", 3 if i % 2 else 0.1, 4) for i in range(6)]
    result = plan({1: V1, 2: v2()}, leads, Request(2, step_map={"wait-a": "pause-a"}), NOW)
    assert result.groups() == [{"from_version": 1, "from_step": "wait-a", "to_step": "pause-a",
                                "leads": 6, "sends_at_once": 3}]
    assert [s["next_action_at"] for s in result.sample(3)] == [NOW] * 3


def test_templates_sent_lists_visited_email_steps() -> None:
    assert templates_sent(V1, {"hello": 1, "wait-a": 1, "tips": 0}) == ["trial-welcome"]
