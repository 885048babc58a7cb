"""Sales: reps and teams (admin), handoffs and the sales loop, the SLA report."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel

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
from leadflow.api.schemas.sales import (
    HandoffPublic,
    RepPublic,
    RepUpdated,
    SlaReport,
    TeamPublic,
)
from leadflow.errors import BadRequest
from leadflow.sales.loop import list_handoffs
from leadflow.sales.roster import (
    REPS,
    TEAMS,
    Roster,
    create_record,
    delete_record,
    list_records,
    read_record,
    update_record,
)
from leadflow.sales.sla_report import sla_report
from leadflow.usecases import sales_actions

router = APIRouter(prefix="/api", tags=["sales"], strict_content_type=False)


# ---------------------------------------------------------------- reps and teams


def _roster_routes(roster: Roster, *, public: type[BaseModel], updated: type[BaseModel],
                   body: type[BaseModel], changes: type[BaseModel], readers: str) -> None:
    """``GET/POST /api/{reps|teams}``, ``GET/PUT/DELETE /api/{reps|teams}/{id}``: the same
    CRUD twice, one call into :mod:`leadflow.sales.roster` each."""
    kind, plural = roster.kind, roster.plural
    record_param = Path(alias=f"{kind}_id")  # /reps/{rep_id}, /teams/{team_id}

    def list_all(request: Request, _: MarketerDep) -> list[dict[str, Any]]:
        return list_records(request.app.state.db_url, roster)

    def create(body: JsonBody, request: Request, _: AdminDep) -> dict[str, Any]:
        return create_record(request.app.state.db_url, roster, body)

    def read(request: Request, _: MarketerDep, record_id: str = record_param) -> dict[str, Any]:
        return read_record(request.app.state.db_url, roster, record_id)

    async def update(body: JsonBody, request: Request, _: AdminDep, client: OptionalTemporalDep,
                     record_id: str = record_param) -> dict[str, Any]:
        out, plan = update_record(request.app.state.db_url, roster, record_id, body)
        await dispatch(request, plan, client)
        return out

    def remove(request: Request, _: AdminDep, record_id: str = record_param) -> None:
        delete_record(request.app.state.db_url, roster, record_id)

    holds = "they hold" if kind == "rep" else "it holds"
    for path, method, endpoint, name, extra in (
        (f"/{plural}", "GET", list_all, f"list_{plural}", {
            "response_model": list[public], "description": f"Every {kind}{readers}."}),
        (f"/{plural}", "POST", create, f"create_{kind}", {
            "status_code": 201, "response_model": public, "openapi_extra": body_doc(body),
            "description": f"Create a {kind}; 422 with every problem, 409 when the id is taken "
                        f"(an untouched example {kind} makes way)."}),
        (f"/{plural}/{{{kind}_id}}", "GET", read, f"read_{kind}", {
            "response_model": public, "description": f"One {kind}."}),
        (f"/{plural}/{{{kind}_id}}", "PUT", update, f"update_{kind}", {
            "response_model": updated, "openapi_extra": body_doc(changes),
            "description": f"Update a {kind} (keys not given keep their values)"
                        + ("; a rep who is away from now on loses their open handoffs at once."
                           if kind == "rep" else ".")}),
        (f"/{plural}/{{{kind}_id}}", "DELETE", remove, f"remove_{kind}", {
            "status_code": 204, "description": f"Delete a {kind} (the example {kind} too: it is not "
                                         f"created again); 409 while {holds} open handoffs."}),
    ):
        router.add_api_route(path, endpoint, methods=[method], name=name, **extra)


_roster_routes(REPS, public=RepPublic, updated=RepUpdated, body=RepBody, changes=RepChanges,
               readers=" (marketers read them too: flows' handoff steps name reps and teams)")
_roster_routes(TEAMS, public=TeamPublic, updated=TeamPublic, body=TeamBody, changes=TeamChanges,
               readers="")


# ---------------------------------------------------------------- handoffs


@router.get("/handoffs", response_model=list[HandoffPublic])
def read_handoffs(session: SessionDep, principal: SalesOrMarketerDep,
                  lead_id: str | None = None, rep_id: str | None = None,
                  status: str | None = None, limit: int = Query(200, ge=1, le=1000),
                  offset: int = Query(0, ge=0, le=2**31 - 1)) -> list[dict[str, Any]]:
    """Handoffs, newest first: all for marketing, a sales key's own only."""
    return list_handoffs(session, principal, lead_id=lead_id, rep_id=rep_id, status=status,
                         limit=limit, offset=offset)


@router.get("/handoffs/{handoff_id}", response_model=HandoffPublic)
def read_handoff(handoff_id: str, request: Request,
                 principal: SalesOrMarketerDep) -> dict[str, Any]:
    """One handoff (a sales key: its own only)."""
    return sales_actions.handoff_detail(request.app.state.db_url, handoff_id, viewer=principal)


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


@router.post("/handoffs/{handoff_id}/{action}", response_model=HandoffPublic, openapi_extra=raw_body_doc(
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
    out, plan = sales_actions.act_on_handoff(
        request.app.state.db_url, handoff_id, action, principal=principal,
        reason=body.get("reason"), note=body.get("note"))
    await dispatch(request, plan, client)
    return out


# ---------------------------------------------------------------- report


@router.get("/reports/sla", response_model=SlaReport)
def report_sla(session: SessionDep, _: MarketerDep, since: datetime | None = None,
               until: datetime | None = None, team: str | None = None) -> dict[str, Any]:
    """SLA met/breached, time to first touch, escalations and rejection reasons."""
    return sla_report(session, since=since, until=until, team=team)
