"""Predictive scoring: a calibrated model of which leads sales will win, trained on outcomes.

What it learns from
    Every lead that became an MQL and has a label. Positive: an ``opportunity`` or ``won``
    outcome, or a lead that reached SQL or beyond. Negative: a ``lost`` outcome, a disqualified
    lead, or a rejection whose reason is ``negative``. A rejection whose reason is ``exclude``
    (bad data, duplicate, never worked) removes the lead from training; one that recycles it
    leaves it unlabeled until something else happens. The latest outcome wins over stages, and
    stages over rejections.

Features (:class:`FeatureSpec`), as they stood when the lead became an MQL
    Fit (source, country, title seniority, whether a company is known, numeric custom fields),
    behaviour (counts of each event type, days since the last event, events in the last seven
    days, the lead's age) and the points score at that moment. Nothing recorded after the MQL
    moment counts, so a hand-off's consequences (a rep's call, the SQL stage) cannot leak into
    the features. A lead that is not an MQL yet is scored on its features now.

Training (:func:`train`)
    A time split: the earliest 75 % of labeled MQLs train, the latest 25 % are held out. A
    standardised logistic regression, calibrated with Platt scaling on cross-validated scores
    (scikit-learn's ``CalibratedClassifierCV``). On the held-out leads: AUC, average precision,
    Brier score, calibration slope and top-decile lift, each beside the points score's (the
    points score is Platt-scaled on the training leads for the probability metrics).

Promotion
    Only with at least ``min_per_class`` labels of each class (200 by default), only when the
    model's AUC beats the points score's and its calibration slope is between 0.8 and 1.2.
    Otherwise the run is kept with the reason why, and the active model (if any) stays.

Serving
    The model is stored as plain numbers (scaler, coefficients, Platt parameters), so scoring a
    lead needs no pickle and no scikit-learn. Each lead's ``likelihood`` is kept on the lead
    (flows branch on it) and its top factors are the largest terms of its log-odds.

May import the models, scoring, conditions and leads; nothing here imports the API or worker.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from statistics import median
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import update
from sqlmodel import Session, col, select

from leadflow.journeys.conditions import evaluate
from leadflow.models import (
    Event,
    Handoff,
    Lead,
    Outcome,
    PredictiveModel,
    RejectionReason,
    StageChange,
    utcnow,
)
from leadflow.scoring.model import EventView, score_lead

if TYPE_CHECKING:  # the scoring service calls in here, so its type only is needed
    from leadflow.scoring.service import ActiveModel

__all__ = [
    "MIN_PER_CLASS",
    "FeatureSpec",
    "LeadSnapshot",
    "active_predictive",
    "label_leads",
    "lead_likelihood",
    "model_public",
    "refresh_likelihood",
    "snapshots",
    "suggestions",
    "train",
]

MIN_PER_CLASS = 200
TRAIN_SHARE = 0.75
SLOPE_RANGE = (0.8, 1.2)
_POSITIVE_STAGES = ("SQL", "opportunity", "customer")
# Events that are consequences of scoring or of the lead's record, not of what the lead did.
_NOT_BEHAVIOUR = ("score.", "temperature.", "stage.", "lead.", "handoff.", "journey.",
                  "outcome.", "email.sent", "email.delivered", "email.skipped")
_SENIORITY = (
    ("c-level", re.compile(r"\b(ceo|cto|cfo|coo|cmo|cio|chief|founder|owner|president)\b", re.IGNORECASE)),
    ("vp", re.compile(r"\b(vp|svp|evp|vice[- ]president)\b", re.IGNORECASE)),
    ("director", re.compile(r"\b(director|head)\b", re.IGNORECASE)),
    ("manager", re.compile(r"\b(manager|lead|principal)\b", re.IGNORECASE)),
)
_TOP_CATEGORIES = 12
_TOP_EVENT_TYPES = 20
_DAY = 86400.0


# ---------------------------------------------------------------- snapshots of leads


@dataclass(slots=True)
class LeadSnapshot:
    """A lead as it stood at ``at`` (its MQL moment, or now): what features are made from."""

    lead_id: str
    at: datetime  # naive UTC
    view: dict[str, Any]
    created_at: datetime
    events: list[EventView] = field(default_factory=list)
    is_mql: bool = False
    points: float = 0.0


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _mql_times(session: Session, lead_ids: Sequence[str] | None) -> dict[str, datetime]:
    stmt = select(StageChange.lead_id, StageChange.at).where(StageChange.to_stage == "MQL")
    if lead_ids is not None:
        stmt = stmt.where(col(StageChange.lead_id).in_(lead_ids))
    out: dict[str, datetime] = {}
    for lead_id, at in session.exec(stmt).all():
        at = _naive(at)
        if lead_id not in out or at < out[lead_id]:
            out[lead_id] = at
    return out


def snapshots(session: Session, scoring: ActiveModel, lead_ids: Sequence[str] | None = None,
              *, now: datetime | None = None, chunk: int = 5000) -> list[LeadSnapshot]:
    """Snapshots of the (non-erased) leads ``lead_ids`` (every lead when None), each at its
    first MQL moment, or at ``now`` for leads that never became MQLs; ``scoring`` is the points
    model that scores them at that moment."""
    now_naive = _naive(now or utcnow())
    mql = _mql_times(session, lead_ids)
    stmt = select(Lead).where(col(Lead.erased_at).is_(None)).order_by(col(Lead.id))
    if lead_ids is not None:
        stmt = stmt.where(col(Lead.id).in_(lead_ids))
    leads = list(session.exec(stmt).all())
    out: list[LeadSnapshot] = []
    for start in range(0, len(leads), chunk):
        part = leads[start:start + chunk]
        events: dict[str, list[EventView]] = defaultdict(list)
        ids = [lead.id for lead in part]
        for lead_id, event_id, type_, props, occurred in session.exec(
                select(Event.lead_id, Event.id, Event.type, Event.properties, Event.occurred_at)
                .where(col(Event.lead_id).in_(ids))):
            events[lead_id].append(EventView(event_id, type_, props or {}, occurred))
        for lead in part:
            at = mql.get(lead.id, now_naive)
            before = [ev for ev in events.get(lead.id, ()) if ev.occurred_at <= at]
            view = _view(lead)
            points = score_lead(view, before, scoring.doc, at, explain=False).score
            out.append(LeadSnapshot(lead.id, at, view, _naive(lead.created_at), before,
                                    lead.id in mql, points))
    return out


def _view(lead: Lead) -> dict[str, Any]:
    return {"id": lead.id, "company": lead.company, "title": lead.title,
            "country": lead.country, "source": lead.source, "fields": dict(lead.fields or {}),
            "tags": list(lead.tags or []), "email": lead.email}


# ---------------------------------------------------------------- labels


def label_leads(session: Session) -> dict[str, int]:
    """Each labeled lead's label: 1 (sales won or advanced it), 0 (it was not good)."""
    labels: dict[str, int] = {}
    excluded: set[str] = set()
    reasons = {r.id: r.outcome for r in session.exec(select(RejectionReason)).all()}
    for h in session.exec(select(Handoff).where(col(Handoff.status).in_(
            ("rejected", "disqualified"))).order_by(col(Handoff.updated_at))).all():
        if h.status == "disqualified":
            labels[h.lead_id] = 0
            excluded.discard(h.lead_id)
            continue
        kind = reasons.get(h.rejection_reason_id or "", "negative" if not h.rejection_reason_id
                           else "exclude")
        if kind == "negative":
            labels[h.lead_id] = 0
            excluded.discard(h.lead_id)
        elif kind == "exclude":
            labels.pop(h.lead_id, None)
            excluded.add(h.lead_id)
    for lead_id in session.exec(select(StageChange.lead_id).where(
            col(StageChange.to_stage).in_(_POSITIVE_STAGES)).distinct()).all():
        labels[lead_id] = 1
        excluded.discard(lead_id)
    latest: dict[str, str] = {}
    for lead_id, outcome in session.exec(select(Outcome.lead_id, Outcome.outcome)
                                         .order_by(col(Outcome.at), col(Outcome.id))).all():
        latest[lead_id] = outcome
    for lead_id, outcome in latest.items():
        labels[lead_id] = 0 if outcome == "lost" else 1
        excluded.discard(lead_id)
    for lead_id in excluded:
        labels.pop(lead_id, None)
    return labels


