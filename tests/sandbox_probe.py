"""A workflow that reads the wall clock (non-deterministic on purpose), for
tests/test_worker_sandbox.py: in a module of its own, so the sandbox has only it to import."""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow


@workflow.defn(name="ReadsTheClock")
class ReadsTheClock:
    @workflow.run
    async def run(self) -> str:
        return datetime.now().isoformat()
