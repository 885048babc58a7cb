"""One gate for every JSON body: numbers JSON allows, sizes the code can handle.

Python's ``json`` module accepts ``NaN``, ``Infinity`` and ``1e999`` (which becomes infinity),
digit strings thousands long and nesting until the interpreter's stack runs out. Each of these
used to travel on: saved into a lead and then failing when the lead was serialized (500, lead
half-written), or blowing the stack in a validator. This middleware reads each JSON request
body before any route does and refuses, with 422 (400 for bodies that are not JSON at all) and
the path of the offending value (the limits: :mod:`leadflow.json_limits`):

* non-finite numbers (``NaN``, ``Infinity``, ``-Infinity``, overflowing floats);
* integers beyond 64 bits;
* nesting deeper than :data:`MAX_DEPTH` objects and arrays;
* bodies over :data:`MAX_BODY_BYTES` (413, read no further).

The body is then handed to the route unchanged (a signed webhook still verifies its bytes).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadflow.json_limits import MAX_DEPTH, json_problem

__all__ = ["BodyGuard", "check_body"]

MAX_BODY_BYTES = 32 * 2**20  # a JSON body; uploads (CSV, forms) are the routes' own business
_NOT_JSON_TYPES = ("multipart/", "application/x-www-form-urlencoded", "text/csv", "text/plain")


def _answer(error: str, detail: str, problems: list[dict[str, str]] | None) -> bytes:
    body: dict[str, Any] = {"error": error, "detail": detail}
    if problems is not None:
        body["problems"] = problems
    return json.dumps(body).encode()


def check_body(raw: bytes) -> tuple[int, bytes] | None:
    """``(status, response body)`` when ``raw`` must be refused, else None."""
    text = raw.lstrip()
    if not text or text[:1] not in (b"{", b"["):
        return None  # not a JSON document: the route says what it expects
    try:
        value = json.loads(raw)
    except RecursionError:
        problem = {"path": "body", "message": f"The JSON nests deeper than {MAX_DEPTH} levels; "
                   "flatten it."}
        return 422, _answer("Invalid", f"body: {problem['message']}", [problem])
    except ValueError as exc:  # includes "Exceeds the limit (4300 digits)"
        return 400, _answer("BadRequest", f"The body is not valid JSON: {exc}.", None)
    problem = json_problem(value)
    if problem is None:
        return None
    return 422, _answer("Invalid", f"{problem['path'] or 'body'}: {problem['message']}",
                        [problem])


async def _send(send: Send, status: int, payload: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


class BodyGuard:
    """ASGI middleware applying :func:`check_body` to every JSON request body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        content_type = ""
        for name, value in scope.get("headers") or []:
            if name == b"content-type":
                content_type = value.decode("latin-1").lower()
        if content_type.startswith(_NOT_JSON_TYPES):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > MAX_BODY_BYTES:
                await _send(send, 413, _answer(
                    "TooLarge", f"The body is larger than {MAX_BODY_BYTES // 2**20} MiB; send "
                    "less at once (events: at most 5,000 per request).", None))
                return
            more = message.get("more_body", False)
        raw = b"".join(chunks)
        refused = check_body(raw) if raw else None
        if refused is not None:
            await _send(send, *refused)
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
