"""Process-wide logging: human-readable lines by default, JSON lines on request.

Whatever the format, secrets are masked on the way out: API keys in ``Authorization`` headers,
SendGrid keys, tokens in query strings and unsubscribe links, and any ``extra`` field whose
name says it holds a secret. Callers still must not log e-mail bodies or personal data.

Personal data is kept out of every record, whoever handles it (our handler, pytest's caplog,
an operator's own): :func:`install_pii_filter` wraps the record factory so e-mail addresses in
messages, arguments and exceptions become ``[address]`` as a record is made, and drops
SQLAlchemy's result-row lines (``Row (...)``, logged at DEBUG), which carry whole rows of
personal data. Engines hide bound parameters (``hide_parameters=True``, see
:mod:`leadflow.db`).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

__all__ = [
    "JsonFormatter",
    "PiiFilter",
    "RedactingFormatter",
    "configure_logging",
    "install_pii_filter",
    "redact",
    "redact_pii",
]

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


# An e-mail address as people type them; generous on purpose (a false positive costs nothing).
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
ADDRESS_REDACTED = "[address]"


def redact_pii(text: str) -> str:
    """``text`` with every e-mail address replaced by ``[address]``."""
    return _ADDRESS.sub(ADDRESS_REDACTED, text) if "@" in text else text


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_pii(value)
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    # Anything else is turned into text the way %-formatting would, then scrubbed.
    text = str(value) if not isinstance(value, bytes) else value.decode("utf-8", "replace")
    return redact_pii(text) if "@" in text else value


# SQLAlchemy's engine logs each fetched row at DEBUG: a whole row of personal data.
_SQLALCHEMY_ROW_MESSAGES = frozenset({"Row %r", "Col %r"})


_DROPPED = "[a row of data, not logged]"


class PiiFilter(logging.Filter):
    """Rewrites a record so no e-mail address survives in its message, args or exception."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg is not _DROPPED and scrub_record(record)


def scrub_record(record: logging.LogRecord) -> bool:
    """Scrub ``record`` in place; False for records that must not be logged at all."""
    if record.name.startswith("sqlalchemy") and record.msg in _SQLALCHEMY_ROW_MESSAGES:
        return False
    if isinstance(record.msg, str):
        record.msg = redact_pii(record.msg)
    elif record.msg is not None and not isinstance(record.msg, (int, float)):
        record.msg = _scrub_value(record.msg)
    if isinstance(record.args, dict):
        record.args = {k: _scrub_value(v) for k, v in record.args.items()}
    elif isinstance(record.args, tuple):
        record.args = tuple(_scrub_value(v) for v in record.args)
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact_pii(record.exc_text)
    return True


_installed_factory: Any = None
_BODY_LOGGERS = ("python_http_client", "sendgrid", "httpcore", "hpack")


def install_pii_filter() -> None:
    """Scrub every log record of this process as it is made (idempotent).

    A handler filter would protect one handler only; the record factory reaches records
    whichever handler (or test capture) ends up with them.
    """
    global _installed_factory
    current = logging.getLogRecordFactory()
    if current is _installed_factory:
        return
    base = current

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        if not scrub_record(record):
            record.msg, record.args = _DROPPED, ()
        return record

    _installed_factory = factory
    logging.setLogRecordFactory(factory)
    # Libraries that log whole request bodies (mails, with names and addresses) at DEBUG are
    # held at INFO whatever the root level.
    for name in _BODY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < logging.INFO:
            logger.setLevel(logging.INFO)
    # Belt and braces for SQLAlchemy: drop its row lines before any handler sees them.
    for name in ("sqlalchemy.engine", "sqlalchemy.engine.Engine"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, PiiFilter) for f in logger.filters):
            logger.addFilter(PiiFilter())


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in vars(record).items():
        if key in _STANDARD_ATTRS or key.startswith("_"):
            continue
        if _SECRET_KEY_NAME.search(key):
            out[key] = REDACTED
        elif isinstance(value, str):
            out[key] = redact(redact_pii(value))
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
    handler.addFilter(PiiFilter())
    install_pii_filter()
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    return handler
