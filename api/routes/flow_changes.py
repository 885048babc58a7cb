"""Changing flows while leads are in them: pause, resume, stop, exit one lead, migrations."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from leadflow.api.deps import MarketerDep, OptionalTemporalDep, SessionDep, TemporalDep, dispatch
from leadflow.api.schemas.journeys import (
    FlowState,
    FlowStopped,
    LeadExited,
    MigrationPreview,
    MigrationReport,
    MigrationStarted,
)
from leadflow.journeys.flow_changes import (
    flow_state,
    list_migrations,
    migration_view,
    pause_flow,
    start_migration,
)
from leadflow.journeys.migration import Request as MigrationRequest
from leadflow.usecases import flows

router = APIRouter(prefix="/api", tags=["flow changes"], strict_content_type=False)


@router.get("/flows/{flow_id}/state", response_model=FlowState)
def read_state(flow_id: str, session: SessionDep, _: MarketerDep) -> dict[str, Any]:
    """`{"state": "active" | "paused" | "stopped", "running", "held"}`: what a control touches."""
    return flow_state(session, flow_id)


@router.post("/flows/{flow_id}/pause", response_model=FlowState)
def pause(flow_id: str, session: SessionDep, _: MarketerDep) -> dict[str, Any]:
    """No new enrolments; waiting leads hold before their next send until resumed."""
    return pause_flow(session, flow_id)


@router.post("/flows/{flow_id}/resume", response_model=FlowState)
async def resume(flow_id: str, request: Request, _: MarketerDep,
                 client: OptionalTemporalDep) -> dict[str, Any]:
    """Enrol again; held sends go now."""
    out, plan = flows.resume(request.app.state.db_url, flow_id)
    await dispatch(request, plan, client)
    return out


@router.post("/flows/{flow_id}/stop", response_model=FlowStopped)
async def stop(flow_id: str, request: Request, _: MarketerDep,
               client: OptionalTemporalDep) -> dict[str, Any]:
    """Every running journey exits (reason `stopped`); no enrolments until published again."""
    out, plan = flows.stop(request.app.state.db_url, flow_id)
    await dispatch(request, plan, client)
    return out


@router.post("/leads/{lead_id}/flows/{flow_id}/exit", response_model=LeadExited)
async def exit_one(lead_id: str, flow_id: str, request: Request, _: MarketerDep,
                   client: OptionalTemporalDep) -> dict[str, Any]:
    """One lead leaves one flow by hand (`exited`, reason `manual`), also during a handoff."""
    out, plan = flows.exit_by_hand(request.app.state.db_url, lead_id, flow_id)
    await dispatch(request, plan, client)
    return out


class MigrationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_version: int = Field(ge=1, le=2**31 - 1)
    from_versions: list[int] | None = Field(default=None, max_length=1000)
    step_map: dict[str, str] | None = None
    timers: str = "from_entry"

    def request(self) -> MigrationRequest:
        return MigrationRequest(to_version=self.to_version, from_versions=self.from_versions,
                                step_map=dict(self.step_map or {}), timers=self.timers)


@router.post("/flows/{flow_id}/migrations/preview", response_model=MigrationPreview)
def migration_preview(flow_id: str, body: MigrationBody, request: Request,
                      _: MarketerDep) -> dict[str, Any]:
    """What moving the waiting leads would do: leads per step, mails at once, a sample."""
    return flows.migration_preview(request.app.state.db_url, flow_id, body.request())


@router.post("/flows/{flow_id}/migrations", status_code=202, response_model=MigrationStarted)
async def migrate(flow_id: str, body: MigrationBody, request: Request, _: MarketerDep,
                  client: TemporalDep) -> dict[str, Any]:
    """Move the waiting leads in the background; 422 with the preview's problems if any."""
    return await start_migration(client, request.app.state.db_url, flow_id, body.request())


@router.get("/flows/{flow_id}/migrations", response_model=list[MigrationReport])
def migrations(flow_id: str, session: SessionDep, _: MarketerDep) -> list[dict[str, Any]]:
    """The flow's latest migrations (newest first), each as its report."""
    return list_migrations(session, flow_id)


@router.get("/flows/{flow_id}/migrations/{migration_id}", response_model=MigrationReport)
def migration_status(flow_id: str, migration_id: str, session: SessionDep,
                     _: MarketerDep) -> dict[str, Any]:
    """`{"status": "running" | "done", "moved", "skipped": [{"lead_id", "reason"}], "failed"}`."""
    return migration_view(session, flow_id, migration_id)
