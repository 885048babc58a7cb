"""How fast scoring is, beside the least any scorer must do: add up the points of the events.

Run ``python bench/scoring.py`` (``--leads 10000 --runs 3`` for a quicker look). Cases:

* one lead with 10,000 events, with and without its breakdown;
* 100,000 leads of 10 events each re-scored after a model change (breakdowns kept, as the
  re-scoring job stores them).

Each case is timed against a baseline over the same events: the bare sum of each event's points
from a dict, no decay, no rules. The median of the runs is shown, and the ratio scoring/baseline.
"""

from __future__ import annotations

import argparse
import copy
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from leadflow.scoring import (
    DEFAULT_SCORING_MODEL,
    EventView,
    load_model,
    score_lead,
)

NOW = datetime(2024, 6, 1)
EVENT_TYPES = ["email.opened", "email.clicked", "page.viewed", "form.submitted",
               "webinar.attended", "other.thing"]
PATHS = ["/pricing", "/blog/a", "/docs", "/"]


def make_events(rng: random.Random, count: int, prefix: str) -> list[EventView]:
    """Synthetic events over the last 180 days, a mix of scored and unscored types."""
    events = []
    for i in range(count):
        kind = rng.choice(EVENT_TYPES)
        props: dict[str, Any] = {}
        if kind == "page.viewed":
            props["path"] = rng.choice(PATHS)
        elif kind == "email.opened" and rng.random() < 0.3:
            props["machine_open"] = True
        age = timedelta(seconds=rng.uniform(0, 180 * 86400))
        events.append(EventView(f"{prefix}-{i}", kind, props, NOW - age))
    return events


def baseline(events: list[EventView], points: dict[str, float]) -> float:
    """The floor: a dict lookup and an addition per event."""
    total = 0.0
    get = points.get
    for ev in events:
        total += get(ev.type, 0.0)
    return total


def median_seconds(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="events of the single lead")
    parser.add_argument("--leads", type=int, default=100_000, help="leads to re-score")
    parser.add_argument("--per-lead", type=int, default=10, help="events per re-scored lead")
    parser.add_argument("--runs", type=int, default=5, help="runs per case (median shown)")
    args = parser.parse_args()

    rng = random.Random(7)
    lead = {"title": "VP Marketing", "company": "Acme", "email": "x@acme.io"}
    model = load_model(DEFAULT_SCORING_MODEL)
    plain_points = {k: float(v) for k, v in DEFAULT_SCORING_MODEL["behavior"].items()
                    if isinstance(v, int | float)}
    plain_points["page.viewed"] = 1.0

    one = make_events(rng, args.events, "e")
    many = [make_events(rng, args.per_lead, f"l{i}") for i in range(args.leads)]
    leads = [dict(lead, title=rng.choice(["VP Sales", "Engineer", "Head of Ops"]))
             for _ in range(args.leads)]

    changed = copy.deepcopy(DEFAULT_SCORING_MODEL)
    changed["behavior"]["email.clicked"] = 8
    changed["decay"] = {"half_life": "P14D"}

    def rescore() -> None:
        new_model = load_model(changed)  # the model change: validated and compiled once
        for fields, events in zip(leads, many, strict=True):
            score_lead(fields, events, new_model, NOW)

    def rescore_baseline() -> None:
        for events in many:
            baseline(events, plain_points)

    cases = [
        (f"1 lead x {args.events:,} events, with breakdown",
         lambda: score_lead(lead, one, model, NOW),
         lambda: baseline(one, plain_points)),
        (f"1 lead x {args.events:,} events, score only",
         lambda: score_lead(lead, one, model, NOW, explain=False),
         lambda: baseline(one, plain_points)),
        (f"{args.leads:,} leads x {args.per_lead} events after a model change",
         rescore, rescore_baseline),
    ]
    header = f"{'case':<52} {'scoring':>11} {'baseline':>11} {'ratio':>7}"
    print(f"median of {args.runs} runs")
    print(header)
    print("-" * len(header))
    for name, scoring, floor in cases:
        scored = median_seconds(scoring, args.runs)
        base = median_seconds(floor, args.runs)
        print(f"{name:<52} {_fmt(scored):>11} {_fmt(base):>11} {scored / base:>6.1f}x")


def _fmt(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


if __name__ == "__main__":
    main()
