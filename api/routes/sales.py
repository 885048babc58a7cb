"""Sales: reps and teams (admin), handoffs and the sales loop, the SLA report."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request

from leadflow.api.bodies import RepBody, RepChanges, TeamBody, TeamChanges, body_doc, raw_body_doc
from leadflow.api.deps import (
    AdminDep,
    JsonBody,
    MarketerDep,
    OptionalTemporalDep,
    SalesDep,
    SalesOrMarketerDep,
    SessionDep,
    dispatch,
)
from leadflow.db import session_scope
from leadflow.dispatch import Dispatch
from leadflow.errors import BadRequest, NotFound
from leadflow.examples import forget_example, release_example
from leadflow.leads.records import record_event
from leadflow.models import Lead, Rep, Team
from leadflow.sales.admin import (
    delete_rep,
    delete_team,
    rep_public,
    reps_away_with_open_handoffs,
    save_rep,
    save_team,
    team_public,
)
from leadflow.sales.loop import apply_action, get_handoff, handoff_public, list_handoffs
from leadflow.sales.sla_report import sla_report
from leadflow.temporal import HANDOFF_SIGNAL, RecycleInput
from leadflow.usecases.events import dispatch_stored_events, plan_for_lead_change

router = APIRouter(prefix="/api", tags=["sales"], strict_content_type=False)


# ---------------------------------------------------------------- reps


@router.get("/reps")
def list_reps(session: SessionDep, _: MarketerDep) -> list[dict[str, Any]]:
    """Every rep (marketers read them too: flows' handoff steps name reps and teams)."""
    from sqlmodel import select

    return [rep_public(r) for r in session.exec(select(Rep).order_by(Rep.id)).all()]


@router.post("/reps", status_code=201, openapi_extra=body_doc(RepBody))
def create_rep(body: JsonBody, session: SessionDep, _: AdminDep) -> dict[str, Any]:
    """Create a rep; 422 with every problem, 409 when the id is taken (an untouched example
    rep makes way)."""
    if isinstance(body, dict):
        release_example(session, "reps", body.get("id"))
    return rep_public(save_rep(session, body, create=True))


@router.get("/reps/{rep_id}")
def read_rep(rep_id: str, session: SessionDep, _: MarketerDep) -> dict[str, Any]:
    """One rep."""
    rep = session.get(Rep, rep_id)
    if rep is None:
        raise NotFound(f"There is no rep {rep_id!r}.")
    return rep_public(rep)


@router.put("/reps/{rep_id}", openapi_extra=body_doc(RepChanges))
async def update_rep(rep_id: str, body: JsonBody, request: Request, _: AdminDep,
                     client: OptionalTemporalDep) -> dict[str, Any]:
    """Update a rep; a rep who is away from now on loses their open handoffs at once."""
    with session_scope(request.app.state.db_url) as session:
        rep = save_rep(session, body, rep_id, create=False)
        out = rep_public(rep)
        moving = reps_away_with_open_handoffs(session, rep)
        plan = Dispatch(signals=[(hid, HANDOFF_SIGNAL, {"action": "reassign", "rep_id": rep_id,
                                                        "reason": "out of office"})
                                 for hid in moving]).record(session)
    await dispatch(request, plan, client)
    return {**out, "reassigning": moving}


# ---------------------------------------------------------------- teams


@router.get("/teams")
def list_teams(session: SessionDep, _: MarketerDep) -> list[dict[str, Any]]:
    """Every team."""
    from sqlmodel import select

    return [team_public(t) for t in session.exec(select(Team).order_by(Team.id)).all()]


@router.post("/teams", status_code=201, openapi_extra=body_doc(TeamBody))
def create_team(body: JsonBody, session: SessionDep, _: AdminDep) -> dict[str, Any]:
    """Create a team; 422 with every problem, 409 when the id is taken (an untouched example
    team makes way)."""
    if isinstance(body, dict):
        release_example(session, "teams", body.get("id"))
    return team_public(save_team(session, body, create=True))


@router.get("/teams/{team_id}")
def read_team(team_id: str, session: SessionDep, _: MarketerDep) -> dict[str, Any]:
    """One team."""
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound(f"There is no team {team_id!r}.")
    return team_public(team)


@router.put("/teams/{team_id}", openapi_extra=body_doc(TeamChanges))
def update_team(team_id: str, body: JsonBody, session: SessionDep,
                _: AdminDep) -> dict[str, Any]:
    """Update a team (keys not given keep their values)."""
    return team_public(save_team(session, body, team_id, create=False))


@router.delete("/teams/{team_id}", status_code=204)
def remove_team(team_id: str, session: SessionDep, _: AdminDep) -> None:
    """Delete a team (the example team too: it is not created again); 409 while it holds open
    handoffs."""
    delete_team(session, team_id)
    forget_example(session, "teams", team_id)


@router.delete("/reps/{rep_id}", status_code=204)
def remove_rep(rep_id: str, session: SessionDep, _: AdminDep) -> None:
    """Delete a rep (the example rep too) and take them out of their teams; 409 while they hold
    open handoffs."""
    delete_rep(session, rep_id)
    forget_example(session, "reps", rep_id)


# ---------------------------------------------------------------- handoffs


@router.get("/handoffs")
def read_handoffs(session: SessionDep, principal: SalesOrMarketerDep,
                  lead_id: str | None = None, rep_id: str | None = None,
                  status: str | None = None, limit: int = Query(200, ge=1, le=1000),
                  offset: int = Query(0, ge=0, le=2**31 - 1)) -> list[dict[str, Any]]:
    """Handoffs, newest first: all for marketing, a sales key's own only."""
    return list_handoffs(session, principal, lead_id=lead_id, rep_id=rep_id, status=status,
                         limit=limit, offset=offset)


@router.get("/handoffs/{handoff_id}")
def read_handoff(handoff_id: str, session: SessionDep,
                 principal: SalesOrMarketerDep) -> dict[str, Any]:
    """One handoff (a sales key: its own only)."""
    return handoff_public(session, get_handoff(session, handoff_id, principal))


async def _optional_json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}.") from exc
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object.")
    return body


