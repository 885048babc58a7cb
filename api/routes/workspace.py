"""Workspace settings (admin): sender, postal address, default send window."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from leadflow.api.deps import AdminDep, JsonBody, SessionDep

from leadflow.errors import BadRequest
from leadflow.workspace import save_workspace, workspace

router = APIRouter(prefix="/api", tags=["settings"], strict_content_type=False)


@router.get("/settings/workspace")
def read_workspace(session: SessionDep, _: AdminDep) -> dict[str, Any]:
    """`{"sender_name", "sender_address", "postal_address", "send_window"}` in force."""
    return workspace(session)


@router.put("/settings/workspace")
def write_workspace(body: JsonBody, session: SessionDep, _: AdminDep) -> dict[str, Any]:
    """Change the settings (keys not given keep their values); 422 with every problem."""
    if not isinstance(body, dict):
        raise BadRequest("Send the settings as a JSON object.")
    return save_workspace(session, body)
