"""Public endpoints a lead's browser or mail client reaches: tracking, unsubscribe, capture forms.

None takes an API key: links carry signed tokens, and capture is rate limited per form and
client address. ``GET /api/forms`` and ``GET/PUT /api/forms/{form}`` (marketer) list, read and
declare capture forms.
"""

from __future__ import annotations

import html
import json
import logging
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from leadflow.api.bodies import raw_body_doc
from leadflow.api.deps import MarketerDep, dispatch
from leadflow.api.schemas.common import media, redirect
from leadflow.api.schemas.leads import CaptureAccepted, FormOut
from leadflow.client_address import client_address
from leadflow.dispatch import Dispatch
from leadflow.errors import BadRequest, NotFound
from leadflow.journeys.validate import SLUG
from leadflow.mail.tracking import PIXEL_GIF, read_token
from leadflow.usecases import capture as form_capture
from leadflow.usecases import tracking
from leadflow.usecases.capture import CaptureResult
from leadflow.usecases.leads import unsubscribe_by_link

router = APIRouter(tags=["public"], strict_content_type=False)
log = logging.getLogger(__name__)
_NO_STORE = {"Cache-Control": "no-store, private"}


async def _dispatch_best_effort(request: Request, plan: Dispatch) -> None:
    """Deliver ``plan`` (recorded in the outbox: what Temporal does not take now is delivered
    later), never failing the visitor's click, open or unsubscribe for it."""
    try:
        await dispatch(request, plan)
    except Exception:
        log.warning("dispatch of %d event(s) deferred", len(plan.event_ids), exc_info=True)


def _client_ip(request: Request) -> str | None:
    """The visitor's address, X-Forwarded-For believed only from trusted proxies."""
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.getlist("x-forwarded-for"),
                          request.app.state.settings.trusted_proxies)


@router.get("/t/c/{token}", status_code=302, response_class=RedirectResponse,
            responses=redirect(302, "To the link's target (the public site once the mail was erased)"))
async def tracked_click(token: str, request: Request) -> Response:
    """Record a click on a tracked link and redirect to its target (a link the mail contained;
    the public site when the mail's content was erased)."""
    url, plan = await run_in_threadpool(tracking.track_click, request.app.state.db_url, token)
    await _dispatch_best_effort(request, plan)
    return RedirectResponse(url or request.app.state.settings.public_url, status_code=302,
                            headers=_NO_STORE)


@router.get("/t/o/{token}", response_class=Response,
            responses=media(200, "image/gif", "The 1x1 tracking pixel",
                            {"type": "string", "format": "binary"}))
async def open_pixel(token: str, request: Request) -> Response:
    """Record an open (the 1x1 pixel, ``/t/o/<token>.gif``)."""
    plan = await run_in_threadpool(tracking.track_open, request.app.state.db_url, token,
                                   user_agent=request.headers.get("user-agent"),
                                   ip=_client_ip(request))
    await _dispatch_best_effort(request, plan)
    return Response(PIXEL_GIF, media_type="image/gif", headers=_NO_STORE)


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{html.escape(title)}</title></head>"
        "<body style=\"font-family:sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem\">"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>", headers=_NO_STORE)


@router.get("/u/{token}", response_class=HTMLResponse,
            responses=media(200, "text/html", "The page asking to confirm the unsubscribe"))
def unsubscribe_page(token: str) -> HTMLResponse:
    """Ask before unsubscribing: link scanners follow GET links, so only the POST acts."""
    read_token(token, "unsubscribe")
    action = html.escape(f"/u/{token}", quote=True)
    return _page("Unsubscribe", (
        "<p>Do you want to stop receiving our marketing e-mails?</p>"
        f"<form method=\"post\" action=\"{action}\">"
        "<input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">"
        "<button type=\"submit\">Unsubscribe</button></form>"))


@router.post("/u/{token}", response_class=HTMLResponse,
             responses=media(200, "text/html", "The page saying the lead is unsubscribed"))
async def unsubscribe(token: str, request: Request) -> HTMLResponse:
    """Unsubscribe (RFC 8058 one-click, or the page's button). Idempotent."""
    plan = await run_in_threadpool(unsubscribe_by_link, request.app.state.db_url, token,
                                   ip=_client_ip(request),
                                   user_agent=request.headers.get("user-agent"))
    await _dispatch_best_effort(request, plan)
    return _page("You are unsubscribed", "<p>You will receive no more marketing e-mails from us."
                 "</p>")


# ------------------------------------------------------------------ capture forms


