"""SendGrid's Event Webhook: verified, de-duplicated, stored, then sent on to waiting journeys."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from leadflow.api.bodies import raw_body_doc
from leadflow.api.deps import dispatch
from leadflow.api.schemas.mail import WebhookCounts
from leadflow.mail.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER
from leadflow.usecases.tracking import receive_sendgrid_batch

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"], strict_content_type=False)


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
    # Off the event loop (the signature check, the bulk database work): a batch of thousands
    # must not stall other requests.
    counts, plan = await run_in_threadpool(
        receive_sendgrid_batch, request.app.state.db_url, body,
        signature=request.headers.get(SIGNATURE_HEADER),
        timestamp=request.headers.get(TIMESTAMP_HEADER))
    await dispatch(request, plan)
    return counts
