"""The flow validator: every rule of the spec, every problem at once, with paths and sentences."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from leadflow.journeys.flowdef import flow_json_schema
from leadflow.journeys.validate import ValidationContext, validate_flow

SPEC_EXAMPLE: dict[str, Any] = json.loads(
    (Path(__file__).parent.parent / "flows" / "trial-nurture.json").read_text())
CTX = ValidationContext(templates={"trial-welcome", "case-study", "trial-tips"},
                        teams={"inside-sales"}, reps=set())


def paths(doc: Any, ctx: ValidationContext = CTX) -> set[str]:
    return {p["path"] for p in validate_flow(doc, ctx)}


def mutate(**steps: Any) -> dict[str, Any]:
    doc = copy.deepcopy(SPEC_EXAMPLE)
    for sid, step in steps.items():
        if step is None:
            del doc["steps"][sid]
        else:
            doc["steps"][sid] = step
    return doc


def test_the_spec_example_is_valid() -> None:
    assert validate_flow(SPEC_EXAMPLE, CTX) == []


@pytest.mark.parametrize(("doc", "path"), [
    (mutate(route={"type": "teleport", "next": "end"}), "steps.route.type"),
    (mutate(welcome={"type": "email", "template": "trial-welcome", "next": "wait-2d", "cc": "x"}),
     "steps.welcome.cc"),
    (mutate(tips={"type": "email", "template": "trial-tips", "next": "nowhere"}), "steps.tips.next"),
    (mutate(welcome={"type": "email", "template": "ghost", "next": "wait-2d"}), "steps.welcome.template"),
    (mutate(**{"to-sales": {"type": "handoff", "team": "ghosts", "sla": "PT4H", "next": "end"}}),
     "steps.to-sales.team"),
    (mutate(**{"await-click": {"type": "wait_for", "event": "email.clicked", "next": "route",
                               "on_timeout": "tips"}}), "steps.await-click.timeout"),
    (mutate(**{"wait-2d": {"type": "wait", "duration": "2 days", "next": "route"}}),
     "steps.wait-2d.duration"),
    (mutate(**{"wait-2d": {"type": "wait", "duration": "P1M", "next": "route"}}),
     "steps.wait-2d.duration"),
    (mutate(route={"type": "branch", "on": "temperature", "hot": "to-sales", "warm": "case-study"}),
     "steps.route.cold"),
    (mutate(route={"type": "branch", "cases": [{"when": {"field": "country", "op": "like",
                                                        "value": "D%"}, "next": "tips"}],
                   "else": "case-study"}), "steps.route.cases[0].when.op"),
    (mutate(orphan={"type": "exit"}), "steps.orphan"),
    ({**SPEC_EXAMPLE, "start": "nope"}, "start"),
    ({**SPEC_EXAMPLE, "id": "Trial Nurture"}, "id"),
    ({**SPEC_EXAMPLE, "entry": {"event": "form.submitted", "reentry": "sometimes"}}, "entry.reentry"),
    ({**SPEC_EXAMPLE, "exit_when": {"stage_at_least": "king"}}, "exit_when.stage_at_least"),
    ({**SPEC_EXAMPLE, "send_window": {"days": ["mon", "fun"], "from": "09:00", "to": "17:00"}},
     "send_window.days[1]"),
    ({**SPEC_EXAMPLE, "colour": "blue"}, "colour"),
    (mutate(split={"type": "split", "paths": [{"weight": 0, "next": "tips"},
                                              {"weight": 1, "next": "tips"}]}), "steps.split.paths[0].weight"),
])
def test_each_rule_reports_its_path(doc: dict[str, Any], path: str) -> None:
    problems = validate_flow(doc, CTX)
    assert path in {p["path"] for p in problems}, problems
    assert all(p["message"].endswith((".", ")")) for p in problems)


def test_every_problem_is_reported_at_once() -> None:
    doc = mutate(
        welcome={"type": "email", "template": "ghost", "next": "wait-2d"},
        tips={"type": "email", "template": "trial-tips", "next": "nowhere"},
        **{"wait-2d": {"type": "wait", "duration": "soon", "next": "route"}},
    )
    assert {"steps.welcome.template", "steps.tips.next", "steps.wait-2d.duration"} <= paths(doc)


def test_a_loop_without_a_wait_is_refused_and_with_one_is_fine() -> None:
    hot_loop = mutate(tips={"type": "email", "template": "trial-tips", "next": "route"},
                      route={"type": "branch", "cases": [{"when": {"temperature": "hot"},
                                                          "next": "end"}], "else": "tips"})
    problems = validate_flow(hot_loop, CTX)
    loop = [p for p in problems if "loop" in p["message"]]
    assert loop and "route" in loop[0]["message"] and "tips" in loop[0]["message"]
    # the spec example loops route → case-study → await-click → route through a wait_for: fine
    assert not [p for p in validate_flow(SPEC_EXAMPLE, CTX) if "loop" in p["message"]]


def test_not_an_object() -> None:
    assert validate_flow([1, 2], CTX)[0]["path"] == ""


def test_template_render_errors_are_caught() -> None:
    ctx = ValidationContext(templates=CTX.templates, teams=CTX.teams,
                            template_errors=lambda name: ["'lead' has no attribute 'nope'"]
                            if name == "case-study" else [])
    problems = validate_flow(SPEC_EXAMPLE, ctx)
    assert [p["path"] for p in problems] == ["steps.case-study.template"]
    assert "does not render" in problems[0]["message"]


def test_json_schema_is_published_and_describes_steps() -> None:
    schema = flow_json_schema()
    assert schema["title"] == "Leadflow nurture flow"
    assert {"id", "name", "start", "steps"} <= set(schema["required"])
    text = json.dumps(schema)
    for kind in ("email", "wait", "wait_for", "branch", "split", "update", "handoff", "notify", "exit"):
        assert f'"{kind}"' in text


def test_cli_validate_exit_status(tmp_path: Path) -> None:
    good = Path(__file__).parent.parent / "flows" / "webinar-follow-up.json"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(mutate(tips={"type": "email", "template": "trial-tips", "next": "x"})))
    ok = subprocess.run([sys.executable, "-m", "leadflow.cli", "flows", "validate", str(good)],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and "ok" in ok.stdout
    res = subprocess.run([sys.executable, "-m", "leadflow.cli", "flows", "validate", str(good), str(bad)],
                         capture_output=True, text=True)
    assert res.returncode == 1
    assert "steps.tips.next" in res.stdout and "no step with that id" in res.stdout