async def _submission(request: Request) -> dict[str, Any]:
    raw = await request.body()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json" or (not kind and raw.lstrip().startswith(b"{")):
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest("The body is not valid JSON.") from exc
        if not isinstance(data, dict):
            raise BadRequest("Send the form's fields as a JSON object.")
        return data
    if kind == "multipart/form-data":
        form = await request.form()
        return {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        fields = parse_qs(raw.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError as exc:
        raise BadRequest("The form body is not UTF-8.") from exc
    return {k: v[-1] for k, v in fields.items()}


def _answer(result: CaptureResult, browser: bool) -> Response:
    if browser and result.redirect_url:
        return RedirectResponse(result.redirect_url, status_code=303)
    return JSONResponse({"status": "accepted" if result.status == "ignored" else result.status},
                        status_code=202)


_SUBMISSION = {"type": "object", "required": ["email"], "additionalProperties": True,
           "properties": {"email": {"type": "string"}, "first_name": {"type": "string"},
                          "last_name": {"type": "string"}, "company": {"type": "string"},
                          "consent": {"type": "string", "description": "the checkbox: on"}}}


@router.post("/api/capture/{form}", status_code=202, openapi_extra=raw_body_doc(
    {"application/x-www-form-urlencoded": _SUBMISSION, "application/json": _SUBMISSION},
    description="the form's fields; other fields become custom fields"),
    response_model=CaptureAccepted, responses=redirect(
        303, "A browser's form post, to the form's redirect_url when it has one"))
async def capture_form(form: str, request: Request) -> Response:
    """A web form submission: form-encoded or JSON, ``email`` required, ``consent`` checkbox."""
    if not SLUG.match(form):
        raise NotFound(f"There is no capture form {form[:100]!r}.")
    data = await _submission(request)
    result = await run_in_threadpool(form_capture.submit_form, request.app.state.db_url, form,
                                     data, ip=_client_ip(request),
                                     user_agent=request.headers.get("user-agent"))
    await dispatch(request, result.plan)
    browser = "json" not in request.headers.get("content-type", "")
    return _answer(result, browser)


@router.get("/api/capture/confirm/{token}", response_class=HTMLResponse,
            responses={**media(200, "text/html", "The page saying the subscription is confirmed"),
                       **redirect(303, "To the form's redirect_url when it has one")})
async def confirm_subscription(token: str, request: Request) -> Response:
    """The double opt-in link: confirms consent and emits ``form.submitted``."""
    result = await run_in_threadpool(form_capture.confirm_subscription,
                                     request.app.state.db_url, token, ip=_client_ip(request),
                                     user_agent=request.headers.get("user-agent"))
    await dispatch(request, result.plan)
    if result.redirect_url:
        return RedirectResponse(result.redirect_url, status_code=303)
    return _page("Subscription confirmed", "<p>Thank you: you are subscribed.</p>")


class FormConfigBody(BaseModel):
    """Settings of a capture form."""

    model_config = ConfigDict(extra="forbid")

    double_opt_in: bool = False
    consent_text_version: str | None = Field(None, max_length=100)
    redirect_url: str | None = Field(None, max_length=2000, pattern=r"^https?://")
    rate_limit: int | None = Field(None, ge=1, le=100_000,
                                   description="submissions per client address and window")
    rate_window_seconds: int | None = Field(None, ge=1, le=86_400)


@router.get("/api/forms", tags=["forms"], response_model=list[FormOut])
def forms(request: Request, _: MarketerDep) -> list[dict[str, Any]]:
    """Every declared capture form (``POST /api/capture/{form}`` answers 404 for others)."""
    return form_capture.capture_forms(request.app.state.db_url)


@router.get("/api/forms/{form}", tags=["forms"], response_model=FormOut)
def read_form(form: str, request: Request, _: MarketerDep) -> dict[str, Any]:
    """A declared capture form's settings."""
    return form_capture.capture_form_settings(request.app.state.db_url, form)


@router.put("/api/forms/{form}", tags=["forms"], response_model=FormOut)
def write_form(form: str, body: FormConfigBody, request: Request,
               _: MarketerDep) -> dict[str, Any]:
    """Declare a capture form, or set its double opt-in, consent wording version, redirect URL
    and rate limit (submissions per client address and window)."""
    return form_capture.declare_capture_form(
        request.app.state.db_url, form, double_opt_in=body.double_opt_in,
        consent_text_version=body.consent_text_version, redirect_url=body.redirect_url,
        rate_limit=body.rate_limit, rate_window_seconds=body.rate_window_seconds)
