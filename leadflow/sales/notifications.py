"""Telling a rep (or their manager, or a CRM) about a handoff: e-mail, Slack, signed webhook.

Each call sends on one channel, so the workflow can run channels as separate activities whose
failures are retried on their own and never hold up the SLA clock. The e-mail goes through the
mail layer (an ``EmailMessage`` row keyed by ``key`` + :func:`leadflow.mail.deliver`), so a
retried activity never mails twice.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, select

from leadflow.config import get_settings
from leadflow.db import session_scope
from leadflow.models import EmailMessage, Handoff, Lead, Rep, utcnow
from leadflow.sales.business_calendar import as_utc

__all__ = ["NotifyInput", "due_in_words", "handoff_message", "send_notification"]

SUBJECTS = {
    "assigned": "New hot lead for you: {name}",
    "reminder": "Reminder: {name} is waiting for your first touch",
    "breach": "SLA breached: {name} was not contacted in time",
    "escalated": "Escalated to you: {name}",
    "withdrawn": "No longer yours: {name} left the flow, nothing to do",
}


@dataclass
class NotifyInput:
    """Notify ``rep_id`` about ``handoff_id`` on ``channel``; ``key`` makes it idempotent."""

    handoff_id: str
    kind: str
    rep_id: str | None
    channel: str
    key: str


def _lead_name(lead: Lead | None) -> str:
    if lead is None:
        return "a lead"
    name = " ".join(p for p in (lead.first_name, lead.last_name) if p) or lead.email or lead.id
    return f"{name} ({lead.company})" if lead.company else name


def _label(item: dict[str, Any]) -> str:
    # Breakdown entries come from the scoring model: fit rules carry a name, behaviour an event.
    return str(item.get("name") or item.get("rule") or item.get("event_type") or item.get("kind")
               or "score")


def due_in_words(due: datetime, now: datetime, zone: str | None) -> str:
    """``"Thu 3 Dec, 14:00 (Europe/Berlin), in 2 h 10 min"``: a deadline as a rep reads it."""
    try:
        tz = ZoneInfo(zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        tz, zone = ZoneInfo("UTC"), "UTC"
    due, now = as_utc(due), as_utc(now)
    local = due.astimezone(tz)
    minutes = round(abs((due - now).total_seconds()) / 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "",
             f"{mins} min" if mins and not days else ""]
    span = " ".join(p for p in parts if p) or "less than a minute"
    when = f"{local.strftime('%a')} {local.day} {local.strftime('%b, %H:%M')} ({zone or 'UTC'})"
    return f"{when}, {'in ' + span if due >= now else span + ' ago'}"


def handoff_message(session: Session, h: Handoff, kind: str, zone: str | None = None) -> dict[str, Any]:
    """The summary every channel carries: who the lead is and why it is hot.

    ``zone`` is the reader's time zone (the rep's), in which the SLA deadline is written.
    """
    lead = session.get(Lead, h.lead_id)
    breakdown = list(lead.score_breakdown or []) if lead else []
    name = _lead_name(lead)
    subject = SUBJECTS.get(kind, "Handoff update: {name}").format(name=name)
    why = [f"{_label(item)}: {item.get('points', item.get('points_now', ''))} points"
           for item in breakdown if isinstance(item, dict)]
    link = f"{get_settings().public_url.rstrip('/')}/leads/{h.lead_id}"
    lines = [subject, "",
             f"Score {lead.score if lead else '?'} ({lead.temperature if lead else '?'})",
             *(f"- {w}" for w in why),
             "SLA due: " + (due_in_words(h.sla_due_at, utcnow(), zone) if h.sla_due_at else "no SLA"),
             f"Why you: {h.assignment_reason or ''}", link]
    return {"subject": subject, "text": "\n".join(lines), "name": name, "link": link,
            "score": lead.score if lead else None,
            "temperature": lead.temperature if lead else None,
            "score_breakdown": breakdown}


def _html(text: str) -> str:
    return "".join(f"<p>{html.escape(line)}</p>" for line in text.splitlines() if line)


def send_notification(db_url: str, inp: NotifyInput) -> str:
    """Send one notification; returns the outcome (``sent``, ``skipped``, mail status...).

    Raises:
        TransientDeliveryError: when the channel could not be reached (the caller retries).
    """
    with session_scope(db_url) as session:
        h = session.get(Handoff, inp.handoff_id)
        rep = session.get(Rep, inp.rep_id) if inp.rep_id else None
        if h is None:
            return "skipped"
        message = handoff_message(session, h, inp.kind, rep.timezone if rep else None)
        if inp.channel == "email":
            if rep is None:
                return "skipped"
            exists = session.exec(select(EmailMessage.id).where(
                EmailMessage.send_id == inp.key)).first()
            if exists is None:
                # No lead_id on the row: this mail goes to a colleague, and the lead's
                # unsubscribe must not silence it.
                session.add(EmailMessage(
                    send_id=inp.key, to=rep.email, template=f"handoff-{inp.kind}",
                    subject=message["subject"], text=message["text"],
                    html=_html(message["text"]), status="pending", internal=True))
        slack_url = rep.slack_webhook if rep else None
        payload = {"type": f"handoff.{inp.kind}", "handoff_id": h.id, "lead_id": h.lead_id,
                   "rep_id": inp.rep_id, "team": h.team, "status": h.status,
                   "sla_due_at": h.sla_due_at.isoformat() if h.sla_due_at else None,
                   "assignment_reason": h.assignment_reason,
                   "lead": {k: message[k] for k in ("score", "temperature", "score_breakdown")}}
    if inp.channel == "email":
        from leadflow.mail import deliver

        return deliver(inp.key, db_url=db_url)
    if inp.channel == "slack":
        if not slack_url:
            return "skipped"
        from leadflow.channels import post_slack

        post_slack(slack_url, message["text"])
        return "sent"
    if inp.channel == "webhook":
        url = get_settings().handoff_webhook_url
        if not url:
            return "skipped"
        from leadflow.channels import post_webhook

        post_webhook(url, payload, event_id=inp.key)
        return "sent"
    return "skipped"
