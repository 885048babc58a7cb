"""Workspace settings (admin): sender, postal address, default send window."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from leadflow.api.bodies import body_doc
from leadflow.api.deps import AdminDep, JsonBody, SessionDep
from leadflow.api.schemas.system import Workspace
from leadflow.errors import BadRequest
from leadflow.workspace import save_workspace, workspace

router = APIRouter(prefix="/api", tags=["settings"], strict_content_type=False)


@router.get("/settings/workspace", response_model=Workspace)
def read_workspace(session: SessionDep, _: AdminDep) -> dict[str, Any]:
    """`{"sender_name", "sender_address", "postal_address", "send_window"}` in force."""
    return workspace(session)


class WorkspaceChanges(BaseModel):
    """Workspace settings; a PUT gives only those that change."""

    model_config = ConfigDict(extra="forbid")

    sender_name: str | None = Field(None, description="the From name of marketing mail")
    sender_address: str | None = Field(None, description="the From address, news@example.com")
    postal_address: str | None = Field(None, description="printed in every marketing mail")
    send_window: dict[str, Any] | None = Field(
        None, description='default for flows without one: {"days": ["mon", ...], "from": "09:00", '
                          '"to": "17:00", "timezone"?}')


@router.put("/settings/workspace", openapi_extra=body_doc(WorkspaceChanges),
            response_model=Workspace)
def write_workspace(body: JsonBody, session: SessionDep, _: AdminDep) -> dict[str, Any]:
    """Change the settings (keys not given keep their values); 422 with every problem."""
    if not isinstance(body, dict):
        raise BadRequest("Send the settings as a JSON object.")
    return save_workspace(session, body)
