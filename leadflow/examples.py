"""The shipped examples a new database starts with, so the first run shows a working product.

On its first start with an empty database ``leadflow dev`` (unless ``--empty``) loads, through
:func:`seed_examples`: an example rep and the example sales team ``inside-sales`` the shipped
flows hand off to, the built-in scoring model (saved as version 1), and every flow of ``flows/``
(saved and published). The e-mail templates ship as files and are usable as they are.

What was loaded is written down in the ``examples`` row of :class:`~leadflow.models.AppSetting`:
it marks which flows, teams and reps are examples, and that seeding happened, so a database is
seeded once and an example that was removed is never created again. An example is removed by
deleting it (``DELETE /api/teams/{id}``, ``DELETE /api/reps/{id}``) or released by creating
something under its id (``POST /api/flows``, ``/api/teams``, ``/api/reps``): the example,
untouched by any lead, makes way for the user's own.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Literal

from sqlmodel import Session, select

from leadflow.config import PROJECT_ROOT
from leadflow.journeys.flows import publish, save_draft
from leadflow.models import (
    AppSetting,
    Flow,
    FlowVersion,
    Handoff,
    Journey,
    Rep,
    ScoringModel,
    Team,
    utcnow,
)
from leadflow.sales.admin import save_rep, save_team
from leadflow.scoring.model import DEFAULT_SCORING_MODEL
from leadflow.scoring.service import save_model

__all__ = ["EXAMPLE_REP", "EXAMPLE_TEAM", "examples_public", "release_example", "seed_examples"]

log = logging.getLogger(__name__)

KEY = "examples"
FLOW_DIR = PROJECT_ROOT / "flows"
EXAMPLE_REP: dict[str, Any] = {
    "id": "example-rep", "name": "Sam Example (example rep)", "email": "sam.rep@example.com",
    "timezone": "UTC", "capacity": 20}
EXAMPLE_TEAM: dict[str, Any] = {
    "id": "inside-sales", "name": "Inside sales (example team)", "members": ["example-rep"],
    "routing": "round_robin",
    "calendar": {"timezone": "UTC", "days": ["mon", "tue", "wed", "thu", "fri"],
                 "from": "09:00", "to": "17:00"}}

Kind = Literal["flows", "teams", "reps"]


def _record(session: Session) -> AppSetting | None:
    return session.get(AppSetting, KEY)


def examples_public(session: Session) -> dict[str, Any]:
    """Which examples this database holds now (and whether it was ever seeded)."""
    row = _record(session)
    value = dict(row.value) if row is not None else {}
    return {"seeded": row is not None, "seeded_at": value.get("seeded_at"),
            "flows": value.get("flows", []), "teams": value.get("teams", []),
            "reps": value.get("reps", []), "scoring_model": value.get("scoring_model")}


def _is_empty(session: Session) -> bool:
    return all(session.exec(select(table).limit(1)).first() is None
               for table in (Flow, Team, Rep))


def seed_examples(session: Session, flow_dir: Path = FLOW_DIR) -> dict[str, Any]:
    """Load the shipped examples into a database that never had them and holds nothing yet.

    Returns what was loaded (empty lists when nothing was: seeded before, or not empty).
    """
    if _record(session) is not None:
        return {"flows": [], "teams": [], "reps": [], "scoring_model": None}
    loaded: dict[str, Any] = {"seeded_at": utcnow().isoformat(), "flows": [], "teams": [],
                              "reps": [], "scoring_model": None}
    if _is_empty(session):
        loaded["reps"].append(save_rep(session, EXAMPLE_REP, create=True).id)
        loaded["teams"].append(save_team(session, EXAMPLE_TEAM, create=True).id)
        if session.exec(select(ScoringModel).limit(1)).first() is None:
            loaded["scoring_model"] = save_model(session, dict(DEFAULT_SCORING_MODEL)).version
        for path in sorted(flow_dir.glob("*.json")):
            doc = json.loads(path.read_text())
            flow = save_draft(session, doc, create=True)
            publish(session, flow.id, note="shipped example")
            loaded["flows"].append(flow.id)
    # written even when nothing was loaded: a database someone already uses is never seeded
    session.add(AppSetting(key=KEY, value=loaded, updated_at=utcnow()))
    session.flush()
    return loaded


def _forget(session: Session, kind: Kind, item_id: str) -> None:
    row = _record(session)
    if row is None or item_id not in row.value.get(kind, []):
        return
    value = dict(row.value)
    value[kind] = [i for i in value[kind] if i != item_id]
    row.value, row.updated_at = value, utcnow()
    session.add(row)


def is_example(session: Session, kind: Kind, item_id: str | None) -> bool:
    row = _record(session)
    return row is not None and item_id is not None and item_id in row.value.get(kind, [])


def release_example(session: Session, kind: Kind, item_id: Any) -> bool:
    """Make way for the user's own ``kind`` with id ``item_id`` when an untouched example has it.

    An example flow no lead ever entered, an example team or rep with no handoff, is deleted
    and no longer an example. Returns whether an example was released.
    """
    if not isinstance(item_id, str) or not is_example(session, kind, item_id):
        return False
    if kind == "flows":
        if session.exec(select(Journey.id).where(Journey.flow_id == item_id).limit(1)).first():
            return False
        for version in session.exec(select(FlowVersion).where(FlowVersion.flow_id == item_id)):
            session.delete(version)
        flow = session.get(Flow, item_id)
        if flow is not None:
            session.delete(flow)
    else:
        column = Handoff.team if kind == "teams" else Handoff.rep_id
        if session.exec(select(Handoff.id).where(column == item_id).limit(1)).first():
            return False
        model = Team if kind == "teams" else Rep
        row = session.get(model, item_id)
        if row is not None:
            session.delete(row)
    _forget(session, kind, item_id)
    session.flush()
    log.info("the example %s %r made way for one of the same id", kind[:-1], item_id)
    return True


def forget_example(session: Session, kind: Kind, item_id: str) -> None:
    """``item_id`` was deleted by a user: never an example again (and never re-created)."""
    _forget(session, kind, item_id)
