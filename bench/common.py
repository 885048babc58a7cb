"""Shared parts of the benchmarks: the result row, timing helpers and the table printer.

A benchmark module in ``bench/`` exposes ``run(quick: bool) -> list[Row]`` (or an ``async def``)
and is picked up by ``bench/run``. Each row sets what we measured beside a baseline measured in
the same run on the same machine: the least any implementation must do (a bare workflow, a bare
insert), so the ratio says what Leadflow's own work costs. Example::

    from bench.common import Row, median_time

    def run(quick: bool) -> list[Row]:
        n = 1_000 if quick else 100_000
        ours = median_time(lambda: ingest(n))
        base = median_time(lambda: bare_insert(n))
        return [Row("lead ingest", n / ours, n / base, "leads/s", note=f"{n} leads")]
"""

from __future__ import annotations

import asyncio
import math
import os
import platform
import statistics
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = [
    "Row",
    "amedian_time",
    "machine_summary",
    "markdown_table",
    "median_time",
    "percentile",
    "print_table",
    "rss_bytes",
    "run_maybe_async",
    "time_call",
]


@dataclass
class Row:
    """One line of the benchmark table.

    ``ratio`` defaults to ``ours / baseline``; for throughputs (higher is better) that reads
    "fraction of the baseline's speed", for times (lower is better) "times slower than the
    baseline". Say which in ``note`` when it is not obvious from ``unit``.
    """

    name: str
    ours: float
    baseline: float | None
    unit: str
    ratio: float | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.ratio is None and self.baseline:
            self.ratio = self.ours / self.baseline

    def as_dict(self) -> dict[str, Any]:
        """The row as plain data (for JSON output)."""
        return asdict(self)


def time_call(fn: Callable[[], Any]) -> float:
    """Seconds ``fn()`` took, by the monotonic high-resolution clock."""
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def median_time(
    fn: Callable[[], Any],
    runs: int = 5,
    warmup: int = 1,
    setup: Callable[[], Any] | None = None,
) -> float:
    """Median seconds of ``runs`` calls of ``fn`` after ``warmup`` untimed ones.

    ``setup`` runs before every call, untimed (fresh state for each run). The median, not the
    mean: one run disturbed by another process on a shared machine should not move the figure.
    """
    times = []
    for i in range(warmup + runs):
        if setup is not None:
            setup()
        elapsed = time_call(fn)
        if i >= warmup:
            times.append(elapsed)
    return statistics.median(times)


async def amedian_time(
    fn: Callable[[], Awaitable[Any]],
    runs: int = 5,
    warmup: int = 1,
    setup: Callable[[], Awaitable[Any]] | None = None,
) -> float:
    """:func:`median_time` for coroutine functions."""
    times = []
    for i in range(warmup + runs):
        if setup is not None:
            await setup()
        started = time.perf_counter()
        await fn()
        if i >= warmup:
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100) of ``values``, linearly interpolated (p50, p99, ...)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def rss_bytes(pid: int | None = None) -> int:
    """Resident memory of process ``pid`` (default: this one), from ``/proc`` (Linux)."""
    status = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def machine_summary() -> str:
    """CPU, cores, memory, OS and Python: the machine a set of figures came from."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.1f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores{memory}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 0.01:
        return f"{value:.3f}"
    return f"{value:.2e}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}×"


def print_table(rows: Iterable[Row], console: Console | None = None, title: str = "") -> None:
    """Print ``rows`` as one table: name, ours, baseline, unit, ratio, note."""
    table = Table(title=title or None, title_justify="left")
    table.add_column("benchmark")
    table.add_column("ours", justify="right")
    table.add_column("baseline", justify="right")
    table.add_column("unit")
    table.add_column("ratio", justify="right")
    table.add_column("note", overflow="fold")
    for row in rows:
        table.add_row(row.name, _fmt(row.ours), _fmt(row.baseline), row.unit,
                      _ratio(row.ratio), row.note)
    (console or Console()).print(table)


def markdown_table(rows: Iterable[Row]) -> str:
    """``rows`` as a Markdown table, for the README."""
    lines = ["| benchmark | ours | baseline | unit | ratio | note |", "|---|--:|--:|---|--:|---|"]
    for row in rows:
        cells = [row.name, _fmt(row.ours), _fmt(row.baseline), row.unit, _ratio(row.ratio),
                 row.note]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def run_maybe_async(result: Any) -> Any:
    """Await ``result`` if a benchmark's ``run`` was a coroutine function."""
    return asyncio.run(result) if asyncio.iscoroutine(result) else result
