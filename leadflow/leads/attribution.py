"""Where leads come from: first-touch and last-touch source and UTM fields.

A touch is ``{"source", "utm_source", "utm_medium", "utm_campaign", "utm_term",
"utm_content", "at"}`` (only the keys given). A lead's first touch is kept for good, its last
touch follows every lead update or event that names a source; a lead without a ``source`` takes
the first touch's (``source`` or else ``utm_source``), which is what the funnel groups by.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from leadflow.models import Lead

__all__ = ["TOUCH_KEYS", "record_touch"]

TOUCH_KEYS = ("source", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


def record_touch(lead: Lead, properties: Mapping[str, Any], at: datetime) -> bool:
    """Note the source and UTM fields in ``properties`` on ``lead``; False when there are none."""
    touch: dict[str, Any] = {k: str(properties[k]) for k in TOUCH_KEYS if properties.get(k)}
    if not touch:
        return False
    touch["at"] = at.isoformat()
    if lead.first_touch is None:
        lead.first_touch = touch
    lead.last_touch = touch
    if not lead.source:
        first = lead.first_touch or {}
        lead.source = first.get("source") or first.get("utm_source") or lead.source
    return True
