"""Recorded workflow histories replay against the current workflow code.

Every file in ``tests/histories/`` (journeys of every step type and path, continue-as-new,
handoffs with reminders, reassignment and escalation, the scoring timers) is replayed with
every workflow the worker registers. A change that would break running workflows
(non-determinism) fails here, not in production. Behaviour changes go through
``workflow.patched``; add recordings with ``python -m tests.histories.record`` (see its doc),
never overwrite the old ones: they stand for workflows still running on the old code.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from leadflow.cli.wiring import WORKFLOWS

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(workflows=WORKFLOWS())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None


def test_every_workflow_type_and_path_is_recorded() -> None:
    names = {p.stem for p in HISTORIES}
    for expected in ("journey_clicked", "journey_timed_out", "journey_wait_for_where",
                     "journey_branches__hot", "journey_branches__warm", "journey_branches__cold",
                     "journey_split", "journey_update_notify", "journey_exit_when",
                     "journey_manual_exit", "journey_continue_as_new__run1",
                     "handoff_accepted__handoff", "handoff_rejected__journey",
                     "handoff_reminders_escalation__handoff", "score_timer", "rescore_all",
                     "journey_migrated__run1", "journey_migrated", "recycle"):
        assert expected in names, f"history {expected} is missing"
    types = {WorkflowHistory.from_json(p.stem, p.read_text()).events[0]
             .workflow_execution_started_event_attributes.workflow_type.name for p in HISTORIES}
    assert types == {wf.__temporal_workflow_definition.name for wf in WORKFLOWS()}
