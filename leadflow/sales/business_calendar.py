"""Business calendars: when a sales team works, and SLA arithmetic in its working time.

A team calendar is the JSON document of the HTTP API::

    {"timezone": "Europe/Berlin", "days": ["mon", "tue", "wed", "thu", "fri"],
     "from": "09:00", "to": "17:00", "holidays": ["2026-12-25"]}

Every key is optional; a missing key takes its round-the-clock default (UTC, all seven days,
``00:00``–``24:00``, no holidays), so the empty calendar ``{}`` of a new team is round the clock.

What counts as business time (the choice the SLA maths rests on):

* An instant is *open* when, on the team's wall clock, its local date is a working day that is
  not a holiday and its local time of day is in ``[from, to)``. Holidays are whole local dates.
* Business time is **real elapsed time** spent in open instants. On the day clocks spring
  forward, a ``00:00``–``24:00`` day lasts 23 hours and a ``01:00``–``05:00`` window 3 hours,
  because the skipped wall-clock hour never happens; when clocks fall back, a window spanning
  the repeated hour lives through it twice. Counting real time keeps a round-the-clock calendar
  equal to plain addition and makes ``is_open`` agree with the arithmetic instant by instant.
  (Real teams start work after the 02:00/03:00 switches, so a 09:00–17:00 day is 8 hours
  whatever the season.)
* A duration such as ``PT4H`` or ``P1D`` is an amount of business time: ``P1D`` is 24 business
  hours, i.e. three 8-hour working days.

All functions accept aware datetimes; a naive datetime is read as UTC, the convention of the
database models. Results are aware UTC datetimes, exact to the microsecond.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "DEFAULT_REMINDER_FRACTIONS",
    "DEFAULT_REMINDER_LEADS",
    "VALID_DAYS",
    "BusinessCalendar",
    "SlaStatus",
    "as_utc",
    "calendar_problems",
    "parse_hhmm",
]

VALID_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
SlaStatus = Literal["on_time", "due_soon", "breached", "met"]

#: A "due soon" reminder fires when 75 % of the SLA's business time has elapsed ...
DEFAULT_REMINDER_FRACTIONS: tuple[float, ...] = (0.75,)
#: ... and when 30 business minutes remain.
DEFAULT_REMINDER_LEADS: tuple[timedelta, ...] = (timedelta(minutes=30),)

_HHMM = re.compile(r"^(\d\d):(\d\d)$")
_KEYS = ("timezone", "days", "from", "to", "holidays")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DATE = date(1970, 1, 1)
_US = 1_000_000  # microseconds per second: all arithmetic below is in integer microseconds
_DAY = 86_400 * _US
_MINUTE = 60 * _US
# No search looks further than this for open time, so a calendar whose every working day is a
# holiday fails loudly instead of looping for ever.
_HORIZON = 366 * 10 * _DAY


def parse_hhmm(text: str) -> int:
    """Minutes after midnight of ``"HH:MM"`` (``"24:00"`` is 1440, the end of the day).

    Raises:
        ValueError: when ``text`` is not a time of day written ``HH:MM``.
    """
    match = _HHMM.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a time of day written HH:MM, such as 09:00")
    hours, minutes = int(match[1]), int(match[2])
    if (hours, minutes) != (24, 0) and (hours > 23 or minutes > 59):
        raise ValueError(f"{text!r} is not a time of day; use 00:00 to 23:59, or 24:00 as an end")
    return hours * 60 + minutes


def as_utc(t: datetime) -> datetime:
    """``t`` as an aware UTC datetime; a naive ``t`` is taken to be UTC already."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _to_us(t: datetime) -> int:
    return (as_utc(t) - _EPOCH) // timedelta(microseconds=1)


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _td_us(d: timedelta) -> int:
    return d // timedelta(microseconds=1)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def calendar_problems(doc: Any, path: str = "calendar") -> list[dict[str, str]]:
    """Every problem with a team calendar document, each as ``{"path", "message"}``.

    Args:
        doc: the JSON value to check.
        path: where it sits in its document (``calendar``); problems name sub-paths of it.
    """
    if not isinstance(doc, Mapping):
        return [{"path": path, "message": "A calendar must be an object such as "
                 '{"timezone": "Europe/Berlin", "days": ["mon", "tue"], '
                 '"from": "09:00", "to": "17:00"}.'}]
    problems: list[dict[str, str]] = []

    def problem(key: str, message: str) -> None:
        problems.append({"path": _join(path, key), "message": message})

    for key in sorted(set(doc) - set(_KEYS)):
        problem(str(key), f"Unknown calendar key {key!r}; a calendar has "
                f"{', '.join(_KEYS)}.")
    if "timezone" in doc:
        tz = doc["timezone"]
        try:
            if not isinstance(tz, str) or not tz:
                raise ZoneInfoNotFoundError
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            problem("timezone", f"{tz!r} is not a time zone; use a name such as Europe/Berlin "
                    "or America/New_York.")
    if "days" in doc:
        days = doc["days"]
        if not isinstance(days, list) or not days:
            problem("days", "days must list the working days, such as "
                    '["mon", "tue", "wed", "thu", "fri"].')
        else:
            seen: set[str] = set()
            for i, day in enumerate(days):
                if day not in VALID_DAYS:
                    problem(f"days[{i}]", f"{day!r} is not a day; use {', '.join(VALID_DAYS)}.")
                elif day in seen:
                    problem(f"days[{i}]", f"{day!r} is listed twice.")
                else:
                    seen.add(day)
    bounds: dict[str, int] = {}
    for key in ("from", "to"):
        if key in doc:
            try:
                bounds[key] = parse_hhmm(doc[key])
            except ValueError as exc:
                problem(key, f"{exc}.")
    if ("from" in doc) != ("to" in doc):
        given, missing = ("from", "to") if "from" in doc else ("to", "from")
        problem(missing, f"Give {missing!r} as well as {given!r}: working hours need both ends.")
    if bounds.get("from") == 24 * 60:
        problem("from", "Working hours cannot start at 24:00; the day starts at 00:00.")
    elif "from" in bounds and "to" in bounds and bounds["from"] >= bounds["to"]:
        problem("to", f"Working hours must end after they start; {doc['to']} is not after "
                f"{doc['from']}. Hours past midnight are not supported.")
    if "holidays" in doc:
        holidays = doc["holidays"]
        if not isinstance(holidays, list):
            problem("holidays", 'holidays must be a list of dates such as ["2026-12-25"].')
        else:
            for i, day in enumerate(holidays):
                try:
                    if not isinstance(day, str) or len(day) != 10:
                        raise ValueError
                    date.fromisoformat(day)
                except ValueError:
                    problem(f"holidays[{i}]", f"{day!r} is not a date written YYYY-MM-DD.")
    return problems


