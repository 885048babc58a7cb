"""Playing SendGrid's side of the Event Webhook: a key pair, signed batches, sample events."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from leadflow.mail.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER

__all__ = ["WebhookSigner", "sendgrid_event"]


@dataclass
class WebhookSigner:
    """A fresh P-256 key pair; ``public_key`` is what SendGrid shows in its settings page."""

    private_key: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls) -> WebhookSigner:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @property
    def public_key(self) -> str:
        der = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()

    def sign(self, payload: bytes, timestamp: str) -> str:
        signature = self.private_key.sign(timestamp.encode() + payload, ec.ECDSA(hashes.SHA256()))
        return base64.b64encode(signature).decode()

    def signed_batch(
        self, events: list[dict[str, Any]], timestamp: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers of a webhook POST, as SendGrid would send them."""
        body = json.dumps(events).encode() + b"\r\n"
        stamp = timestamp or str(int(time.time()))
        return body, {
            SIGNATURE_HEADER: self.sign(body, stamp),
            TIMESTAMP_HEADER: stamp,
            "Content-Type": "application/json",
        }


def sendgrid_event(event: str, n: int = 1, **fields: Any) -> dict[str, Any]:
    """A SendGrid event shaped like the real ones, for message ``n``."""
    base: dict[str, Any] = {
        "email": f"lead{n}@example.com",
        "timestamp": 1_700_000_000 + n,
        "event": event,
        "sg_event_id": f"evt-{event}-{n}",
        "sg_message_id": f"msg{n}.filter-1",
        "smtp-id": f"<msg{n}@example.com>",
        "send_id": f"journey-{n}-welcome-1",
        "lead_id": f"L{n}",
        "flow_id": "trial",
        "version": "1",
        "step": "welcome",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}
