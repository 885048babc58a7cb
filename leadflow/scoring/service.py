"""Keeping each lead's score, temperature and MQL stage up to date in the database.

The maths lives in :mod:`leadflow.scoring.model`; this module feeds it the lead's events and the
current scoring model (the newest :class:`~leadflow.models.ScoringModel` row, or the built-in
default as version 0 until a marketer saves one), stores the result, and turns changes into
events flows can react to (``score.changed``, ``temperature.changed``, ``stage.changed``).

It runs on every event, so it reads only the events that can earn points under the model and
compiles each model document once per process.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from leadflow.errors import NotFound
from leadflow.leads.lifecycle import can_transition, stage_rank
from leadflow.leads.records import add_timeline, lead_view, record_event
from leadflow.leads.stages import change_stage
from leadflow.models import Event, Lead, ScoringModel, utcnow
from leadflow.scoring.model import (
    DEFAULT_SCORING_MODEL,
    EventView,
    ScoringModelDoc,
    load_model,
    next_change_after,
    score_lead,
    scored_event_types,
)
from leadflow.scoring.predictive import refresh_likelihood

__all__ = [
    "ActiveModel",
    "ScoreChange",
    "active_model",
    "derived_events",
    "list_versions",
    "load_scored_events",
    "model_public",
    "rescore",
    "save_model",
    "timer_of",
]

DEFAULT_VERSION = 0
"""The version number of the built-in model, used until a marketer saves one."""

_MQL = "MQL"


@dataclass(frozen=True, slots=True)
class ActiveModel:
    """A scoring model version, validated and compiled, with the event types it scores."""

    version: int
    document: dict[str, Any]
    doc: ScoringModelDoc
    event_types: frozenset[str]
    created_at: datetime | None = None

    @property
    def mql_at(self) -> float | None:
        return None if self.doc.mql_at is None else float(self.doc.mql_at)


@dataclass
class ScoreChange:
    """What one rescore changed (``old_*`` before, ``new_*`` after).

    ``next_change`` is when the temperature will next move by decay alone (aware UTC), the
    moment the lead's durable timer must fire; ``at`` is the moment the lead was scored at.
    """

    old_score: float
    new_score: float
    old_temperature: str
    new_temperature: str
    old_stage: str
    new_stage: str
    model_version: int = DEFAULT_VERSION
    at: datetime | None = None
    next_change: datetime | None = None

    @property
    def changed(self) -> bool:
        return (self.old_score != self.new_score or self.old_temperature != self.new_temperature
                or self.old_stage != self.new_stage)


# Compiled models by their JSON text: re-validating and compiling a model on every event would
# cost more than scoring the event. Model documents are small and few.
_COMPILED: dict[str, ScoringModelDoc] = {}


def _compiled_doc(document: dict[str, Any]) -> ScoringModelDoc:
    key = json.dumps(document, sort_keys=True, default=str)
    doc = _COMPILED.get(key)
    if doc is None:
        if len(_COMPILED) > 64:
            _COMPILED.clear()
        doc = _COMPILED[key] = load_model(document)
    return doc


def _active(version: int, document: dict[str, Any], created_at: datetime | None) -> ActiveModel:
    doc = _compiled_doc(document)
    return ActiveModel(version, document, doc, scored_event_types(doc), created_at)


# built once (it runs on every event): a statement is immutable, and SQLAlchemy keeps its
# compiled form under the key it computes once per statement object
_NEWEST_MODEL = select(ScoringModel).order_by(col(ScoringModel.version).desc()).limit(1)


def active_model(session: Session, version: int | None = None) -> ActiveModel:
    """The newest scoring model (or the given ``version``); the built-in one is version 0."""
    if version == DEFAULT_VERSION:
        return _active(DEFAULT_VERSION, DEFAULT_SCORING_MODEL, None)
    if version is not None:
        row = session.get(ScoringModel, version)
    else:
        row = session.exec(_NEWEST_MODEL).first()
    if row is None or row.version is None:
        return _active(DEFAULT_VERSION, DEFAULT_SCORING_MODEL, None)
    return _active(row.version, row.document, row.created_at)


def save_model(session: Session, document: dict[str, Any]) -> ActiveModel:
    """Store ``document`` as the next version of the scoring model.

    Raises:
        Invalid: with every problem of the document (path and sentence each).
    """
    load_model(document)
    row = ScoringModel(document=document, created_at=utcnow())
    session.add(row)
    session.flush()
    assert row.version is not None
    return _active(row.version, document, row.created_at)


def load_scored_events(session: Session, lead_ids: Sequence[str], model: ActiveModel
                       ) -> dict[str, list[EventView]]:
    """The events of ``lead_ids`` that can earn points under ``model``, per lead."""
    out: dict[str, list[EventView]] = defaultdict(list)
    if not lead_ids:
        return out
    lead_filter = (Event.lead_id == lead_ids[0] if len(lead_ids) == 1
                   else col(Event.lead_id).in_(lead_ids))
    rows = session.exec(
        select(Event.lead_id, Event.id, Event.type, Event.properties, Event.occurred_at)
        .where(lead_filter, col(Event.type).in_(sorted(model.event_types))))
    for lead_id, event_id, type_, properties, occurred_at in rows:
        out[lead_id].append(EventView(event_id, type_, properties or {}, occurred_at))
    return out


def _aware(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _was_qualified(session: Session, lead: Lead, model: ActiveModel) -> bool:
    """Whether the lead's stored score had reached ``mql_at`` of the model it was scored by."""
    if lead.score_model_version is None or lead.score_model_version == model.version:
        mql_at = model.mql_at
    else:
        mql_at = active_model(session, lead.score_model_version).mql_at
    return mql_at is not None and lead.score >= mql_at


