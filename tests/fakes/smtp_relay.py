"""A real SMTP server (aiosmtpd) on 127.0.0.1 standing in for a user's relay."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller

__all__ = ["Relay", "free_port", "running_relay"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Relay:
    """Collects what it receives; ``refuse`` scripts the answer to RCPT TO (e.g. ``"550 ..."``)."""

    port: int = 0
    messages: list[tuple[list[str], bytes]] = field(default_factory=list)
    refuse: str | None = None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"


def running_relay() -> Iterator[Relay]:
    """Run a relay for the duration of the generator (wrap it in a fixture)."""
    relay = Relay(port=free_port())
    controller = Controller(relay, hostname="127.0.0.1", port=relay.port)
    controller.start()
    try:
        yield relay
    finally:
        controller.stop()
