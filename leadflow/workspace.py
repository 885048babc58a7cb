"""Workspace settings kept in the database: the sender, the postal address, the default send window.

Defaults come from the configuration (``LEADFLOW_EMAIL_FROM``, ``LEADFLOW_POSTAL_ADDRESS``); what an
admin saves through ``PUT /api/settings/workspace`` overrides them for every mail rendered after.
"""

from __future__ import annotations

from email.utils import formataddr, parseaddr
from typing import Any

from sqlmodel import Session

from leadflow.config import Settings, get_settings
from leadflow.errors import Invalid
from leadflow.journeys.validate import validate_flow
from leadflow.models import AppSetting, utcnow

__all__ = ["save_workspace", "sender_address", "workspace"]

_KEY = "workspace"
_INFO = "leadflow.workspace"  # the saved settings, read once per session
FIELDS = ("sender_name", "sender_address", "postal_address", "send_window")


def _defaults(settings: Settings | None = None) -> dict[str, Any]:
    settings = settings or get_settings()
    name, address = parseaddr(settings.email_from)
    return {"sender_name": name, "sender_address": address or settings.email_from,
            "postal_address": settings.postal_address, "send_window": None}


def workspace(session: Session, settings: Settings | None = None) -> dict[str, Any]:
    """The settings in force: saved values over the configured defaults (read once per
    transaction: :func:`save_workspace` refreshes it)."""
    saved = session.info.get(_INFO)
    if saved is None:
        row = session.get(AppSetting, _KEY)
        saved = session.info[_INFO] = (
            {k: v for k, v in row.value.items() if k in FIELDS} if row else {})
    return {**_defaults(settings), **saved}


def sender_address(session: Session, settings: Settings | None = None) -> str:
    """``"Name <address>"`` for the From header."""
    ws = workspace(session, settings)
    return formataddr((ws["sender_name"], ws["sender_address"])) if ws["sender_name"] else ws["sender_address"]


def save_workspace(session: Session, values: dict[str, Any]) -> dict[str, Any]:
    """Check and store new settings (keys not given keep their values).

    Raises:
        Invalid: an empty sender or postal address, a malformed address or send window.
    """
    merged = {**workspace(session), **{k: v for k, v in values.items() if k in FIELDS}}
    problems = [{"path": k, "message": f"Unknown setting {k!r}; use {', '.join(FIELDS)}."}
                for k in values if k not in FIELDS]
    for key in ("sender_name", "sender_address", "postal_address"):
        if not isinstance(merged[key], str) or (key != "sender_name" and not merged[key].strip()):
            problems.append({"path": key, "message": f"The {key.replace('_', ' ')} cannot be empty."})
    address = merged["sender_address"]
    if isinstance(address, str) and ("@" not in address or parseaddr(address)[1] != address.strip()):
        problems.append({"path": "sender_address", "message": "The sender address must be an e-mail address such as news@example.com."})
    if merged["send_window"] is not None:
        probe = {"id": "workspace", "name": "workspace", "start": "end",
                 "steps": {"end": {"type": "exit"}}, "send_window": merged["send_window"]}
        problems += [p for p in validate_flow(probe) if p["path"].startswith("send_window")]
    if problems:
        raise Invalid("The workspace settings are not valid.", problems=problems)
    row = session.get(AppSetting, _KEY) or AppSetting(key=_KEY)
    row.value, row.updated_at = {k: merged[k] for k in FIELDS}, utcnow()
    session.add(row)
    session.info.pop(_INFO, None)
    return dict(row.value)
