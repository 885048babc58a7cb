"""SendGrid's Event Webhook: signature check, event mapping, de-duplicated bulk ingestion.

The route (``POST /api/webhooks/sendgrid``) does, in order::

    check_signed_request(body, signature_header, timestamp_header)   # Forbidden if bad or stale
    raw = parse_batch(body)                                            # BadRequest if not a list
    with session_scope() as session:
        result = ingest_batch(session, raw)
    dispatch(result.new_events)                                        # wake waiting journeys

De-duplication: SendGrid retries a batch for up to 24 hours and may resend an event under a new
``sg_event_id``. Each event's row id is derived from its fallback key (``sg_message_id``, event,
timestamp, url), which is the same for a repeat under the old id and under a new one, so one
primary-key lookup per batch catches both; ``sg_event_id`` is the key when there is no message id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from sqlmodel import Session, col, select, update

from leadflow.config import get_settings
from leadflow.errors import BadRequest, Forbidden
from leadflow.leads.consent import record_consent, suppress_leads
from leadflow.mail.clock import as_utc, now_utc
from leadflow.mail.engagement import add_timelines, classify, is_proxy_open
from leadflow.models import Event, Lead

__all__ = [
    "EVENT_TYPES",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "IngestResult",
    "MappedEvent",
    "UnknownEvent",
    "check_signed_request",
    "ingest_batch",
    "is_fresh",
    "map_sendgrid_event",
    "parse_batch",
    "stable_event_id",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
DEFAULT_TOLERANCE = 600.0  # seconds a signed timestamp may be off (either way)

#: SendGrid event name → Leadflow event type.
EVENT_TYPES: dict[str, str] = {
    "processed": "email.processed",
    "delivered": "email.delivered",
    "deferred": "email.deferred",
    "dropped": "email.dropped",
    "bounce": "email.bounced",
    "open": "email.opened",
    "click": "email.clicked",
    "spamreport": "email.spam_reported",
    "unsubscribe": "email.unsubscribed",
    "group_unsubscribe": "email.group_unsubscribed",
    "group_resubscribe": "email.group_resubscribed",
}

# SendGrid drops mail to addresses already on its own suppression lists; mirror those.
_DROP_REASONS = {
    "bounced address": "bounced",
    "unsubscribed address": "unsubscribed",
    "spam reporting address": "unsubscribed",
}

# Fields copied into the event's properties (SendGrid name → ours).
_KEPT = {
    "url": "url",
    "reason": "reason",
    "status": "status",
    "response": "response",
    "attempt": "attempt",
    "type": "bounce_type",
    "bounce_classification": "bounce_classification",
    "asm_group_id": "asm_group_id",
    "sg_event_id": "sg_event_id",
    "sg_message_id": "sg_message_id",
    "category": "category",
}
_CUSTOM_ARGS = ("send_id", "lead_id", "flow_id", "version", "step")
_CHUNK = 500  # bound parameters per IN (...) query


# ------------------------------------------------------------------ signature


@lru_cache(maxsize=8)
def _public_key(public_key_b64: str) -> ec.EllipticCurvePublicKey | None:
    try:
        key = load_der_public_key(base64.b64decode(public_key_b64, validate=True))
    except (ValueError, binascii.Error, TypeError):
        return None
    return key if isinstance(key, ec.EllipticCurvePublicKey) else None


def verify_signature(
    public_key_b64: str, payload: bytes, signature_b64: str, timestamp: str
) -> bool:
    """Whether ``signature_b64`` is SendGrid's ECDSA P-256/SHA-256 signature of timestamp + body.

    ``payload`` must be the raw request body, byte for byte (SendGrid signs its trailing CRLF).
    Any malformed key or signature simply fails verification.
    """
    key = _public_key(public_key_b64)
    if key is None or not signature_b64 or not timestamp:
        return False
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        key.verify(signature, timestamp.encode("utf-8") + payload, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


def is_fresh(
    timestamp: str, *, now: float | None = None, tolerance: float = DEFAULT_TOLERANCE
) -> bool:
    """Whether the signed ``timestamp`` (epoch seconds) is within ``tolerance`` of ``now``.

    Refusing old timestamps stops a captured, validly signed batch from being replayed later.
    """
    try:
        signed_at = float(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    return abs(current - signed_at) <= tolerance


def check_signed_request(
    payload: bytes,
    signature_b64: str | None,
    timestamp: str | None,
    *,
    public_key_b64: str | None = None,
    now: float | None = None,
    tolerance: float | None = None,
) -> None:
    """Raise ``Forbidden`` unless the request is signed by SendGrid's key and fresh.

    The key defaults to ``LEADFLOW_SENDGRID_WEBHOOK_PUBLIC_KEY``; with none configured every
    request is refused rather than accepted unsigned.
    """
    settings = get_settings()
    key = public_key_b64 or settings.sendgrid_webhook_public_key
    if not key:
        raise Forbidden("webhook public key not configured")
    if not signature_b64 or not timestamp:
        raise Forbidden("missing webhook signature")
    if tolerance is None:
        tolerance = float(
            getattr(settings, "sendgrid_webhook_tolerance_seconds", None) or DEFAULT_TOLERANCE
        )
    if not verify_signature(key, payload, signature_b64, timestamp):
        raise Forbidden("bad webhook signature")
    if not is_fresh(timestamp, now=now, tolerance=tolerance):
        raise Forbidden("stale webhook timestamp")


def parse_batch(payload: bytes) -> list[dict[str, Any]]:
    """The events of a webhook body; ``BadRequest`` unless it is a JSON list."""
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as err:
        raise BadRequest(f"webhook body is not JSON: {err}") from None
    if not isinstance(data, list):
        raise BadRequest("webhook body must be a JSON list of events")
    return data


# ------------------------------------------------------------------ mapping


class UnknownEvent(ValueError):
    """Not a SendGrid event this module knows how to map."""


@dataclass(slots=True)
class MappedEvent:
    """One SendGrid event in Leadflow's terms, before it is stored."""

    type: str
    sendgrid_event: str
    occurred_at: datetime
    properties: dict[str, Any]
    email: str | None = None
    send_id: str | None = None
    lead_id: str | None = None
    flow_id: str | None = None
    step: str | None = None
    dedupe_key: str = ""
    fallback_key: str | None = None
    suppress: str | None = None  # "bounced" or "unsubscribed": what it does to the lead

    @property
    def id_key(self) -> str:
        """The key the stored row's id derives from (see the module docstring)."""
        return self.fallback_key or self.dedupe_key


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _occurred(raw: Mapping[str, Any]) -> datetime:
    try:
        return datetime.fromtimestamp(float(raw["timestamp"]), UTC)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return now_utc()


