"""Reps and teams as one kind of record: what ``/api/reps`` and ``/api/teams`` do, once.

Each function is one transaction of its own (``db_url``). Creating a record whose id an untouched
example holds makes the example give way; deleting one (an example too) means it is never
loaded again. Updating a rep who is away from now on moves their open handoffs at once: the
returned :class:`~leadflow.dispatch.Dispatch` carries the signals, recorded in the outbox.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlmodel import Session, select

from leadflow.db import session_scope
from leadflow.dispatch import Dispatch
from leadflow.errors import NotFound
from leadflow.examples import forget_example, release_example
from leadflow.models import Rep, Team
from leadflow.sales.admin import (
    delete_rep,
    delete_team,
    rep_public,
    reps_away_with_open_handoffs,
    save_rep,
    save_team,
    team_public,
)
from leadflow.temporal import HANDOFF_SIGNAL

__all__ = ["REPS", "TEAMS", "Roster", "create_record", "delete_record", "list_records",
           "read_record", "update_record"]


@dataclass(frozen=True)
class Roster:
    """How one kind of record is stored, checked and shown."""

    kind: Literal["rep", "team"]
    plural: Literal["reps", "teams"]  # also its name among the examples
    table: type[Rep | Team]
    public: Callable[[Any], dict[str, Any]]
    save: Callable[..., Any]
    delete: Callable[[Session, str], None]


REPS = Roster("rep", "reps", Rep, rep_public, save_rep, delete_rep)
TEAMS = Roster("team", "teams", Team, team_public, save_team, delete_team)


def _get(session: Session, roster: Roster, record_id: str) -> Any:
    row = session.get(roster.table, record_id)
    if row is None:
        raise NotFound(f"There is no {roster.kind} {record_id!r}.")
    return row


def list_records(db_url: str, roster: Roster) -> list[dict[str, Any]]:
    """Every rep (or team), by id."""
    with session_scope(db_url) as session:
        rows = session.exec(select(roster.table).order_by(roster.table.id)).all()
        return [roster.public(row) for row in rows]


def read_record(db_url: str, roster: Roster, record_id: str) -> dict[str, Any]:
    """One rep (or team); NotFound when there is none."""
    with session_scope(db_url) as session:
        return roster.public(_get(session, roster, record_id))


def create_record(db_url: str, roster: Roster, body: Any) -> dict[str, Any]:
    """Create from the request's document; Invalid with every problem, Conflict on a taken id."""
    with session_scope(db_url) as session:
        if isinstance(body, dict):
            release_example(session, roster.plural, body.get("id"))
        return roster.public(roster.save(session, body, create=True))


def update_record(db_url: str, roster: Roster, record_id: str,
                  body: Any) -> tuple[dict[str, Any], Dispatch]:
    """Apply the keys ``body`` gives; a rep also says which handoffs move (``reassigning``)."""
    with session_scope(db_url) as session:
        row = roster.save(session, body, record_id, create=False)
        out = roster.public(row)
        if roster is not REPS:
            return out, Dispatch()
        moving = reps_away_with_open_handoffs(session, row)
        plan = Dispatch(signals=[(hid, HANDOFF_SIGNAL, {"action": "reassign", "rep_id": record_id,
                                                        "reason": "out of office"})
                                 for hid in moving]).record(session)
    return {**out, "reassigning": moving}, plan


def delete_record(db_url: str, roster: Roster, record_id: str) -> None:
    """Delete it for good (an example too); Conflict while it holds open handoffs."""
    with session_scope(db_url) as session:
        roster.delete(session, record_id)
        forget_example(session, roster.plural, record_id)
