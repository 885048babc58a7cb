"""E-mail: backends (outbox, SMTP, SendGrid), exactly-once delivery, webhooks and tracking.

``get_sender()`` picks the backend named by ``LEADFLOW_EMAIL_BACKEND``; ``deliver(send_id)``
sends one EmailMessage row exactly once; ``webhook`` ingests SendGrid's Event Webhook;
``tracking`` signs click, open and unsubscribe links.
"""

from __future__ import annotations

from leadflow.config import Settings, get_settings
from leadflow.mail.base import EmailSender, OutgoingEmail, SendReceipt, outcome_unknown
from leadflow.mail.delivery import deliver
from leadflow.mail.outbox import OutboxSender

__all__ = [
    "EmailSender",
    "OutboxSender",
    "OutgoingEmail",
    "SendReceipt",
    "deliver",
    "get_sender",
    "outcome_unknown",
]


def get_sender(settings: Settings | None = None) -> EmailSender:
    """The sender for ``settings.email_backend`` (``outbox``, ``smtp`` or ``sendgrid``)."""
    settings = settings or get_settings()
    backend = settings.email_backend
    if backend == "outbox":
        return OutboxSender()
    if backend == "smtp":
        from leadflow.mail.smtp import SmtpSender

        return SmtpSender(settings)
    if backend == "sendgrid":
        from leadflow.mail.sendgrid_backend import SendGridSender

        return SendGridSender(settings)
    raise ValueError(f"unknown e-mail backend {backend!r}")
