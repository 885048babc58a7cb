"""Flows: drafts, validation, publishing, versions, enrolment and stats."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict

from leadflow.api.bodies import body_doc
from leadflow.api.deps import JsonBody, MarketerDep, OptionalTemporalDep, SessionDep, dispatch
from leadflow.api.schemas.journeys import (
    Enrolled,
    Examples,
    FlowDraft,
    FlowJsonSchema,
    FlowRow,
    FlowStats,
    Layout,
    Published,
    SimulationReport,
    Validation,
    VersionDocument,
    VersionRow,
    WaitingLead,
)
from leadflow.examples import examples_public
from leadflow.journeys.enrolment import flow_stats
from leadflow.journeys.flowdef import FlowDocument, flow_json_schema
from leadflow.journeys.flows import (
    check_flow,
    get_flow,
    get_version,
    list_flows,
    list_versions,
    replace_draft,
)
from leadflow.journeys.flows import save_layout as save_flow_layout
from leadflow.usecases import flows
from leadflow.usecases.simulation import SimulationRequest, simulate_flow

router = APIRouter(prefix="/api", tags=["flows"], strict_content_type=False)


@router.get("/flows", response_model=list[FlowRow])
def all_flows(session: SessionDep, _: MarketerDep) -> list[dict[str, Any]]:
    """Every flow with its latest version and the number of leads running it."""
    return list_flows(session)


@router.get("/flows/schema", response_model=FlowJsonSchema, response_model_exclude_unset=True)
def schema() -> dict[str, Any]:
    """The JSON Schema of the flow format, for editors' autocompletion (public)."""
    return flow_json_schema()


@router.post("/flows", status_code=201, openapi_extra=body_doc(FlowDocument),
             response_model=FlowDraft)
def create_flow(doc: JsonBody, request: Request, _: MarketerDep,
                allow_invalid: bool = False) -> Any:
    """Create a flow from a document; 422 with every problem unless `allow_invalid=true`.

    A shipped example flow of the same id that no lead entered makes way for it."""
    draft = flows.create_flow(request.app.state.db_url, doc, allow_invalid=allow_invalid)
    return JSONResponse(draft, status_code=201)


@router.get("/examples", response_model=Examples)
def examples(session: SessionDep, _: MarketerDep) -> dict[str, Any]:
    """The shipped examples this database holds: `{"seeded", "seeded_at", "flows", "teams",
    "reps", "scoring_model"}` (ids; a removed example is gone from its list for good)."""
    return examples_public(session)


@router.post("/flows/validate", openapi_extra=body_doc(FlowDocument),
             response_model=Validation)
def validate(doc: JsonBody, session: SessionDep, _: MarketerDep) -> dict[str, Any]:
    """Validate without saving: `{"valid", "problems": [{"path", "message"}]}`."""
    problems = check_flow(session, doc)
    return {"valid": not problems, "problems": problems}


@router.get("/flows/{flow_id}", response_model=FlowDraft)
def read_flow(flow_id: str, session: SessionDep, _: MarketerDep) -> dict[str, Any]:
    """The draft document, exactly as saved."""
    return get_flow(session, flow_id).draft


@router.put("/flows/{flow_id}", openapi_extra=body_doc(FlowDocument), response_model=FlowDraft)
def replace_flow(flow_id: str, doc: JsonBody, session: SessionDep, _: MarketerDep,
                 allow_invalid: bool = False) -> dict[str, Any]:
    """Replace the draft (creating the flow if it does not exist yet)."""
    return replace_draft(session, flow_id, doc, allow_invalid=allow_invalid)


def _has_x_and_y(point: dict[str, float]) -> dict[str, float]:
    if not {"x", "y"} <= point.keys():
        raise ValueError("a step's position needs x and y")
    return point


class Positions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    positions: dict[str, Annotated[dict[str, float], AfterValidator(_has_x_and_y)]]


