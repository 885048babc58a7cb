"""Test doubles at the transport boundary, usable as pytest fixtures.

In a test module or conftest: ``from tests.fakes import fake_sendgrid  # noqa: F401``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.sendgrid_server import FakeSendGrid, RecordedRequest, Reply, running_fake_sendgrid
from tests.fakes.sendgrid_webhook import WebhookSigner, sendgrid_event

__all__ = [
    "FakeSendGrid",
    "RecordedRequest",
    "Reply",
    "WebhookSigner",
    "fake_sendgrid",
    "sendgrid_event",
]


@pytest.fixture
def fake_sendgrid() -> Iterator[FakeSendGrid]:
    """A fresh fake SendGrid server on 127.0.0.1 for one test."""
    yield from running_fake_sendgrid()
