"""Exactly-once delivery of one EmailMessage row, whatever crashes and retries happen around it.

SendGrid has no idempotency key, so the row itself is the guard:

1. **Intent first.** Before the provider is called the row moves to ``sending`` (attempts + 1)
   and that is committed. A compare-and-set on ``(status, attempts)`` makes two concurrent
   attempts of the same send impossible: the loser waits and retries.
2. **Known outcomes.** Accepted → ``sent``; refused (4xx) → ``failed`` with the reason; known not
   sent (429, 5xx, connection refused) → back to ``pending`` with the reason, so the retry sends
   at once.
3. **Unknown outcomes.** A timeout or crash after the request was written leaves ``sending``.
   The next attempt reconciles by send id: a provider event for it (``email.processed``,
   ``email.delivered``, ...) proves acceptance and marks the row ``sent`` without a new call;
   without one it waits until the reconcile window (default 15 minutes after the attempt)
   has passed, then sends again, because a mail that never left would otherwise be lost.

For the ``outbox`` backend nothing leaves the process, so the whole send is one transaction.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import inspect
from sqlmodel import Session, col, select, update

from leadflow.config import Settings, get_settings
from leadflow.db import session_scope
from leadflow.errors import NotFound, ProviderRefused, TransientDeliveryError
from leadflow.mail.base import EmailSender, OutgoingEmail, SendReceipt, outcome_unknown
from leadflow.mail.clock import as_utc, now_utc
from leadflow.mail.ratelimit import bucket_for
from leadflow.mail.tracking import add_tracking, unsubscribe_url
from leadflow.metrics import record_email_status
from leadflow.models import EmailMessage, Event, Lead

__all__ = ["FINAL_STATUSES", "PROOF_EVENT_TYPES", "HandOver", "build_outgoing", "deliver",
           "finish_delivery", "settle_or_claim"]

log = logging.getLogger(__name__)

FINAL_STATUSES = frozenset({"sent", "failed", "skipped"})

#: Provider or tracking events that prove a mail was accepted for delivery.
PROOF_EVENT_TYPES = (
    "email.processed",
    "email.delivered",
    "email.deferred",
    "email.dropped",
    "email.bounced",
    "email.opened",
    "email.clicked",
    "email.spam_reported",
    "email.unsubscribed",
)

DEFAULT_RECONCILE_WINDOW = 15 * 60.0
# While waiting out the window, look for a provider event this often: they arrive in seconds.
RECONCILE_POLL = 30.0
_TRACKING_BACKENDS = frozenset({"outbox", "smtp"})


def _setting(settings: Settings, name: str, default: Any) -> Any:
    value = getattr(settings, name, None)
    return default if value is None else value


def build_outgoing(msg: EmailMessage, settings: Settings, *, track: bool,
                   from_addr: str | None = None) -> OutgoingEmail:
    """The provider-neutral mail for ``msg``: headers, categories and ids-only custom args."""
    custom_args = {
        key: str(value)
        for key, value in (
            ("send_id", msg.send_id),
            ("lead_id", msg.lead_id),
            ("flow_id", msg.flow_id),
            ("version", msg.version),
            ("step", msg.step),
        )
        if value is not None and not (msg.internal and key == "lead_id")
    }
    headers: dict[str, str] = {}
    if msg.lead_id and not msg.internal:
        headers["List-Unsubscribe"] = f"<{unsubscribe_url(msg.lead_id, settings=settings)}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    html = msg.html
    if html and track and not msg.internal:
        html = add_tracking(html, msg.send_id, settings=settings)
    return OutgoingEmail(
        send_id=msg.send_id,
        to=msg.to or "",
        from_addr=from_addr or settings.email_from,
        subject=msg.subject or "",
        html=html,
        text=msg.text,
        headers=headers,
        categories=["leadflow", msg.flow_id] if msg.flow_id else ["leadflow"],
        custom_args=custom_args,
        asm_group_id=settings.sendgrid_asm_group_id,
    )


def _skip_reason(session: Session, msg: EmailMessage, settings: Settings) -> str | None:
    if not msg.lead_id or msg.internal:
        return None  # staff mail: the lead's consent and unsubscribe are not the staff's
    from leadflow.leads.consent import mail_block_reason

    # Journey mails are marketing; a mail outside any journey (the double opt-in
    # confirmation) was asked for by the lead.
    marketing = msg.journey_id is not None or msg.flow_id is not None
    return mail_block_reason(session, session.get(Lead, msg.lead_id), settings,
                             marketing=marketing)


def _proof_event(session: Session, send_id: str) -> str | None:
    query = (
        select(Event.type)
        .where(Event.send_id == send_id, col(Event.type).in_(PROOF_EVENT_TYPES))
        .limit(1)
    )
    return session.exec(query).first()


def _swap(session: Session, msg: EmailMessage, **values: Any) -> bool:
    """Update ``msg`` only if nobody changed its status or attempts since it was read."""
    result = session.exec(
        update(EmailMessage)
        .where(
            col(EmailMessage.id) == msg.id,
            col(EmailMessage.status) == msg.status,
            col(EmailMessage.attempts) == msg.attempts,
        )
        .values(**values)
    )
    if result.rowcount == 1:
        record_email_status(values.get("status"))
    return result.rowcount == 1


def _claim(session: Session, msg: EmailMessage, **values: Any) -> bool:
    """:func:`_swap`, or for a row this transaction is still to insert, its values set before
    the INSERT: nobody else can hold a row that does not exist yet (a second attempt of the same
    send fails on the unique send id and retries), and one statement is saved."""
    if inspect(msg).pending:
        for name, value in values.items():
            setattr(msg, name, value)
        record_email_status(values.get("status"))
        return True
    return _swap(session, msg, **values)


def _note(session: Session, msg: EmailMessage, status: str, reason: str | None) -> None:
    """The lead's timeline entry for a settled send."""
    if not msg.lead_id:
        return
    from leadflow.leads.records import add_timeline

    extra = {"reason": reason} if reason else {}
    add_timeline(session, msg.lead_id, "email", f"email.{status}", flow_id=msg.flow_id,
                 step=msg.step, send_id=msg.send_id, **extra)


