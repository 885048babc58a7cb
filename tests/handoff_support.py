"""Shared set-up for the handoff tests: a sales team, a flow with a handoff step, queries."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select
from temporalio.testing import WorkflowEnvironment

from leadflow.db import session_scope
from leadflow.models import EmailMessage, Handoff, HandoffAssignment, TimelineEntry
from leadflow.sales.admin import save_rep, save_team

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
OFFICE = {"timezone": "UTC", "days": WEEKDAYS, "from": "09:00", "to": "17:00"}

HANDOFF_FLOW: dict[str, Any] = {
    "id": "to-sales",
    "name": "To sales",
    "start": "route",
    "steps": {
        "route": {"type": "handoff", "team": "inside", "sla": "PT4H", "next": "won",
                  "on_rejected": "nurture"},
        "won": {"type": "update", "add_tags": ["sales-accepted"], "next": "end"},
        "nurture": {"type": "update", "add_tags": ["back-to-nurture"], "next": "end"},
        "end": {"type": "exit"},
    },
}


def seed_team(db_url: str, reps: list[dict[str, Any]], *, team: str = "inside",
              calendar: dict[str, Any] | None = None, routing: Any = "round_robin") -> None:
    """Create ``reps`` (id, email, name...) and a team of them (the manager is not a member
    when a rep says ``"member": False``)."""
    with session_scope(db_url) as session:
        for rep in reps:
            save_rep(session, {k: v for k, v in rep.items() if k != "member"}, create=True)
        save_team(session, {"id": team, "name": team.title(),
                            "members": [r["id"] for r in reps if r.get("member", True)],
                            "routing": routing, "calendar": OFFICE if calendar is None
                            else calendar}, create=True)


def rep(rep_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": rep_id, "email": f"{rep_id}@sales.example.com", "name": rep_id.title(),
            **extra}


def handoffs(db_url: str) -> list[Handoff]:
    with session_scope(db_url) as session:
        return list(session.exec(select(Handoff).order_by(col(Handoff.created_at))).all())


def the_handoff(db_url: str) -> Handoff | None:
    rows = handoffs(db_url)
    return rows[0] if rows else None


def assignments(db_url: str, hid: str) -> list[HandoffAssignment]:
    with session_scope(db_url) as session:
        return list(session.exec(select(HandoffAssignment).where(
            HandoffAssignment.handoff_id == hid).order_by(col(HandoffAssignment.id))).all())


def mails_to(db_url: str, address: str) -> list[EmailMessage]:
    with session_scope(db_url) as session:
        return list(session.exec(select(EmailMessage).where(
            EmailMessage.to == address, EmailMessage.status == "sent")).all())


def timeline_types(db_url: str, lead_id: str) -> list[str]:
    with session_scope(db_url) as session:
        return [t.type for t in session.exec(select(TimelineEntry).where(
            TimelineEntry.lead_id == lead_id).order_by(col(TimelineEntry.id))).all()]


async def skip_to(env: WorkflowEnvironment, weekday: int, hour: int, minute: int = 0) -> datetime:
    """Advance the test server's clock to the next ``weekday`` (0 = Monday) at ``hour:minute``
    UTC, at least a minute ahead; returns that instant."""
    now = await env.get_current_time()
    target = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    target += timedelta(days=(weekday - now.weekday()) % 7)
    while target <= now + timedelta(minutes=1):
        target += timedelta(days=7)
    await env.sleep(target - now)
    return target


async def sleep_until(env: WorkflowEnvironment, moment: datetime) -> None:
    now = await env.get_current_time()
    if moment > now:
        await env.sleep(moment - now)
