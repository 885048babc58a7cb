"""LEADFLOW_WORKFLOW_SANDBOX: "strict" refuses the clock in workflow code at run time; "fast"
(the default) runs workflows without Temporal's sandbox, and the tests' workers stay strict."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from leadflow.cli.wiring import workflow_runner
from leadflow.config import Settings
from tests.sandbox_probe import ReadsTheClock


async def _runs(env: WorkflowEnvironment, queue: str, mode: str) -> bool:
    """Whether ReadsTheClock completes on a worker with sandbox ``mode``."""
    runner = workflow_runner(Settings(workflow_sandbox=mode))  # type: ignore[arg-type]
    async with Worker(env.client, task_queue=queue, workflows=[ReadsTheClock],
                      workflow_runner=runner):
        handle = await env.client.start_workflow("ReadsTheClock", id=f"{queue}-{mode}",
                                                 task_queue=queue)
        try:
            await asyncio.wait_for(handle.result(), timeout=5)
        except TimeoutError:
            await handle.terminate()
            return False  # its workflow task kept failing: the sandbox refused the call
        return True


@pytest.mark.parametrize("mode, completes", [("strict", False), ("fast", True)])
async def test_the_strict_sandbox_refuses_the_clock_and_the_fast_one_does_not(
        time_env: WorkflowEnvironment, task_queue: str, mode: str, completes: bool) -> None:
    assert await _runs(time_env, task_queue, mode) is completes
