"""Consent records (GDPR Art. 7) and the suppression list: who may receive marketing e-mail.

Policy (:func:`mail_block_reason`): an erased, unsubscribed, bounced or suppressed lead, or one
whose address hash is on the suppression list, is never mailed. An explicit ``denied``,
``withdrawn`` or ``pending`` consent (the last one: double opt-in not yet confirmed) blocks
marketing mail in every mode. A lead with no consent statement at all gets no marketing mail
(reason ``no_consent``) unless ``LEADFLOW_CONSENT_MODE=legitimate_interest``, under which it is
mailed until it objects (denies or withdraws consent, or unsubscribes).

The suppression list holds keyed hashes (HMAC-SHA256 with a key derived from the secret key) of
normalised addresses, never the addresses, so it can outlive an erasure: an erased address that
comes back as a new lead is still not mailed. Rows from before the keyed hashes that could not
be re-keyed (the address was already erased) still match through :func:`legacy_address_hash`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import bindparam
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from leadflow.config import Settings, get_settings
from leadflow.leads.records import add_timeline
from leadflow.models import ConsentRecord, Lead, Suppression, utcnow

__all__ = [
    "BLOCKING_STATUSES",
    "address_hash",
    "is_suppressed",
    "legacy_address_hash",
    "lift_unsubscribe",
    "mail_block_reason",
    "record_consent",
    "suppress_address",
    "suppress_leads",
    "suppression_of",
    "unsubscribe_lead",
    "warn_about_consent_mode",
]

BLOCKING_STATUSES = frozenset({"denied", "withdrawn", "pending"})


def address_hash(email: str) -> str:
    """The suppression key of an address: HMAC-SHA256 of its trimmed, lower-cased form, keyed
    with a key derived from ``LEADFLOW_SECRET_KEY``.

    Keyed, because a bare hash of an address is reversed by hashing guesses (a list of a
    company's staff, a leaked customer list). The price: the hashes hold only under the same
    secret key; changing the key empties the suppression list in effect (see the README).
    """
    secret = get_settings().secret_key.get_secret_value().encode()
    key = hmac.new(secret, b"leadflow.suppression", hashlib.sha256).digest()
    return hmac.new(key, _normal(email).encode(), hashlib.sha256).hexdigest()


def legacy_address_hash(email: str) -> str:
    """The unkeyed hash rows written before keyed hashes (migration 0005) still carry, where
    the address was no longer known to re-key them (erased leads): still honoured."""
    return hashlib.sha256(f"leadflow.suppression:{_normal(email)}".encode()).hexdigest()


def _normal(email: str) -> str:
    return email.strip().lower()


# Asked before every marketing mail: built once (see leadflow.leads.records).
_SUPPRESSION = select(Suppression).where(
    col(Suppression.address_hash).in_([bindparam("keyed"), bindparam("legacy")]))


def suppression_of(session: Session, email: str | None) -> Suppression | None:
    """The suppression list's row for ``email`` (keyed, or a legacy unkeyed one), if any."""
    if not email:
        return None
    keyed, legacy = address_hash(email), legacy_address_hash(email)
    rows = {r.address_hash: r for r in session.exec(
        _SUPPRESSION, params={"keyed": keyed, "legacy": legacy}).all()}
    return rows.get(keyed) or rows.get(legacy)


def is_suppressed(session: Session, email: str | None) -> bool:
    """Whether ``email`` is on the suppression list."""
    return suppression_of(session, email) is not None


def suppress_address(session: Session, email: str, reason: str,
                     at: datetime | None = None) -> None:
    """Put ``email`` on the suppression list (a no-op when it is already there)."""
    key = address_hash(email)
    if suppression_of(session, email) is not None:
        return
    try:
        with session.begin_nested():
            session.add(Suppression(address_hash=key, reason=reason, at=at or utcnow()))
    except IntegrityError:
        pass  # a concurrent request suppressed the same address


def suppress_leads(session: Session, lead_ids: Iterable[str], reason: str) -> None:
    """Add the addresses of ``lead_ids`` to the suppression list (webhook bounces, spam)."""
    ids = sorted(set(lead_ids))
    if not ids:
        return
    emails = [e for e in session.exec(select(Lead.email).where(col(Lead.id).in_(ids))).all() if e]
    keys = {address_hash(e): legacy_address_hash(e) for e in emails}
    probe = sorted({*keys, *keys.values()})
    have = set(session.exec(select(Suppression.address_hash)
                            .where(col(Suppression.address_hash).in_(probe))).all())
    at = utcnow()
    session.add_all(Suppression(address_hash=key, reason=reason, at=at)
                    for key, legacy in sorted(keys.items())
                    if key not in have and legacy not in have)


def record_consent(session: Session, lead: Lead, status: str, *, source: str | None = None,
                   text_version: str | None = None, ip: str | None = None,
                   user_agent: str | None = None, at: datetime | None = None,
                   current: bool = True) -> ConsentRecord:
    """Store one consent statement and make it the lead's current consent.

    ``current=False`` only files the statement (a double opt-in awaiting confirmation must not
    replace a granted or refused consent).
    """
    at = at or utcnow()
    record = ConsentRecord(lead_id=lead.id, status=status, at=at, source=source,
                           text_version=text_version, ip=ip, user_agent=user_agent)
    session.add(record)
    if not current:
        add_timeline(session, lead.id, "consent", f"consent.{status}", at=at, source=source,
                     text_version=text_version)
        return record
    lead.consent = {k: v for k, v in {"status": status, "source": source,
                                      "text_version": text_version,
                                      "at": at.isoformat()}.items() if v is not None}
    lead.updated_at = at
    session.add(lead)
    add_timeline(session, lead.id, "consent", f"consent.{status}", at=at, source=source,
                 text_version=text_version)
    return record


def unsubscribe_lead(session: Session, lead: Lead, *, source: str = "unsubscribe",
                     ip: str | None = None, user_agent: str | None = None) -> bool:
    """Unsubscribe ``lead``: consent withdrawn, flags set, address suppressed.

    Returns False when the lead was already unsubscribed (nothing changes: idempotent).
    """
    if lead.unsubscribed and lead.suppressed:
        return False
    record_consent(session, lead, "withdrawn", source=source, ip=ip, user_agent=user_agent)
    lead.unsubscribed = lead.suppressed = True
    if lead.email:
        suppress_address(session, lead.email, "unsubscribed")
    session.add(lead)
    return True


def lift_unsubscribe(session: Session, lead: Lead) -> None:
    """Undo an unsubscribe after a fresh, explicit opt-in (bounces and erasures stay)."""
    if lead.email:
        row = suppression_of(session, lead.email)
        if row is not None and row.reason == "unsubscribed":
            session.delete(row)
    if lead.unsubscribed:
        lead.unsubscribed = False
        lead.suppressed = lead.bounced
        session.add(lead)
        add_timeline(session, lead.id, "consent", "consent.resubscribed")


def mail_block_reason(session: Session, lead: Lead | None, settings: Settings | None = None,
                      *, marketing: bool = True) -> str | None:
    """Why ``lead`` must not receive e-mail now (``None``: it may).

    ``marketing=False`` is for mails the lead asked for (the double opt-in confirmation): only
    erasure, bounces and suppressions other than an unsubscribe stop those.
    """
    settings = settings or get_settings()
    if lead is None or lead.erased_at is not None or not lead.email:
        return "erased"
    if not marketing:
        if lead.bounced:
            return "bounced"
        row = suppression_of(session, lead.email)
        return "suppressed" if row is not None and row.reason != "unsubscribed" else None
    for flag in ("unsubscribed", "bounced", "suppressed"):
        if getattr(lead, flag):
            return flag
    if is_suppressed(session, lead.email):
        return "suppressed"
    status = (lead.consent or {}).get("status")
    if status in BLOCKING_STATUSES:
        return f"consent_{status}"
    if status != "granted" and settings.consent_mode != "legitimate_interest":
        return "no_consent"
    return None


def warn_about_consent_mode(settings: Settings | None = None) -> None:
    """Log, once at start, that leads without a consent record will be mailed."""
    settings = settings or get_settings()
    if settings.consent_mode == "legitimate_interest":
        logging.getLogger(__name__).warning(
            "LEADFLOW_CONSENT_MODE=legitimate_interest: leads with no consent record get "
            "marketing e-mail until they object; make sure your legitimate-interest assessment "
            "covers them (the default, consent, mails only leads whose consent is granted)")
