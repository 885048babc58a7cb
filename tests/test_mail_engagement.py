"""Tracking without SendGrid: a mail sent over SMTP, its links followed, events recorded."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from leadflow.config import Settings, get_settings, reset_settings
from leadflow.db import create_schema, session_scope
from leadflow.errors import Forbidden
from leadflow.mail import deliver
from leadflow.mail.clock import now_utc
from leadflow.mail.engagement import record_click, record_open
from leadflow.mail.smtp import SmtpSender
from leadflow.models import EmailMessage, Event, Lead
from tests.fakes.smtp_relay import Relay, running_relay
from tests.helpers import GRANTED

SEND_ID = "journey-7-tips-1"


@pytest.fixture
def relay() -> Iterator[Relay]:
    yield from running_relay()


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("LEADFLOW_PUBLIC_URL", "https://lf.example")
    monkeypatch.setenv("LEADFLOW_SECRET_KEY", "engagement-secret")
    reset_settings()
    yield get_settings()
    reset_settings()


@pytest.fixture
def db_url(tmp_path: Path, settings: Settings) -> str:
    url = f"sqlite:///{tmp_path / 'engagement.db'}"
    create_schema(url)
    at = now_utc()
    with session_scope(url) as session:
        session.add(Lead(id="L7", email="grace@example.com", created_at=at, updated_at=at,
                         consent=GRANTED))
        session.add(
            EmailMessage(
                send_id=SEND_ID,
                lead_id="L7",
                flow_id="trial",
                version=1,
                step="tips",
                to="grace@example.com",
                subject="Tips",
                html='<html><body><a href="https://docs.example/tips">Read</a></body></html>',
                text="Read https://docs.example/tips",
                created_at=at,
            )
        )
    return url


def test_smtp_mail_links_produce_click_and_open_events(
    db_url: str, relay: Relay, settings: Settings
) -> None:
    sender = SmtpSender(settings.model_copy(update={"smtp_port": relay.port}))
    assert deliver(SEND_ID, db_url=db_url, sender=sender) == "sent"
    assert deliver(SEND_ID, db_url=db_url, sender=sender) == "sent"
    assert len(relay.messages) == 1

    message = email.message_from_bytes(relay.messages[0][1], policy=email.policy.default)
    assert message["List-Unsubscribe"].startswith("<https://lf.example/u/")
    html_part = message.get_body(("html",))
    assert html_part is not None
    html = html_part.get_content()
    [click] = re.findall(r'href="https://lf\.example/t/c/([^"]+)"', html)
    [pixel] = re.findall(r'src="https://lf\.example/t/o/([^"]+)"', html)

    with session_scope(db_url) as session:
        target, clicked = record_click(session, click)
        opened = record_open(session, pixel)
    assert target == "https://docs.example/tips"
    assert clicked is not None and opened is not None

    with session_scope(db_url) as session:
        events = session.exec(select(Event).order_by(Event.type)).all()
        assert [(e.type, e.lead_id, e.send_id) for e in events] == [
            ("email.clicked", "L7", SEND_ID),
            ("email.opened", "L7", SEND_ID),
        ]
        assert events[0].properties["url"] == "https://docs.example/tips"
        assert events[0].properties["step"] == "tips"
        # The row keeps the mail exactly as sent, tracked links included.
        row = session.exec(select(EmailMessage)).one()
        assert click in (row.html or "")


def test_forged_click_link_is_refused(db_url: str) -> None:
    with session_scope(db_url) as session, pytest.raises(Forbidden):
        record_click(
            session, "eyJzIjoieCIsInUiOiJodHRwczovL2V2aWwuZXhhbXBsZSJ9.AAAAAAAAAAAAAAAAAAAAAA"
        )
