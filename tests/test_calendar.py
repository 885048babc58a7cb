"""Business calendars: SLA deadlines in team working time, checked against a brute-force clock.

The reference below walks UTC minute by minute and asks the team's wall clock whether each
minute is working time; every boundary in the generated calendars (window ends, DST switches,
midnights) falls on a whole minute, so the minute walk is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadflow.errors import Invalid
from leadflow.sales.business_calendar import (
    VALID_DAYS,
    BusinessCalendar,
    calendar_problems,
    parse_hhmm,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
OFFICE_BERLIN = {"timezone": "Europe/Berlin", "days": WEEKDAYS, "from": "09:00", "to": "17:00",
                 "holidays": ["2026-12-25"]}
H = timedelta(hours=1)
M = timedelta(minutes=1)


def office(**changes: Any) -> BusinessCalendar:
    return BusinessCalendar.from_doc({**OFFICE_BERLIN, **changes})


# ---------------------------------------------------------------- brute-force reference

# Zones with DST in spring and autumn on different dates (EU, US, Lord Howe's half-hour shift),
# and ones without.
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "America/Los_Angeles",
         "Australia/Lord_Howe", "Asia/Kolkata"]
# Fortnights that contain those zones' 2026 DST switches, plus a quiet one.
ANCHORS = [datetime(2026, 3, 3, tzinfo=UTC), datetime(2026, 3, 24, tzinfo=UTC),
           datetime(2026, 3, 31, tzinfo=UTC), datetime(2026, 9, 29, tzinfo=UTC),
           datetime(2026, 10, 20, tzinfo=UTC), datetime(2026, 10, 27, tzinfo=UTC),
           datetime(2026, 6, 9, tzinfo=UTC)]
SPAN = 14 * 24 * 60  # minutes of reference timeline


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


@dataclass
class Reference:
    """Which minutes of a fortnight are working time, by asking the wall clock each minute."""

    base: datetime
    open: list[bool]
    prefix: list[int]  # prefix[i] = open minutes in [0, i)

    @classmethod
    def build(cls, doc: dict[str, Any], base: datetime) -> Reference:
        zone = ZoneInfo(doc["timezone"])
        start, end = _minutes(doc["from"]), _minutes(doc["to"])
        opened = []
        for i in range(SPAN):
            local = (base + timedelta(minutes=i)).astimezone(zone)
            opened.append(VALID_DAYS[local.weekday()] in doc["days"]
                          and local.date().isoformat() not in doc["holidays"]
                          and start <= local.hour * 60 + local.minute < end)
        return cls(base, opened, [0, *accumulate(opened)])

    def at(self, minute: int) -> datetime:
        return self.base + timedelta(minutes=minute)

    def add(self, start: int, minutes: int) -> int | None:
        """Minute index of the deadline, or None when beyond the fortnight."""
        if minutes == 0:
            return start
        for i in range(start, SPAN):
            if self.open[i]:
                minutes -= 1
                if minutes == 0:
                    return i + 1
        return None

    def subtract(self, end: int, minutes: int) -> int | None:
        if minutes == 0:
            return end
        for i in range(end - 1, -1, -1):
            if self.open[i]:
                minutes -= 1
                if minutes == 0:
                    return i
        return None


@st.composite
def calendar_docs(draw: st.DrawFn) -> dict[str, Any]:
    days = draw(st.lists(st.sampled_from(VALID_DAYS), min_size=1, max_size=7, unique=True))
    # Favour windows whose ends sit on DST switch hours (02:00, 03:00), midnight and 24:00.
    start = draw(st.one_of(st.sampled_from([0, 60, 120, 150, 180, 540]),
                           st.integers(0, 24 * 60 - 1)))
    end = draw(st.one_of(st.sampled_from([24 * 60, start + 1, start + 60, start + 120]),
                         st.integers(start + 1, 24 * 60)).filter(lambda e: start < e <= 1440))
    holidays = draw(st.lists(st.dates(date(2026, 3, 1), date(2026, 11, 12)), max_size=4))
    return {"timezone": draw(st.sampled_from(ZONES)), "days": days,
            "from": f"{start // 60:02d}:{start % 60:02d}",
            "to": f"{end // 60:02d}:{end % 60:02d}",
            "holidays": [d.isoformat() for d in holidays]}


PROPERTY = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(doc=calendar_docs(), base=st.sampled_from(ANCHORS), data=st.data())
def test_calendar_arithmetic_matches_the_minute_by_minute_clock(
    doc: dict[str, Any], base: datetime, data: st.DataObject
) -> None:
    cal = BusinessCalendar.from_doc(doc)
    ref = Reference.build(doc, base)
    for _ in range(8):
        start = data.draw(st.integers(0, SPAN // 2), label="start minute")
        seconds = data.draw(st.sampled_from([0, 1, 30, 59]), label="second")
        t = ref.at(start) + timedelta(seconds=seconds)
        assert cal.is_open(t) == ref.open[start], t

        first_open = next((i for i in range(start, SPAN) if ref.open[i]), None)
        if first_open is not None:
            expected = t if first_open == start else ref.at(first_open)
            assert cal.next_open(t) == expected

        available = ref.prefix[SPAN] - ref.prefix[start]
        minutes = data.draw(st.integers(0, min(available, 3000)), label="duration minutes")
        deadline = ref.add(start, minutes)
        assert deadline is not None
        assert cal.add_business_time(ref.at(start), minutes * M) == ref.at(deadline)

        end = data.draw(st.integers(0, SPAN), label="end minute")
        lo, hi = sorted((start, end))
        between = (ref.prefix[hi] - ref.prefix[lo]) * M
        assert cal.business_time_between(ref.at(lo), ref.at(hi)) == between
        assert cal.business_time_between(ref.at(hi), ref.at(lo)) == -between

        back = data.draw(st.integers(0, min(ref.prefix[end], 3000)), label="minutes back")
        earlier = ref.subtract(end, back)
        assert earlier is not None
        assert cal.subtract_business_time(ref.at(end), back * M) == ref.at(earlier)


@PROPERTY
@given(doc=calendar_docs(), start=st.datetimes(datetime(2025, 1, 1), datetime(2028, 1, 1),
                                                timezones=st.just(UTC)),
       micros=st.integers(0, 30 * 24 * 3600 * 10**6))
def test_business_time_between_is_the_inverse_of_add(
    doc: dict[str, Any], start: datetime, micros: int
) -> None:
    cal = BusinessCalendar.from_doc(doc)
    duration = timedelta(microseconds=micros)
    due = cal.add_business_time(start, duration)
    assert cal.business_time_between(start, due) == duration
    # The deadline is the first instant with that much work done, so it is never in a pause:
    # it is open time or the end of a working window.
    assert due == start or cal.is_open(due - timedelta(microseconds=1))
    assert cal.subtract_business_time(due, duration) >= start
    assert cal.business_time_between(cal.subtract_business_time(due, duration), due) == duration


@PROPERTY
@given(start=st.datetimes(datetime(2025, 1, 1), datetime(2028, 1, 1), timezones=st.just(UTC)),
       micros=st.integers(0, 400 * 24 * 3600 * 10**6), zone=st.sampled_from(ZONES))
def test_round_the_clock_is_plain_addition(start: datetime, micros: int, zone: str) -> None:
    cal = BusinessCalendar.from_doc({"timezone": zone, "days": VALID_DAYS,
                                     "from": "00:00", "to": "24:00"})
    assert cal.round_the_clock
    duration = timedelta(microseconds=micros)
    assert cal.add_business_time(start, duration) == start + duration
    assert cal.business_time_between(start, start + duration) == duration
    assert cal.subtract_business_time(start, duration) == start - duration


# ---------------------------------------------------------------- named cases


def test_friday_afternoon_plus_four_hours_lands_monday_midday() -> None:
    due = office().add_business_time(datetime(2026, 6, 12, 16, 30, tzinfo=BERLIN), 4 * H)
    assert due == datetime(2026, 6, 15, 12, 30, tzinfo=BERLIN)


def test_a_deadline_at_closing_time_stays_on_that_day() -> None:
    due = office().add_business_time(datetime(2026, 6, 12, 13, 0, tzinfo=BERLIN), 4 * H)
    assert due == datetime(2026, 6, 12, 17, 0, tzinfo=BERLIN)


def test_a_handoff_on_saturday_starts_counting_on_monday_morning() -> None:
    cal = office()
    saturday = datetime(2026, 6, 13, 11, 15, tzinfo=BERLIN)
    assert not cal.is_open(saturday)
    assert cal.next_open(saturday) == datetime(2026, 6, 15, 9, 0, tzinfo=BERLIN)
    assert cal.add_business_time(saturday, 4 * H) == datetime(2026, 6, 15, 13, 0, tzinfo=BERLIN)


def test_a_holiday_in_the_middle_is_skipped() -> None:
    # Thursday 24 December 2026 15:00 + 4h: two hours on Thursday, Friday 25th is a holiday,
    # the weekend is closed, so the rest runs on Monday 28th.
    due = office().add_business_time(datetime(2026, 12, 24, 15, 0, tzinfo=BERLIN), 4 * H)
    assert due == datetime(2026, 12, 28, 11, 0, tzinfo=BERLIN)
    assert office(holidays=[]).add_business_time(
        datetime(2026, 12, 24, 15, 0, tzinfo=BERLIN), 4 * H
    ) == datetime(2026, 12, 25, 11, 0, tzinfo=BERLIN)


def test_office_hours_across_the_berlin_spring_switch_are_eight_hours_a_day() -> None:
    # Clocks jump 02:00 -> 03:00 on Sunday 29 March 2026; Friday 16:00 + 2h is Monday 10:00
    # local, one hour less UTC offset than on Friday.
    due = office().add_business_time(datetime(2026, 3, 27, 16, 0, tzinfo=BERLIN), 2 * H)
    assert due == datetime(2026, 3, 30, 10, 0, tzinfo=BERLIN)
    assert due == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)


def test_round_the_clock_on_the_berlin_switch_days_counts_real_hours() -> None:
    cal = BusinessCalendar.from_doc({"timezone": "Europe/Berlin", "days": VALID_DAYS,
                                     "from": "00:00", "to": "24:00"})
    spring = datetime(2026, 3, 29, tzinfo=BERLIN), datetime(2026, 3, 30, tzinfo=BERLIN)
    autumn = datetime(2026, 10, 25, tzinfo=BERLIN), datetime(2026, 10, 26, tzinfo=BERLIN)
    assert cal.business_time_between(*spring) == 23 * H
    assert cal.business_time_between(*autumn) == 25 * H


def test_a_window_around_the_switch_counts_the_hours_the_clock_really_shows() -> None:
    night = BusinessCalendar.from_doc({"timezone": "Europe/Berlin", "days": ["sun"],
                                       "from": "01:00", "to": "05:00"})
    # 02:00-03:00 never happens on 29 March, and 02:00-03:00 happens twice on 25 October.
    assert night.business_time_between(datetime(2026, 3, 29, tzinfo=BERLIN),
                                       datetime(2026, 3, 30, tzinfo=BERLIN)) == 3 * H
    assert night.business_time_between(datetime(2026, 10, 25, tzinfo=BERLIN),
                                       datetime(2026, 10, 26, tzinfo=BERLIN)) == 5 * H
    assert night.add_business_time(datetime(2026, 3, 29, 1, 30, tzinfo=BERLIN), H) \
        == datetime(2026, 3, 29, 3, 30, tzinfo=BERLIN)


def test_new_york_spring_and_autumn_switches() -> None:
    cal = BusinessCalendar.from_doc({"timezone": "America/New_York", "days": WEEKDAYS,
                                     "from": "09:00", "to": "17:00"})
    # US clocks spring forward on 8 March 2026 and fall back on 1 November 2026.
    friday = datetime(2026, 3, 6, 15, 0, tzinfo=NEW_YORK)
    due = cal.add_business_time(friday, 4 * H)
    assert due == datetime(2026, 3, 9, 11, 0, tzinfo=NEW_YORK)
    assert due - friday == timedelta(days=2, hours=19)  # 68h wall, 67h real
    assert cal.add_business_time(datetime(2026, 10, 30, 15, 0, tzinfo=NEW_YORK), 4 * H) \
        == datetime(2026, 11, 2, 11, 0, tzinfo=NEW_YORK)


def test_a_rep_three_zones_east_sees_the_team_deadline_on_their_own_clock() -> None:
    team = BusinessCalendar.from_doc({"timezone": "America/Los_Angeles", "days": WEEKDAYS,
                                      "from": "09:00", "to": "17:00"})
    # 16:00 in New York is 13:00 in Los Angeles: four team hours left that day, not one.
    start = datetime(2026, 6, 10, 16, 0, tzinfo=NEW_YORK)
    due = team.add_business_time(start, 6 * H)
    assert due == datetime(2026, 6, 11, 11, 0, tzinfo=LOS_ANGELES)
    assert due.astimezone(NEW_YORK) == datetime(2026, 6, 11, 14, 0, tzinfo=NEW_YORK)
    assert not team.is_open(datetime(2026, 6, 11, 10, 0, tzinfo=NEW_YORK))  # 07:00 in LA


def test_due_soon_reminders_fire_at_three_quarters_and_half_an_hour_before() -> None:
    cal = office()
    start = datetime(2026, 6, 12, 16, 30, tzinfo=BERLIN)  # Friday
    due = cal.add_business_time(start, 4 * H)  # Monday 12:30
    assert cal.reminder_times(start, due) == [
        datetime(2026, 6, 15, 11, 30, tzinfo=BERLIN),  # 3h of 4h worked
        datetime(2026, 6, 15, 12, 0, tzinfo=BERLIN),
    ]
    # Half an hour before a Monday 09:30 deadline is Monday 09:00, not Friday evening.
    monday = datetime(2026, 6, 15, 9, 30, tzinfo=BERLIN)
    assert cal.subtract_business_time(monday, 30 * M) == datetime(2026, 6, 15, 9, 0, tzinfo=BERLIN)
    # A reminder that would fall before the SLA started is dropped.
    short_due = cal.add_business_time(start, 20 * M)
    assert cal.reminder_times(start, short_due) == [start + 15 * M]


def test_sla_status_through_a_handoffs_life() -> None:
    cal = office()
    start = datetime(2026, 6, 12, 16, 30, tzinfo=BERLIN)
    due = datetime(2026, 6, 15, 12, 30, tzinfo=BERLIN)
    saturday = datetime(2026, 6, 13, 12, 0, tzinfo=BERLIN)
    assert cal.sla_status(start, due, now=saturday) == "on_time"
    assert cal.sla_status(start, due, now=datetime(2026, 6, 15, 11, 29, tzinfo=BERLIN)) \
        == "on_time"
    assert cal.sla_status(start, due, now=datetime(2026, 6, 15, 11, 30, tzinfo=BERLIN)) \
        == "due_soon"
    assert cal.sla_status(start, due, now=due) == "breached"
    assert cal.sla_status(start, due, now=due + H, met_at=saturday) == "met"
    assert cal.sla_status(start, due, now=due + H, met_at=due) == "met"
    assert cal.sla_status(start, due, now=due + H, met_at=due + M) == "breached"


def test_naive_datetimes_are_read_as_utc_like_the_database_stores_them() -> None:
    cal = office()
    naive = datetime(2026, 6, 12, 14, 30)  # 16:30 in Berlin
    assert cal.add_business_time(naive, 4 * H) == datetime(2026, 6, 15, 12, 30, tzinfo=BERLIN)


def test_an_empty_calendar_is_round_the_clock_in_utc() -> None:
    cal = BusinessCalendar.from_doc({})
    assert cal.round_the_clock and cal.timezone == "UTC"
    assert BusinessCalendar.from_doc(None) == cal


def test_documents_round_trip() -> None:
    assert office().to_doc() == OFFICE_BERLIN
    assert BusinessCalendar.from_doc(office().to_doc()) == office()


def test_24_00_ends_the_day() -> None:
    late = BusinessCalendar.from_doc({"timezone": "UTC", "days": ["mon"],
                                      "from": "20:00", "to": "24:00"})
    monday = datetime(2026, 6, 15, tzinfo=UTC)
    assert late.is_open(monday + 23 * H + 59 * M + timedelta(seconds=59))
    assert not late.is_open(monday + 24 * H)
    assert late.add_business_time(monday + 22 * H, 2 * H) == monday + 24 * H
    assert late.add_business_time(monday + 22 * H, 3 * H) == monday + 7 * 24 * H + 21 * H


def test_a_calendar_with_only_holidays_ahead_fails_loudly() -> None:
    # Monday-only hours with eleven years of Mondays off: no deadline can ever be reached.
    mondays = frozenset(date(2026, 1, 5) + timedelta(weeks=w) for w in range(52 * 11))
    closed = BusinessCalendar(timezone="UTC", days=frozenset({0}), open_from=540, open_to=600,
                              holidays=mondays)
    with pytest.raises(ValueError, match="no working time"):
        closed.add_business_time(datetime(2026, 1, 1, tzinfo=UTC), H)


# ---------------------------------------------------------------- validation


def test_parse_hhmm() -> None:
    assert parse_hhmm("09:00") == 540
    assert parse_hhmm("24:00") == 1440
    assert parse_hhmm("23:59") == 1439
    for bad in ["9:00", "24:01", "12:60", "25:00", "noon", ""]:
        with pytest.raises(ValueError):
            parse_hhmm(bad)


def test_calendar_problems_name_each_mistake_and_where_it_is() -> None:
    problems = calendar_problems({
        "timezone": "Mars/Olympus", "days": ["mon", "funday", "mon"], "from": "17:00",
        "to": "09:00", "holidays": ["25.12.2026"], "lunch": "12:00",
    }, "calendar")
    by_path = {p["path"]: p["message"] for p in problems}
    assert set(by_path) == {"calendar.timezone", "calendar.days[1]", "calendar.days[2]",
                            "calendar.to", "calendar.holidays[0]", "calendar.lunch"}
    assert "Europe/Berlin" in by_path["calendar.timezone"]
    assert "funday" in by_path["calendar.days[1]"]
    assert "twice" in by_path["calendar.days[2]"]
    assert "end after they start" in by_path["calendar.to"]
    assert "YYYY-MM-DD" in by_path["calendar.holidays[0]"]
    assert calendar_problems(OFFICE_BERLIN, "calendar") == []
    assert calendar_problems({"from": "09:00"}, "teams[0].calendar") == [
        {"path": "teams[0].calendar.to",
         "message": "Give 'to' as well as 'from': working hours need both ends."}]
    assert calendar_problems("9 to 5", "calendar")[0]["path"] == "calendar"
    assert calendar_problems({"days": []}, "")[0]["path"] == "days"


def test_from_doc_refuses_an_invalid_calendar_with_its_problems() -> None:
    with pytest.raises(Invalid) as caught:
        BusinessCalendar.from_doc({"timezone": "Nowhere", "from": "24:00", "to": "24:00"})
    assert {p["path"] for p in caught.value.problems} == {"calendar.timezone", "calendar.from"}