@router.get("/flows/{flow_id}/layout", response_model=Layout)
def read_layout(flow_id: str, session: SessionDep, _: MarketerDep) -> dict[str, Any]:
    """The editor's node positions, kept apart from the flow document."""
    return {"positions": (get_flow(session, flow_id).layout or {}).get("positions", {})}


@router.put("/flows/{flow_id}/layout", response_model=Layout)
def save_layout(flow_id: str, body: Positions, session: SessionDep, _: MarketerDep) -> dict[str, Any]:
    """Keep the editor's node positions."""
    return save_flow_layout(session, flow_id, body.positions)


class PublishBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = None


@router.post("/flows/{flow_id}/publish", status_code=201,
             openapi_extra=body_doc(PublishBody, required=False), response_model=Published)
async def publish_flow(flow_id: str, request: Request, _: MarketerDep) -> dict[str, Any]:
    """Publish the draft as the next immutable version; 422 with every problem if invalid."""
    raw = await request.body()
    note = PublishBody.model_validate_json(raw).note if raw.strip() else None
    # Publishing renders every template of the version: off the event loop, so a slow render
    # (bounded by the sandbox's budget) never stalls other requests.
    return await run_in_threadpool(flows.publish_flow, request.app.state.db_url, flow_id, note)


@router.get("/flows/{flow_id}/versions", response_model=list[VersionRow])
def versions(flow_id: str, session: SessionDep, _: MarketerDep) -> list[dict[str, Any]]:
    """Versions with publish time, note and leads still running each."""
    return list_versions(session, flow_id)


@router.get("/flows/{flow_id}/versions/{version}", response_model=VersionDocument)
def read_version(flow_id: str, session: SessionDep, _: MarketerDep,
                 version: int = Path(ge=1, le=2**31 - 1)) -> dict[str, Any]:
    v = get_version(session, flow_id, version)
    return {"flow_id": flow_id, "version": v.version, "note": v.note,
            "published_at": v.published_at.isoformat(), "document": v.document}


class EnrolBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lead_id: str


@router.post("/flows/{flow_id}/enroll", status_code=201, response_model=Enrolled)
async def enroll(flow_id: str, body: EnrolBody, request: Request, _: MarketerDep,
                 client: OptionalTemporalDep) -> dict[str, Any]:
    """Enrol a lead by hand in the latest published version.

    The journey row and its start are written together (the outbox): the start reaches
    Temporal now, or once it is back; it never leaves a row without a workflow.
    """
    enrolled, plan = flows.enrol_by_hand(request.app.state.db_url, flow_id, body.lead_id)
    await dispatch(request, plan, client)
    return enrolled


@router.get("/flows/{flow_id}/stats", response_model=FlowStats)
def stats(flow_id: str, session: SessionDep, _: MarketerDep,
          version: int | None = Query(None, ge=1, le=2**31 - 1)) -> dict[str, Any]:
    """Per step: leads waiting now, passed, e-mails sent, opens, clicks, exits, conversions."""
    return flow_stats(session, flow_id, version)


@router.get("/flows/{flow_id}/steps/{step_id}/leads", response_model=list[WaitingLead], response_model_exclude_unset=True)
def waiting_leads(flow_id: str, step_id: str, request: Request,
                  _: MarketerDep) -> list[dict[str, Any]]:
    """The leads waiting at a step now."""
    return flows.waiting_at_step(request.app.state.db_url, flow_id, step_id)


@router.post("/flows/{flow_id}/simulate", openapi_extra=body_doc(SimulationRequest),
             response_model=SimulationReport, response_model_exclude_unset=True)
def simulate(flow_id: str, body: JsonBody, session: SessionDep, _: MarketerDep) -> dict[str, Any]:
    """Run the flow (a published `version`, an unsaved `document`, else the latest version or
    the draft) over synthetic or sampled leads in simulated time: steps, mails per lead and
    week, exits, hand-offs per team and business day, MQLs, common paths. Sends nothing and
    changes nothing; the same seed gives the same answer."""
    return simulate_flow(session, flow_id, body)
