"""A local HTTP server that plays SendGrid's ``POST /v3/mail/send`` for tests.

Every request is recorded (so a test can count deliveries per send id); answers are scripted
per call with :meth:`FakeSendGrid.script`, and fall back to ``202`` with an ``X-Message-Id``.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeSendGrid", "RecordedRequest", "Reply", "running_fake_sendgrid"]


@dataclass
class Reply:
    """One scripted answer.

    ``crash=True`` records the request as accepted, then drops the connection unanswered:
    the provider took the mail but the client never learns it.
    """

    status: int = 202
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0
    crash: bool = False

    @classmethod
    def accepted(cls) -> Reply:
        return cls(202)

    @classmethod
    def rate_limited(cls, reset_in: float = 30.0) -> Reply:
        reset = str(int(time.time() + reset_in))
        return cls(429, {"X-RateLimit-Reset": reset}, {"errors": [{"message": "too many"}]})

    @classmethod
    def server_error(cls, status: int = 500) -> Reply:
        return cls(status, body={"errors": [{"message": "internal error"}]})

    @classmethod
    def bad_request(
        cls, message: str = "The from address does not match a verified Sender"
    ) -> Reply:
        return cls(400, body={"errors": [{"message": message, "field": "from", "help": None}]})


@dataclass
class RecordedRequest:
    """A request as the fake received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    accepted: bool = False

    @property
    def send_id(self) -> str | None:
        args = self.body.get("custom_args") or {}
        for personalization in self.body.get("personalizations") or []:
            args = {**args, **(personalization.get("custom_args") or {})}
        return args.get("send_id")


class FakeSendGrid:
    """The fake's state: recorded requests and the script of upcoming answers."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._script: list[Reply] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.server: ThreadingHTTPServer | None = None

    @property
    def host(self) -> str:
        """Base URL to give the sendgrid client (``LEADFLOW_SENDGRID_HOST``)."""
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def script(self, *replies: Reply) -> None:
        """Answer the next calls with ``replies``, in order; then 202 again."""
        with self._lock:
            self._script.extend(replies)

    def next_reply(self) -> Reply:
        with self._lock:
            return self._script.pop(0) if self._script else Reply.accepted()

    def new_message_id(self) -> str:
        return f"fake-msg-{next(self._ids)}"

    def accepted_count(self, send_id: str) -> int:
        """How many times SendGrid would have sent the mail ``send_id``."""
        return Counter(r.send_id for r in self.requests if r.accepted)[send_id]

    def calls(self, send_id: str) -> int:
        """How many requests for ``send_id`` arrived, whatever the answer."""
        return sum(1 for r in self.requests if r.send_id == send_id)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_POST(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        record = RecordedRequest("POST", self.path, dict(self.headers.items()), body)
        if self.path != "/v3/mail/send":
            fake.requests.append(record)
            return self._answer(Reply(404, body={"errors": [{"message": "not found"}]}))
        if not (self.headers.get("Authorization") or "").startswith("Bearer "):
            fake.requests.append(record)
            return self._answer(Reply(401, body={"errors": [{"message": "unauthorized"}]}))
        reply = fake.next_reply()
        record.accepted = reply.status == 202 or reply.crash
        fake.requests.append(record)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.crash:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return None
        headers = dict(reply.headers)
        if reply.status == 202:
            headers.setdefault("X-Message-Id", fake.new_message_id())
        return self._answer(Reply(reply.status, headers, reply.body))

    def _answer(self, reply: Reply) -> None:
        payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            pass  # the client gave up (timeout) before the slow answer came


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeSendGrid


def running_fake_sendgrid() -> Iterator[FakeSendGrid]:
    """Run a fake on 127.0.0.1 (free port) for the duration of the generator."""
    fake = FakeSendGrid()
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = fake
    fake.server = server
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="fake-sendgrid", daemon=True
    )
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
