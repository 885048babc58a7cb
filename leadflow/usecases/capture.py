"""Capture forms: ``POST /api/capture/{form}`` turns a web form into a lead, consent and an event.

Forms are declared (:mod:`leadflow.journeys.forms`: ``PUT /api/forms/{form}``, or by publishing
a flow that enrols by the form; the shipped ones exist from the start) and an undeclared name
answers 404. Each form has its
own rate limit per client address (as seen through ``LEADFLOW_TRUSTED_PROXIES``). A filled honeypot field (``website``) is accepted and
ignored (bots learn nothing), consent is recorded with the form's wording version, IP and user
agent, and ``form.submitted`` (``properties.form`` and the submitted fields) is emitted so entry
rules enrol the lead.

Nobody who submits a public form is authenticated, so a submission for an address we already
know never overwrites that lead: it fills only empty profile and custom fields, never
downgrades a granted consent, never records a denial, and never lifts an unsubscribe, a
denial or a withdrawal; that takes a confirmed double opt-in (the confirmation mail goes to
the address itself, at most once a day). With double opt-in on, the lead gets a confirmation
mail and stays ``subscriber`` with consent ``pending``; ``form.submitted`` follows only when
the signed link is opened.
"""

from __future__ import annotations

import html
import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlmodel import Session, select

from leadflow.config import get_settings
from leadflow.db import session_scope
from leadflow.dispatch import Dispatch
from leadflow.errors import DeliveryError, Invalid, NotFound, RateLimited
from leadflow.journeys.forms import form_config, list_forms, save_form_config
from leadflow.journeys.validate import SLUG
from leadflow.leads.consent import lift_unsubscribe, record_consent
from leadflow.leads.records import LeadCreate
from leadflow.leads.stages import change_stage
from leadflow.mail.delivery import deliver
from leadflow.mail.tracking import confirm_url, read_token
from leadflow.models import CaptureForm, ConsentRecord, EmailMessage, Event, Lead, utcnow
from leadflow.usecases.events import EventIn, ingest_events, ingest_lead

__all__ = [
    "HONEYPOT",
    "CaptureResult",
    "RateLimiter",
    "capture",
    "capture_form_settings",
    "capture_forms",
    "confirm",
    "confirm_subscription",
    "declare_capture_form",
    "submission_limiter",
    "submit_form",
]

log = logging.getLogger(__name__)

HONEYPOT = "website"
_PROFILE = ("first_name", "last_name", "company", "title", "country", "timezone")
_FALSY = {"", "0", "false", "no", "off"}
_IGNORED = {HONEYPOT, "email", "consent", *_PROFILE}
# At most one confirmation mail per address in this time.
CONFIRMATION_INTERVAL = timedelta(days=1)
# Consent states only a confirmed double opt-in may lift.
_REFUSALS = ("denied", "withdrawn")


