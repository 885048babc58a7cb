"""Times for the mail tables, whichever way the columns store them.

SQLModel's ``UTCDateTime`` columns refuse naive datetimes and read back aware ones, while
``models.utcnow()`` is naive. The mail code writes aware UTC (which both column kinds accept)
and compares only after :func:`as_utc`, so it works either way.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["as_utc", "now_utc"]


def now_utc() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime; naive values are taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
