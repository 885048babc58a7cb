"""Recorded journey histories replay against the current workflow code.

A change to the journey workflow that would break running journeys (non-determinism) fails
here, not in production. Behaviour changes go through ``workflow.patched``; re-record with
``python -m tests.histories.record`` only for deliberate, patched changes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from workflows.handoff import HandoffWorkflow
from workflows.journey import JourneyWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(workflows=[JourneyWorkflow, HandoffWorkflow])
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None


def test_there_are_recordings() -> None:
    assert len(HISTORIES) >= 2
