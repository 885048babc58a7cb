"""Keeping each lead's score, temperature and MQL stage up to date in the database.

The maths lives in :mod:`leadflow.scoring`; this module feeds it the lead's events and the
current scoring model, stores the result, and turns changes into events flows can react to
(``score.changed``, ``temperature.changed``, ``stage.changed``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from leadflow.leads import add_timeline
from leadflow.models import Event, Lead, ScoringModel, utcnow

__all__ = ["ScoreChange", "current_model", "rescore", "derived_events"]

DEFAULT_MODEL: dict[str, Any] = {
    "fit": [],
    "behavior": {"email.opened": 1, "email.clicked": 5, "form.submitted": 10,
                 "demo.requested": 40},
    "temperature": {"hot": 60, "warm": 25},
    "mql_at": 60,
}


@dataclass
class ScoreChange:
    old_score: float
    new_score: float
    old_temperature: str
    new_temperature: str
    old_stage: str
    new_stage: str

    @property
    def changed(self) -> bool:
        return (self.old_score != self.new_score or self.old_temperature != self.new_temperature
                or self.old_stage != self.new_stage)


def current_model(session: Session) -> tuple[int | None, dict[str, Any]]:
    row = session.exec(select(ScoringModel).order_by(col(ScoringModel.version).desc())).first()
    return (row.version, row.document) if row else (None, DEFAULT_MODEL)


def _temperature(score: float, model: dict[str, Any]) -> str:
    t = model.get("temperature") or {}
    if score >= t.get("hot", 60):
        return "hot"
    if score >= t.get("warm", 25):
        return "warm"
    return "cold"


def rescore(session: Session, lead: Lead, now: datetime | None = None) -> ScoreChange | None:
    """Recompute the lead's score from its events; promote to MQL when it crosses ``mql_at``."""
    version, model = current_model(session)
    events = session.exec(select(Event).where(Event.lead_id == lead.id)).all()
    behavior = model.get("behavior") or {}
    score, breakdown = 0.0, []
    for ev in events:
        if ev.type == "lead.updated":
            points = float((ev.properties or {}).get("points") or 0)
        elif ev.type == "email.opened" and (ev.properties or {}).get("machine_open"):
            points = 0.0
        else:
            rule = behavior.get(ev.type, 0)
            points = float(rule if isinstance(rule, int | float) else rule.get("points", 0))
        if points:
            score += points
            breakdown.append({"kind": "behavior", "event_type": ev.type, "event_id": ev.id,
                              "points_now": points})
    score = max(0.0, round(score, 2))
    change = ScoreChange(lead.score, score, lead.temperature, _temperature(score, model),
                         lead.stage, lead.stage)
    lead.score, lead.temperature, lead.score_breakdown = score, change.new_temperature, breakdown
    lead.score_model_version = version
    if change.old_score != score:
        add_timeline(session, lead.id, "score", "score.changed", old=change.old_score, new=score,
                     model_version=version)
    if change.old_temperature != change.new_temperature:
        add_timeline(session, lead.id, "score", "temperature.changed",
                     old=change.old_temperature, new=change.new_temperature)
    mql_at = model.get("mql_at")
    if mql_at is not None and score >= mql_at and lead.stage in ("subscriber", "lead", "recycled"):
        from leadflow.stages import change_stage

        change_stage(session, lead, "MQL", cause=f"score {score} reached mql_at {mql_at}",
                     actor="scoring")
        change.new_stage = "MQL"
    lead.updated_at = utcnow()
    session.add(lead)
    return change


def derived_events(session: Session, lead: Lead, change: ScoreChange | None) -> list[Event]:
    """Events for what a rescore changed, stored so flows can wait for them or enrol by them."""
    from leadflow.events import record_event

    if change is None:
        return []
    out = []
    if change.old_score != change.new_score:
        out.append(record_event(session, lead, type_="score.changed", properties={
            "old": change.old_score, "new": change.new_score})[0])
    if change.old_temperature != change.new_temperature:
        out.append(record_event(session, lead, type_="temperature.changed", properties={
            "old": change.old_temperature, "new": change.new_temperature})[0])
    if change.old_stage != change.new_stage:
        out.append(record_event(session, lead, type_="stage.changed", properties={
            "old": change.old_stage, "new": change.new_stage})[0])
    return out
