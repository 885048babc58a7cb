"""Send windows and frequency caps: pure rules, then whole journeys on the time-skipping server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select
from temporalio.testing import WorkflowEnvironment

from leadflow.config import get_settings, reset_settings
from leadflow.db import session_scope
from leadflow.mail.policy import country_timezone, lead_zone, window_opens_at
from leadflow.models import EmailMessage, TimelineEntry
from tests.helpers import (
    at_step,
    enrol_lead,
    eventually,
    make_lead,
    publish_flow,
    running_worker,
    sent_mails,
)

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00"}


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)


# ------------------------------------------------------------------ the rules alone


def test_inside_the_window_sends_now() -> None:
    assert window_opens_at(WEEKDAYS, BERLIN, berlin(2025, 3, 26, 10, 0)) is None


def test_saturday_waits_for_monday_morning_local_time() -> None:
    opens = window_opens_at(WEEKDAYS, BERLIN, berlin(2025, 3, 29, 12, 0))
    assert opens == berlin(2025, 3, 31, 9, 0)
    # Berlin moved to summer time on Sunday 30 March: 09:00 local is 07:00 UTC, not 08:00.
    assert opens == datetime(2025, 3, 31, 7, 0, tzinfo=UTC)


def test_autumn_dst_change_keeps_local_nine() -> None:
    opens = window_opens_at(WEEKDAYS, BERLIN, berlin(2025, 10, 25, 12, 0))
    assert opens == datetime(2025, 10, 27, 8, 0, tzinfo=UTC)


def test_after_hours_waits_for_next_day_and_overnight_windows_work() -> None:
    assert window_opens_at(WEEKDAYS, BERLIN, berlin(2025, 3, 26, 17, 0)) == berlin(2025, 3, 27, 9, 0)
    night = {"days": ["mon"], "from": "22:00", "to": "02:00"}
    assert window_opens_at(night, BERLIN, berlin(2025, 3, 25, 1, 0)) is None  # Monday's night
    assert window_opens_at(night, BERLIN, berlin(2025, 3, 25, 3, 0)) == berlin(2025, 3, 31, 22, 0)


def test_zone_comes_from_window_then_lead_then_country_then_default(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADFLOW_DEFAULT_TIMEZONE", "Asia/Tokyo")
    reset_settings()
    settings = get_settings()
    lead = {"timezone": "America/Chicago", "country": "DE"}
    assert lead_zone(lead, {"timezone": "Europe/Paris"}, settings).key == "Europe/Paris"
    assert lead_zone(lead, {}, settings).key == "America/Chicago"
    assert lead_zone({"country": "de"}, None, settings).key == "Europe/Berlin"
    assert lead_zone({"country": "US"}, None, settings).key == "America/New_York"
    assert lead_zone({"country": "ZZ"}, None, settings).key == "Asia/Tokyo"
    assert country_timezone("RU") == "Europe/Moscow" and country_timezone("JP") == "Asia/Tokyo"


# ------------------------------------------------------------------ journeys

session_loop = pytest.mark.asyncio(loop_scope="session")


def _flow(flow_id: str, window: dict[str, Any] | None, templates: list[str]) -> dict[str, Any]:
    steps: dict[str, Any] = {}
    for i, name in enumerate(templates):
        nxt = f"m{i + 1}" if i + 1 < len(templates) else "end"
        steps[f"m{i}"] = {"type": "email", "template": name, "next": nxt}
    steps["end"] = {"type": "exit"}
    doc: dict[str, Any] = {"id": flow_id, "name": flow_id, "start": "m0", "steps": steps}
    if window:
        doc["send_window"] = window
    return doc


async def _advance_to(env: WorkflowEnvironment, moment: datetime) -> None:
    now = await env.get_current_time()
    if moment > now:
        await env.sleep(moment - now)


def _next_weekday(after: datetime, weekday: int, hour: int) -> datetime:
    local = after.astimezone(BERLIN)
    day = local.date() + timedelta(days=(weekday - local.weekday()) % 7 or 7)
    return datetime(day.year, day.month, day.day, hour, tzinfo=BERLIN).astimezone(UTC)


@session_loop
async def test_lead_enrolled_saturday_gets_the_mail_monday_nine_berlin(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str) -> None:
    window = {**WEEKDAYS, "timezone": "Europe/Berlin"}
    publish_flow(db_url, _flow("weekday-mail", window, ["trial-welcome"]))
    lead_id = make_lead(db_url, email="sam@example.com", timezone="America/Los_Angeles")
    saturday = _next_weekday(await time_env.get_current_time(), 5, 12)
    await _advance_to(time_env, saturday)
    async with running_worker(time_env.client, db_url, task_queue):
        jid = await enrol_lead(time_env.client, db_url, "weekday-mail", lead_id)
        await at_step(db_url, jid, "m0")

        entries = await eventually(lambda: _postponements(db_url, lead_id),
                                   what="the send postponed and recorded on the timeline")
        monday = _next_weekday(saturday, 0, 9)
        assert entries[0].data["retry_at"] == monday.isoformat()
        assert entries[0].data["reason"] == "send window"
        assert sent_mails(db_url, lead_id) == []
        await _advance_to(time_env, monday - timedelta(minutes=5))
        assert sent_mails(db_url, lead_id) == [], "not a minute before the window opens"
        await _advance_to(time_env, monday + timedelta(minutes=1))
        [mail] = await eventually(lambda: sent_mails(db_url, lead_id), what="the Monday mail")
    assert mail.sent_at is not None
    sent = mail.sent_at.astimezone(BERLIN)
    assert (sent.weekday(), sent.hour) == (0, 9)


def _postponements(db_url: str, lead_id: str) -> list[TimelineEntry]:
    with session_scope(db_url) as session:
        return list(session.exec(select(TimelineEntry).where(
            TimelineEntry.lead_id == lead_id, TimelineEntry.type == "email.postponed")).all())


@session_loop
async def test_frequency_cap_spans_flows_and_postpones(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADFLOW_FREQUENCY_CAP", "3")
    monkeypatch.setenv("LEADFLOW_FREQUENCY_CAP_DAYS", "7")
    reset_settings()
    publish_flow(db_url, _flow("flow-a", None, ["trial-welcome", "trial-tips"]))
    publish_flow(db_url, _flow("flow-b", None, ["case-study", "demo-invite"]))
    lead_id = make_lead(db_url, email="cap@example.com")
    async with running_worker(time_env.client, db_url, task_queue):
        start = await time_env.get_current_time()
        ja = await enrol_lead(time_env.client, db_url, "flow-a", lead_id)
        await at_step(db_url, ja, "end")
        jb = await enrol_lead(time_env.client, db_url, "flow-b", lead_id)
        [entry] = await eventually(lambda: _postponements(db_url, lead_id),
                                   what="the fourth mail postponed")
        assert entry.data["reason"] == "frequency cap"
        assert len(sent_mails(db_url, lead_id)) == 3
        first_sent = sent_mails(db_url, lead_id)[0].sent_at
        assert first_sent is not None
        retry_at = datetime.fromisoformat(entry.data["retry_at"])
        assert retry_at == first_sent + timedelta(days=7)
        await _advance_to(time_env, start + timedelta(days=6))
        assert len(sent_mails(db_url, lead_id)) == 3
        await _advance_to(time_env, retry_at + timedelta(minutes=1))
        mails = await eventually(lambda: (m if len(m := sent_mails(db_url, lead_id)) == 4 else None),
                                 what="the fourth mail after the cap frees up")
        await at_step(db_url, jb, "end")
    assert [m.template for m in mails] == ["trial-welcome", "trial-tips", "case-study",
                                           "demo-invite"]
    with session_scope(db_url) as session:
        statuses = session.exec(select(EmailMessage.status).where(
            EmailMessage.lead_id == lead_id).order_by(col(EmailMessage.id))).all()
    assert statuses == ["sent"] * 4, "postponed, never dropped"
