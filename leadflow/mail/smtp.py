"""The ``smtp`` backend: the user's own relay through :mod:`smtplib`, STARTTLS and auth by setting.

Errors before the message is submitted (connect, STARTTLS, login, a 4xx reply) leave nothing
accepted and are retried; 5xx replies refuse the message for good; a connection lost while the
message is being submitted leaves the outcome unknown.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage as MimeMessage
from email.utils import formatdate

from leadflow.config import Settings, get_settings
from leadflow.errors import ProviderRefused, TransientDeliveryError
from leadflow.mail.base import OutgoingEmail, SendReceipt

__all__ = ["SmtpSender", "build_mime"]

DEFAULT_TIMEOUT = 10.0


def build_mime(mail: OutgoingEmail) -> MimeMessage:
    """The MIME message for ``mail``: text and HTML alternatives plus ``mail.headers``.

    ``Message-ID`` derives from the send id, so a relay or mailbox that de-duplicates by it
    sees a resend as the same message.
    """
    message = MimeMessage()
    message["From"] = mail.from_addr
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = mail.from_addr.rsplit("@", 1)[-1].strip(" >") or "leadflow.invalid"
    message["Message-ID"] = f"<{mail.send_id}@{domain}>"
    message["X-Leadflow-Send-Id"] = mail.send_id
    for name, value in mail.headers.items():
        message[name] = value
    message.set_content(mail.text or "")
    if mail.html:
        message.add_alternative(mail.html, subtype="html")
    return message


class SmtpSender:
    """Sends through an SMTP relay configured by ``LEADFLOW_SMTP_*``."""

    name = "smtp"

    def __init__(self, settings: Settings | None = None, *, timeout: float | None = None) -> None:
        settings = settings or get_settings()
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.username = settings.smtp_username
        self._password = settings.smtp_password
        self.starttls = settings.smtp_starttls
        self.timeout = timeout or float(
            getattr(settings, "email_timeout_seconds", DEFAULT_TIMEOUT) or DEFAULT_TIMEOUT
        )

    def send(self, mail: OutgoingEmail) -> SendReceipt:
        """Submit ``mail`` to the relay; see the module docstring for the outcomes."""
        mime = build_mime(mail)
        try:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except (OSError, smtplib.SMTPException) as err:
            raise TransientDeliveryError(f"SMTP relay unreachable: {err}") from None
        try:
            self._open_session(client)
            self._submit(client, mime, mail.to)
        finally:
            # The message is in (or refused) by now; a failing QUIT must not change that.
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
        return SendReceipt(provider_message_id=mime["Message-ID"])

    def _submit(self, client: smtplib.SMTP, mime: MimeMessage, to: str) -> None:
        try:
            client.send_message(mime, to_addrs=[to])
        except smtplib.SMTPRecipientsRefused as err:
            codes = [code for code, _ in err.recipients.values()]
            detail = "; ".join(f"{c} {m!r}" for c, m in err.recipients.values())
            raise self._reply_error(min(codes, default=550), detail) from None
        except smtplib.SMTPResponseException as err:
            raise self._reply_error(err.smtp_code, err.smtp_error) from None
        except (smtplib.SMTPServerDisconnected, OSError) as err:
            raise TransientDeliveryError(
                f"SMTP connection lost while submitting: {err}", outcome_unknown=True
            ) from None

    def _open_session(self, client: smtplib.SMTP) -> None:
        try:
            client.ehlo()
            if self.starttls:
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if self.username:
                password = self._password.get_secret_value() if self._password else ""
                client.login(self.username, password)
        except smtplib.SMTPAuthenticationError as err:
            raise ProviderRefused(f"SMTP login refused: {err.smtp_code} {err.smtp_error!r}")
        except smtplib.SMTPResponseException as err:
            raise self._reply_error(err.smtp_code, err.smtp_error) from None
        except (smtplib.SMTPException, OSError) as err:
            raise TransientDeliveryError(f"SMTP session failed: {err}") from None

    @staticmethod
    def _reply_error(code: int, text: object) -> Exception:
        detail = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        if 400 <= code < 500:
            return TransientDeliveryError(f"SMTP {code}: {detail}", status=code)
        return ProviderRefused(f"SMTP {code}: {detail}", status=code)
