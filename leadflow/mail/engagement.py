"""Opens and clicks, counted once: our own tracking links and SendGrid's events alike.

The routes ``/t/c/{token}`` and ``/t/o/{token}.gif`` call :func:`record_click` and
:func:`record_open`, commit, then dispatch the returned event to journeys exactly as they
dispatch webhook events; the SendGrid webhook passes its batch through :func:`classify`.

How engagement is counted (the same for the outbox, SMTP and SendGrid backends):

- **Once per send.** The first open of a mail, and the first click of each link in it, earn
  points. The same open or click again within :data:`REPEAT_WINDOW` (1 h) stores nothing;
  later it is stored flagged ``repeat`` (it shows on the timeline) and earns nothing. A
  forwarded mail whose pixel loads fifty times therefore counts as one open.
- **Machine opens.** An open within :data:`MACHINE_OPEN_WITHIN` of the hand-over to the
  provider, or from a known mail privacy proxy (Apple Mail Privacy Protection, Google Image
  Proxy, Yahoo), is flagged ``machine_open`` and earns nothing; so is one SendGrid marks
  ``sg_machine_open``.
- **Staff mail does not count.** Opens and clicks of internal mails (notify steps, handoff
  notices) are not credited to the lead at all.
- **Only links the mail contained.** A click redirects only to an http(s) URL that the stored
  mail links to; a token that is forged, altered or names another target is refused, and a
  link of a mail whose content was erased goes to the public site instead.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from html import unescape
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import insert
from sqlmodel import Session, col, select

from leadflow.client_address import parse_networks
from leadflow.config import Settings
from leadflow.errors import Forbidden
from leadflow.mail.clock import as_utc, now_utc
from leadflow.mail.tracking import read_token
from leadflow.models import EmailMessage, Event, TimelineEntry

__all__ = [
    "MACHINE_OPEN_WITHIN",
    "REPEAT_WINDOW",
    "add_timelines",
    "classify",
    "is_proxy_open",
    "record_click",
    "record_open",
    "timeline_entry",
    "timeline_values",
]

REPEAT_WINDOW = timedelta(hours=1)
MACHINE_OPEN_WITHIN = timedelta(seconds=5)
ENGAGEMENT_TYPES = ("email.opened", "email.clicked")
# Privacy proxies fetch images for the reader, whether or not anyone reads.
_PROXY_AGENTS = ("googleimageproxy", "ggpht.com", "yahoomailproxy", "yahoo mail proxy")
_PROXY_NETWORKS = parse_networks(
    "17.0.0.0/8"  # Apple (Mail Privacy Protection)
    " 66.102.0.0/20 66.249.64.0/19 64.233.160.0/19 72.14.192.0/18 74.125.0.0/16"  # Google
)
_HREF = re.compile(r"""<a\b[^>]*?\bhref\s*=\s*(["'])(.*?)\1""", re.IGNORECASE | re.DOTALL)


def is_proxy_open(user_agent: str | None, ip: str | None) -> bool:
    """Whether an open came from a known mail privacy proxy (by user agent or address)."""
    agent = (user_agent or "").strip().lower()
    # Apple's proxy announces itself as nothing but "Mozilla/5.0".
    if agent == "mozilla/5.0" or any(mark in agent for mark in _PROXY_AGENTS):
        return True
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return False
    return any(address.version == net.version and address in net for net in _PROXY_NETWORKS)


def _url(event: Event) -> str | None:
    value = (event.properties or {}).get("url")
    return str(value) if value is not None else None


def classify(session: Session, events: Sequence[Event]) -> list[Event]:
    """Flag machine opens and repeats among new engagement ``events``; return those to store.

    Other events pass through untouched. Events of internal mails (no lead to credit) and
    repeats within :data:`REPEAT_WINDOW` of the same open or click are left out.
    """
    send_ids = sorted({e.send_id for e in events if e.send_id and e.type in ENGAGEMENT_TYPES})
    sent: dict[str, EmailMessage] = {}
    seen: dict[tuple[str, str, str | None], list[datetime]] = {}
    for start in range(0, len(send_ids), 500):
        chunk = send_ids[start:start + 500]
        # Locked: two loads of one pixel at the same moment must not both count as first.
        sent.update((m.send_id, m) for m in session.exec(
            select(EmailMessage).where(col(EmailMessage.send_id).in_(chunk)).with_for_update()))
        for old in session.exec(select(Event).where(col(Event.send_id).in_(chunk),
                                                    col(Event.type).in_(ENGAGEMENT_TYPES))):
            key = (old.send_id or "", old.type, _url(old) if old.type == "email.clicked" else None)
            seen.setdefault(key, []).append(as_utc(old.occurred_at))
    kept: list[Event] = []
    for event in events:
        if event.type not in ENGAGEMENT_TYPES or not event.send_id:
            kept.append(event)
            continue
        msg = sent.get(event.send_id)
        if msg is not None and msg.internal:
            continue  # a colleague read a notice: nothing to credit to the lead
        at = as_utc(event.occurred_at)
        key = (event.send_id, event.type, _url(event) if event.type == "email.clicked" else None)
        before = seen.setdefault(key, [])
        if any(abs(at - t) < REPEAT_WINDOW for t in before):
            continue
        flags: dict[str, bool] = {}
        if before:
            flags["repeat"] = True
        if event.type == "email.opened" and not (event.properties or {}).get("machine_open"):
            handed_over = (msg.sent_at or msg.last_attempt_at) if msg is not None else None
            if handed_over is not None and at - as_utc(handed_over) < MACHINE_OPEN_WITHIN:
                flags["machine_open"] = True
        if flags:  # (assigning a column costs; most events keep theirs)
            event.properties = {**(event.properties or {}), **flags}
        before.append(at)
        kept.append(event)
    return kept


def _new_event(session: Session, send_id: str | None, type_: str,
               properties: dict[str, object], now: datetime | None) -> Event | None:
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
    [*kept] = classify(session, [event])
    if not kept:
        return None
    session.add(event)
    session.add(timeline_entry(event, "leadflow"))
    return event


def timeline_values(event: Event, provider: str) -> dict[str, Any]:
    """The lead's timeline line for a mail ``event`` (delivered, opened, ...), as column values;
    a machine open says so: it is shown, but it is no engagement
    (:func:`leadflow.usecases.events.is_machine_open`)."""
    data: dict[str, object] = {"event_id": event.id, "send_id": event.send_id,
                               "provider": provider}
    if (event.properties or {}).get("machine_open"):
        data["machine_open"] = True
    return {"lead_id": event.lead_id, "at": event.occurred_at, "kind": "email",
            "type": event.type, "data": data}


def timeline_entry(event: Event, provider: str) -> TimelineEntry:
    """:func:`timeline_values` as a row object, for one event."""
    return TimelineEntry(**timeline_values(event, provider))


def add_timelines(session: Session, events: list[Event], provider: str) -> None:
    """The timeline lines of a batch of mail events, in one INSERT (a webhook batch holds
    thousands: no row objects, nothing read back)."""
    if events:
        session.execute(insert(TimelineEntry), [timeline_values(e, provider) for e in events])


def _links(html: str) -> set[str]:
    return {unescape(m.group(2)).strip() for m in _HREF.finditer(html)}


def _verified_target(session: Session, send_id: str | None, token: str, url: str) -> str | None:
    """``url`` when the mail ``send_id`` links to it through ``token``; None when the mail's
    content is gone (erased).

    Raises:
        Forbidden: not an http(s) URL, or not a link of that mail.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise Forbidden("This link does not lead to a web page.")
    msg = session.exec(select(EmailMessage).where(EmailMessage.send_id == send_id)).first() \
        if send_id else None
    if msg is None or not msg.html:
        return None
    links = _links(msg.html)
    if not any(link.endswith(f"/t/c/{token}") for link in links) and url not in links:
        raise Forbidden("This link is not one of the mail's links.")
    return url


def record_click(
    session: Session, token: str, *, settings: Settings | None = None,
    now: datetime | None = None,
) -> tuple[str | None, Event | None]:
    """Verify a click token; return where to redirect and the ``email.clicked`` event stored.

    Raises ``Forbidden`` for a bad token or a target the mail did not contain. The target is
    ``None`` (send the visitor to the public site) when the mail's content was erased; the
    event is ``None`` when nothing is credited (erased, internal mail, or a repeat).
    """
    data = read_token(token, "click", settings=settings)
    if not data.url:
        raise Forbidden("click link without a target")
    target = _verified_target(session, data.send_id, token, data.url)
    return target, _new_event(session, data.send_id, "email.clicked", {"url": data.url}, now)


def record_open(
    session: Session, token: str, *, settings: Settings | None = None,
    now: datetime | None = None, user_agent: str | None = None, ip: str | None = None,
) -> Event | None:
    """Verify an open-pixel token (``.gif`` suffix allowed) and store ``email.opened``."""
    data = read_token(token, "open", settings=settings)
    return _new_event(session, data.send_id, "email.opened",
                      {"machine_open": is_proxy_open(user_agent, ip)}, now)