def rescore(session: Session, lead: Lead, now: datetime | None = None, *,
            model: ActiveModel | None = None,
            events: Iterable[EventView] | None = None) -> ScoreChange | None:
    """Score ``lead`` at ``now`` with the current model and store the result on it.

    Stores score, temperature, breakdown and model version; records score and temperature
    changes on the timeline; makes the lead an MQL when its score crosses ``mql_at`` (from
    below, so a lead sales recycled is not promoted again until it earns it again). Returns
    what changed (None for an erased lead). ``model`` and ``events`` let a batch job pass
    what it loaded for many leads at once.
    """
    if lead.erased_at is not None:
        return None
    now = _aware(now or utcnow())
    model = model or active_model(session)
    if events is None:
        events = load_scored_events(session, [lead.id], model).get(lead.id, [])
    result = score_lead(lead_view(lead), events, model.doc, now)
    change = ScoreChange(lead.score, result.score, lead.temperature, result.temperature,
                         lead.stage, lead.stage, model.version, now,
                         next_change_after(result, model.doc, now))
    crossed_mql = result.is_mql and not _was_qualified(session, lead, model)
    lead.score, lead.temperature = result.score, result.temperature
    lead.score_breakdown, lead.score_model_version = result.breakdown, model.version
    if change.old_score != change.new_score:
        add_timeline(session, lead.id, "score", "score.changed", at=now, old=change.old_score,
                     new=change.new_score, model_version=model.version)
    if change.old_temperature != change.new_temperature:
        add_timeline(session, lead.id, "score", "temperature.changed", at=now,
                     old=change.old_temperature, new=change.new_temperature,
                     model_version=model.version)
    if (crossed_mql and stage_rank(lead.stage) < stage_rank(_MQL)
            and can_transition(lead.stage, _MQL)):

        change_stage(session, lead, _MQL, actor="scoring",
                     cause=f"score {result.score} reached mql_at {model.mql_at:g} "
                           f"(scoring model v{model.version})")
        change.new_stage = _MQL
    if change.changed:
        lead.updated_at = now
        refresh_likelihood(session, lead, model)
    session.add(lead)
    return change


def derived_events(session: Session, lead: Lead, change: ScoreChange | None) -> list[Event]:
    """Events for what a rescore changed, stored so flows can wait for them or enrol by them."""

    if change is None:
        return []
    at = change.at
    version = change.model_version
    out = []
    if change.old_score != change.new_score:
        out.append(record_event(session, lead, type_="score.changed", occurred_at=at, properties={
            "old": change.old_score, "new": change.new_score, "model_version": version})[0])
    if change.old_temperature != change.new_temperature:
        out.append(record_event(session, lead, type_="temperature.changed", occurred_at=at,
                                properties={"old": change.old_temperature,
                                            "new": change.new_temperature,
                                            "model_version": version})[0])
    if change.old_stage != change.new_stage:
        out.append(record_event(session, lead, type_="stage.changed", occurred_at=at, properties={
            "old": change.old_stage, "new": change.new_stage, "actor": "scoring",
            "model_version": version})[0])
    return out


def model_public(model: ActiveModel) -> dict[str, Any]:
    """``GET /api/scoring``: the model in force, its version, and whether it is the built-in one."""
    return {"version": model.version, "model": model.document,
            "created_at": model.created_at.isoformat() if model.created_at else None,
            "default": model.version == DEFAULT_VERSION}


def list_versions(session: Session) -> list[dict[str, Any]]:
    """Every saved scoring model version, newest first (the built-in version 0 last)."""
    rows = session.exec(select(ScoringModel).order_by(col(ScoringModel.version).desc())).all()
    current = rows[0].version if rows else DEFAULT_VERSION
    out = [{"version": row.version, "created_at": row.created_at.isoformat(),
            "current": row.version == current, "model": row.document} for row in rows]
    out.append({"version": DEFAULT_VERSION, "created_at": None,
                "current": current == DEFAULT_VERSION, "model": DEFAULT_SCORING_MODEL})
    return out


def get_version(session: Session, version: int) -> dict[str, Any]:
    """One version as :func:`list_versions` shows it; NotFound when there is none."""
    for row in list_versions(session):
        if row["version"] == version:
            return row
    raise NotFound(f"There is no scoring model version {version}.")


def timer_of(lead: Lead, change: Any) -> list[tuple[str, float]]:
    """``[(lead_id, due)]`` when the lead's timer must be armed for the rescore ``change``.

    A timer already armed for an earlier moment is left alone: when it fires, the lead is
    rescored with every event so far and the timer set again. So arming costs a call to
    Temporal only when the next change comes sooner than planned, not on every event. The
    caller holds the lead's row (``with_for_update``) so the check and the timer's own update
    (:func:`rescore_due`) cannot interleave.
    """
    moment = getattr(change, "next_change", None)
    if moment is None:
        return []
    armed = lead.score_timer_due
    if armed is not None and armed <= moment:
        return []
    lead.score_timer_due = moment
    return [(lead.id, moment.timestamp())]
