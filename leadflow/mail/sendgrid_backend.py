"""The ``sendgrid`` backend: SendGrid's v3 Mail Send through the official ``sendgrid`` client.

How answers map to outcomes:

* 2xx: accepted; the receipt carries ``X-Message-Id`` (absent in sandbox mode).
* 429: ``TransientDeliveryError`` with ``retry_after`` from ``X-RateLimit-Reset`` (epoch seconds).
* 5xx, refused connection, DNS failure: ``TransientDeliveryError``; nothing was accepted.
* other 4xx: ``ProviderRefused`` with SendGrid's own error text.
* a timeout or a dropped connection once the request was written: ``TransientDeliveryError``
  with ``outcome_unknown=True``; SendGrid may have accepted it (it has no idempotency key).
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
from email.utils import parseaddr
from typing import Any

from python_http_client import exceptions as http_errors  # type: ignore[import-untyped]
from sendgrid import SendGridAPIClient  # type: ignore[import-untyped]
from sendgrid.helpers.mail import (  # type: ignore[import-untyped]
    Asm,
    Category,
    CustomArg,
    From,
    GroupId,
    Header,
    Mail,
    MailSettings,
    SandBoxMode,
    To,
)

from leadflow.config import Settings, get_settings
from leadflow.errors import ProviderRefused, TransientDeliveryError
from leadflow.mail.base import OutgoingEmail, SendReceipt

__all__ = ["SendGridSender", "build_mail"]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0


def build_mail(mail: OutgoingEmail, *, sandbox: bool = False) -> Mail:
    """The SendGrid ``Mail`` for ``mail`` (From/To, both parts, headers, categories, args, asm)."""
    from_name, from_email = parseaddr(mail.from_addr)
    message = Mail(
        from_email=From(from_email or mail.from_addr, from_name or None),
        to_emails=To(mail.to),
        subject=mail.subject,
        plain_text_content=mail.text or None,
        html_content=mail.html or None,
    )
    if mail.headers:
        message.header = [Header(k, v) for k, v in mail.headers.items()]
    if mail.categories:
        # SendGrid allows 10 categories per message.
        message.category = [Category(c) for c in mail.categories[:10]]
    if mail.custom_args:
        message.custom_arg = [CustomArg(k, str(v)) for k, v in mail.custom_args.items()]
    if mail.asm_group_id is not None:
        message.asm = Asm(GroupId(mail.asm_group_id))
    if sandbox:
        message.mail_settings = MailSettings(sandbox_mode=SandBoxMode(True))
    return message


def _error_text(body: Any) -> str:
    """SendGrid's ``{"errors": [{"message", "field"}]}`` as one readable line."""
    raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    try:
        errors = json.loads(raw).get("errors") or []
        parts = [
            f"{e.get('message')}" + (f" (field {e['field']})" if e.get("field") else "")
            for e in errors
            if isinstance(e, dict)
        ]
        if parts:
            return "; ".join(parts)
    except (ValueError, AttributeError):
        pass
    return raw[:500] or "no error text"


def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    value = headers.get(name)
    return str(value) if value is not None else None


def _retry_after(headers: Any, now: float) -> float | None:
    reset = _header(headers, "X-RateLimit-Reset")
    if reset is None:
        return None
    try:
        return max(1.0, float(reset) - now)
    except ValueError:
        return None


class SendGridSender:
    """Sends through SendGrid's v3 API (``settings.sendgrid_host`` may point elsewhere)."""

    name = "sendgrid"

    def __init__(self, settings: Settings | None = None, *, timeout: float | None = None) -> None:
        settings = settings or get_settings()
        key = settings.sendgrid_api_key
        if key is None:
            raise RuntimeError("the sendgrid backend needs SENDGRID_API_KEY")
        self._client = SendGridAPIClient(key.get_secret_value(), host=settings.sendgrid_host)
        self.timeout = timeout or float(
            getattr(settings, "email_timeout_seconds", DEFAULT_TIMEOUT) or DEFAULT_TIMEOUT
        )
        # Client copies propagate ``timeout`` down the client.mail.send chain.
        self._client.client.timeout = self.timeout
        self.sandbox = bool(settings.sendgrid_sandbox)

    def send(self, mail: OutgoingEmail) -> SendReceipt:
        """POST ``mail`` to ``/v3/mail/send``; see the module docstring for the outcomes."""
        message = build_mail(mail, sandbox=self.sandbox)
        try:
            response = self._client.send(message)
        except http_errors.HTTPError as err:
            raise self._classify(err) from None
        except urllib.error.URLError as err:
            # urllib wraps only failures while connecting or writing the request: SendGrid
            # never got a whole request, so sending again is safe.
            raise TransientDeliveryError(f"SendGrid unreachable: {err.reason}") from None
        except (TimeoutError, http.client.HTTPException, OSError) as err:
            # The request was written; the answer never came. SendGrid may have accepted it.
            raise TransientDeliveryError(
                f"no answer from SendGrid: {type(err).__name__}: {err}", outcome_unknown=True
            ) from None
        message_id = _header(response.headers, "X-Message-Id")
        log.info("sendgrid accepted send %s (status %s)", mail.send_id, response.status_code)
        return SendReceipt(provider_message_id=message_id)

    def _classify(self, err: http_errors.HTTPError) -> Exception:
        status = int(err.status_code)
        text = _error_text(err.body)
        if status == 429:
            return TransientDeliveryError(
                f"SendGrid rate limit: {text}",
                retry_after=_retry_after(err.headers, time.time()),
                status=status,
            )
        if status >= 500:
            return TransientDeliveryError(f"SendGrid {status}: {text}", status=status)
        return ProviderRefused(f"SendGrid refused ({status}): {text}", status=status)
