"""Engagement with a lead's mail: the open pixel, a tracked click, the provider's event webhook.

Each function verifies the token, stores the engagement event
(:mod:`leadflow.mail.engagement`: once per mail, machine opens marked) and plans what it sets
in motion (waiting journeys woken, entry rules, the lead rescored and its score timer armed),
all in one transaction that records the plan in the outbox; the caller delivers the returned
:class:`~leadflow.dispatch.Dispatch` after the commit. A SendGrid Event Webhook batch
(:mod:`leadflow.mail.webhook`) is verified, de-duplicated and stored the same way. Unsubscribe links are
:func:`leadflow.usecases.leads.unsubscribe_by_link`.
"""

from __future__ import annotations

from sqlmodel import Session

from leadflow.db import session_scope
from leadflow.dispatch import Dispatch
from leadflow.mail.engagement import record_click, record_open
from leadflow.mail.webhook import check_signed_request, ingest_batch, parse_batch
from leadflow.metrics import record_webhook_event
from leadflow.models import Event
from leadflow.usecases.events import dispatch_stored_events

__all__ = ["receive_sendgrid_batch", "track_click", "track_open"]


def _planned(session: Session, event: Event | None) -> Dispatch:
    plan = dispatch_stored_events(session, [event]) if event is not None else Dispatch()
    return plan.record(session)


def track_click(db_url: str, token: str) -> tuple[str | None, Dispatch]:
    """A click on a tracked link: where to send the visitor (None: the public site, the mail's
    content was erased) and the recorded plan.

    Raises:
        Forbidden: a token we did not sign, or a target the mail did not contain.
    """
    with session_scope(db_url) as session:
        url, event = record_click(session, token)
        return url, _planned(session, event)


def track_open(db_url: str, token: str, *, user_agent: str | None,
               ip: str | None) -> Dispatch:
    """An open of the tracking pixel (``.gif`` suffix allowed): the recorded plan.

    Raises:
        Forbidden: a token we did not sign.
    """
    with session_scope(db_url) as session:
        return _planned(session, record_open(session, token, user_agent=user_agent, ip=ip))


def receive_sendgrid_batch(db_url: str, body: bytes, *, signature: str | None,
                           timestamp: str | None) -> tuple[dict[str, int], Dispatch]:
    """A batch from SendGrid's Event Webhook: verified, parsed, stored once (SendGrid retries
    for 24 hours), and what its engagement sets going planned and recorded. Returns the counts
    ``{"accepted", "duplicates", "ignored"}`` and the plan.

    Raises:
        Forbidden: a missing, bad or stale signature (nothing stored);
        BadRequest: the body is not a JSON list.
    """
    check_signed_request(body, signature, timestamp)
    raw = parse_batch(body)
    with session_scope(db_url) as session:
        result = ingest_batch(session, raw)
        plan = dispatch_stored_events(session, result.new_events + result.undispatched)
        plan.record(session)
    for event in result.new_events:
        record_webhook_event(event.type)
    return {"accepted": len(result.new_events), "duplicates": result.duplicates,
            "ignored": result.unknown}, plan