def _lost_race(send_id: str) -> TransientDeliveryError:
    return TransientDeliveryError(
        f"another attempt is delivering {send_id}", retry_after=5.0, outcome_unknown=True
    )


def deliver(
    send_id: str,
    *,
    db_url: str | None = None,
    sender: EmailSender | None = None,
    now: datetime | None = None,
    timeline: bool = False,
) -> str:
    """Send the EmailMessage ``send_id`` exactly once and return its final status.

    With ``timeline``, the final status is also written to the lead's timeline
    (``email.sent``, ``email.skipped``, ``email.failed``) in the same transaction.

    Returns ``"sent"``, ``"failed"`` (refused for good; ``reason`` says why) or ``"skipped"``
    (the lead is unsubscribed, bounced, suppressed, erased or without consent: see
    :func:`leadflow.leads.consent.mail_block_reason`). Raises
    ``TransientDeliveryError`` (with ``retry_after``) when the caller should try again later,
    and ``NotFound`` for an unknown send id. Safe to call any number of times.
    """
    with session_scope(db_url) as session:
        msg = session.exec(select(EmailMessage).where(EmailMessage.send_id == send_id)).first()
        if msg is None:
            raise NotFound(f"no e-mail with send id {send_id}")
        step = settle_or_claim(session, msg, sender=sender, now=now, timeline=timeline)
    return finish_delivery(step, db_url=db_url)


class HandOver:
    """A claimed send (committed as ``sending``) that still has to go to the provider."""

    def __init__(self, sender: EmailSender, mail: OutgoingEmail, attempt: int, *,
                 settings: Settings, window: float, started: datetime, timeline: bool) -> None:
        self.sender, self.mail, self.attempt = sender, mail, attempt
        self.settings, self.window, self.started, self.timeline = settings, window, started, timeline


def finish_delivery(step: str | HandOver, *, db_url: str | None = None) -> str:
    """After the commit of :func:`settle_or_claim`: its final status, or the provider's answer."""
    if isinstance(step, str):
        return step
    return _hand_over(step.sender, step.mail, step.attempt, settings=step.settings,
                      db_url=db_url, window=step.window, started=step.started,
                      timeline=step.timeline)


