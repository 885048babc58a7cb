"""The real sendgrid client against a local server playing SendGrid: one test per answer kind."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from leadflow.config import Settings
from leadflow.errors import ProviderRefused, TransientDeliveryError
from leadflow.mail import OutgoingEmail, get_sender, outcome_unknown
from leadflow.mail.sendgrid_backend import SendGridSender
from tests.fakes import FakeSendGrid, Reply, running_fake_sendgrid


@pytest.fixture
def fake_sendgrid() -> Iterator[FakeSendGrid]:
    yield from running_fake_sendgrid()


def _settings(host: str, **extra: object) -> Settings:
    values = {"SENDGRID_API_KEY": "SG.test-key", "sendgrid_host": host, "email_backend": "sendgrid"}
    return Settings.model_validate({**values, **extra})


def _mail(send_id: str = "j1-welcome-1") -> OutgoingEmail:
    return OutgoingEmail(
        send_id=send_id,
        to="ada@example.com",
        from_addr="Leadflow <marketing@example.com>",
        subject="Welcome",
        html="<p>Hello</p>",
        text="Hello",
        headers={
            "List-Unsubscribe": "<https://leadflow.example/u/tok>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        categories=["leadflow", "trial-nurture"],
        custom_args={
            "send_id": send_id,
            "lead_id": "L1",
            "flow_id": "trial-nurture",
            "version": "3",
            "step": "welcome",
        },
        asm_group_id=42,
    )


def test_accepted_mail_carries_ids_headers_and_categories(fake_sendgrid: FakeSendGrid) -> None:
    sender = get_sender(_settings(fake_sendgrid.host))
    assert isinstance(sender, SendGridSender)

    receipt = sender.send(_mail())

    assert receipt.provider_message_id == "fake-msg-1"
    [request] = fake_sendgrid.requests
    body = request.body
    assert request.headers["Authorization"] == "Bearer SG.test-key"
    assert body["from"] == {"email": "marketing@example.com", "name": "Leadflow"}
    assert body["personalizations"][0]["to"] == [{"email": "ada@example.com"}]
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert body["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert body["headers"]["List-Unsubscribe"] == "<https://leadflow.example/u/tok>"
    assert sorted(body["categories"]) == ["leadflow", "trial-nurture"]
    assert body["custom_args"] == {
        "send_id": "j1-welcome-1",
        "lead_id": "L1",
        "flow_id": "trial-nurture",
        "version": "3",
        "step": "welcome",
    }
    # No personal data in what comes back in every event.
    assert "ada@example.com" not in str(body["custom_args"])
    assert body["asm"] == {"group_id": 42}
    assert "mail_settings" not in body


def test_sandbox_mode_by_setting(fake_sendgrid: FakeSendGrid) -> None:
    SendGridSender(_settings(fake_sendgrid.host, sendgrid_sandbox=True)).send(_mail())
    assert fake_sendgrid.requests[0].body["mail_settings"] == {"sandbox_mode": {"enable": True}}


def test_429_is_transient_with_the_reset_time(fake_sendgrid: FakeSendGrid) -> None:
    fake_sendgrid.script(Reply.rate_limited(reset_in=40))
    with pytest.raises(TransientDeliveryError) as caught:
        SendGridSender(_settings(fake_sendgrid.host)).send(_mail())
    assert caught.value.retry_after is not None
    assert 35 <= caught.value.retry_after <= 41
    assert not outcome_unknown(caught.value)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_transient_and_known_not_sent(fake_sendgrid: FakeSendGrid, status: int) -> None:
    fake_sendgrid.script(Reply.server_error(status))
    with pytest.raises(TransientDeliveryError) as caught:
        SendGridSender(_settings(fake_sendgrid.host)).send(_mail())
    assert str(status) in caught.value.detail
    assert not outcome_unknown(caught.value)


def test_400_is_refused_with_sendgrids_error_text(fake_sendgrid: FakeSendGrid) -> None:
    fake_sendgrid.script(Reply.bad_request("The from address does not match a verified Sender"))
    with pytest.raises(ProviderRefused) as caught:
        SendGridSender(_settings(fake_sendgrid.host)).send(_mail())
    assert "does not match a verified Sender" in caught.value.detail
    assert caught.value.extra["status"] == 400


def test_slow_answer_times_out_with_unknown_outcome(fake_sendgrid: FakeSendGrid) -> None:
    fake_sendgrid.script(Reply(202, delay=1.5))
    started = time.monotonic()
    with pytest.raises(TransientDeliveryError) as caught:
        SendGridSender(_settings(fake_sendgrid.host), timeout=0.3).send(_mail())
    assert time.monotonic() - started < 1.4
    assert outcome_unknown(caught.value)
    assert fake_sendgrid.accepted_count("j1-welcome-1") == 1


def test_crash_after_accept_has_unknown_outcome(fake_sendgrid: FakeSendGrid) -> None:
    fake_sendgrid.script(Reply(crash=True))
    with pytest.raises(TransientDeliveryError) as caught:
        SendGridSender(_settings(fake_sendgrid.host)).send(_mail())
    assert outcome_unknown(caught.value)


def test_unreachable_server_is_known_not_sent() -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TransientDeliveryError) as caught:
        SendGridSender(_settings(f"http://127.0.0.1:{port}")).send(_mail())
    assert not outcome_unknown(caught.value)