@router.post("/handoffs/{handoff_id}/{action}", openapi_extra=raw_body_doc(
    {"application/json": {"type": "object", "properties": {"reason": {"type": "string"}}}},
    required=False, description='`reject` takes {"reason"}; the other actions no body'))
async def act_on_handoff(handoff_id: str, action: str, request: Request, principal: SalesDep,
                         client: OptionalTemporalDep) -> dict[str, Any]:
    """``accept``, ``contacted``, ``qualify``, ``disqualify`` or ``reject {"reason", "note"?}``.

    A reject names one of ``GET /api/settings/rejection-reasons`` by id (or label); a reason
    that recycles the lead enrols it in its flow once the cooldown has passed.
    The action is stored with its signal to the handoff workflow (the outbox): it is
    answered 200 even while Temporal is down, and the workflow hears of it once it is back.
    """
    body = await _optional_json(request)
    db_url = request.app.state.db_url
    with session_scope(db_url) as session:
        h = get_handoff(session, handoff_id, principal)
        lead = session.get(Lead, h.lead_id)
        old_stage = lead.stage if lead is not None else None
        signal = apply_action(session, h, action, principal=principal,
                              reason=body.get("reason"), note=body.get("note"))
        recycle = signal.pop("recycle", None)
        session.flush()
        out = handoff_public(session, h)
        plan = Dispatch(signals=[(handoff_id, HANDOFF_SIGNAL, signal)])
        if lead is not None and lead.stage != old_stage:
            # SAL, SQL, recycled...: flows enrol by stage.changed and exit_when goals see it
            event, _ = record_event(session, lead, type_="stage.changed", properties={
                "old": old_stage, "new": lead.stage, "cause": f"handoff {action}"})
            plan.extend(dispatch_stored_events(session, [event]))
            plan.extend(plan_for_lead_change(session, lead))
        plan.record(session)
        if recycle is not None:
            from leadflow.intents import record_recycle

            plan.intent_ids.append(record_recycle(
                session, RecycleInput(lead_id=h.lead_id, handoff_id=h.id, **recycle)))
    await dispatch(request, plan, client)
    return out


# ---------------------------------------------------------------- report


@router.get("/reports/sla")
def report_sla(session: SessionDep, _: MarketerDep, since: datetime | None = None,
               until: datetime | None = None, team: str | None = None) -> dict[str, Any]:
    """SLA met/breached, time to first touch, escalations and rejection reasons."""
    return sla_report(session, since=since, until=until, team=team)
