"""How long training the predictive model takes, beside the bare model fit it wraps.

Run ``python bench/predictive.py`` (``--leads 20000`` for a quicker look). Leads come from the
seeded generator with known true effects (``tests/synthetic_outcomes.py``): every lead is an MQL
with an outcome and about seven events, in a throwaway SQLite database.

* ``ours``: ``leadflow.scoring.predictive.train`` end to end: labels from outcomes, features as
  they stood at each MQL moment (events read from the database, the points score recomputed at
  that moment), the calibrated fit, held-out metrics for the model and the points score, and
  promotion, which stores a likelihood on every lead.
* ``baseline``: the least any trainer must do: one scikit-learn logistic regression fitted on the
  same feature matrix, already in memory.

Also printed: the held-out AUC of the promoted model beside the points score's.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from bench.common import Row, print_table  # noqa: E402
from leadflow.db import create_schema, reset_engine, session_scope  # noqa: E402
from leadflow.scoring.predictive import FeatureSpec, label_leads, snapshots, train  # noqa: E402
from leadflow.scoring.service import active_model, save_model  # noqa: E402
from tests.synthetic_outcomes import POINTS_MODEL, generate  # noqa: E402


def measure(leads: int) -> list[Row]:
    from sklearn.linear_model import LogisticRegression

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        create_schema(url)
        started = time.perf_counter()
        with session_scope(url) as session:
            save_model(session, POINTS_MODEL)
            made = generate(session, leads, seed=11)
        generated = time.perf_counter() - started
        with session_scope(url) as session:
            started = time.perf_counter()
            run = train(session, active_model(session), min_per_class=200)
            ours = time.perf_counter() - started
            labels = label_leads(session)
            snaps = [s for s in snapshots(session, active_model(session), sorted(labels)) if s.is_mql]
            spec = FeatureSpec.learn(snaps)
            x = np.array([spec.vector(s) for s in snaps])
            y = np.array([labels[s.lead_id] for s in snaps])
            started = time.perf_counter()
            LogisticRegression(max_iter=2000).fit(x, y)
            base = time.perf_counter() - started
        reset_engine()
    metrics = run.metrics
    note = (f"{leads:,} leads, {made.events:,} events (generated in {generated:.0f} s); "
            f"promoted: {run.promoted}")
    return [
        Row("predictive: train, score every lead", ours, base, "s",
            note=note + "; baseline: one LogisticRegression fit on the ready feature matrix"),
        Row("predictive: held-out AUC", float(metrics.get("auc", 0.0)),
            float(metrics.get("baseline_auc", 0.0)), "AUC",
            note="baseline: the points score on the same held-out leads (higher is better)"),
    ]


def run(quick: bool) -> list[Row]:
    return measure(5_000 if quick else 100_000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000, help="leads to generate (default 100,000)")
    args = parser.parse_args()
    print_table(measure(args.leads))


if __name__ == "__main__":
    main()
