"""Telling a person or a system something: e-mail, Slack incoming webhook, signed webhook.

Webhook and Slack URLs go through :mod:`leadflow.outbound`: https only, never an internal
address."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import Any

import httpx

from leadflow.config import get_settings
from leadflow.errors import ProviderRefused, TransientDeliveryError
from leadflow.outbound import guarded_client

__all__ = ["post_slack", "post_webhook", "sign_webhook"]

log = logging.getLogger(__name__)
TIMEOUT = httpx.Timeout(10.0)


def sign_webhook(body: bytes, timestamp: str, secret: str) -> str:
    """``sha256=<hex>`` HMAC of ``timestamp.body``: receivers verify with the shared secret."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _post(url: str, body: bytes, headers: dict[str, str]) -> None:
    # Raises UnsafeURL (a refusal, not worth retrying) for internal or non-https targets.
    try:
        with guarded_client(url, timeout=TIMEOUT) as client:
            response = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise TransientDeliveryError(f"could not reach {url.split('?')[0]}: {exc}") from exc
    if response.status_code in (408, 429) or response.status_code >= 500:
        raise TransientDeliveryError(f"{url.split('?')[0]} answered {response.status_code}")
    if response.status_code >= 400:
        # 404, 401, 410...: the target refuses; asking again cannot help
        raise ProviderRefused(f"{url.split('?')[0]} answered {response.status_code}")


def post_slack(url: str, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
    """Post to a Slack incoming webhook."""
    payload: dict[str, Any] = {"text": text}
    if blocks:
        payload["blocks"] = blocks
    _post(url, json.dumps(payload).encode(), {"Content-Type": "application/json"})


def post_webhook(url: str, payload: dict[str, Any], event_id: str) -> None:
    """POST ``payload`` as JSON, signed with HMAC-SHA256 of the secret key."""
    body = json.dumps(payload, default=str).encode()
    ts = str(int(time.time()))
    secret = get_settings().secret_key.get_secret_value()
    _post(url, body, {
        "Content-Type": "application/json",
        "X-Leadflow-Event-Id": event_id,
        "X-Leadflow-Timestamp": ts,
        "X-Leadflow-Signature": sign_webhook(body, ts, secret),
    })
