"""The dispatch seam at the route level: work that only arms a score timer still reaches Temporal.

A click, an open or a capture whose only consequence is a lead's temperature timer (no
journey to start, none to signal) used to run the dispatch without a Temporal client: the
tracking routes swallowed the failure and left the event undispatched, capture answered 500.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlmodel import select
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from leadflow.db import session_scope
from leadflow.mail.tracking import click_url, open_pixel_url
from leadflow.models import EmailMessage, Event, Lead
from leadflow.temporal import score_workflow_id
from leadflow.usecases.capture import submission_limiter
from tests.fakes.api_client import app_client
from tests.helpers import make_lead, set_scoring_model

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Points that make a lead warm at once and cool down by decay: every lead gets a timer.
WARMING: dict[str, Any] = {
    "fit": [],
    "behavior": {"email.opened": 30, "email.clicked": 30, "form.submitted": 30},
    "decay": {"half_life": "P30D"},
    "temperature": {"hot": 90, "warm": 25},
    "mql_at": 90,
}


def _mail(db_url: str, lead_id: str) -> str:
    with session_scope(db_url) as session:
        session.add(EmailMessage(send_id=f"manual.{lead_id}", lead_id=lead_id, status="sent"))
    return f"manual.{lead_id}"


def _events(db_url: str, lead_id: str, type_: str) -> list[Event]:
    with session_scope(db_url) as session:
        return list(session.exec(select(Event).where(Event.lead_id == lead_id,
                                                     Event.type == type_)).all())


async def _timer_armed(env: WorkflowEnvironment, lead_id: str) -> None:
    """The lead's score timer workflow exists (delivery may finish just after the answer)."""
    for _ in range(100):
        try:
            await env.client.get_workflow_handle(score_workflow_id(lead_id)).describe()
            return
        except RPCError:
            await asyncio.sleep(0.1)
    raise AssertionError(f"no score timer for lead {lead_id}")


@pytest.mark.parametrize("kind", ["click", "open"])
async def test_tracking_that_only_arms_a_score_timer_is_dispatched(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    set_scoring_model(db_url, WARMING)
    lead_id = make_lead(db_url, "clicker@example.com")
    send_id = _mail(db_url, lead_id)
    async with app_client(time_env.client, db_url, task_queue, monkeypatch) as http:
        if kind == "click":
            url = click_url(send_id, "https://example.com/pricing")
        else:
            url = open_pixel_url(send_id)
        r = await http.get(urlsplit(url).path)
        assert r.status_code == (302 if kind == "click" else 200)
        [event] = _events(db_url, lead_id, f"email.{'clicked' if kind == 'click' else 'opened'}")
        assert event.dispatched, "the event was left undispatched"
        await _timer_armed(time_env, lead_id)


async def test_capture_that_only_arms_a_score_timer_answers_202(
        time_env: WorkflowEnvironment, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    set_scoring_model(db_url, WARMING)
    submission_limiter.reset()
    async with app_client(time_env.client, db_url, task_queue, monkeypatch) as http:
        r = await http.post("/api/capture/trial-signup",
                            json={"email": "warm@example.com", "consent": True})
        assert r.status_code == 202, r.text
    with session_scope(db_url) as session:
        lead = session.exec(select(Lead).where(Lead.email == "warm@example.com")).one()
    assert all(e.dispatched for e in _events(db_url, lead.id, "form.submitted"))
    await _timer_armed(time_env, lead.id)
