"""The FastAPI application: routes under /api, one error handler, the studio at /."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from leadflow.api.body_guard import BodyGuard
from leadflow.api.deps import TemporalHolder, validation_problems
from leadflow.config import PROJECT_ROOT, Settings, get_settings
from leadflow.db import create_schema
from leadflow.errors import LeadflowError
from leadflow.logging_setup import install_pii_filter
from leadflow.temporal import connect

__all__ = ["app", "create_app"]

log = logging.getLogger(__name__)
UI_DIST = PROJECT_ROOT / "ui" / "dist"
_STATUS_NAMES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
                 405: "MethodNotAllowed", 409: "Conflict", 413: "TooLarge", 415: "BadRequest",
                 422: "Invalid", 429: "RateLimited"}
_NOT_SPA = ("/api", "/docs", "/redoc", "/openapi.json", "/u/", "/t/", "/metrics")


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LeadflowError)
    async def leadflow_error(_req: Request, exc: LeadflowError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    @app.exception_handler(ValidationError)
    async def validation_error(_req: Request,
                               exc: RequestValidationError | ValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse({"error": "BadRequest", "detail": "The body is not valid JSON."},
                                status_code=400)
        problems = validation_problems(errors)
        detail = "; ".join(f"{p['path'] or 'body'}: {p['message']}" for p in problems)
        return JSONResponse({"error": "Invalid", "detail": detail, "problems": problems},
                            status_code=422)

    @app.exception_handler(IntegrityError)
    async def integrity_error(_req: Request, exc: IntegrityError) -> JSONResponse:
        # Two requests raced for the same unique value: the loser is told, nothing is written.
        # Never log exc.orig: the driver's text quotes the duplicate value (an address).
        log.info("integrity conflict (%s)", type(exc.orig).__name__)
        return JSONResponse({"error": "Conflict", "detail": "This conflicts with data saved at "
                             "the same moment (a duplicate id or e-mail); try again."},
                            status_code=409)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_req: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": _STATUS_NAMES.get(exc.status_code, "Error"),
                             "detail": str(exc.detail)}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(_req: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return JSONResponse({"error": "InternalError", "detail": "Something went wrong on our "
                             "side; it has been logged."}, status_code=500)


def _mount_ui(app: FastAPI) -> None:
    @app.get("/{path:path}", include_in_schema=False)
    async def studio(path: str) -> Any:
        full = "/" + path
        if full.startswith(_NOT_SPA):
            return JSONResponse({"error": "NotFound", "detail": f"No route {full}."},
                                status_code=404)
        target = (UI_DIST / path).resolve()
        if path and target.is_file() and UI_DIST.resolve() in target.parents:
            return FileResponse(target)
        index = UI_DIST / "index.html"
        if index.is_file():
            return FileResponse(index, headers={"Cache-Control": "no-cache"})
        return JSONResponse({"error": "NotFound", "detail": "The studio is not built: run "
                             "`npm ci && npm run build` in ui/ (leadflow dev does it for you)."},
                            status_code=404)


def create_app(settings: Settings | None = None, *, temporal_client: Any = None,
               create_tables: bool | None = None) -> FastAPI:
    """Build the API.

    Args:
        settings: defaults to the environment's.
        temporal_client: an already connected client (tests, the embedded stack).
        create_tables: create missing tables at start (default: outside production).
    """
    settings = settings or get_settings()
    settings.check_secrets()
    install_pii_filter()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import asyncio

        if create_tables if create_tables is not None else settings.env != "production":
            create_schema(settings.resolved_database_url)
        drainer = None
        if settings.outbox_drain:
            # what requests could not hand to Temporal at once (it was down) goes out from here
            from leadflow.intents import drain_forever

            drainer = asyncio.create_task(drain_forever(
                app.state.temporal.get, settings.resolved_database_url,
                reconcile_every=settings.reconcile_every or None), name="outbox-drainer")
        try:
            yield
        finally:
            # starts and signals a request handed to the background go out before we stop
            # (what does not is left in the outbox for the drainer: nothing is lost either way)
            from leadflow.dispatch import settle_deliveries

            await settle_deliveries(timeout=10)
            if drainer is not None:
                drainer.cancel()
                await asyncio.gather(drainer, return_exceptions=True)

    # strict_content_type=False: integrations that forget the JSON content type still work.
    # docs_url/redoc_url None: api/docs.py serves them with installed assets, not a CDN's
    app = FastAPI(title="Leadflow", version="0.1.0", lifespan=lifespan, strict_content_type=False,
                  docs_url=None, redoc_url=None,
                  description="Marketing automation on Temporal: nurture flows, lead scoring "
                              "and sales handoff under SLA. Authenticate with "
                              "`Authorization: Bearer <api key>`.")
    app.state.settings = settings
    app.state.db_url = settings.resolved_database_url
    app.state.temporal = TemporalHolder(lambda: connect(settings), temporal_client)
    _install_error_handlers(app)
    app.add_middleware(BodyGuard)

    from leadflow.api.docs import install_docs
    from leadflow.api.routes import ROUTERS

    install_docs(app)
    _document_raw_bodies(app)

    for router in ROUTERS:
        app.include_router(router)
    _install_metrics(app, settings.resolved_database_url)
    _mount_ui(app)
    return app


def _document_raw_bodies(app: FastAPI) -> None:
    """Build /openapi.json with the schemas of bodies routes read themselves (api/bodies.py)."""
    from leadflow.api.bodies import add_body_schemas

    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_body_schemas(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _install_metrics(app: FastAPI, db_url: str) -> None:
    """Count every request and serve ``/metrics`` (Prometheus text; keep it off the internet)."""
    from fastapi.responses import Response

    from leadflow import metrics
    from leadflow.db import session_scope

    app.add_middleware(metrics.MetricsMiddleware)
    metrics.install_state_collector(lambda: session_scope(db_url))

    @app.get("/metrics", include_in_schema=False)
    def serve_metrics() -> Response:
        body, content_type = metrics.render_latest()
        return Response(body, media_type=content_type)


def __getattr__(name: str) -> Any:
    # `uvicorn leadflow.api.main:app` builds the app on first access, not at import.
    if name == "app":
        return create_app()
    raise AttributeError(name)