def _suppression(event: str, raw: Mapping[str, Any]) -> str | None:
    if event == "bounce":
        # "bounce" is a hard bounce; "blocked" is a soft one worth trying again later.
        return "bounced" if str(raw.get("type", "bounce")).lower() == "bounce" else None
    if event in ("spamreport", "unsubscribe", "group_unsubscribe"):
        return "unsubscribed"
    if event == "dropped":
        return _DROP_REASONS.get(str(raw.get("reason", "")).strip().lower())
    return None


def map_sendgrid_event(raw: Mapping[str, Any]) -> MappedEvent:
    """Map one SendGrid event to ``email.*`` with its properties and de-duplication keys.

    Raises ``UnknownEvent`` for anything that is not a mapping with a known ``event``.
    """
    if not isinstance(raw, Mapping):
        raise UnknownEvent("event is not an object")
    name = str(raw.get("event", ""))
    if name not in EVENT_TYPES:
        raise UnknownEvent(f"unknown SendGrid event {name!r}")
    properties: dict[str, Any] = {
        ours: raw[theirs] for theirs, ours in _KEPT.items() if raw.get(theirs) not in (None, "")
    }
    if name == "open":
        # Apple Mail Privacy Protection and scanners open everything; scoring can ignore these.
        properties["machine_open"] = bool(raw.get("sg_machine_open", False)) or is_proxy_open(
            _text(raw.get("useragent")), _text(raw.get("ip")))
    args = {arg: _text(raw.get(arg)) for arg in _CUSTOM_ARGS}
    properties.update({k: v for k, v in args.items() if v is not None})
    properties["provider"] = "sendgrid"

    message_id = _text(raw.get("sg_message_id"))
    stamp = _text(raw.get("timestamp"))
    fallback = None
    if message_id and stamp:
        fallback = "|".join(("fb", message_id, name, stamp, _text(raw.get("url")) or ""))
    event_id = _text(raw.get("sg_event_id"))
    if event_id:
        dedupe = f"id|{event_id}"
    elif fallback:
        dedupe = fallback
    else:
        dedupe = "raw|" + json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)
    email = _text(raw.get("email"))
    return MappedEvent(
        type=EVENT_TYPES[name],
        sendgrid_event=name,
        occurred_at=_occurred(raw),
        properties=properties,
        email=email.strip().lower() if email else None,
        send_id=args["send_id"],
        lead_id=args["lead_id"],
        flow_id=args["flow_id"],
        step=args["step"],
        dedupe_key=dedupe,
        fallback_key=fallback,
        suppress=_suppression(name, raw),
    )


def stable_event_id(key: str) -> str:
    """The Event id for a de-duplication key: the same key always gives the same id."""
    return "sg_" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]


# ------------------------------------------------------------------ ingestion


