"""Real servers for notifications: an SMTP server (aiosmtpd) and a webhook receiver
(http.server), both on 127.0.0.1, started and stopped by the test."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True, kw_only=True)
class Received:
    sender: str
    recipients: tuple[str, ...]
    raw: str
    subject: str
    body: str
    authenticated: bool


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    # An SMTP reply to give instead of accepting ("451 4.3.0 try later"): a refusal.
    refuse_with: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse_with:
            return self.refuse_with
        raw = envelope.content.decode("utf-8", "replace")
        message = email.message_from_string(raw, policy=email.policy.default)
        part = message.get_body(preferencelist=("plain",))
        body = part.get_content() if part is not None else ""
        with self.lock:
            self.received.append(
                Received(
                    sender=envelope.mail_from,
                    recipients=tuple(envelope.rcpt_tos),
                    raw=raw,
                    subject=str(message["Subject"]),
                    body=body,
                    authenticated=bool(session.authenticated),
                )
            )
        return "250 OK"


class MailServer:
    """aiosmtpd on loopback; ``password`` given: it asks for a login (relais / password)."""

    def __init__(self, *, port: int | None = None, password: str | None = None) -> None:
        self.port = port or free_port()
        self.handler = _Handler()
        self.password = password
        self._controller: Controller | None = None

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def refuse(self, reply: str | None) -> None:
        self.handler.refuse_with = reply

    def start(self) -> MailServer:
        options: dict[str, Any] = {}
        if self.password is not None:
            options = {
                "authenticator": self._authenticate,
                "auth_require_tls": False,
                "auth_required": True,
            }
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **options)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        good = (
            isinstance(data, LoginPassword)
            and data.login == b"relais"
            and self.password is not None
            and data.password == self.password.encode()
        )
        return AuthResult(success=good)


@contextmanager
def mail_server(**options: Any) -> Iterator[MailServer]:
    server = MailServer(**options).start()
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True, kw_only=True)
class Hook:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class WebhookReceiver:
    """A plain HTTP server recording each JSON POST (Apprise's json:// URLs)."""

    def __init__(self) -> None:
        self.hooks: list[Hook] = []
        received = self.hooks

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                payload = self.rfile.read(length)
                received.append(
                    Hook(
                        path=self.path,
                        headers=dict(self.headers.items()),
                        body=json.loads(payload or b"{}"),
                    )
                )
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