# ---------------------------------------------------------------- features


def _seniority(title: Any) -> str:
    if not isinstance(title, str) or not title.strip():
        return "unknown"
    return next((name for name, pattern in _SENIORITY if pattern.search(title)), "other")


def _is_behaviour(event_type: str) -> bool:
    return not event_type.startswith(_NOT_BEHAVIOUR)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


@dataclass
class FeatureSpec:
    """Which features a model uses; learned from its training leads, stored with it."""

    sources: list[str]
    countries: list[str]
    event_types: list[str]
    numeric_fields: list[str]

    @classmethod
    def learn(cls, snaps: Sequence[LeadSnapshot]) -> FeatureSpec:
        sources = Counter(s.view.get("source") or "(none)" for s in snaps)
        countries = Counter((s.view.get("country") or "(none)").upper() for s in snaps)
        types = Counter(ev.type for s in snaps for ev in s.events if _is_behaviour(ev.type))
        numeric: Counter[str] = Counter()
        for s in snaps:
            for key, value in (s.view.get("fields") or {}).items():
                if _number(value) is not None:
                    numeric[key] += 1
        floor = max(1, len(snaps) // 100)
        return cls(
            sources=[k for k, n in sources.most_common(_TOP_CATEGORIES) if n >= floor],
            countries=[k for k, n in countries.most_common(_TOP_CATEGORIES) if n >= floor],
            event_types=sorted(k for k, _ in types.most_common(_TOP_EVENT_TYPES)),
            numeric_fields=sorted(k for k, n in numeric.items() if n >= len(snaps) // 2),
        )

    def names(self) -> list[str]:
        return [*(f"source={s}" for s in self.sources), "source=(other)",
                *(f"country={c}" for c in self.countries), "country=(other)",
                *(f"seniority={name}" for name, _ in _SENIORITY), "seniority=unknown",
                "has_company", *(f"fields.{k}" for k in self.numeric_fields),
                *(f"events.{t}" for t in self.event_types),
                "days_since_last_event", "events_last_7_days", "age_days", "points_score"]

    def vector(self, snap: LeadSnapshot) -> list[float]:
        view = snap.view
        source = view.get("source") or "(none)"
        country = (view.get("country") or "(none)").upper()
        seniority = _seniority(view.get("title"))
        row = [float(source == s) for s in self.sources]
        row.append(float(source not in self.sources))
        row += [float(country == c) for c in self.countries]
        row.append(float(country not in self.countries))
        row += [float(seniority == name) for name, _ in _SENIORITY]
        row.append(float(seniority == "unknown"))
        row.append(float(bool(view.get("company"))))
        fields = view.get("fields") or {}
        for key in self.numeric_fields:
            value = _number(fields.get(key))
            row.append(math.log1p(max(value, 0.0)) if value is not None else 0.0)
        counts = Counter(ev.type for ev in snap.events)
        row += [math.log1p(counts.get(t, 0)) for t in self.event_types]
        at = snap.at
        behaviour = [ev for ev in snap.events if _is_behaviour(ev.type)]
        last = max((ev.occurred_at for ev in behaviour), default=None)
        row.append(min((at - last).total_seconds() / _DAY, 365.0) if last else 365.0)
        week_ago = at - timedelta(days=7)
        row.append(math.log1p(sum(1 for ev in behaviour if ev.occurred_at >= week_ago)))
        row.append(min(max((at - snap.created_at).total_seconds() / _DAY, 0.0), 3650.0))
        row.append(snap.points / 100.0)
        return row

    def doc(self) -> dict[str, Any]:
        return {"sources": self.sources, "countries": self.countries,
                "event_types": self.event_types, "numeric_fields": self.numeric_fields}


def _label_of(name: str) -> str:
    """A feature's name in words."""
    if name.startswith("source="):
        value = name.split("=", 1)[1]
        return "another source" if value == "(other)" else f"source is {value}"
    if name.startswith("country="):
        value = name.split("=", 1)[1]
        return "another country" if value == "(other)" else f"country is {value}"
    if name.startswith("seniority="):
        value = name.split("=", 1)[1]
        return "no title" if value == "unknown" else f"title is {value}"
    if name.startswith("fields."):
        return f"{name[7:]} (custom field)"
    if name.startswith("events."):
        return f"{name[7:]} events"
    return {"has_company": "a company is known", "days_since_last_event": "days since last activity",
            "events_last_7_days": "activity in the last 7 days", "age_days": "days since created",
            "points_score": "points score"}.get(name, name)


# ---------------------------------------------------------------- the model as numbers


@dataclass
class Weights:
    """A trained model as plain numbers: enough to score and explain a lead."""

    spec: FeatureSpec
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    platt_a: float
    platt_b: float

    def log_odds_terms(self, x: Sequence[float]) -> list[float]:
        """Each feature's term of the model's raw score (before calibration)."""
        return [c * (v - m) / s for c, v, m, s in zip(self.coef, x, self.mean, self.scale,
                                                       strict=True)]

    def probability(self, x: Sequence[float]) -> float:
        raw = self.intercept + sum(self.log_odds_terms(x))
        return _sigmoid(-(self.platt_a * raw + self.platt_b))

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        raw = ((matrix - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(self.coef)
        return 1.0 / (1.0 + np.exp(self.platt_a * (raw + self.intercept) + self.platt_b))

    def doc(self) -> dict[str, Any]:
        return {"spec": self.spec.doc(), "mean": self.mean, "scale": self.scale,
                "coef": self.coef, "intercept": self.intercept, "platt_a": self.platt_a,
                "platt_b": self.platt_b}

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> Weights:
        return cls(FeatureSpec(**doc["spec"]), list(doc["mean"]), list(doc["scale"]),
                   list(doc["coef"]), float(doc["intercept"]), float(doc["platt_a"]),
                   float(doc["platt_b"]))


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


# ---------------------------------------------------------------- metrics


def _metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    clipped = np.clip(p, 1e-6, 1 - 1e-6)
    logit = np.log(clipped / (1 - clipped)).reshape(-1, 1)
    slope = float(LogisticRegression(C=np.inf).fit(logit, y).coef_[0][0])
    top = max(1, len(p) // 10)
    order = np.argsort(-p, kind="stable")[:top]
    base_rate = float(y.mean())
    lift = float(y[order].mean() / base_rate) if base_rate else 0.0
    return {"auc": round(float(roc_auc_score(y, p)), 4),
            "average_precision": round(float(average_precision_score(y, p)), 4),
            "brier": round(float(brier_score_loss(y, p)), 4),
            "calibration_slope": round(slope, 3), "lift_top_decile": round(lift, 3)}


# ---------------------------------------------------------------- training


def _fit(x: np.ndarray, y: np.ndarray, spec: FeatureSpec) -> Weights:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    base = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=2000))
    model = CalibratedClassifierCV(base, method="sigmoid", cv=3, ensemble=False).fit(x, y)
    fitted = model.calibrated_classifiers_[0]
    pipeline, calibrator = fitted.estimator, fitted.calibrators[0]
    scaler, lr = pipeline[0], pipeline[-1]
    scale = [float(s) if s else 1.0 for s in scaler.scale_]
    return Weights(spec, [float(m) for m in scaler.mean_], scale,
                   [float(c) for c in lr.coef_[0]], float(lr.intercept_[0]),
                   float(calibrator.a_), float(calibrator.b_))


def train(session: Session, scoring: ActiveModel, *, min_per_class: int = MIN_PER_CLASS,
          now: datetime | None = None) -> PredictiveModel:
    """Train on every labeled MQL, keep the run, and promote it when it earns it.

    The run is stored whatever happens (``status`` ``refused`` when there were too few labels
    to train on); ``why`` says in a sentence what was decided and on which figures.
    """
    started = time.perf_counter()
    labels = label_leads(session)
    snaps = [s for s in snapshots(session, scoring, sorted(labels), now=now) if s.is_mql]
    snaps.sort(key=lambda s: (s.at, s.lead_id))
    y_all = np.array([labels[s.lead_id] for s in snaps], dtype=int)
    positives, negatives = int(y_all.sum()), int(len(y_all) - y_all.sum())
    counts = {"positives": positives, "negatives": negatives, "min_per_class": min_per_class}
    if positives < min_per_class or negatives < min_per_class:
        why = (f"Not enough outcomes yet: {positives} won or advanced and {negatives} lost or "
               f"rejected MQLs; training needs at least {min_per_class} of each.")
        return _store(session, status="refused", promoted=False, why=why, metrics={},
                      weights={}, labels=counts)
    cut = int(len(snaps) * TRAIN_SHARE)
    train_snaps, test_snaps = snaps[:cut], snaps[cut:]
    y_train, y_test = y_all[:cut], y_all[cut:]
    if len(set(y_test.tolist())) < 2 or len(set(y_train.tolist())) < 2:
        why = "The held-out leads (the latest quarter of MQLs) have only one kind of outcome."
        return _store(session, status="refused", promoted=False, why=why, metrics={},
                      weights={}, labels=counts)
    spec = FeatureSpec.learn(train_snaps)
    x_train = np.array([spec.vector(s) for s in train_snaps])
    x_test = np.array([spec.vector(s) for s in test_snaps])
    weights = _fit(x_train, y_train, spec)
    ours = _metrics(y_test, weights.probabilities(x_test))
    baseline = _baseline(train_snaps, y_train, test_snaps, y_test)
    metrics: dict[str, Any] = {**ours, **{f"baseline_{k}": v for k, v in baseline.items()},
                               "train_leads": len(train_snaps), "test_leads": len(test_snaps),
                               "split_at": test_snaps[0].at.replace(tzinfo=UTC).isoformat(),
                               "seconds": round(time.perf_counter() - started, 2)}
    slope_ok = SLOPE_RANGE[0] <= ours["calibration_slope"] <= SLOPE_RANGE[1]
    beats = ours["auc"] > baseline["auc"]
    figures = (f"AUC {ours['auc']:.3f} against the points score's {baseline['auc']:.3f} on "
               f"{len(test_snaps)} held-out leads, calibration slope "
               f"{ours['calibration_slope']:.2f}")
    if beats and slope_ok:
        why = f"Promoted: it beats the points score and is calibrated ({figures})."
    elif not beats:
        why = f"Kept, not promoted: it does not beat the points score ({figures})."
    else:
        why = (f"Kept, not promoted: it is not calibrated; the slope must be between "
               f"{SLOPE_RANGE[0]} and {SLOPE_RANGE[1]} ({figures}).")
    row = _store(session, status="trained", promoted=beats and slope_ok, why=why,
                 metrics=metrics, weights=weights.doc(), labels=counts)
    if row.promoted:
        _activate(session, row, scoring)
    return row


def _baseline(train_snaps: Sequence[LeadSnapshot], y_train: np.ndarray,
              test_snaps: Sequence[LeadSnapshot], y_test: np.ndarray) -> dict[str, float]:
    """The points score's metrics: its ranking as it is, its probabilities Platt-scaled."""
    from sklearn.linear_model import LogisticRegression

    s_train = np.array([[s.points] for s in train_snaps])
    s_test = np.array([[s.points] for s in test_snaps])
    platt = LogisticRegression(C=np.inf).fit(s_train, y_train)
    metrics = _metrics(y_test, platt.predict_proba(s_test)[:, 1])
    # Ranking metrics from the raw score (identical unless the Platt slope came out negative).
    from sklearn.metrics import average_precision_score, roc_auc_score

    metrics["auc"] = round(float(roc_auc_score(y_test, s_test[:, 0])), 4)
    metrics["average_precision"] = round(float(average_precision_score(y_test, s_test[:, 0])), 4)
    return metrics


def _store(session: Session, **values: Any) -> PredictiveModel:
    row = PredictiveModel(**values)
    session.add(row)
    session.flush()
    return row


def _activate(session: Session, row: PredictiveModel, scoring: ActiveModel) -> None:
    session.exec(update(PredictiveModel).where(col(PredictiveModel.id) != row.id)  # type: ignore[call-overload]
                 .values(active=False))
    row.active = True
    session.add(row)
    session.flush()
    session.info.pop(_ACTIVE, None)
    weights = Weights.of(row.weights)
    snaps = snapshots(session, scoring)
    if not snaps:
        return
    probs = weights.probabilities(np.array([weights.spec.vector(s) for s in snaps]))
    for snap, p in zip(snaps, probs, strict=True):
        session.exec(update(Lead).where(col(Lead.id) == snap.lead_id)  # type: ignore[call-overload]
                     .values(likelihood=round(float(p), 4)))


# ---------------------------------------------------------------- serving


_ACTIVE = "leadflow.active_predictive"  # session.info: the model in force, read once a session


def active_predictive(session: Session) -> PredictiveModel | None:
    """The promoted model in force, if any (read once per session: a webhook batch rescoring a
    thousand leads asked for it a thousand times; promoting in the session forgets it)."""
    if _ACTIVE not in session.info:
        session.info[_ACTIVE] = session.exec(
            select(PredictiveModel).where(col(PredictiveModel.active))).first()
    return session.info[_ACTIVE]  # type: ignore[no-any-return]


def model_public(row: PredictiveModel, *, with_weights: bool = True) -> dict[str, Any]:
    """A training run as the API shows it; ``features`` are the weights in words."""
    out: dict[str, Any] = {
        "id": row.id, "status": row.status, "promoted": row.promoted, "active": row.active,
        "why": row.why, "metrics": row.metrics, "labels": row.labels,
        "created_at": row.created_at.astimezone(UTC).isoformat() if row.created_at.tzinfo
        else row.created_at.replace(tzinfo=UTC).isoformat()}
    if with_weights and row.weights:
        weights = Weights.of(row.weights)
        names = weights.spec.names()
        out["features"] = sorted(
            ({"feature": n, "label": _label_of(n), "weight": round(c, 4)}
             for n, c in zip(names, weights.coef, strict=True)),
            key=lambda f: -abs(f["weight"]))
    return out


def list_runs(session: Session, *, limit: int = 20) -> list[dict[str, Any]]:
    """The latest training runs, newest first, promoted or not (without their weights)."""
    rows = session.exec(select(PredictiveModel).order_by(col(PredictiveModel.id).desc())
                        .limit(limit)).all()
    return [model_public(r, with_weights=False) for r in rows]


def _factors(weights: Weights, x: Sequence[float], top: int = 5) -> list[dict[str, Any]]:
    names = weights.spec.names()
    terms = weights.log_odds_terms(x)
    ranked = sorted(zip(names, terms, strict=True), key=lambda nt: -abs(nt[1]))
    return [{"feature": n, "label": _label_of(n), "effect": round(t, 3)}
            for n, t in ranked[:top] if abs(t) >= 0.01]


def lead_likelihood(session: Session, lead: Lead, scoring: ActiveModel) -> dict[str, Any]:
    """``likelihood`` and ``likelihood_factors`` for ``GET /api/leads/{id}``."""
    row = active_predictive(session)
    if row is None:
        return {"likelihood": None, "likelihood_factors": []}
    weights = Weights.of(row.weights)
    snap = snapshots(session, scoring, [lead.id])
    if not snap:
        return {"likelihood": None, "likelihood_factors": []}
    x = weights.spec.vector(snap[0])
    return {"likelihood": round(weights.probability(x), 4),
            "likelihood_factors": _factors(weights, x)}


def refresh_likelihood(session: Session, lead: Lead, scoring: ActiveModel) -> None:
    """Bring ``lead.likelihood`` up to date after it changed (a no-op without an active model,
    and for an MQL, whose features stay as they were when it became one)."""
    row = active_predictive(session)
    if row is None:
        return
    if lead.likelihood is not None and session.exec(
            select(StageChange.id).where(StageChange.lead_id == lead.id,
                                         StageChange.to_stage == "MQL").limit(1)).first():
        return
    weights = Weights.of(row.weights)
    snap = snapshots(session, scoring, [lead.id])
    if snap:
        lead.likelihood = round(weights.probability(weights.spec.vector(snap[0])), 4)
        session.add(lead)


# ---------------------------------------------------------------- suggestions


def _rate(values: Iterable[int]) -> tuple[int, float]:
    items = list(values)
    return len(items), (sum(items) / len(items) if items else 0.0)


def suggestions(session: Session, scoring: ActiveModel, *, min_matches: int = 20
                ) -> dict[str, Any]:
    """Which points of the scoring model the outcomes disagree with, in sentences.

    For each rule (fit rules, and behaviour points per event type), the labeled MQLs it matched
    are compared with those it did not: ``lift`` is how much more often matched leads were won.
    A rule is ``overrated`` when it gives points but its leads convert less often,
    ``underrated`` when it takes points away from leads that convert more often (or gives less
    than half the model's largest points to leads that convert 1.5 times as often),
    ``no_effect`` when it gives 5 points or more for no difference; event types without points
    that go with 1.5 times the conversion are ``unscored``. For an event type, "matched" means
    more of those events than the median lead had.
    """
    labels = label_leads(session)
    snaps = [s for s in snapshots(session, scoring, sorted(labels)) if s.is_mql]
    doc = scoring.document
    if len(snaps) < 2 * min_matches:
        return {"labeled": len(snaps), "suggestions": [], "why":
                f"Only {len(snaps)} MQLs have an outcome; suggestions need {2 * min_matches}."}
    rules: list[tuple[str, str, float, Any]] = []
    for rule in doc.get("fit") or []:
        rules.append(("fit", _describe(rule.get("when") or {}), float(rule.get("points") or 0),
                      ("when", rule.get("when") or {})))
    scored: set[str] = set()
    for event_type, spec in (doc.get("behavior") or {}).items():
        scored.add(event_type)
        first = spec[0] if isinstance(spec, list) and spec else spec
        points = first if isinstance(first, int | float) else (
            first.get("points") if isinstance(first, Mapping) else 0)
        rules.append(("behavior", event_type, float(points or 0), ("event", event_type)))
    types = Counter(ev.type for s in snaps for ev in s.events if _is_behaviour(ev.type))
    rules += [("unscored", t, 0.0, ("event", t)) for t in types if t not in scored]
    top_points = max((points for _, _, points, _ in rules), default=0.0)
    out = []
    for kind, name, points, (how, what) in rules:
        threshold = 0
        if how == "when":
            matched = [evaluate(what, s.view) for s in snaps]
        else:
            # Leads with more of these events than the typical lead, against the rest.
            counts = [sum(1 for ev in s.events if ev.type == what) for s in snaps]
            threshold = int(median(counts))
            matched = [c > threshold for c in counts]
        n_in, rate_in = _rate(labels[s.lead_id] for s, m in zip(snaps, matched, strict=True) if m)
        n_out, rate_out = _rate(labels[s.lead_id] for s, m in zip(snaps, matched, strict=True)
                                if not m)
        if n_in < min_matches or n_out < min_matches:
            continue
        lift = rate_in / rate_out if rate_out else math.inf
        verdict = None
        if kind == "unscored":
            if lift >= 1.5:
                verdict = "unscored"
        elif points > 0 and lift < 0.9:
            verdict = "overrated"
        elif (points <= 0 and lift > 1.1) or (0 < points < top_points / 2 and lift >= 1.5):
            verdict = "underrated"
        elif points >= 5 and 0.9 <= lift <= 1.1:
            verdict = "no_effect"
        if verdict is None:
            continue
        out.append({"kind": kind, "rule": name, "points": points, "matched": n_in,
                    "conversion_with": round(rate_in, 4), "conversion_without": round(rate_out, 4),
                    "lift": round(lift, 3) if math.isfinite(lift) else None, "verdict": verdict,
                    "more_than": threshold if how == "event" else None,
                    "sentence": _sentence(verdict, kind, name, points, rate_in, rate_out,
                                          threshold)})
    out.sort(key=lambda s: -abs(math.log(s["lift"])) if s["lift"] else 0.0)
    return {"labeled": len(snaps), "suggestions": out, "why": None}


def _describe(condition: Mapping[str, Any]) -> str:
    if "field" in condition:
        return f"{condition['field']} {condition.get('op')} {condition.get('value')!r}"
    return ", ".join(f"{k} {v}" for k, v in condition.items())


def _sentence(verdict: str, kind: str, name: str, points: float, rate_in: float,
              rate_out: float, threshold: int) -> str:
    if kind in ("behavior", "unscored"):
        subject = f"“{name}” events"
        who = f"leads with more than {threshold}" if threshold else "leads with any"
    else:
        subject, who = f"“{name}”", "the leads it matches"
    rates = (f"{rate_in:.0%} of {who} were won or advanced, against {rate_out:.0%} of the "
             f"rest")
    if verdict == "overrated":
        return f"{subject} earn {points:g} points, but {rates}: consider fewer points."
    if verdict == "underrated" and points > 0:
        return f"{subject} earn only {points:g} points, but {rates}: consider more points."
    if verdict == "underrated":
        return f"{subject} take {-points:g} points away, but {rates}: consider removing it."
    if verdict == "no_effect":
        return f"{subject} earn {points:g} points, but make no difference ({rates})."
    return f"{subject} earn no points, but {rates}: consider a scoring rule."
