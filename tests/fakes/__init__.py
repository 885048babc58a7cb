"""Test doubles at the transport boundary, usable as pytest fixtures.

Register the fixtures once in the root ``conftest.py`` with ``pytest_plugins = ["tests.fakes"]``,
or wrap :func:`running_fake_sendgrid` in a module's own fixture.
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
    "running_fake_sendgrid",
    "sendgrid_event",
]


@pytest.fixture
def fake_sendgrid() -> Iterator[FakeSendGrid]:
    """A fresh fake SendGrid server on 127.0.0.1 for one test."""
    yield from running_fake_sendgrid()
