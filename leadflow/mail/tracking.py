"""Engagement tracking without SendGrid: signed click redirects, an open pixel, unsubscribe links.

Tokens are ``<base64url JSON payload>.<base64url HMAC-SHA256>``, keyed by ``settings.secret_key``
and a per-purpose derivation, so a click token can never pass as an unsubscribe token and no
token can be guessed or altered. Payloads carry ids and the link target only, never personal data.

Paths (served by the API): ``/t/c/{token}`` redirects a click, ``/t/o/{token}.gif`` is the open
pixel, ``/u/{token}`` is the unsubscribe page and its RFC 8058 one-click POST.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html as html_lib
import json
import re
from dataclasses import dataclass
from typing import Literal

from leadflow.config import Settings, get_settings
from leadflow.errors import Forbidden

__all__ = [
    "PIXEL_GIF",
    "Purpose",
    "TokenData",
    "add_tracking",
    "click_url",
    "confirm_url",
    "make_token",
    "open_pixel_url",
    "read_token",
    "unsubscribe_url",
]

Purpose = Literal["click", "open", "unsubscribe", "confirm"]
_PURPOSES: tuple[str, ...] = ("click", "open", "unsubscribe", "confirm")
_MAC_BYTES = 16  # 128 bits: beyond guessing, and keeps links short

#: A 1x1 transparent GIF, the body the open-pixel route answers with.
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@dataclass(frozen=True, slots=True)
class TokenData:
    """What a verified token says: its purpose and the ids (and link target) it carries."""

    purpose: Purpose
    send_id: str | None = None
    url: str | None = None
    lead_id: str | None = None
    form: str | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(purpose: str, body: str, settings: Settings) -> bytes:
    secret = settings.secret_key.get_secret_value().encode()
    key = hmac.new(secret, f"leadflow.tracking.{purpose}".encode(), hashlib.sha256).digest()
    return hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()[:_MAC_BYTES]


def make_token(
    purpose: Purpose,
    *,
    send_id: str | None = None,
    url: str | None = None,
    lead_id: str | None = None,
    form: str | None = None,
    settings: Settings | None = None,
) -> str:
    """A signed token for ``purpose`` carrying the given ids."""
    settings = settings or get_settings()
    fields = (("s", send_id), ("u", url), ("l", lead_id), ("f", form))
    payload = {k: v for k, v in fields if v is not None}
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_b64(_mac(purpose, body, settings))}"


def read_token(token: str, purpose: Purpose, *, settings: Settings | None = None) -> TokenData:
    """Verify ``token`` for ``purpose`` and return what it carries.

    A trailing ``.gif`` (the pixel's file name) is ignored. Raises ``Forbidden`` for a token
    that is malformed, altered or made for another purpose.
    """
    if purpose not in _PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    settings = settings or get_settings()
    token = token.removesuffix(".gif")
    body, _, mac = token.partition(".")
    try:
        given = _unb64(mac)
        valid = bool(body) and hmac.compare_digest(given, _mac(purpose, body, settings))
        payload = json.loads(_unb64(body)) if valid else None
    except (ValueError, UnicodeError):
        valid, payload = False, None
    if not valid or not isinstance(payload, dict):
        raise Forbidden("invalid or altered link")
    return TokenData(
        purpose=purpose,
        send_id=payload.get("s"),
        url=payload.get("u"),
        lead_id=payload.get("l"),
        form=payload.get("f"),
    )


def _base(settings: Settings) -> str:
    return settings.public_url.rstrip("/")


def click_url(send_id: str, url: str, *, settings: Settings | None = None) -> str:
    """The tracked redirect for a link to ``url`` in the mail ``send_id``."""
    settings = settings or get_settings()
    token = make_token("click", send_id=send_id, url=url, settings=settings)
    return f"{_base(settings)}/t/c/{token}"


def open_pixel_url(send_id: str, *, settings: Settings | None = None) -> str:
    """The open-tracking pixel for the mail ``send_id``."""
    settings = settings or get_settings()
    return f"{_base(settings)}/t/o/{make_token('open', send_id=send_id, settings=settings)}.gif"


def unsubscribe_url(lead_id: str, *, settings: Settings | None = None) -> str:
    """The unsubscribe page (and RFC 8058 one-click target) for ``lead_id``."""
    settings = settings or get_settings()
    return f"{_base(settings)}/u/{make_token('unsubscribe', lead_id=lead_id, settings=settings)}"


def confirm_url(lead_id: str, form: str, *, settings: Settings | None = None) -> str:
    """The double opt-in confirmation link for ``lead_id``'s submission of ``form``."""
    settings = settings or get_settings()
    token = make_token("confirm", lead_id=lead_id, form=form, settings=settings)
    return f"{_base(settings)}/api/capture/confirm/{token}"


_LINK = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2([^>]*>)""", re.IGNORECASE | re.DOTALL)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


def _tracked(url: str, tag: str, base: str) -> bool:
    if not url.lower().startswith(("http://", "https://")):
        return False  # mailto:, tel:, anchors, template leftovers
    if url.startswith(base + "/"):
        return False  # already ours: tracking or unsubscribe (keeps add_tracking idempotent)
    # Unsubscribe and preference links are not engagement; opting out must not raise a score.
    return "unsubscribe" not in url.lower() and "data-notrack" not in tag.lower()


def add_tracking(html: str, send_id: str, *, settings: Settings | None = None) -> str:
    """``html`` with its http(s) links sent through the click redirect and an open pixel added.

    Unsubscribe links, ``mailto:`` and links marked ``data-notrack`` stay as they are. Calling
    it again on its own output changes nothing, so a retried send cannot double-wrap links.
    """
    settings = settings or get_settings()
    base = _base(settings)

    def rewrite(match: re.Match[str]) -> str:
        url = html_lib.unescape(match.group(3).strip())
        if not _tracked(url, match.group(0), base):
            return match.group(0)
        new = html_lib.escape(click_url(send_id, url, settings=settings), quote=True)
        return f"{match.group(1)}{match.group(2)}{new}{match.group(2)}{match.group(4)}"

    tracked = _LINK.sub(rewrite, html)
    if f"{base}/t/o/" in tracked:
        return tracked
    pixel = (
        f'<img src="{open_pixel_url(send_id, settings=settings)}" width="1" height="1" '
        'alt="" style="display:block;border:0;width:1px;height:1px" />'
    )
    ends = list(_BODY_END.finditer(tracked))
    if ends:
        at = ends[-1].start()
        return tracked[:at] + pixel + tracked[at:]
    return tracked + pixel
