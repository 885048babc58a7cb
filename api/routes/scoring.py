"""The scoring model: read it, replace it (a new version), list its versions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from leadflow.api.bodies import body_doc
from leadflow.api.deps import JsonBody, MarketerDep, SessionDep, TemporalDep
from leadflow.api.schemas.scoring import ScoringModelPublic, ScoringModelSaved, ScoringVersion
from leadflow.scoring.model import ScoringModelDoc
from leadflow.scoring.service import get_version, list_versions
from leadflow.usecases import scoring

router = APIRouter(prefix="/api", tags=["scoring"], strict_content_type=False)


@router.get("/scoring", response_model=ScoringModelPublic)
def read_model(request: Request, _: MarketerDep) -> dict[str, Any]:
    """The scoring model in force and its version (0 is the built-in model)."""
    return scoring.scoring_model(request.app.state.db_url)


@router.put("/scoring", response_model=ScoringModelSaved, openapi_extra=body_doc(ScoringModelDoc))
async def replace_model(doc: JsonBody, request: Request, _: MarketerDep,
                        client: TemporalDep) -> dict[str, Any]:
    """Save a new version of the scoring model; 422 with every problem if it is not valid.

    Every lead is then re-scored with it by a background job (`rescore.workflow_id`), in
    batches, so the request returns at once however many leads there are.
    """
    return await scoring.replace_scoring_model(request.app.state.db_url, client, doc)


@router.get("/scoring/versions", response_model=list[ScoringVersion])
def versions(session: SessionDep, _: MarketerDep) -> list[dict[str, Any]]:
    """Every version of the scoring model, newest first, each with its document."""
    return list_versions(session)


@router.get("/scoring/versions/{version}", response_model=ScoringVersion)
def one_version(version: int, session: SessionDep, _: MarketerDep) -> dict[str, Any]:
    """One version of the scoring model."""
    return get_version(session, version)