def settle_or_claim(
    session: Session,
    msg: EmailMessage,
    *,
    sender: EmailSender | None = None,
    now: datetime | None = None,
    timeline: bool = False,
    cleared: bool = False,
) -> str | HandOver:
    """The part of :func:`deliver` that runs in the caller's transaction.

    ``cleared``: the caller found, in this same transaction, that nothing blocks the lead's
    mail (:func:`leadflow.leads.consent.mail_block_reason`), so it is not asked again.

    Returns the final status when it is settled here (already final, skipped, or sent by the
    ``outbox`` backend), else a :class:`HandOver`: the row is claimed ``sending`` in this
    transaction and, **after its commit**, :func:`finish_delivery` calls the provider. A
    journey step writes its progress, the send row and this in one transaction this way.
    """
    settings = get_settings()
    if sender is None:
        from leadflow.mail import get_sender

        sender = get_sender(settings)
    now = as_utc(now) if now is not None else now_utc()
    window = float(_setting(settings, "email_reconcile_window_seconds", DEFAULT_RECONCILE_WINDOW))
    track = sender.name in _TRACKING_BACKENDS and bool(_setting(settings, "email_tracking", True))
    send_id = msg.send_id

    if msg.status in FINAL_STATUSES:
        return msg.status
    if msg.status == "sending":
        proof = _proof_event(session, send_id)
        if proof is not None:
            started = msg.last_attempt_at or now
            confirmed = {
                "status": "sent",
                "reason": f"confirmed by {proof}",
                "sent_at": started,
            }
            if not _swap(session, msg, **confirmed):
                raise _lost_race(send_id)
            log.info("send %s reconciled as sent by %s", send_id, proof)
            return "sent"
        started = msg.last_attempt_at
        waited = (now - as_utc(started)).total_seconds() if started is not None else window
        if waited < window:
            raise TransientDeliveryError(
                f"outcome of the last attempt of {send_id} unknown; waiting for a provider "
                "event before sending again",
                retry_after=min(RECONCILE_POLL, window - waited),
                outcome_unknown=True,
            )
        log.warning("send %s: no provider event within the window, sending again", send_id)

    skip = None if cleared else _skip_reason(session, msg, settings)
    if skip or not msg.to:
        status, reason = ("skipped", skip) if skip else ("failed", "no recipient address")
        if not _claim(session, msg, status=status, reason=reason):
            raise _lost_race(send_id)
        if timeline:
            _note(session, msg, status, reason)
        return status

    from leadflow.workspace import sender_address

    mail = build_outgoing(msg, settings, track=track, from_addr=sender_address(session, settings))
    claim: dict[str, Any] = {
        "attempts": msg.attempts + 1,
        "backend": sender.name,
        "html": mail.html,
    }
    if sender.name == "outbox":
        # Nothing leaves the process: deciding and recording is one transaction.
        receipt = sender.send(mail)
        if not _claim(
            session,
            msg,
            **claim,
            status="sent",
            reason=None,
            provider_message_id=receipt.provider_message_id,
            sent_at=now,
        ):
            raise _lost_race(send_id)
        if timeline:
            _note(session, msg, "sent", None)
        return "sent"
    attempt = claim["attempts"]  # read before _swap: the update refreshes ``msg``
    if not _claim(session, msg, **claim, status="sending", last_attempt_at=now):
        raise _lost_race(send_id)
    return HandOver(sender, mail, attempt, settings=settings, window=window, started=now,
                    timeline=timeline)


def _hand_over(
    sender: EmailSender,
    mail: OutgoingEmail,
    attempt: int,
    *,
    settings: Settings,
    db_url: str | None,
    window: float,
    started: datetime,
    timeline: bool = False,
) -> str:
    """Call the provider for a claimed row and record what came of it."""
    rate = float(_setting(settings, f"{sender.name}_rate_limit", 0) or 0)
    if rate > 0:
        bucket_for(sender.name, rate).acquire()
    error: BaseException | None = None
    receipt: SendReceipt | None = None
    try:
        receipt = sender.send(mail)
    except ProviderRefused as err:
        values: dict[str, Any] = {"status": "failed", "reason": err.detail}
        error = err
    except TransientDeliveryError as err:
        if outcome_unknown(err):
            values = {"reason": f"outcome unknown: {err.detail}"}
        else:
            values = {"status": "pending", "reason": err.detail}
        error = err
    except Exception as err:  # noqa: BLE001 - any failure here must be recorded, then re-raised
        # Anything else (a bug, an unexpected library error) may have happened after the
        # request left: treat it as an unknown outcome rather than risk a second mail.
        values = {"reason": f"outcome unknown: {type(err).__name__}: {err}"}
        error = err
    else:
        values = {
            "status": "sent",
            "reason": None,
            "provider_message_id": receipt.provider_message_id,
            # Never before the attempt began: ``started`` may follow a workflow clock ahead
            # of the wall clock (time-skipping tests), and frequency caps count by sent_at.
            "sent_at": max(now_utc(), started),
        }

    with session_scope(db_url) as session:
        result = session.exec(
            update(EmailMessage)
            .where(
                col(EmailMessage.send_id) == mail.send_id,
                col(EmailMessage.status) == "sending",
                col(EmailMessage.attempts) == attempt,
            )
            .values(**values)
        )
        if result.rowcount != 1:
            log.warning("send %s: attempt %s superseded, not recorded", mail.send_id, attempt)
        else:
            record_email_status(values.get("status"))
            if timeline and values.get("status") in ("sent", "failed"):
                row = session.exec(select(EmailMessage).where(
                    EmailMessage.send_id == mail.send_id)).first()
                if row is not None:
                    _note(session, row, str(values["status"]), values.get("reason"))

    if isinstance(error, ProviderRefused):
        log.warning("send %s refused by %s", mail.send_id, sender.name)
        return "failed"
    if isinstance(error, TransientDeliveryError) and outcome_unknown(error):
        retry = error.retry_after if error.retry_after is not None else min(RECONCILE_POLL, window)
        raise TransientDeliveryError(error.detail, retry_after=retry, **error.extra) from error
    if error is not None:
        raise error
    return "sent"
