"""Events: one or a batch, de-duplicated by their optional id."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError

from leadflow.api.bodies import raw_body_doc, schema_ref
from leadflow.api.deps import MarketerDep, OptionalTemporalDep, dispatch, validation_problems
from leadflow.api.schemas.leads import EventsAccepted
from leadflow.errors import BadRequest, Invalid
from leadflow.usecases.events import EventIn, accept_events

router = APIRouter(prefix="/api", tags=["events"], strict_content_type=False)
_BATCH = TypeAdapter(list[EventIn])
MAX_BATCH = 5000


@router.post("/events", status_code=202, openapi_extra=raw_body_doc({"application/json": {
    "oneOf": [schema_ref(EventIn), {"type": "array", "items": schema_ref(EventIn)}]}}),
    response_model=EventsAccepted)
async def post_events(request: Request, _: MarketerDep, client: OptionalTemporalDep) -> JSONResponse:
    """Record events, update scores, enrol by entry rules and wake waiting journeys.

    A re-sent event with the same `id` is reported as a duplicate and changes nothing.
    Accepted events are stored with what they set in motion (the outbox): while Temporal is
    down they are still accepted (202) and reach their journeys once it is back.
    """
    try:
        raw = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest("The body is not valid JSON.") from exc
    batch = isinstance(raw, list)
    try:
        items = _BATCH.validate_python(raw) if batch else [EventIn.model_validate(raw)]
    except ValidationError as exc:
        problems = validation_problems(exc.errors())
        raise Invalid("; ".join(f"{p['path']}: {p['message']}" for p in problems),
                      problems=problems) from exc
    if not items:
        raise Invalid("The batch is empty.", problems=[{"path": "", "message": "Send at least one event."}])
    if len(items) > MAX_BATCH:
        raise Invalid(f"At most {MAX_BATCH} events per request.", problems=[])
    results, plan = accept_events(request.app.state.db_url, items)
    await dispatch(request, plan, client)
    accepted = sum(1 for r in results if not r["duplicate"])
    body: dict[str, Any] = {"accepted": accepted, "duplicates": len(results) - accepted,
                            "events": results}
    if not batch:
        body.update(results[0])
    return JSONResponse(body, status_code=202)


