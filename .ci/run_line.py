"""Run the README's run line as a newcomer would, then stop it with Ctrl-C and look for leftovers.

Usage: python3 .ci/run_line.py VENV_DIR HOME_DIR "COMMAND"

The command runs in the venv (its bin/ first on PATH) with its own LEADFLOW_HOME and a free
LEADFLOW_PORT, in a process group of its own, like a terminal's foreground job. Once
``GET /api/health`` answers ok, the group gets SIGINT (Ctrl-C). Then nothing it started may be
left: no process of the group, no Temporal dev server of that home, no listener on the ports the
stack had open. Standard library only: this runs before anything is installed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

START_TIMEOUT = 600  # pip install from scratch, the first build of the studio, start-up
STOP_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def group_pids(pgid: int) -> set[int]:
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid or int(fields[3]) == pgid:  # process group or session
            pids.add(int(entry.name))
    return pids


def cmdline(pid: int) -> str:
    try:
        return (Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                .decode(errors="replace"))
    except OSError:
        return ""


def servers_of(home: Path) -> list[str]:
    """Temporal dev servers (anywhere on the machine) keeping their state in ``home``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            line = cmdline(int(entry.name))
            if "start-dev" in line and str(home) in line:
                found.append(f"{entry.name}: {line}")
    return found


def listening_ports(pids: set[int]) -> set[int]:
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            parts = row.split()
            if parts[3] == "0A" and parts[9] in inodes:  # 0A: LISTEN
                ports.add(int(parts[1].rsplit(":", 1)[1], 16))
    return ports


def answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return json.loads(resp.read()).get("status") == "ok"
    except (OSError, ValueError, urllib.error.URLError):
        return False


def main() -> int:
    venv, home, command = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve(), sys.argv[3]
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LEADFLOW_") and k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(VIRTUAL_ENV=str(venv), PATH=f"{venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}",
               LEADFLOW_HOME=str(home), LEADFLOW_PORT=str(port))
    log_path = home.parent / (home.name + ".log")
    home.mkdir(parents=True, exist_ok=True)
    print(f"   LEADFLOW_HOME={home} LEADFLOW_PORT={port}; output in {log_path}", flush=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            ["bash", "-c", command], env=env, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
            # a terminal's foreground job: Ctrl-C is not ignored, whoever started us
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509 - no threads here
    pgid = proc.pid

    def fail(message: str) -> int:
        print(f"!! {message}\n-- last output of the run line:", flush=True)
        print(log_path.read_text(errors="replace")[-6000:], flush=True)
        for pid in group_pids(pgid):
            os.kill(pid, signal.SIGKILL)
        for line in servers_of(home):
            os.kill(int(line.split(":")[0]), signal.SIGKILL)
        return 1

    health = f"http://127.0.0.1:{port}/api/health"
    started = time.monotonic()
    while not healthy(health):
        if proc.poll() is not None:
            return fail(f"the run line exited with status {proc.returncode} before {health} "
                        "answered ok")
        if time.monotonic() - started > START_TIMEOUT:
            return fail(f"{health} did not answer ok within {START_TIMEOUT} s")
        time.sleep(1)
    pids = group_pids(pgid) | {int(s.split(":")[0]) for s in servers_of(home)}
    ports = listening_ports(pids) | {port}
    print(f"   healthy after {time.monotonic() - started:.0f} s: processes {sorted(pids)}, "
          f"listening on {sorted(ports)}", flush=True)
    if not servers_of(home):
        return fail("no Temporal dev server of this LEADFLOW_HOME is running")

    os.killpg(pgid, signal.SIGINT)  # Ctrl-C
    try:
        code = proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        return fail(f"still running {STOP_TIMEOUT} s after Ctrl-C")
    time.sleep(1)
    left = [f"{pid}: {cmdline(pid)}" for pid in sorted(pids) if cmdline(pid)]
    left += [s for s in servers_of(home) if s not in left]
    open_ports = sorted(p for p in ports if answers(p))
    if code not in (0, 130, -signal.SIGINT):
        return fail(f"the run line exited with status {code} after Ctrl-C")
    if left or open_ports:
        return fail(f"left running after Ctrl-C: processes {left}, ports {open_ports}")
    print(f"   stopped cleanly (status {code}); no process or listener left", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