class RateLimiter:
    """At most ``limit`` hits per key in a sliding window (in this process)."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int, window: float, now: float | None = None) -> bool:
        """Count one hit; False when ``key`` is over its limit (the hit is not counted)."""
        return self.wait(key, limit, window, now) == 0.0

    def wait(self, key: str, limit: int, window: float, now: float | None = None) -> float:
        """Count one hit and return 0.0, or, over the limit, the seconds until one is allowed."""
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) >= limit:
                return max(hits[0] + window - now, 0.001)
            hits.append(now)
            if len(self._hits) > 10_000:  # forget idle keys so memory stays bounded
                for stale in [k for k, v in self._hits.items() if not v]:
                    del self._hits[stale]
            return 0.0

    def reset(self) -> None:
        """Forget every hit (tests)."""
        with self._lock:
            self._hits.clear()


submission_limiter = RateLimiter()


@dataclass
class CaptureResult:
    """What a submission did; ``plan`` is for :func:`leadflow.dispatch.run_dispatch`."""

    status: str  # accepted | confirmation_sent | ignored
    redirect_url: str | None = None
    plan: Dispatch = field(default_factory=Dispatch)
    confirmation_send_id: str | None = None


def _limit(config: CaptureForm, ip: str | None) -> None:
    settings = get_settings()
    limit = config.rate_limit or settings.capture_rate_limit
    window = float(config.rate_window_seconds or settings.capture_rate_window_seconds)
    wait = submission_limiter.wait(f"{config.name}\x00{ip}", limit, window)
    if wait:
        raise RateLimited("Too many submissions from your address; try again in "
                          f"{max(1, round(wait))} s.", retry_after=wait)


def _truthy(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in _FALSY


def _extra_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items()
            if k not in _IGNORED and isinstance(v, str | int | float | bool) and len(k) <= 64}


def capture(session: Session, form: str, data: Mapping[str, Any], *, ip: str | None,
            user_agent: str | None) -> CaptureResult:
    """Handle one submission of ``form`` (see the module docstring).

    Raises:
        NotFound: the form was never declared.
        RateLimited: too many submissions of this form from ``ip`` in its window.
        Invalid: no valid e-mail address.
    """
    config = form_config(session, form)
    _limit(config, ip)
    if str(data.get(HONEYPOT) or "").strip():
        log.info("capture %s: honeypot filled, submission ignored", form)
        return CaptureResult("ignored", config.redirect_url)
    profile = {k: str(data[k]).strip() for k in _PROFILE if data.get(k)}
    extra = _extra_fields(data)
    try:
        lead_in = LeadCreate(email=str(data.get("email") or "").strip(), source=f"form:{form}",
                             fields=extra or None, **profile)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise Invalid("Give a valid e-mail address.", problems=[
            {"path": "email", "message": "A valid e-mail address is required."}]) from exc
    known = session.exec(select(Lead).where(Lead.email == lead_in.email.lower())).first()
    if known is not None:
        # The submitter is not authenticated: fill what is empty, overwrite nothing.
        lead_in = lead_in.model_copy(update={
            **{k: None for k in profile if getattr(known, k)},
            "fields": {k: v for k, v in extra.items()
                       if (known.fields or {}).get(k) in (None, "")} or None})
    lead, created, plan = ingest_lead(session, lead_in, actor=f"form:{form}")
    consent = _truthy(data.get("consent"))
    source = f"form:{form}"
    common = {"source": source, "text_version": config.consent_text_version, "ip": ip,
              "user_agent": (user_agent or "")[:400] or None}
    status = (lead.consent or {}).get("status")
    refused = lead.unsubscribed or status in _REFUSALS
    if config.double_opt_in or (consent and refused):
        # A pending statement never replaces a granted or refused one: the lead's current
        # consent changes only when the address's owner confirms.
        record_consent(session, lead, "pending", current=created or status == "pending",
                       **common)
        if created:
            change_stage(session, lead, "subscriber", cause=f"double opt-in {form}",
                         actor="capture", force=True)
        send_id = _queue_confirmation(session, lead, form)
        if config.double_opt_in:
            return CaptureResult("confirmation_sent", config.redirect_url, plan, send_id)
        # Answered like any other submission: the answer must not tell a stranger that this
        # address once unsubscribed.
        return CaptureResult("accepted", config.redirect_url, plan, send_id)
    if consent and status != "granted":
        record_consent(session, lead, "granted", **common)
    elif consent is False and created:
        record_consent(session, lead, "denied", **common)
    _, events = ingest_events(session, [EventIn(lead_id=lead.id, type="form.submitted",
                                                properties={**profile, **extra, "form": form})])
    plan.extend(events)
    return CaptureResult("accepted", config.redirect_url, plan)


def _queue_confirmation(session: Session, lead: Lead, form: str) -> str | None:
    """Queue a confirmation mail; None when one went to this address within
    :data:`CONFIRMATION_INTERVAL` (strangers must not be able to flood an inbox through a form;
    the earlier link still confirms)."""
    earlier = session.exec(select(EmailMessage.created_at).where(
        EmailMessage.lead_id == lead.id, EmailMessage.template == "_confirm")).all()
    if any(utcnow() - t < CONFIRMATION_INTERVAL for t in earlier if t is not None):
        return None
    send_id = f"confirm-{lead.id}-{len(earlier) + 1}"
    link = html.escape(confirm_url(lead.id, form), quote=True)
    settings = get_settings()
    session.add(EmailMessage(
        send_id=send_id, lead_id=lead.id, template="_confirm", to=lead.email,
        subject="Please confirm your subscription",
        html=(f"<p>Please confirm that you want to hear from us.</p>"
              f'<p><a href="{link}" data-notrack>Yes, subscribe me</a></p>'
              f"<p>If you did not ask for this, ignore this e-mail.</p>"
              f"<p>{html.escape(settings.postal_address)}</p>"),
        text=(f"Please confirm that you want to hear from us: {confirm_url(lead.id, form)}\n\n"
              f"If you did not ask for this, ignore this e-mail.\n{settings.postal_address}\n"),
        status="pending"))
    return send_id


def confirm(session: Session, token: str, *, ip: str | None,
            user_agent: str | None) -> tuple[CaptureResult, Lead]:
    """Confirm a double opt-in (idempotent): consent granted, stage ``lead``, ``form.submitted``.

    Raises:
        Forbidden: the link is not one we signed.
        NotFound: the lead no longer exists (erased).
    """
    data = read_token(token, "confirm")
    lead = session.get(Lead, data.lead_id or "")
    if lead is None or lead.erased_at is not None:
        raise NotFound("This subscription no longer exists.")
    form = data.form or "unknown"
    # A form withdrawn since the mail was sent: the signed link still confirms.
    config = session.get(CaptureForm, form) or CaptureForm(name=form)
    pending = session.exec(select(ConsentRecord).where(
        ConsentRecord.lead_id == lead.id, ConsentRecord.status == "pending",
        ConsentRecord.source == f"form:{form}").order_by(ConsentRecord.id.desc())  # type: ignore[union-attr]
    ).first()
    event_id = f"confirm-{lead.id}-{form}-{pending.id if pending else 0}"
    if session.get(Event, event_id) is not None:
        return CaptureResult("accepted", config.redirect_url), lead  # clicked twice
    record_consent(session, lead, "granted", source=f"form:{form}",
                   text_version=pending.text_version if pending else config.consent_text_version,
                   ip=ip, user_agent=(user_agent or "")[:400] or None)
    lift_unsubscribe(session, lead)
    if lead.stage == "subscriber":
        change_stage(session, lead, "lead", cause=f"double opt-in {form} confirmed",
                     actor="capture", force=True)
    _, plan = ingest_events(session, [EventIn(id=event_id, lead_id=lead.id, type="form.submitted",
                                              properties={"form": form, "confirmed": True})])
    return CaptureResult("accepted", config.redirect_url, plan), lead


def submit_form(db_url: str, form: str, data: Mapping[str, Any], *, ip: str | None,
                user_agent: str | None) -> CaptureResult:
    """``POST /api/capture/{form}``: :func:`capture` in its own transaction, its plan recorded
    in the outbox; then, after the commit, the confirmation mail it queued (if any) is sent.

    A confirmation the provider does not take now stays pending with its reason (the
    provider's text, which may name the visitor, stays there); the submission still counts.

    Raises:
        NotFound, RateLimited, Invalid: as :func:`capture`.
    """
    with session_scope(db_url) as session:
        result = capture(session, form, data, ip=ip, user_agent=user_agent)
        result.plan.record(session)
    if result.confirmation_send_id:
        try:
            deliver(result.confirmation_send_id, db_url=db_url)
        except DeliveryError as exc:
            log.warning("confirmation mail %s not sent yet (%s)", result.confirmation_send_id,
                        type(exc).__name__)
    return result


def confirm_subscription(db_url: str, token: str, *, ip: str | None,
                         user_agent: str | None) -> CaptureResult:
    """The double opt-in link: :func:`confirm` in its own transaction, its plan recorded.

    Raises:
        Forbidden, NotFound: as :func:`confirm`.
    """
    with session_scope(db_url) as session:
        result = confirm(session, token, ip=ip, user_agent=user_agent)[0]
        result.plan.record(session)
    return result


# ------------------------------------------------------------------ declared forms


def _form_public(row: CaptureForm) -> dict[str, Any]:
    settings = get_settings()
    return {"form": row.name, "double_opt_in": row.double_opt_in,
            "consent_text_version": row.consent_text_version, "redirect_url": row.redirect_url,
            "rate_limit": row.rate_limit or settings.capture_rate_limit,
            "rate_window_seconds": row.rate_window_seconds
            or int(settings.capture_rate_window_seconds),
            "created_at": row.created_at.isoformat() if row.created_at else None,
            "updated_at": row.updated_at.isoformat() if row.updated_at else None}


def capture_forms(db_url: str) -> list[dict[str, Any]]:
    """Every declared capture form with its settings (the defaults filled in), by name."""
    with session_scope(db_url) as session:
        return [_form_public(row) for row in list_forms(session)]


def capture_form_settings(db_url: str, form: str) -> dict[str, Any]:
    """A declared capture form's settings.

    Raises:
        NotFound: no form of this name was declared.
    """
    with session_scope(db_url) as session:
        return _form_public(form_config(session, form))


def declare_capture_form(db_url: str, form: str, *, double_opt_in: bool,
                         consent_text_version: str | None, redirect_url: str | None,
                         rate_limit: int | None,
                         rate_window_seconds: int | None) -> dict[str, Any]:
    """Declare a capture form, or replace its settings; returns them as
    :func:`capture_form_settings` does.

    Raises:
        Invalid: the name is not a slug (lowercase letters, digits and dashes).
    """
    if not SLUG.match(form):
        raise Invalid("A form name is lowercase letters, digits and dashes.",
                      problems=[{"path": "form", "message": "Use a name such as trial."}])
    with session_scope(db_url) as session:
        return _form_public(save_form_config(
            session, form, double_opt_in=double_opt_in,
            consent_text_version=consent_text_version, redirect_url=redirect_url,
            rate_limit=rate_limit, rate_window_seconds=rate_window_seconds))
