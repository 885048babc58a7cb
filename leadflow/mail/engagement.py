"""Clicks and opens seen by our own tracking links, as the same ``email.*`` events SendGrid gives.

The routes ``/t/c/{token}`` and ``/t/o/{token}.gif`` call these, commit, then dispatch the
returned event to journeys exactly as they dispatch webhook events.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from leadflow.config import Settings
from leadflow.errors import Forbidden
from leadflow.mail.clock import as_utc, now_utc
from leadflow.mail.tracking import read_token
from leadflow.models import EmailMessage, Event

__all__ = ["record_click", "record_open"]


def _event(
    session: Session,
    send_id: str | None,
    type_: str,
    properties: dict[str, object],
    now: datetime | None,
) -> Event | None:
    if not send_id:
        return None
    msg = session.exec(select(EmailMessage).where(EmailMessage.send_id == send_id)).first()
    if msg is None or not msg.lead_id:
        return None  # the mail was erased with its lead: nothing left to credit
    at = as_utc(now) if now is not None else now_utc()
    args = {
        "send_id": send_id,
        "lead_id": msg.lead_id,
        "flow_id": msg.flow_id,
        "version": msg.version,
        "step": msg.step,
    }
    event = Event(
        lead_id=msg.lead_id,
        type=type_,
        properties={
            **{k: v for k, v in args.items() if v is not None},
            **properties,
            "provider": "leadflow",
        },
        occurred_at=at,
        received_at=at,
        send_id=send_id,
    )
    session.add(event)
    return event


def record_click(
    session: Session, token: str, *, settings: Settings | None = None, now: datetime | None = None
) -> tuple[str, Event | None]:
    """Verify a click token; return where to redirect and the ``email.clicked`` event stored.

    Raises ``Forbidden`` for a bad token. The event is ``None`` when the mail no longer exists;
    the redirect still works, so an old mail's links never break.
    """
    data = read_token(token, "click", settings=settings)
    if not data.url:
        raise Forbidden("click link without a target")
    return data.url, _event(session, data.send_id, "email.clicked", {"url": data.url}, now)


def record_open(
    session: Session, token: str, *, settings: Settings | None = None, now: datetime | None = None
) -> Event | None:
    """Verify an open-pixel token (``.gif`` suffix allowed) and store ``email.opened``."""
    data = read_token(token, "open", settings=settings)
    return _event(session, data.send_id, "email.opened", {"machine_open": False}, now)
