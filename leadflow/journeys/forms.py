"""Capture forms as the entry points of flows: which form names are declared, and their settings.

A form is declared by ``PUT /api/forms/{form}``, by publishing a flow that enrols by it
(entry ``form.submitted`` where ``properties.form``), or ships declared
(:data:`SHIPPED_FORMS`). What a submission does is :mod:`leadflow.usecases.capture`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session, select

from leadflow.errors import NotFound
from leadflow.journeys.validate import SLUG
from leadflow.models import CaptureForm, utcnow

__all__ = [
    "SHIPPED_FORMS",
    "declare_forms_of_flow",
    "declare_shipped_forms",
    "form_config",
    "list_forms",
    "save_form_config",
]

# Declared on a fresh install (here for create_schema, and by migration 0002): the form the
# shipped trial-nurture flow enrols by, and the usual ones of a marketing site.
SHIPPED_FORMS = ("trial-signup", "newsletter", "contact", "demo-request")


def form_config(session: Session, name: str) -> CaptureForm:
    """A declared form's settings.

    Raises:
        NotFound: no form of this name was declared.
    """
    row = session.get(CaptureForm, name)
    if row is None:
        raise NotFound(f"There is no capture form {name!r}; declare it with PUT /api/forms/{name}.")
    return row


def list_forms(session: Session) -> list[CaptureForm]:
    """Every declared form, by name."""
    return list(session.exec(select(CaptureForm).order_by(CaptureForm.name)).all())


def save_form_config(session: Session, name: str, *, double_opt_in: bool,
                     consent_text_version: str | None, redirect_url: str | None,
                     rate_limit: int | None = None,
                     rate_window_seconds: int | None = None) -> CaptureForm:
    """Declare a form, or replace a declared form's settings."""
    row = session.get(CaptureForm, name) or CaptureForm(name=name)
    row.double_opt_in, row.consent_text_version = double_opt_in, consent_text_version
    row.redirect_url, row.updated_at = redirect_url, utcnow()
    row.rate_limit, row.rate_window_seconds = rate_limit, rate_window_seconds
    session.add(row)
    return row


def declare_shipped_forms(session: Session) -> None:
    """Declare :data:`SHIPPED_FORMS` that do not exist yet (a fresh install)."""
    have = set(session.exec(select(CaptureForm.name)).all())
    for name in SHIPPED_FORMS:
        if name not in have:
            session.add(CaptureForm(name=name))


def _forms_named(condition: Any) -> set[str]:
    """Form names an entry condition matches on ``properties.form`` (``eq`` or ``in``)."""
    if isinstance(condition, list):
        return {name for item in condition for name in _forms_named(item)}
    if not isinstance(condition, dict):
        return set()
    found = {name for key in ("all", "any") for name in _forms_named(condition.get(key))}
    if condition.get("field") == "properties.form" and condition.get("op") in ("eq", "in"):
        value = condition.get("value")
        values = value if isinstance(value, list) else [value]
        found |= {v for v in values if isinstance(v, str) and SLUG.match(v)}
    return found


def declare_forms_of_flow(session: Session, document: Mapping[str, Any]) -> list[str]:
    """Declare the forms a flow enrols by (entry ``form.submitted`` where ``properties.form``),
    so publishing a flow for a new form makes its submissions welcome; returns the new ones."""
    entry = document.get("entry")
    if not isinstance(entry, dict) or entry.get("event") != "form.submitted":
        return []
    added = []
    for name in sorted(_forms_named(entry.get("where"))):
        if session.get(CaptureForm, name) is None:
            session.add(CaptureForm(name=name))
            added.append(name)
    return added
