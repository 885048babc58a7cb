"""API keys (admin): issue, list (never the secret) and revoke."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from leadflow.api.deps import AdminDep, SessionDep
from leadflow.api.schemas.common import NO_CONTENT
from leadflow.api.schemas.system import KeyCreated, KeyOut
from leadflow.auth import list_keys, new_key_json, revoke_key

router = APIRouter(prefix="/api", tags=["keys"], strict_content_type=False)


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["admin", "marketer", "sales"]
    rep_id: str | None = Field(None, max_length=200)
    label: str | None = Field(None, max_length=200)


@router.get("/keys", response_model=list[KeyOut])
def keys(session: SessionDep, _: AdminDep) -> list[dict[str, Any]]:
    """Every key issued, newest first: role, rep, label, created, last used, revoked."""
    return list_keys(session)


@router.post("/keys", status_code=201, response_model=KeyCreated)
def new_key(body: KeyCreate, session: SessionDep, _: AdminDep) -> dict[str, Any]:
    """Create a key; ``key`` is shown this once. A sales key names its rep."""
    return new_key_json(session, role=body.role, rep_id=body.rep_id, label=body.label)


@router.delete("/keys/{key_id}", status_code=204, responses=NO_CONTENT)
def delete_key(key_id: str, session: SessionDep, _: AdminDep) -> Response:
    """Revoke a key: it answers 401 from the next request on (the row stays, for the record)."""
    revoke_key(session, key_id)
    return Response(status_code=204)
