"""Reps and teams: validation, creation and updates of the documents ``/api/reps`` and
``/api/teams`` take.

A PUT replaces the keys it gives and keeps the others, so ``{"out_of_office": [...]}`` alone
is a valid update. Every problem is reported at once, each with its path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, col, select

from leadflow.errors import Conflict, Invalid, NotFound
from leadflow.models import Handoff, Rep, Team, new_id, utcnow
from leadflow.sales.business_calendar import calendar_problems
from leadflow.sales.routing import RepState, out_of_office_problems, routing_problems

__all__ = ["delete_rep", "delete_team", "rep_public", "reps_away_with_open_handoffs", "save_rep",
           "save_team", "team_public"]

SLUG = re.compile(r"^[a-z0-9-]{1,64}$")
REP_KEYS = {"id", "email", "name", "timezone", "capacity", "manager_id", "out_of_office",
            "working_hours", "slack_webhook", "active"}
TEAM_KEYS = {"id", "name", "members", "routing", "calendar", "capacity"}


def rep_public(rep: Rep) -> dict[str, Any]:
    """A rep as the API shows it."""
    return {"id": rep.id, "email": rep.email, "name": rep.name, "timezone": rep.timezone,
            "capacity": rep.capacity, "manager_id": rep.manager_id,
            "out_of_office": list(rep.out_of_office or []), "working_hours": rep.working_hours,
            "slack_webhook": rep.slack_webhook, "active": rep.active}


def team_public(team: Team) -> dict[str, Any]:
    """A team as the API shows it."""
    return {"id": team.id, "name": team.name, "members": list(team.members or []),
            "routing": team.routing, "calendar": dict(team.calendar or {}),
            "capacity": team.capacity}


def _unknown_keys(doc: Mapping[str, Any], allowed: set[str]) -> list[dict[str, str]]:
    return [{"path": str(k), "message": f"Unknown key {k!r}; use {', '.join(sorted(allowed))}."}
            for k in sorted(set(doc) - allowed, key=str)]


def _rep_problems(session: Session, doc: Mapping[str, Any], rep_id: str) -> list[dict[str, str]]:
    problems = _unknown_keys(doc, REP_KEYS)
    if not SLUG.match(rep_id):
        problems.append({"path": "id", "message": "A rep id is 1 to 64 of a-z, 0-9 and -."})
    email = doc.get("email")
    if not isinstance(email, str) or not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
        problems.append({"path": "email", "message": "Give the rep's e-mail address."})
    if not isinstance(doc.get("name"), str) or not doc["name"].strip():
        problems.append({"path": "name", "message": "Give the rep's name."})
    try:
        ZoneInfo(str(doc.get("timezone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        problems.append({"path": "timezone", "message": f"{doc.get('timezone')!r} is not a time "
                         "zone; use a name such as Europe/Berlin."})
    capacity = doc.get("capacity", 20)
    if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 0:
        problems.append({"path": "capacity",
                         "message": "capacity is the most open handoffs: a whole number ≥ 0."})
    manager = doc.get("manager_id")
    if manager is not None:
        if manager == rep_id:
            problems.append({"path": "manager_id", "message": "A rep cannot manage themselves."})
        elif session.get(Rep, manager) is None:
            problems.append({"path": "manager_id", "message": f"There is no rep {manager!r}."})
    problems += out_of_office_problems(doc.get("out_of_office", []), "out_of_office")
    if doc.get("working_hours") is not None:
        problems += calendar_problems(doc["working_hours"], "working_hours")
    hook = doc.get("slack_webhook")
    if hook is not None:
        from leadflow.outbound import url_problem

        if why := url_problem(hook):
            problems.append({"path": "slack_webhook", "message": f"slack_webhook must be the "
                             f"incoming webhook's https:// URL: {why}"})
    if not isinstance(doc.get("active", True), bool):
        problems.append({"path": "active", "message": "active is true or false."})
    return problems


def save_rep(session: Session, body: Any, rep_id: str | None = None, *,
             create: bool) -> Rep:
    """Create (``create``) or update the rep; returns the stored row.

    Raises:
        Invalid: with every problem; NotFound: update of an unknown rep; Conflict: the id
        is taken.
    """
    if not isinstance(body, Mapping):
        raise Invalid("A rep is a JSON object.", [{"path": "", "message": "Send an object."}])
    existing = None if create else session.get(Rep, rep_id)
    if not create and existing is None:
        raise NotFound(f"There is no rep {rep_id!r}.")
    doc = {**(rep_public(existing) if existing else {}), **body}
    rid = rep_id or str(body.get("id") or new_id()[:12])
    if not create and body.get("id") not in (None, rid):
        raise Invalid("A rep's id cannot change.", [{"path": "id", "message": "Ids are fixed."}])
    problems = _rep_problems(session, doc, rid)
    if problems:
        raise Invalid("The rep is not valid.", problems)
    if create and session.get(Rep, rid) is not None:
        raise Conflict(f"There is already a rep {rid!r}.")
    rep = existing or Rep(id=rid, email=doc["email"], name=doc["name"], created_at=utcnow())
    for key in REP_KEYS - {"id"}:
        if key in doc:
            setattr(rep, key, doc[key])
    session.add(rep)
    session.flush()
    return rep


def save_team(session: Session, body: Any, team_id: str | None = None, *,
              create: bool) -> Team:
    """Create or update the team; same errors as :func:`save_rep`."""
    if not isinstance(body, Mapping):
        raise Invalid("A team is a JSON object.", [{"path": "", "message": "Send an object."}])
    existing = None if create else session.get(Team, team_id)
    if not create and existing is None:
        raise NotFound(f"There is no team {team_id!r}.")
    doc = {**(team_public(existing) if existing else {}), **body}
    tid = team_id or doc.get("id")
    problems = _unknown_keys(doc, TEAM_KEYS)
    if not create and body.get("id") not in (None, tid):
        problems.append({"path": "id", "message": "A team's id cannot change."})
    if not isinstance(tid, str) or not SLUG.match(tid):
        problems.append({"path": "id", "message": "A team id is a slug: 1 to 64 of a-z, 0-9 "
                         "and -; flows name it in their handoff steps."})
    if not isinstance(doc.get("name"), str) or not doc["name"].strip():
        problems.append({"path": "name", "message": "Give the team's name."})
    members = doc.get("members", [])
    if not isinstance(members, list):
        problems.append({"path": "members", "message": "members is a list of rep ids."})
        members = []
    known_reps = set(session.exec(select(Rep.id)).all())
    for i, member in enumerate(members):
        if not isinstance(member, str) or member not in known_reps:
            problems.append({"path": f"members[{i}]", "message": f"There is no rep {member!r}."})
        elif member in members[:i]:
            problems.append({"path": f"members[{i}]", "message": f"{member!r} is listed twice."})
    known_teams = set(session.exec(select(Team.id)).all()) | (
        {tid} if isinstance(tid, str) else set())
    problems += routing_problems(doc.get("routing", "round_robin"), "routing",
                                 teams=known_teams, reps=known_reps)
    problems += calendar_problems(doc.get("calendar", {}), "calendar")
    capacity = doc.get("capacity")
    if capacity is not None and (not isinstance(capacity, int) or isinstance(capacity, bool)
                                 or capacity < 0):
        problems.append({"path": "capacity", "message": "capacity is the hand-offs the team "
                         "can take per business day: a whole number ≥ 0, or null."})
    if problems:
        raise Invalid("The team is not valid.", problems)
    if create and session.get(Team, tid) is not None:
        raise Conflict(f"There is already a team {tid!r}.")
    team = existing or Team(id=str(tid), name=doc["name"], created_at=utcnow())
    team.name, team.members = doc["name"], list(members)
    team.routing, team.calendar = doc.get("routing", "round_robin"), dict(doc.get("calendar", {}))
    team.capacity = doc.get("capacity")
    session.add(team)
    session.flush()
    return team


def _open_handoffs(session: Session, *, team: str | None = None,
                   rep: str | None = None) -> list[str]:
    query = select(Handoff.id).where(col(Handoff.status) == "open")
    query = query.where(Handoff.team == team) if team is not None else query.where(
        Handoff.rep_id == rep)
    return list(session.exec(query).all())


def delete_team(session: Session, team_id: str) -> None:
    """Delete a team; Conflict while it holds open handoffs (closed ones keep its id)."""
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound(f"There is no team {team_id!r}.")
    if held := _open_handoffs(session, team=team_id):
        raise Conflict(f"The team {team_id!r} holds {len(held)} open handoff(s); close or "
                       "reassign them first.")
    session.delete(team)
    session.flush()


def delete_rep(session: Session, rep_id: str) -> None:
    """Delete a rep and take them out of every team; Conflict while they hold open handoffs."""
    rep = session.get(Rep, rep_id)
    if rep is None:
        raise NotFound(f"There is no rep {rep_id!r}.")
    if held := _open_handoffs(session, rep=rep_id):
        raise Conflict(f"The rep {rep_id!r} holds {len(held)} open handoff(s); reassign them "
                       "first.")
    for team in session.exec(select(Team)).all():
        if rep_id in (team.members or []):
            team.members = [m for m in team.members if m != rep_id]
            session.add(team)
    session.delete(rep)
    session.flush()


def reps_away_with_open_handoffs(session: Session, rep: Rep,
                                 now: datetime | None = None) -> list[str]:
    """Ids of the open handoffs ``rep`` holds if the rep is away (or inactive) at ``now``."""
    state = RepState.from_doc(rep_public(rep))
    now = now or utcnow()
    if state.active and state.away_at(now) is None:
        return []
    return list(session.exec(select(Handoff.id).where(
        Handoff.rep_id == rep.id, col(Handoff.status) == "open")).all())
