"""The SMTP backend against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator

import pytest

from leadflow.config import Settings
from leadflow.errors import ProviderRefused, TransientDeliveryError
from leadflow.mail import OutgoingEmail, get_sender, outcome_unknown
from leadflow.mail.smtp import SmtpSender
from tests.fakes.smtp_relay import Relay, free_port, running_relay


@pytest.fixture
def relay() -> Iterator[Relay]:
    yield from running_relay()


def _mail() -> OutgoingEmail:
    return OutgoingEmail(
        send_id="j1-welcome-1",
        to="ada@example.com",
        from_addr="Leadflow <marketing@example.com>",
        subject="Welcome, Ada",
        html="<p>Hello <b>Ada</b></p>",
        text="Hello Ada",
        headers={
            "List-Unsubscribe": "<https://lf.example/u/tok>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


def _sender(port: int) -> SmtpSender:
    sender = get_sender(Settings(email_backend="smtp", smtp_host="127.0.0.1", smtp_port=port))
    assert isinstance(sender, SmtpSender)
    return sender


def test_mail_arrives_with_both_parts_and_unsubscribe_headers(relay: Relay) -> None:
    receipt = _sender(relay.port).send(_mail())

    [(recipients, raw)] = relay.messages
    assert recipients == ["ada@example.com"]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == "Welcome, Ada"
    assert message["List-Unsubscribe"] == "<https://lf.example/u/tok>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"] == "<j1-welcome-1@example.com>" == receipt.provider_message_id
    plain, rich = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and rich is not None
    assert plain.get_content().strip() == "Hello Ada"
    assert "<b>Ada</b>" in rich.get_content()


def test_permanent_refusal_is_provider_refused(relay: Relay) -> None:
    relay.refuse = "550 5.1.1 No such user"
    with pytest.raises(ProviderRefused, match="No such user"):
        _sender(relay.port).send(_mail())
    assert relay.messages == []


def test_temporary_refusal_is_transient_and_known_not_sent(relay: Relay) -> None:
    relay.refuse = "451 4.7.1 Greylisted, try later"
    with pytest.raises(TransientDeliveryError) as caught:
        _sender(relay.port).send(_mail())
    assert not outcome_unknown(caught.value)


def test_unreachable_relay_is_transient_and_known_not_sent() -> None:
    with pytest.raises(TransientDeliveryError) as caught:
        _sender(free_port()).send(_mail())
    assert not outcome_unknown(caught.value)
