"""SendGrid's Event Webhook: verified, de-duplicated, stored, then sent on to waiting journeys."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from leadflow.api.bodies import raw_body_doc
from leadflow.api.deps import dispatch
from leadflow.api.schemas.mail import WebhookCounts
from leadflow.db import session_scope
from leadflow.dispatch import Dispatch
from leadflow.mail.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    check_signed_request,
    ingest_batch,
    parse_batch,
)
from leadflow.metrics import record_webhook_event
from leadflow.usecases.events import dispatch_stored_events

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"], strict_content_type=False)


def _store(db_url: str, body: bytes) -> tuple[dict[str, int], Dispatch]:
    raw = parse_batch(body)
    with session_scope(db_url) as session:
        result = ingest_batch(session, raw)
        plan = dispatch_stored_events(session, result.new_events + result.undispatched)
        plan.record(session)
    for event in result.new_events:
        record_webhook_event(event.type)
    counts = {"accepted": len(result.new_events), "duplicates": result.duplicates,
              "ignored": result.unknown}
    return counts, plan


@router.post("/sendgrid", status_code=200, openapi_extra=raw_body_doc(
    {"application/json": {"type": "array", "items": {"type": "object"}}},
    description="a SendGrid Event Webhook batch, signed (X-Twilio-Email-Event-Webhook-*)"),
    response_model=WebhookCounts)
async def sendgrid_events(request: Request) -> dict[str, Any]:
    """Receive a batch from SendGrid's Event Webhook (signed with its ECDSA key).

    403 and nothing stored for a missing, bad or stale signature; 400 unless the body is a
    JSON list. Events already received (SendGrid retries for 24 hours) are counted as
    duplicates; engagement wakes journeys waiting for it.
    """
    body = await request.body()
    check_signed_request(body, request.headers.get(SIGNATURE_HEADER),
                         request.headers.get(TIMESTAMP_HEADER))
    db_url = request.app.state.db_url
    # Bulk database work off the event loop: a batch of thousands must not stall other requests.
    counts, plan = await run_in_threadpool(_store, db_url, body)
    await dispatch(request, plan)
    return counts
