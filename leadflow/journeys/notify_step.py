"""The ``notify`` step: render its message for the lead and send it on its channel."""

from __future__ import annotations

import html
from typing import Any

from sqlmodel import select

from leadflow.channels import post_slack, post_webhook
from leadflow.db import session_scope
from leadflow.journeys.actions import StepInput, record_trail
from leadflow.journeys.flows import load_version_document
from leadflow.leads.records import add_timeline, lead_view
from leadflow.models import EmailMessage, Lead
from leadflow.rendering import build_context, render_string

__all__ = ["record_notify_failed", "run_notify_step"]


def run_notify_step(db_url: str, inp: StepInput) -> dict[str, Any]:
    doc = load_version_document(db_url, inp.flow_id, inp.version)
    step = doc["steps"][inp.step]
    notify_id = f"notify.{inp.journey_id}.{inp.step}.{inp.visit}"
    with session_scope(db_url) as session:
        record_trail(session, inp)
        lead = session.get(Lead, inp.lead_id)
        view = lead_view(lead) if lead else {"id": inp.lead_id}
        message = render_string(step["message"], build_context(view, flow={
            "id": doc["id"], "name": doc.get("name")}))
        if step["channel"] == "email":
            exists = session.exec(select(EmailMessage.id).where(
                EmailMessage.send_id == notify_id)).first()
            if exists is None:
                session.add(EmailMessage(
                    send_id=notify_id, lead_id=inp.lead_id, journey_id=inp.journey_id,
                    flow_id=inp.flow_id, version=inp.version, step=inp.step, to=step["to"],
                    template="notify", subject=f"[Leadflow] {doc.get('name', doc['id'])}",
                    text=message, html=f"<p>{html.escape(message)}</p>", status="pending",
                    internal=True))
        add_timeline(session, inp.lead_id, "notify", "notify.sent", flow_id=inp.flow_id,
                     step=inp.step, channel=step["channel"])
    if step["channel"] == "email":
        from leadflow.mail.delivery import deliver

        deliver(notify_id, db_url=db_url)
    elif step["channel"] == "slack":
        post_slack(step["to"], message)
    else:
        post_webhook(step["to"], {"type": "leadflow.notify", "lead_id": inp.lead_id,
                                  "flow_id": inp.flow_id, "step": inp.step, "message": message},
                     event_id=notify_id)
    return {"channel": step["channel"]}


def record_notify_failed(db_url: str, inp: StepInput, code: str) -> None:
    """The notification could not go out (``code``): say so on the lead's timeline."""
    doc = load_version_document(db_url, inp.flow_id, inp.version)
    channel = (doc["steps"].get(inp.step or "") or {}).get("channel")
    with session_scope(db_url) as session:
        add_timeline(session, inp.lead_id, "notify", "notify.failed", flow_id=inp.flow_id,
                     step=inp.step, channel=channel, reason=code)
