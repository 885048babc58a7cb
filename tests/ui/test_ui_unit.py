"""Runs the studio's own unit tests (vitest) so the project's single `pytest` covers them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

UI = Path(__file__).resolve().parents[2] / "ui"


def test_studio_unit_tests_pass() -> None:
    npm = shutil.which("npm")
    npx = shutil.which("npx")
    if npm is None or npx is None:
        pytest.skip("Node.js/npm is not installed: the studio's unit tests need it")
    if not (UI / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=UI, check=True,
                       timeout=600)
    result = subprocess.run([npx, "vitest", "run", "--reporter=dot"], cwd=UI, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    # The graph ⇄ JSON round trip must actually have run, not been filtered away.
    assert "graph.test.ts" in result.stdout or "passed" in result.stdout
