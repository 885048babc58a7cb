"""When a marketing e-mail may go: the flow's send window and the per-lead frequency cap.

:func:`next_send_time` answers ``None`` (send now) or the earliest moment both allow; the send
step then sleeps until that moment and retries the same send id, so a mail is postponed, never
dropped.

The send window is read in the window's own ``timezone``, else the lead's ``timezone``, else the
main zone of the lead's ``country`` (from the system's tz database ``zone.tab``; for countries
spanning several zones the most populous one), else ``settings.default_timezone``. Local times
are resolved with :mod:`zoneinfo`, so a window of 09:00 stays 09:00 local across DST changes.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam
from sqlmodel import Session, col, func, select

from leadflow.config import Settings, get_settings
from leadflow.mail.clock import as_utc
from leadflow.models import EmailMessage, Lead

__all__ = [
    "cap_reopens_after",
    "cap_reopens_at",
    "capped_mail_times",
    "country_timezone",
    "current_time",
    "earliest_send",
    "lead_zone",
    "next_send_time",
    "window_openings",
    "window_opens_at",
]

Moment = TypeVar("Moment")  # an aware datetime, or POSIX seconds in the simulator

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# zone.tab lists a country's zones in geographic order, not by population; these countries
# span several zones and most of their people live in the one named here.
_MOST_POPULOUS = {
    "AR": "America/Argentina/Buenos_Aires", "AU": "Australia/Sydney", "BR": "America/Sao_Paulo",
    "CA": "America/Toronto", "CD": "Africa/Kinshasa", "CL": "America/Santiago",
    "CN": "Asia/Shanghai", "EC": "America/Guayaquil", "ES": "Europe/Madrid",
    "ID": "Asia/Jakarta", "KZ": "Asia/Almaty", "MX": "America/Mexico_City",
    "MN": "Asia/Ulaanbaatar", "NZ": "Pacific/Auckland", "PT": "Europe/Lisbon",
    "RU": "Europe/Moscow", "UA": "Europe/Kyiv", "US": "America/New_York",
    "UZ": "Asia/Tashkent", "DE": "Europe/Berlin", "MY": "Asia/Kuala_Lumpur",
}


@lru_cache(maxsize=1)
def _zone_tab() -> dict[str, str]:
    """Country code → first zone listed in the tz database's zone.tab."""
    found: dict[str, str] = {}
    for root in zoneinfo.TZPATH:
        path = Path(root) / "zone.tab"
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            if line.startswith("#") or not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) >= 3:
                found.setdefault(parts[0].upper(), parts[2])
        break
    return found


def country_timezone(country: str | None) -> str | None:
    """The main time zone of an ISO 3166 alpha-2 country code (``None`` when unknown)."""
    if not country:
        return None
    code = country.strip().upper()
    return _MOST_POPULOUS.get(code) or _zone_tab().get(code)


