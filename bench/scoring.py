"""How fast scoring is, beside the least any scorer must do: add up the points of the events.

Run ``python bench/scoring.py`` (``--leads 10000 --runs 3`` for a quicker look). Cases:

* one lead with 10,000 events, with and without its breakdown;
* 100,000 leads of 10 events each re-scored after a model change (breakdowns kept, as the
  re-scoring job stores them).

Each case is timed against a baseline over the same events: the bare sum of each event's points
from a dict, no decay, no rules. The median of the runs is shown, and the ratio scoring/baseline
(how many times slower). ``bench/run`` picks this module up through :func:`run`.
"""

from __future__ import annotations

import argparse
import copy
import random
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Row, median_time, print_table
from leadflow.scoring.model import (
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


def run(quick: bool = False, *, events: int = 10_000, leads: int = 100_000, per_lead: int = 10,
        runs: int = 5) -> list[Row]:
    """The scoring figures beside their baselines (``quick``: a tenth of the sizes, 3 runs)."""
    if quick:
        events, leads, runs = events // 10, leads // 10, 3
    rng = random.Random(7)
    lead = {"title": "VP Marketing", "company": "Acme", "email": "x@acme.io"}
    model = load_model(DEFAULT_SCORING_MODEL)
    plain_points = {k: float(v) for k, v in DEFAULT_SCORING_MODEL["behavior"].items()
                    if isinstance(v, int | float)}
    plain_points["page.viewed"] = 1.0

    one = make_events(rng, events, "e")
    many = [make_events(rng, per_lead, f"l{i}") for i in range(leads)]
    people = [dict(lead, title=rng.choice(["VP Sales", "Engineer", "Head of Ops"]))
              for _ in range(leads)]

    changed = copy.deepcopy(DEFAULT_SCORING_MODEL)
    changed["behavior"]["email.clicked"] = 8
    changed["decay"] = {"half_life": "P14D"}

    def rescore() -> None:
        new_model = load_model(changed)  # the model change: validated and compiled once
        for fields, lead_events in zip(people, many, strict=True):
            score_lead(fields, lead_events, new_model, NOW)

    def rescore_baseline() -> None:
        for lead_events in many:
            baseline(lead_events, plain_points)

    cases: list[tuple[str, Callable[[], object], Callable[[], object], str]] = [
        ("score 1 lead, with breakdown", lambda: score_lead(lead, one, model, NOW),
         lambda: baseline(one, plain_points), f"{events:,} events"),
        ("score 1 lead, score only", lambda: score_lead(lead, one, model, NOW, explain=False),
         lambda: baseline(one, plain_points), f"{events:,} events"),
        ("re-score after a model change", rescore, rescore_baseline,
         f"{leads:,} leads x {per_lead} events"),
    ]
    rows = []
    for name, scoring, floor, note in cases:
        ours = median_time(scoring, runs=runs)
        base = median_time(floor, runs=runs)
        # Baseline: the bare sum of points over the same events; ratio = times slower.
        rows.append(Row(f"scoring: {name}", ours * 1000, base * 1000, "ms", note=note))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="events of the single lead")
    parser.add_argument("--leads", type=int, default=100_000, help="leads to re-score")
    parser.add_argument("--per-lead", type=int, default=10, help="events per re-scored lead")
    parser.add_argument("--runs", type=int, default=5, help="runs per case (median shown)")
    args = parser.parse_args()
    rows = run(events=args.events, leads=args.leads, per_lead=args.per_lead, runs=args.runs)
    print_table(rows, title=f"scoring: median of {args.runs} runs")


if __name__ == "__main__":
    main()