@dataclass
class IngestResult:
    """What one batch did: the rows it stored (to dispatch) and what it left out."""

    new_events: list[Event] = field(default_factory=list)
    # Stored by an earlier post whose dispatch never finished (e.g. Temporal was down): the
    # retried batch dispatches them again instead of dropping them as duplicates.
    undispatched: list[Event] = field(default_factory=list)
    duplicates: int = 0
    unknown: int = 0  # unmapped event types, malformed entries, or no matching lead
    suppressed_leads: set[str] = field(default_factory=set)


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _existing_ids(session: Session, ids: Sequence[str]) -> dict[str, bool]:
    """Stored event id → whether it was dispatched."""
    found: dict[str, bool] = {}
    for chunk in _chunks(ids):
        found.update(session.exec(
            select(Event.id, Event.dispatched).where(col(Event.id).in_(chunk))).all())
    return found


def _known_leads(session: Session, lead_ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(lead_ids):
        found.update(session.exec(select(Lead.id).where(
            col(Lead.id).in_(chunk), col(Lead.erased_at).is_(None))).all())
    return found


def _leads_by_email(session: Session, emails: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in _chunks(emails):
        rows = session.exec(select(Lead.id, Lead.email).where(col(Lead.email).in_(chunk))).all()
        for lead_id, email in rows:
            if email:
                found[email.strip().lower()] = lead_id
    return found


def _leads(session: Session, lead_ids: Sequence[str]) -> list[Lead]:
    found: list[Lead] = []
    for chunk in _chunks(lead_ids):
        found += session.exec(select(Lead).where(col(Lead.id).in_(chunk))).all()
    return found


def ingest_batch(
    session: Session, raw_events: Iterable[Any], *, now: datetime | None = None
) -> IngestResult:
    """Store a webhook batch's new events and apply suppressions, in a few bulk queries.

    Events already stored (a re-posted batch, or a repeat under a new ``sg_event_id``) are
    counted as duplicates and store nothing. The lead comes from the ``lead_id`` custom arg,
    else from the address. Hard bounces mark the lead ``bounced``, spam reports and
    unsubscribes ``unsubscribed``; both also set ``suppressed``. The caller commits and then
    dispatches ``new_events``.
    """
    received = as_utc(now) if now is not None else now_utc()
    result = IngestResult()
    mapped: list[tuple[str, MappedEvent]] = []
    seen: set[str] = set()
    for raw in raw_events:
        try:
            event = map_sendgrid_event(raw)
        except UnknownEvent:
            result.unknown += 1
            continue
        event_id = stable_event_id(event.id_key)
        # Within one batch also catch a repeated sg_event_id whose other fields changed.
        keys = {event_id, event.dedupe_key}
        if keys & seen:
            result.duplicates += 1
            continue
        seen.update(keys)
        mapped.append((event_id, event))

    existing = _existing_ids(session, [event_id for event_id, _ in mapped])
    fresh = [(event_id, e) for event_id, e in mapped if event_id not in existing]
    result.duplicates += len(mapped) - len(fresh)
    stuck = sorted(event_id for event_id, dispatched in existing.items() if not dispatched)
    for chunk in _chunks(stuck):
        result.undispatched += session.exec(select(Event).where(col(Event.id).in_(chunk))).all()

    known = _known_leads(session, sorted({e.lead_id for _, e in fresh if e.lead_id}))
    by_email = _leads_by_email(
        session, sorted({e.email for _, e in fresh if e.email and e.lead_id not in known})
    )
    suppress: dict[str, set[str]] = {"bounced": set(), "unsubscribed": set()}
    for event_id, event in fresh:
        lead_id = event.lead_id if event.lead_id in known else by_email.get(event.email or "")
        if lead_id is None:
            result.unknown += 1
            continue
        result.new_events.append(
            Event(
                id=event_id,
                lead_id=lead_id,
                type=event.type,
                properties=event.properties,
                occurred_at=event.occurred_at,
                received_at=received,
                send_id=event.send_id,
            )
        )
        if event.suppress:
            suppress[event.suppress].add(lead_id)

    counted = classify(session, result.new_events)
    result.duplicates += len(result.new_events) - len(counted)  # repeats, staff mail
    result.new_events = counted
    session.add_all(result.new_events)
    add_timelines(session, result.new_events, "sendgrid")
    for lead in _leads(session, sorted(suppress["unsubscribed"])):
        if not lead.unsubscribed:
            record_consent(session, lead, "withdrawn", source="sendgrid", at=received)
    for flag, lead_ids in suppress.items():
        suppress_leads(session, lead_ids, flag)
        for chunk in _chunks(sorted(lead_ids)):
            session.exec(
                update(Lead)
                .where(col(Lead.id).in_(chunk))
                .values({flag: True, "suppressed": True, "updated_at": received})
                .execution_options(synchronize_session=False)
            )
        result.suppressed_leads |= lead_ids
    session.flush()
    return result