def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def lead_zone(lead: Lead | Mapping[str, Any] | None, window: Mapping[str, Any] | None = None,
              settings: Settings | None = None) -> ZoneInfo:
    """The zone a send window is read in for ``lead`` (see the module docstring)."""
    settings = settings or get_settings()

    def attr(name: str) -> Any:
        if lead is None:
            return None
        return lead.get(name) if isinstance(lead, Mapping) else getattr(lead, name, None)

    for name in ((window or {}).get("timezone"), attr("timezone"),
                 country_timezone(attr("country")), settings.default_timezone):
        zone = _zone(name)
        if zone is not None:
            return zone
    return ZoneInfo("UTC")


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _local(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def window_openings(window: Mapping[str, Any], zone: ZoneInfo, first_day: date,
                    last_day: date) -> Iterator[tuple[datetime, datetime]]:
    """Each ``(opens, closes)`` (aware UTC) of the window on local days ``first_day..last_day``.

    A window whose ``to`` is not after its ``from`` runs past midnight into the next day.
    """
    days = {d.lower() for d in window.get("days") or _DAYS}
    start_at, end_at = _clock(window["from"]), _clock(window["to"])
    overnight = (end_at.hour, end_at.minute) <= (start_at.hour, start_at.minute)
    day = first_day
    while day <= last_day:
        if _DAYS[day.weekday()] in days:
            yield (_local(day, start_at, zone),
                   _local(day + timedelta(days=1) if overnight else day, end_at, zone))
        day += timedelta(days=1)


def window_opens_at(window: Mapping[str, Any] | None, zone: ZoneInfo,
                    now: datetime) -> datetime | None:
    """``None`` when ``now`` is inside the window, else when it next opens (aware UTC)."""
    if not window:
        return None
    now = as_utc(now)
    today = now.astimezone(zone).date()
    for opens, closes in window_openings(window, zone, today - timedelta(days=1),
                                         today + timedelta(days=8)):
        if opens <= now < closes:
            return None
        if opens > now:
            return opens
    return None  # a window with no days at all never blocks (the validator refuses it anyway)


def cap_reopens_at(session: Session, lead_id: str, now: datetime, *, exclude_send_id: str,
                   settings: Settings | None = None) -> datetime | None:
    """``None`` when the lead is under its cap, else when the oldest counted mail ages out.

    Counts the lead's mails sent (or being handed over) in the last ``frequency_cap_days``
    across all flows.
    """
    settings = settings or get_settings()
    cap, period = settings.frequency_cap, timedelta(days=settings.frequency_cap_days)
    if cap <= 0:
        return None
    sent = capped_mail_times(session, [lead_id], exclude_send_id=exclude_send_id).get(lead_id, [])
    return cap_reopens_after(sent, as_utc(now), cap, period)


# The mails that count against the cap, built once (a statement is immutable; SQLAlchemy keeps
# its compiled form under the key it computes once per statement object).
_CAPPED = select(EmailMessage.lead_id,
                 func.coalesce(EmailMessage.sent_at, EmailMessage.last_attempt_at)).where(
    col(EmailMessage.internal).is_(False), col(EmailMessage.status).in_(("sent", "sending")))
_CAPPED_ONE = _CAPPED.where(EmailMessage.lead_id == bindparam("lead_id"))
_CAPPED_ONE_BUT = _CAPPED_ONE.where(EmailMessage.send_id != bindparam("send_id"))


def capped_mail_times(session: Session, lead_ids: Sequence[str], *,
                      exclude_send_id: str | None = None) -> dict[str, list[datetime]]:
    """When each lead's mails that count against the frequency cap went out (aware UTC): sent
    or being handed over, marketing (not internal) mail, in any flow."""
    if len(lead_ids) == 1:  # a send's own check: the statement built once
        query = _CAPPED_ONE if exclude_send_id is None else _CAPPED_ONE_BUT
        params = {"lead_id": lead_ids[0], "send_id": exclude_send_id}
    else:
        query = _CAPPED.where(col(EmailMessage.lead_id).in_(lead_ids))
        if exclude_send_id is not None:
            query = query.where(EmailMessage.send_id != exclude_send_id)
        params = {}
    found: dict[str, list[datetime]] = {}
    for lead_id, moment in session.exec(query, params=params).all():
        if moment is not None and lead_id is not None:
            found.setdefault(lead_id, []).append(as_utc(moment))
    return found


def cap_reopens_after(sent: Iterable[Moment], now: Moment, cap: int, period: Any) -> Moment | None:
    """``None`` when fewer than ``cap`` of the ``sent`` moments fall in the ``period`` before
    ``now``, else when the oldest of them ages out. Works on datetimes (with a timedelta period)
    and on POSIX seconds alike (the simulator's clock)."""
    recent = sorted(t for t in sent if t > now - period)
    if cap <= 0 or len(recent) < cap:
        return None
    return recent[len(recent) - cap] + period  # type: ignore[no-any-return]


def earliest_send(now: Moment, cap_reopens: Callable[[Moment], Moment | None],
                  window_opens: Callable[[Moment], Moment | None]) -> tuple[Moment, str] | None:
    """``None`` to send at ``now``, else ``(moment, why)``: the first moment both the frequency
    cap and the send window allow, why being ``frequency cap`` or ``send window``.

    After the cap frees a slot, the window is applied again. Shared by live sends and the
    simulator, which passes its own clock's lookups.
    """
    moment, why = now, ""
    for _ in range(16):  # each pass moves forward; a handful always settles
        cap = cap_reopens(moment)
        if cap is not None:
            moment, why = cap, why or "frequency cap"
            continue
        opens = window_opens(moment)
        if opens is None:
            break
        moment, why = opens, why or "send window"
    return None if not why else (moment, why)


def next_send_time(session: Session, lead: Lead, window: Mapping[str, Any] | None,
                   send_id: str, now: datetime,
                   settings: Settings | None = None) -> tuple[datetime, str] | None:
    """``None`` to send now, else ``(moment, why)`` with why ``send window`` or ``frequency cap``.

    The moment satisfies both rules: after the cap frees a slot, the window is applied again.
    """
    settings = settings or get_settings()
    zone = lead_zone(lead, window, settings)
    return earliest_send(
        as_utc(now),
        lambda moment: cap_reopens_at(session, lead.id, moment, exclude_send_id=send_id,
                                      settings=settings),
        lambda moment: window_opens_at(window, zone, moment))


def current_time(at: float | None = None) -> datetime:
    """Now, for send decisions: never earlier than the journey's clock.

    On Temporal's time-skipping test server the workflow clock runs ahead of the wall clock. A
    regular activity's scheduled time follows the server's clock; a local activity's does not
    (the worker's clock), so the journey passes its own time as ``at`` (epoch seconds). Windows
    and caps then see the time the journey does. In production the wall clock is the latest.
    """
    wall = datetime.now(UTC)
    if at is not None:
        wall = max(wall, datetime.fromtimestamp(at, UTC))
    try:
        from temporalio import activity

        if activity.in_activity():
            scheduled = activity.info().current_attempt_scheduled_time
            if scheduled is not None:
                return max(wall, as_utc(scheduled))
    except ImportError:  # pragma: no cover - temporalio is a dependency
        pass
    return wall
