"""API keys (admin): issue, list (never the secret) and revoke."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response
from leadflow.api.deps import AdminDep, SessionDep
from pydantic import BaseModel, ConfigDict, Field

from leadflow.auth import issue_key, key_json, list_keys, revoke_key
from leadflow.models import Rep

router = APIRouter(prefix="/api", tags=["keys"], strict_content_type=False)


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["admin", "marketer", "sales"]
    rep_id: str | None = Field(None, max_length=200)
    label: str | None = Field(None, max_length=200)


@router.get("/keys")
def keys(session: SessionDep, _: AdminDep) -> list[dict[str, Any]]:
    """Every key issued, newest first: role, rep, label, created, last used, revoked."""
    return list_keys(session)


@router.post("/keys", status_code=201)
def new_key(body: KeyCreate, session: SessionDep, _: AdminDep) -> dict[str, Any]:
    """Create a key; ``key`` is shown this once. A sales key names its rep."""
    row, key = issue_key(session, role=body.role, rep_id=body.rep_id, label=body.label)
    rep = session.get(Rep, row.rep_id) if row.rep_id else None
    return {**key_json(row, rep.name if rep else None), "key": key}


@router.delete("/keys/{key_id}", status_code=204)
def delete_key(key_id: str, session: SessionDep, _: AdminDep) -> Response:
    """Revoke a key: it answers 401 from the next request on (the row stays, for the record)."""
    revoke_key(session, key_id)
    return Response(status_code=204)