@dataclass(frozen=True)
class BusinessCalendar:
    """When a team works, and arithmetic in that working time (see the module docstring).

    Attributes:
        timezone: IANA zone name whose wall clock the hours are read on.
        days: working weekdays, 0 = Monday ... 6 = Sunday.
        open_from: start of the working day, minutes after local midnight.
        open_to: end of the working day, minutes after local midnight (1440 = 24:00).
        holidays: local dates on which nobody works.
    """

    timezone: str = "UTC"
    days: frozenset[int] = frozenset(range(7))
    open_from: int = 0
    open_to: int = 24 * 60
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.days or not 0 <= self.open_from < self.open_to <= 24 * 60:
            raise ValueError("a calendar needs working days and hours that end after they start")

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any] | None) -> BusinessCalendar:
        """Build a calendar from its JSON document (``None`` or ``{}``: round the clock, UTC).

        Raises:
            leadflow.errors.Invalid: with the problems :func:`calendar_problems` finds.
        """
        doc = doc or {}
        problems = calendar_problems(doc, "calendar")
        if problems:
            from leadflow.errors import Invalid

            raise Invalid("The calendar is not valid.", problems)
        return cls(
            timezone=doc.get("timezone", "UTC"),
            days=frozenset(VALID_DAYS.index(d) for d in doc.get("days", VALID_DAYS)),
            open_from=parse_hhmm(doc.get("from", "00:00")),
            open_to=parse_hhmm(doc.get("to", "24:00")),
            holidays=frozenset(date.fromisoformat(d) for d in doc.get("holidays", [])),
        )

    def to_doc(self) -> dict[str, Any]:
        """The JSON document of this calendar (inverse of :meth:`from_doc`)."""
        return {
            "timezone": self.timezone,
            "days": [d for i, d in enumerate(VALID_DAYS) if i in self.days],
            "from": f"{self.open_from // 60:02d}:{self.open_from % 60:02d}",
            "to": f"{self.open_to // 60:02d}:{self.open_to % 60:02d}",
            "holidays": sorted(d.isoformat() for d in self.holidays),
        }

    @property
    def zone(self) -> ZoneInfo:
        """The team's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def round_the_clock(self) -> bool:
        """Whether every instant is working time (business time is then plain time)."""
        return len(self.days) == 7 and self.open_to - self.open_from == 24 * 60 \
            and not self.holidays

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` (a local date) is a working day and not a holiday."""
        return day.weekday() in self.days and day not in self.holidays

    # ------------------------------------------------------------------ queries

    def is_open(self, t: datetime) -> bool:
        """Whether the team is working at instant ``t``."""
        local = as_utc(t).astimezone(self.zone)
        minute_of_day = local.hour * 60 + local.minute
        # [from, to) on whole minutes is the same as on microseconds, since both ends are minutes.
        return self.is_working_day(local.date()) and self.open_from <= minute_of_day < self.open_to

    def next_open(self, t: datetime) -> datetime:
        """``t`` itself if the team is working then, else the instant work next starts."""
        start = _to_us(t)
        for a, _ in self._intervals_after(start):
            return _from_us(max(a, start))
        raise AssertionError("unreachable: _intervals_after raises when it finds nothing")

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """The first instant at which ``duration`` of business time has passed since ``start``.

        This is the SLA deadline. A deadline that falls on the end of a working day stays
        there (Friday 13:00 + 4h is Friday 17:00, not Monday 09:00). A negative duration counts
        backwards, as :meth:`subtract_business_time`.
        """
        if duration < timedelta(0):
            return self.subtract_business_time(start, -duration)
        begin, remaining = _to_us(start), _td_us(duration)
        if remaining == 0:
            return _from_us(begin)
        for a, b in self._intervals_after(begin):
            a = max(a, begin)
            if b - a >= remaining:
                return _from_us(a + remaining)
            remaining -= b - a
        raise AssertionError("unreachable")

    def subtract_business_time(self, end: datetime, duration: timedelta) -> datetime:
        """The last instant from which ``duration`` of business time runs until ``end``.

        Used for "due soon" reminders: 30 business minutes before a Monday 09:30 deadline is
        Monday 09:00, when the rep is back at work, not Friday 17:00.
        """
        if duration < timedelta(0):
            return self.add_business_time(end, -duration)
        finish, remaining = _to_us(end), _td_us(duration)
        if remaining == 0:
            return _from_us(finish)
        for a, b in self._intervals_before(finish):
            b = min(b, finish)
            if b - a >= remaining:
                return _from_us(b - remaining)
            remaining -= b - a
        raise AssertionError("unreachable")

    def business_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Business time from ``a`` to ``b``; negative when ``b`` is before ``a``.

        ``business_time_between(s, add_business_time(s, d)) == d`` for every ``d >= 0``.
        """
        start, end = _to_us(a), _to_us(b)
        if end < start:
            return -self.business_time_between(b, a)
        total = 0
        if start < end:
            for x, y in self._intervals_after(start, limit=end):
                if x >= end:
                    break
                total += min(y, end) - max(x, start)
        return timedelta(microseconds=total)

    def reminder_times(
        self,
        start: datetime,
        due: datetime,
        *,
        fractions: Sequence[float] = DEFAULT_REMINDER_FRACTIONS,
        leads: Sequence[timedelta] = DEFAULT_REMINDER_LEADS,
    ) -> list[datetime]:
        """When "due soon" reminders fire for an SLA running from ``start`` to ``due``.

        Args:
            start: when the SLA clock started.
            due: the deadline (``add_business_time(start, sla)``).
            fractions: remind when this share of the SLA's business time has elapsed.
            leads: remind when this much business time is left.

        Returns:
            Distinct instants strictly between ``start`` and ``due``, earliest first; a
            reminder that would fall at or before the start (a lead longer than the SLA) is
            dropped.
        """
        sla = self.business_time_between(start, due)
        times = {self.add_business_time(start, sla * f) for f in fractions if 0 < f < 1}
        times |= {self.subtract_business_time(due, lead) for lead in leads if lead > timedelta(0)}
        low, high = as_utc(start), as_utc(due)
        return sorted(t for t in times if low < t < high)

    def sla_status(
        self,
        start: datetime,
        due: datetime,
        now: datetime,
        met_at: datetime | None = None,
        *,
        fractions: Sequence[float] = DEFAULT_REMINDER_FRACTIONS,
        leads: Sequence[timedelta] = DEFAULT_REMINDER_LEADS,
    ) -> SlaStatus:
        """The SLA status the handoff list shows.

        ``met`` when first touch came by the deadline; ``breached`` when it came late or has
        not come and the deadline has passed; ``due_soon`` from the first reminder on (see
        :meth:`reminder_times`); ``on_time`` before that.
        """
        due_utc = as_utc(due)
        if met_at is not None:
            return "met" if as_utc(met_at) <= due_utc else "breached"
        now_utc = as_utc(now)
        if now_utc >= due_utc:
            return "breached"
        reminders = self.reminder_times(start, due, fractions=fractions, leads=leads)
        if reminders and now_utc >= reminders[0]:
            return "due_soon"
        return "on_time"

    # ------------------------------------------------------------------ open intervals

    def _intervals_after(self, start: int, limit: int | None = None) -> Iterator[tuple[int, int]]:
        """Open intervals ``[a, b)`` (UTC microseconds) with ``b > start``, earliest first.

        Intervals are cut at local midnights and offset changes, so neighbours may touch.
        Stops once past ``limit`` if given.

        Raises:
            ValueError: when the calendar has no working time for ten years (all holidays).
        """
        last_open = start
        for lo, hi, offset in _offset_runs(self.zone, start, +1):
            if limit is not None and lo >= limit:
                return
            if lo - last_open > _HORIZON:
                raise ValueError("this calendar has no working time in the next ten years")
            for a, b in self._open_within(lo, hi, offset):
                last_open = b
                if b > start:
                    yield a, b

    def _intervals_before(self, end: int) -> Iterator[tuple[int, int]]:
        """Open intervals ``[a, b)`` with ``a < end``, latest first."""
        last_open = end
        for lo, hi, offset in _offset_runs(self.zone, end, -1):
            if last_open - hi > _HORIZON:
                raise ValueError("this calendar has no working time in the past ten years")
            for a, b in reversed(self._open_within(lo, hi, offset)):
                last_open = a
                if a < end:
                    yield a, b

    def _open_within(self, lo: int, hi: int, offset: int) -> list[tuple[int, int]]:
        """Open intervals inside ``[lo, hi)``, a stretch where the UTC offset is constant.

        With a constant offset local time is UTC shifted, so each local day's window maps to
        one UTC interval; clipping to the stretch handles gaps and repeated hours exactly.
        """
        out: list[tuple[int, int]] = []
        first_day, last_day = (lo + offset) // _DAY, (hi - 1 + offset) // _DAY
        for day_number in range(first_day, last_day + 1):
            if not self.is_working_day(_EPOCH_DATE + timedelta(days=day_number)):
                continue
            midnight = day_number * _DAY - offset
            a = max(lo, midnight + self.open_from * _MINUTE)
            b = min(hi, midnight + self.open_to * _MINUTE)
            if a < b:
                out.append((a, b))
        return out


def _offset_at(zone: ZoneInfo, us: int) -> int:
    offset = _from_us(us).astimezone(zone).utcoffset()
    assert offset is not None
    return _td_us(offset)


def _offset_runs(zone: ZoneInfo, origin: int, direction: int) -> Iterator[tuple[int, int, int]]:
    """Stretches ``(lo, hi, offset)`` of at most a day with a constant UTC offset.

    Walks forwards from ``origin`` (``direction=+1``, first stretch starts at ``origin``) or
    backwards (``-1``, first stretch ends at ``origin``). An offset change is located to the
    second by bisection; zones never change offset twice within a day, which daily probing
    relies on.
    """
    edge = origin
    offset = _offset_at(zone, edge if direction > 0 else edge - 1)
    while True:
        probe = edge + direction * _DAY
        probe_offset = _offset_at(zone, probe if direction > 0 else probe - 1)
        if probe_offset == offset:
            nxt = probe
        else:
            # Bisect on whole seconds for the first instant (going forwards) with the new offset.
            near, far = sorted((edge, probe))
            lo_s, hi_s = -(-near // _US), far // _US  # ceil, floor
            old_side_is_low = direction > 0
            while lo_s < hi_s:
                mid = (lo_s + hi_s) // 2
                same = _offset_at(zone, mid * _US) == (offset if old_side_is_low else probe_offset)
                if same:
                    lo_s = mid + 1
                else:
                    hi_s = mid
            nxt = lo_s * _US
        yield (edge, nxt, offset) if direction > 0 else (nxt, edge, offset)
        edge = nxt
        offset = _offset_at(zone, edge if direction > 0 else edge - 1)

