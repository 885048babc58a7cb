"""The one error hierarchy of Leadflow.

::

    LeadflowError (500)
    ├── BadRequest (400)            malformed input: bad JSON, wrong types
    ├── Unauthorized (401)          missing or unknown API key
    ├── Forbidden (403)             key lacks the role, or a bad webhook signature
    ├── NotFound (404)              unknown lead, flow, template, handoff, ...
    ├── Conflict (409)              not allowed in the current state
    ├── Invalid (422)               a document that does not validate (carries ``problems``)
    ├── RateLimited (429)
    ├── Unavailable (503)           a backing service (Temporal, database) is unreachable
    └── DeliveryError               raised by e-mail senders
        ├── TransientDeliveryError  network trouble, 429, 5xx: retried (``retry_after`` seconds)
        └── ProviderRefused         4xx from the provider: that send fails for good

The API's handler turns any of them into ``{"error": <class name>, "detail": ..., **extra}``.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "LeadflowError",
    "BadRequest",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "Conflict",
    "Invalid",
    "RateLimited",
    "Unavailable",
    "DeliveryError",
    "TransientDeliveryError",
    "ProviderRefused",
]


class LeadflowError(Exception):
    """Root of every error Leadflow raises on purpose."""

    status_code = 500

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        return {"error": type(self).__name__, "detail": self.detail, **self.extra}


class BadRequest(LeadflowError):
    status_code = 400


class Unauthorized(LeadflowError):
    status_code = 401


class Forbidden(LeadflowError):
    status_code = 403


class NotFound(LeadflowError):
    status_code = 404


class Conflict(LeadflowError):
    status_code = 409


class Invalid(LeadflowError):
    """A document that does not validate; ``problems`` lists ``{"path", "message"}``."""

    status_code = 422

    def __init__(self, detail: str, problems: list[dict[str, str]] | None = None, **extra: Any):
        super().__init__(detail, problems=problems or [], **extra)
        self.problems = problems or []


class RateLimited(LeadflowError):
    """Too many requests; ``retry_after`` (seconds) becomes the ``Retry-After`` header."""

    status_code = 429

    def __init__(self, detail: str, *, retry_after: float | None = None, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(max(1, math.ceil(self.retry_after)))}


class Unavailable(LeadflowError):
    status_code = 503


class DeliveryError(LeadflowError):
    """An e-mail could not be handed to the provider."""

    status_code = 502


class TransientDeliveryError(DeliveryError):
    """Worth retrying: network failure, timeout, 429 or 5xx. ``retry_after`` in seconds if known."""

    def __init__(self, detail: str, retry_after: float | None = None, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after = retry_after


class ProviderRefused(DeliveryError):
    """The provider refused this message (4xx other than 429): retrying cannot help."""
