"""Process-wide logging: human-readable lines by default, JSON lines on request.

Whatever the format, secrets are masked on the way out: API keys in ``Authorization`` headers,
SendGrid keys, tokens in query strings and unsubscribe links, and any ``extra`` field whose
name says it holds a secret. Callers still must not log e-mail bodies or personal data.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

__all__ = ["JsonFormatter", "RedactingFormatter", "configure_logging", "redact"]

REDACTED = "[redacted]"

_SECRET_PATTERNS = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + REDACTED),
    (re.compile(r"\bSG\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), REDACTED),  # SendGrid API key
    (
        re.compile(r"(?i)([?&](?:token|key|api_key|apikey|secret|signature|sig)=)[^&\s\"']+"),
        r"\1" + REDACTED,
    ),
    # Unsubscribe links carry a token that acts on the lead's behalf.
    (re.compile(r"(/u/)[^/\s?\"']+"), r"\1" + REDACTED),
]
_SECRET_KEY_NAME = re.compile(r"(?i)(secret|password|passwd|token|api_?key|authorization|cookie)")

# Attributes every LogRecord has; anything else came in through ``extra=``.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


def redact(text: str) -> str:
    """``text`` with known secret shapes replaced by ``[redacted]``."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in vars(record).items():
        if key in _STANDARD_ATTRS or key.startswith("_"):
            continue
        if _SECRET_KEY_NAME.search(key):
            out[key] = REDACTED
        elif isinstance(value, str):
            out[key] = redact(value)
        else:
            out[key] = value
    return out


class RedactingFormatter(logging.Formatter):
    """The usual text format, with secrets masked."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``message``, extras, ``exc``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        entry.update(_extras(record))
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        # default=str: an extra that is a datetime, UUID or Path must not break logging.
        return json.dumps(entry, default=str, ensure_ascii=False)


_HANDLER_NAME = "leadflow"


def configure_logging(
    json: bool = False, level: int | str = "INFO", stream: TextIO | None = None
) -> logging.Handler:
    """Send every logger's records to ``stream`` (stderr) as text or JSON lines.

    Idempotent: calling again replaces the handler installed before. Uvicorn's loggers are
    routed through the root logger (run uvicorn with ``log_config=None``) so access logs get
    the same format and redaction.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(
        JsonFormatter()
        if json
        else RedactingFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    return handler
