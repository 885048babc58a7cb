"""API keys (admin)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from api.deps import AdminDep, SessionDep
from leadflow.auth import create_key

router = APIRouter(prefix="/api", tags=["keys"], strict_content_type=False)


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["admin", "marketer", "sales"]
    rep_id: str | None = None
    label: str | None = None


@router.post("/keys", status_code=201)
def new_key(body: KeyCreate, session: SessionDep, _: AdminDep) -> dict[str, str | None]:
    """Create a key; it is shown once. A sales key names its rep."""
    key = create_key(session, role=body.role, rep_id=body.rep_id, label=body.label)
    return {"key": key, "role": body.role, "rep_id": body.rep_id}
