"""The ``outbox`` backend: nothing leaves the machine; the EmailMessage row is the mail.

The embedded dev stack and tests use it: ``GET /api/outbox`` lists the rows it "sent".
"""

from __future__ import annotations

from leadflow.mail.base import OutgoingEmail, SendReceipt

__all__ = ["OutboxSender"]


class OutboxSender:
    """Accepts every message; the caller's EmailMessage row already holds it."""

    name = "outbox"

    def send(self, mail: OutgoingEmail) -> SendReceipt:
        """Accept ``mail``; the receipt's id is local so it is never mistaken for a provider's."""
        return SendReceipt(provider_message_id=f"outbox-{mail.send_id}")
