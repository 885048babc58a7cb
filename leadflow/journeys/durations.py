"""ISO 8601 durations as the flow format uses them (``PT30S``, ``PT4H``, ``P2D``, ``P1W``)."""

from __future__ import annotations

from datetime import timedelta

import isodate

__all__ = ["MAX_DURATION", "parse_duration"]

#: The longest wait a flow may ask for: deadlines must stay within dates Python can represent.
MAX_DURATION = timedelta(days=3660)


def parse_duration(text: str) -> timedelta:
    """Parse an ISO 8601 duration into a timedelta.

    Years and months have no fixed length, so they are refused: a marketer writes ``P30D``.

    Raises:
        ValueError: with a sentence a marketer understands.
    """
    if not isinstance(text, str) or not text.startswith("P"):
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as PT30M, PT4H or P2D")
    try:
        value = isodate.parse_duration(text)
    except (isodate.ISO8601Error, ValueError, OverflowError) as exc:
        raise ValueError(
            f"{text!r} is not an ISO 8601 duration such as PT30M, PT4H or P2D"
        ) from exc
    if isinstance(value, isodate.Duration):
        raise ValueError(f"{text!r} uses years or months, which vary in length; use days (P30D)")
    if value <= timedelta(0):
        raise ValueError(f"{text!r} must be longer than zero")
    if value > MAX_DURATION:
        raise ValueError(f"{text!r} is longer than ten years (P3660D); no flow waits that long")
    return value
