"""Request dependencies: a database session, the caller, and the Temporal client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from leadflow.auth import Principal, admin_principal, authenticate, require_role
from leadflow.db import get_engine
from leadflow.dispatch import Dispatch, run_dispatch
from leadflow.errors import Unavailable

__all__ = [
    "AdminDep",
    "MarketerDep",
    "OptionalTemporalDep",
    "PrincipalDep",
    "SalesDep",
    "SalesOrMarketerDep",
    "SessionDep",
    "TemporalDep",
    "get_temporal",
]


def get_session(request: Request) -> Iterator[Session]:
    # Not leadflow.db.session_scope: its SQLite writer lock belongs to one thread, and FastAPI
    # may enter and leave a dependency on different threads.
    session = Session(get_engine(request.app.state.db_url), expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": the session commits before the response is sent, so a client that
# got 201 can rely on its write at once.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def _look_up_key(db_url: str, authorization: str | None) -> Principal:
    # A short session of its own: the key check must not hold a connection for the whole
    # request beside the one the route uses.
    with Session(get_engine(db_url)) as session:
        return authenticate(session, authorization)


async def get_principal(request: Request,
                        authorization: Annotated[str | None, Header()] = None) -> Principal:
    # The admin key is known from the settings; any other key is looked up in the database,
    # off the event loop.
    principal = admin_principal(authorization)
    if principal is not None:
        return principal
    return await run_in_threadpool(_look_up_key, request.app.state.db_url, authorization)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def _role(*roles: str) -> Any:
    async def dep(principal: PrincipalDep) -> Principal:
        return require_role(principal, *roles)
    return Depends(dep)


MarketerDep = Annotated[Principal, _role("marketer")]
AdminDep = Annotated[Principal, _role("admin")]
SalesDep = Annotated[Principal, _role("sales", "admin")]
SalesOrMarketerDep = Annotated[Principal, _role("marketer", "sales")]


async def get_temporal(request: Request) -> Any:
    """The Temporal client, connecting on first use (the API starts even while Temporal is down)."""
    return await request.app.state.temporal.get()


TemporalDep = Annotated[Any, Depends(get_temporal)]


async def get_temporal_or_none(request: Request) -> Any:
    """The Temporal client, or None while Temporal is unreachable: for routes whose writes go
    through the outbox (:mod:`leadflow.intents`), which delivers them once it is back."""
    return await request.app.state.temporal.get_or_none()


OptionalTemporalDep = Annotated[Any, Depends(get_temporal_or_none)]


async def dispatch(request: Request, plan: Dispatch, client: Any = None) -> None:
    """The API's one way to Temporal: deliver what a use case returned, after its commit.

    ``client`` is the route's client when it holds one; otherwise a client is fetched only if
    the plan needs Temporal (starts, signals or score timers), and a recorded plan that Temporal
    cannot take now stays in the outbox for the drainer. Events are marked in the app's database.
    """
    if client is None and plan.needs_temporal:
        client = await request.app.state.temporal.get_or_none()
    await run_dispatch(client, plan, request.app.state.db_url)


class TemporalHolder:
    """Connects to Temporal lazily and remembers the client.

    A failed connection is not tried again for :attr:`COOLDOWN` seconds, and each attempt is
    bounded, so requests stay fast while Temporal is down.
    """

    COOLDOWN = 5.0
    CONNECT_TIMEOUT = 5.0

    def __init__(self, connect: Any, client: Any = None) -> None:
        self._connect = connect
        self.client = client
        self._failed_at: float | None = None
        self._error: str = ""

    async def get(self) -> Any:
        import asyncio
        import time

        if self.client is None:
            if self._failed_at is not None and time.monotonic() - self._failed_at < self.COOLDOWN:
                raise Unavailable(f"Temporal is not reachable: {self._error}")
            try:
                self.client = await asyncio.wait_for(self._connect(), self.CONNECT_TIMEOUT)
            except Exception as exc:
                self._failed_at, self._error = time.monotonic(), str(exc) or type(exc).__name__
                raise Unavailable(f"Temporal is not reachable: {self._error}") from exc
        return self.client

    async def get_or_none(self) -> Any:
        try:
            return await self.get()
        except Unavailable:
            return None


def _loc(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out


def validation_problems(errors: Any) -> list[dict[str, str]]:
    """Pydantic's validation errors as the API's problems: ``[{"path", "message"}]``, paths
    such as ``[3].type`` or ``steps.welcome.template`` (the one converter of the API)."""
    return [{"path": _loc(e.get("loc", ())), "message": str(e.get("msg"))} for e in errors]


async def json_body(request: Request) -> Any:
    """The request body parsed as JSON; 400 with a clear sentence when it is not."""
    import json

    from leadflow.errors import BadRequest

    raw = await request.body()
    if not raw.strip():
        raise BadRequest("The request needs a JSON body.")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}.") from exc


JsonBody = Annotated[Any, Depends(json_body)]
