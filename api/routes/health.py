"""Health and meta: is the stack up, and who am I."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from leadflow import __version__
from leadflow.api.deps import PrincipalDep
from leadflow.api.schemas.system import Health, Meta
from leadflow.db import get_engine
from leadflow.errors import LeadflowError

router = APIRouter(prefix="/api", tags=["health"], strict_content_type=False)


def _db_ok(url: str) -> bool:
    try:
        with get_engine(url).connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means "not ok"
        return False


@router.get("/health", response_model=Health, responses={
    503: {"model": Health, "description": "Degraded: the database or Temporal is unreachable"}})
async def health(request: Request) -> JSONResponse:
    """`{"status": "ok" | "degraded", "database", "temporal"}`; 503 when degraded."""
    db_ok = await asyncio.to_thread(_db_ok, request.app.state.db_url)
    temporal_ok = False
    try:
        client = await asyncio.wait_for(request.app.state.temporal.get(), timeout=5)
        await asyncio.wait_for(client.service_client.check_health(), timeout=5)
        temporal_ok = True
    except (LeadflowError, Exception):  # noqa: BLE001
        temporal_ok = False
    ok = db_ok and temporal_ok
    body = {"status": "ok" if ok else "degraded", "database": "ok" if db_ok else "unreachable",
            "temporal": "ok" if temporal_ok else "unreachable", "version": __version__}
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/meta", response_model=Meta)
async def meta(request: Request, principal: PrincipalDep) -> dict[str, Any]:
    """The caller's role and where the Temporal Web UI is (for links to journeys)."""
    settings = request.app.state.settings
    return {"version": __version__, "role": principal.role, "rep_id": principal.rep_id,
            "temporal_ui_url": getattr(settings, "temporal_ui_url", None) or "http://127.0.0.1:8233",
            "namespace": settings.temporal_namespace}
