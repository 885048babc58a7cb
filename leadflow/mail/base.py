"""What every e-mail backend shares: the message handed over, the receipt, the sender protocol.

A sender does one thing: hand one message to its provider. It raises
:class:`~leadflow.errors.TransientDeliveryError` when a retry may succeed (network trouble,
timeouts, 429, 5xx) and :class:`~leadflow.errors.ProviderRefused` when it cannot (other 4xx).
A transient error raised after the request may have reached the provider carries
``outcome_unknown=True`` in its ``extra``: the caller must then not simply send again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from leadflow.errors import TransientDeliveryError

__all__ = ["EmailSender", "OutgoingEmail", "SendReceipt", "outcome_unknown"]


@dataclass(slots=True)
class OutgoingEmail:
    """One e-mail ready to go, with everything a provider needs and nothing it must look up.

    ``custom_args`` identify the send (lead, flow, version, step, send id) and come back in
    provider events; they must never carry personal data.
    """

    send_id: str
    to: str
    from_addr: str
    subject: str
    html: str | None = None
    text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    categories: list[str] = field(default_factory=list)
    custom_args: dict[str, str] = field(default_factory=dict)
    asm_group_id: int | None = None


@dataclass(frozen=True, slots=True)
class SendReceipt:
    """Proof that the provider accepted a message; its id when the provider gives one."""

    provider_message_id: str | None = None


@runtime_checkable
class EmailSender(Protocol):
    """One e-mail backend (``outbox``, ``smtp``, ``sendgrid``)."""

    name: str

    def send(self, mail: OutgoingEmail) -> SendReceipt:
        """Hand ``mail`` to the provider, or raise a DeliveryError."""
        ...


def outcome_unknown(error: TransientDeliveryError) -> bool:
    """Whether the provider may have accepted the message despite ``error``."""
    return bool(error.extra.get("outcome_unknown", False))
