"""Predictive scoring on generated lead histories with known true effects.

The generator (``tests/synthetic_outcomes.py``) decides who is won from a logistic model that
rewards partner leads, VPs, pricing-page views and webinars, and ignores e-mail opens; the points
model it installs rewards opens. A model trained on outcomes must recover those effects, beat
the points score on held-out leads, be calibrated, and be promoted; with too few outcomes it
must refuse and say why.
"""

from __future__ import annotations

from sqlmodel import col, func, select

from leadflow.db import session_scope
from leadflow.journeys.conditions import condition_problems, evaluate
from leadflow.models import Lead, PredictiveModel
from leadflow.scoring.predictive import active_predictive, lead_likelihood, suggestions, train
from leadflow.scoring.service import active_model, save_model
from tests.synthetic_outcomes import POINTS_MODEL, generate


def _generated(db_url: str, n: int, seed: int = 7) -> None:
    with session_scope(db_url) as session:
        save_model(session, POINTS_MODEL)
        generate(session, n, seed=seed)


def test_promoted_model_recovers_the_true_effects_and_beats_the_points_score(db_url: str) -> None:
    _generated(db_url, 1600)
    with session_scope(db_url) as session:
        run = train(session, active_model(session))
        metrics, promoted, why = dict(run.metrics), run.promoted, run.why
        assert "partner" in run.weights["spec"]["sources"]
    assert promoted, why
    assert metrics["auc"] > metrics["baseline_auc"] + 0.05, metrics
    assert metrics["average_precision"] > metrics["baseline_average_precision"], metrics
    assert metrics["brier"] < metrics["baseline_brier"], metrics
    assert 0.8 <= metrics["calibration_slope"] <= 1.2, metrics
    assert metrics["lift_top_decile"] > 1.3, metrics
    assert metrics["test_leads"] == 400 and metrics["train_leads"] == 1200
    assert "Promoted" in why and "held-out" in why

    with session_scope(db_url) as session:
        from leadflow.scoring.predictive import model_public

        features = {f["feature"]: f["weight"]
                    for f in model_public(active_predictive(session))["features"]}  # type: ignore[arg-type]
    # The true effects, recovered in sign; opens (no true effect) weigh little.
    assert features["source=partner"] > 0.2
    assert features["source=ads"] < -0.2
    assert features["seniority=vp"] > 0.1
    assert features["events.pricing.viewed"] > 0.2
    assert features["events.webinar.attended"] > 0.1
    assert abs(features["events.email.opened"]) < features["events.pricing.viewed"] / 2


def test_every_lead_gets_a_likelihood_and_its_top_factors(db_url: str) -> None:
    _generated(db_url, 1600)
    with session_scope(db_url) as session:
        assert train(session, active_model(session)).promoted
        scored = list(session.exec(select(Lead.likelihood)).all())
        assert all(p is not None and 0 < p < 1 for p in scored)
        leads = {lead.source: lead for lead in session.exec(select(Lead)).all()}
        partner = lead_likelihood(session, leads["partner"], active_model(session))
    assert partner["likelihood"] is not None
    factors = partner["likelihood_factors"]
    assert 1 <= len(factors) <= 5
    assert {"feature", "label", "effect"} <= set(factors[0])
    assert any(f["feature"] == "source=partner" and f["effect"] > 0 for f in factors)


def test_too_few_outcomes_refuse_with_the_reason(db_url: str) -> None:
    _generated(db_url, 150)
    with session_scope(db_url) as session:
        run = train(session, active_model(session))
        assert run.status == "refused" and not run.promoted and not run.active
        assert "at least 200 of each" in run.why
        assert active_predictive(session) is None
        assert session.exec(select(func.count()).select_from(PredictiveModel)).one() == 1  # kept
        assert not session.exec(select(Lead.id).where(col(Lead.likelihood).is_not(None))).all()


def test_a_weaker_model_is_kept_but_never_replaces_the_active_one(db_url: str) -> None:
    _generated(db_url, 1600)
    with session_scope(db_url) as session:
        first = train(session, active_model(session))
        assert first.promoted
        refused = train(session, active_model(session), min_per_class=5000)
        assert not refused.promoted
        active = active_predictive(session)
        assert active is not None and active.id == first.id


def test_suggestions_name_the_points_outcomes_disagree_with(db_url: str) -> None:
    _generated(db_url, 1600)
    with session_scope(db_url) as session:
        result = suggestions(session, active_model(session))
    by_rule = {s["rule"]: s for s in result["suggestions"]}
    # Opens earn 8 points but make no difference to who is won.
    assert by_rule["email.opened"]["verdict"] in ("no_effect", "overrated")
    assert "email.opened" in by_rule["email.opened"]["sentence"]
    assert all(s["sentence"].endswith(".") for s in result["suggestions"])


def test_flows_can_branch_on_likelihood() -> None:
    assert condition_problems({"likelihood": {"gte": 0.4}}, "when") == []
    assert condition_problems({"likelihood": {"gte": 4}}, "when")[0]["path"].endswith("likelihood.gte")
    assert evaluate({"likelihood": {"gte": 0.4}}, {"likelihood": 0.55})
    assert not evaluate({"likelihood": {"gte": 0.4}}, {"likelihood": 0.2})
    # No active model: no likelihood, and the branch does not take the likely-buyer path.
    assert not evaluate({"likelihood": {"gte": 0.0}}, {"likelihood": None})
