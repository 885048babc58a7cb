"""deliver(): exactly once through the real sendgrid client, a fake SendGrid and a real database."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from leadflow.config import Settings, get_settings, reset_settings
from leadflow.db import create_schema, session_scope
from leadflow.errors import TransientDeliveryError
from leadflow.mail import deliver, outcome_unknown
from leadflow.mail.clock import now_utc
from leadflow.mail.outbox import OutboxSender
from leadflow.mail.ratelimit import TokenBucket
from leadflow.mail.sendgrid_backend import SendGridSender
from leadflow.models import EmailMessage, Event, Lead
from tests.fakes import FakeSendGrid, Reply, running_fake_sendgrid
from tests.helpers import GRANTED

SEND_ID = "journey-1-welcome-1"


@pytest.fixture
def fake_sendgrid() -> Iterator[FakeSendGrid]:
    yield from running_fake_sendgrid()


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("LEADFLOW_PUBLIC_URL", "https://lf.example")
    monkeypatch.setenv("LEADFLOW_SECRET_KEY", "test-secret")
    monkeypatch.setenv("LEADFLOW_EMAIL_FROM", "Leadflow <marketing@example.com>")
    reset_settings()
    yield get_settings()
    reset_settings()


@pytest.fixture
def db_url(tmp_path: Path, settings: Settings) -> str:
    url = f"sqlite:///{tmp_path / 'mail.db'}"
    create_schema(url)
    with session_scope(url) as session:
        at = now_utc()  # explicit: the columns want aware datetimes
        session.add(
            Lead(id="L1", email="ada@example.com", first_name="Ada", created_at=at, updated_at=at,
                 consent=GRANTED)
        )
        session.add(
            EmailMessage(
                send_id=SEND_ID,
                lead_id="L1",
                journey_id="journey-1",
                flow_id="trial",
                version=2,
                step="welcome",
                template="trial-welcome",
                to="ada@example.com",
                subject="Welcome, Ada",
                html='<p>Hi <a href="https://docs.example/start">go</a></p>',
                text="Hi, go to https://docs.example/start",
                created_at=at,
            )
        )
    return url


def _row(db_url: str) -> EmailMessage:
    with session_scope(db_url) as session:
        return session.exec(select(EmailMessage).where(EmailMessage.send_id == SEND_ID)).one()


def _sendgrid(fake: FakeSendGrid, timeout: float = 2.0) -> SendGridSender:
    return SendGridSender(
        Settings.model_validate({"SENDGRID_API_KEY": "SG.k", "sendgrid_host": fake.host}),
        timeout=timeout,
    )


def _record_event(db_url: str, type_: str) -> None:
    with session_scope(db_url) as session:
        at = now_utc()
        session.add(
            Event(lead_id="L1", type=type_, send_id=SEND_ID, occurred_at=at, received_at=at)
        )


def test_outbox_sends_once_with_tracking_and_unsubscribe(db_url: str) -> None:
    assert deliver(SEND_ID, db_url=db_url, sender=OutboxSender()) == "sent"
    assert deliver(SEND_ID, db_url=db_url, sender=OutboxSender()) == "sent"

    row = _row(db_url)
    assert (row.status, row.attempts, row.backend) == ("sent", 1, "outbox")
    assert row.sent_at is not None
    assert row.html is not None
    assert "https://lf.example/t/c/" in row.html and "https://lf.example/t/o/" in row.html
    assert "https://docs.example/start" not in row.html  # every link goes through the redirect


def test_accepted_by_sendgrid_then_retried_sends_once(
    db_url: str, fake_sendgrid: FakeSendGrid
) -> None:
    sender = _sendgrid(fake_sendgrid)
    assert deliver(SEND_ID, db_url=db_url, sender=sender) == "sent"
    assert deliver(SEND_ID, db_url=db_url, sender=sender) == "sent"

    assert fake_sendgrid.calls(SEND_ID) == 1
    row = _row(db_url)
    assert (row.status, row.provider_message_id, row.attempts) == ("sent", "fake-msg-1", 1)
    body = fake_sendgrid.requests[0].body
    assert body["custom_args"]["send_id"] == SEND_ID
    assert body["headers"]["List-Unsubscribe"].startswith("<https://lf.example/u/")
    assert "/t/c/" not in str(body["content"])  # SendGrid tracks clicks itself


def test_retry_after_500_sends_once_more(db_url: str, fake_sendgrid: FakeSendGrid) -> None:
    fake_sendgrid.script(Reply.server_error(500))
    sender = _sendgrid(fake_sendgrid)
    with pytest.raises(TransientDeliveryError) as caught:
        deliver(SEND_ID, db_url=db_url, sender=sender)
    assert not outcome_unknown(caught.value)
    row = _row(db_url)
    assert row.status == "pending" and row.reason is not None and "500" in row.reason

    assert deliver(SEND_ID, db_url=db_url, sender=sender) == "sent"
    assert fake_sendgrid.calls(SEND_ID) == 2
    assert fake_sendgrid.accepted_count(SEND_ID) == 1
    assert _row(db_url).attempts == 2


def test_429_waits_for_the_reset(db_url: str, fake_sendgrid: FakeSendGrid) -> None:
    fake_sendgrid.script(Reply.rate_limited(reset_in=20))
    with pytest.raises(TransientDeliveryError) as caught:
        deliver(SEND_ID, db_url=db_url, sender=_sendgrid(fake_sendgrid))
    assert caught.value.retry_after is not None and caught.value.retry_after >= 15
    assert _row(db_url).status == "pending"


def test_timeout_after_accept_is_reconciled_by_processed_event(
    db_url: str, fake_sendgrid: FakeSendGrid
) -> None:
    fake_sendgrid.script(Reply(202, delay=1.0))
    sender = _sendgrid(fake_sendgrid, timeout=0.2)
    with pytest.raises(TransientDeliveryError) as caught:
        deliver(SEND_ID, db_url=db_url, sender=sender)
    assert outcome_unknown(caught.value)
    assert _row(db_url).status == "sending"

    # Retried at once: no provider event yet, so it waits instead of sending again.
    with pytest.raises(TransientDeliveryError) as waiting:
        deliver(SEND_ID, db_url=db_url, sender=sender)
    assert waiting.value.retry_after is not None and waiting.value.retry_after > 0
    assert fake_sendgrid.calls(SEND_ID) == 1

    _record_event(db_url, "email.processed")  # SendGrid's webhook reports the send
    assert deliver(SEND_ID, db_url=db_url, sender=sender) == "sent"
    assert fake_sendgrid.calls(SEND_ID) == 1
    row = _row(db_url)
    assert row.status == "sent" and row.reason == "confirmed by email.processed"


def test_crash_after_accept_sends_again_only_after_the_window(
    db_url: str, fake_sendgrid: FakeSendGrid
) -> None:
    fake_sendgrid.script(Reply(crash=True))
    sender = _sendgrid(fake_sendgrid)
    with pytest.raises(TransientDeliveryError):
        deliver(SEND_ID, db_url=db_url, sender=sender)
    with pytest.raises(TransientDeliveryError):
        deliver(SEND_ID, db_url=db_url, sender=sender, now=now_utc() + timedelta(minutes=14))
    assert fake_sendgrid.calls(SEND_ID) == 1

    # No provider event in 15 minutes: the mail most likely never left; send again.
    later = now_utc() + timedelta(minutes=16)
    assert deliver(SEND_ID, db_url=db_url, sender=sender, now=later) == "sent"
    assert fake_sendgrid.calls(SEND_ID) == 2
    assert _row(db_url).attempts == 2


def test_400_is_failed_for_good_with_the_reason(db_url: str, fake_sendgrid: FakeSendGrid) -> None:
    fake_sendgrid.script(Reply.bad_request("The to address is invalid"))
    sender = _sendgrid(fake_sendgrid)
    assert deliver(SEND_ID, db_url=db_url, sender=sender) == "failed"
    assert deliver(SEND_ID, db_url=db_url, sender=sender) == "failed"
    row = _row(db_url)
    assert row.status == "failed"
    assert row.reason is not None and "The to address is invalid" in row.reason
    assert fake_sendgrid.calls(SEND_ID) == 1


def test_unsubscribed_lead_is_skipped(db_url: str, fake_sendgrid: FakeSendGrid) -> None:
    with session_scope(db_url) as session:
        lead = session.get(Lead, "L1")
        assert lead is not None
        lead.unsubscribed = True
        session.add(lead)
    assert deliver(SEND_ID, db_url=db_url, sender=_sendgrid(fake_sendgrid)) == "skipped"
    assert _row(db_url).reason == "unsubscribed"
    assert fake_sendgrid.requests == []


def test_concurrent_attempts_send_once(db_url: str, fake_sendgrid: FakeSendGrid) -> None:
    fake_sendgrid.script(Reply(202, delay=0.3))
    sender = _sendgrid(fake_sendgrid)
    outcomes: list[str] = []

    def attempt() -> None:
        try:
            outcomes.append(deliver(SEND_ID, db_url=db_url, sender=sender))
        except TransientDeliveryError:
            outcomes.append("retry later")

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fake_sendgrid.calls(SEND_ID) == 1
    assert outcomes.count("sent") >= 1
    assert _row(db_url).status == "sent"


def test_token_bucket_spaces_sends() -> None:
    bucket = TokenBucket(rate=50, burst=1)
    started = time.monotonic()
    for _ in range(6):
        bucket.acquire()
    assert 0.08 <= time.monotonic() - started < 1.0
