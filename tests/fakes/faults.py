"""Fault injection in front of any platform fake: a WSGI middleware and its transport.

:class:`FaultInjector` wraps a platform fake (itself a WSGI app) and answers a share of
the requests with what production meets, drawn from a seeded ``random.Random`` so a run
can be replayed. Per kind, whether the platform acted on the request is part of the fault:

==================  =========  =========================================================
kind                app runs   what the client gets
==================  =========  =========================================================
``rate_limit``      no         the platform's own 429 (see :class:`Platform`) with a reset
``http_500``        yes        500 with a PHP/proxy error page: the item exists, the
                               answer says the server failed (a plugin died after insert)
``http_503``        no         503 with an HTML page (maintenance, overloaded proxy)
``refused``         no         connection refused (requests: ``ConnectionError`` whose
                               cause is urllib3's ``NewConnectionError``)
``timeout_before``  no         connect timeout (requests: ``ConnectTimeout``)
``timeout_after``   yes        read timeout: the answer is lost (``DropConnection``)
``reset_before``    no         the connection is reset while the request is written: the
                               platform never saw it, but the client cannot tell it from
                               ``reset_after`` (urllib3 ``ProtocolError``, as on the wire)
``reset_after``     yes        the connection is reset while the answer comes back
``truncated``       yes        the status and headers arrive, the body is cut in half
                               (Content-Length matching, as a PHP fatal mid-echo does):
                               the client gets invalid JSON
==================  =========  =========================================================

``creates_only`` limits chosen kinds to requests that create an item on the platform.
Every request is recorded as an :class:`Exchange` (fake time from the injected clock,
the fault if any, the status, the reset a 429 announced, whether the app acted), so a
test can check that nothing was sent to an account before its announced reset.

The connection-level faults are exceptions only :func:`faulty_session`'s transport knows
how to turn into what requests raises for them; they work in-process, not over
:func:`tests.fakes.wsgi.serve`.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from io import BytesIO
from typing import Any, Literal

import requests
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
)
from werkzeug.datastructures import Headers
from werkzeug.test import run_wsgi_app

from tests.fakes.wsgi import DropConnection, WsgiAdapter, WsgiApp
from tests.support import FakeClock

FaultKind = Literal[
    "rate_limit",
    "http_500",
    "http_503",
    "refused",
    "timeout_before",
    "timeout_after",
    "reset_before",
    "reset_after",
    "truncated",
]
FAULT_KINDS: tuple[FaultKind, ...] = (
    "rate_limit",
    "http_500",
    "http_503",
    "refused",
    "timeout_before",
    "timeout_after",
    "reset_before",
    "reset_after",
    "truncated",
)
# The platform handles the request before the fault hits: the item may exist afterwards.
ACTING_KINDS: frozenset[FaultKind] = frozenset(
    {"http_500", "timeout_after", "reset_after", "truncated"}
)
LimitStyle = Literal["retry_after", "x_rate_limit_reset", "graph_usage"]


# -- connection faults, raised by the middleware, translated by the transport -------------


class ConnectTimeoutFault(Exception):
    """The TCP connection was not accepted in time; nothing reached the platform."""


class RefusedFault(Exception):
    """The TCP connection was refused; nothing reached the platform."""


class ConnectionResetFault(Exception):
    """The peer reset the connection after it was set up (before or after the platform
    acted: the client sees the same ``ProtocolError`` either way)."""


class FaultyAdapter(WsgiAdapter):
    """:class:`WsgiAdapter` that also raises what requests/urllib3 raise for the
    connection faults above, with the same exception chain (so a connector that looks at
    ``error.args[0]`` to decide whether the request left sees what it would see live)."""

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        try:
            return super().send(request, **kwargs)
        except ConnectTimeoutFault as fault:
            timed_out = ConnectTimeoutError(None, f"Connection to host timed out. ({fault})")
            raise requests.exceptions.ConnectTimeout(
                _gave_up(request, timed_out), request=request
            ) from fault
        except RefusedFault as fault:
            refused = NewConnectionError(
                None,  # type: ignore[arg-type]  # urllib3 passes the connection object
                "Failed to establish a new connection: [Errno 111] Connection refused",
            )
            raise requests.exceptions.ConnectionError(
                _gave_up(request, refused), request=request
            ) from fault
        except ConnectionResetFault as fault:
            reset = ConnectionResetError(104, "Connection reset by peer")
            raise requests.exceptions.ConnectionError(
                ProtocolError("Connection aborted.", reset), request=request
            ) from fault


def _gave_up(request: requests.PreparedRequest, reason: Exception) -> MaxRetryError:
    """urllib3's wrapper for a connection that could not be made (requests retries 0)."""
    return MaxRetryError(None, request.url or "", reason)  # type: ignore[arg-type]


def faulty_session(app: WsgiApp, session: requests.Session | None = None) -> requests.Session:
    """A requests session whose every request goes to ``app`` through :class:`FaultyAdapter`."""
    session = session or requests.Session()
    adapter = FaultyAdapter(app)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


# -- how each platform says "rate limited" and which requests create -----------------------


@dataclass(frozen=True, kw_only=True)
class Platform:
    """What differs between platforms for fault injection.

    ``creates``: ``"METHOD /path"`` patterns (regexes, full match) of requests that
    create a visible item. ``exempt``: requests never faulted (see each platform's
    constant for why). ``limit``: how a 429 announces its reset.
    """

    name: str
    creates: tuple[str, ...]
    limit: LimitStyle
    exempt: tuple[str, ...] = ()

    def is_create(self, method: str, path: str) -> bool:
        return _matches(self.creates, method, path)

    def is_exempt(self, method: str, path: str) -> bool:
        return _matches(self.exempt, method, path)

    def rate_limited(self, now: datetime, wait: timedelta) -> tuple[Answer, datetime]:
        """The platform's own "slow down" answer, and the reset moment it announces."""
        if self.limit == "x_rate_limit_reset":
            # Epoch seconds, rounded up: the client may not come back before it.
            reset = math.ceil((now + wait).timestamp())
            problem = {"title": "Too Many Requests", "detail": "Too Many Requests",
                       "type": "about:blank", "status": 429}  # fmt: skip
            headers = [
                ("Content-Type", "application/problem+json"),
                ("x-rate-limit-limit", "100"),
                ("x-rate-limit-remaining", "0"),
                ("x-rate-limit-reset", str(reset)),
            ]
            answer = Answer(429, headers, json.dumps(problem).encode())
            return answer, datetime.fromtimestamp(reset, UTC)
        if self.limit == "graph_usage":
            # Graph throttles with an error body (code 32: Page request limit) and tells
            # the wait, in whole minutes, in X-Business-Use-Case-Usage.
            minutes = max(1, math.ceil(wait.total_seconds() / 60))
            entry = {"type": "pages", "call_count": 100, "total_cputime": 40, "total_time": 40,
                     "estimated_time_to_regain_access": minutes}  # fmt: skip
            error = {"message": "(#32) Page request limit reached", "type": "OAuthException",
                     "code": 32, "is_transient": False, "fbtrace_id": "AZfault"}  # fmt: skip
            headers = [
                ("Content-Type", "application/json"),
                ("X-Business-Use-Case-Usage", json.dumps({"0": [entry]})),
            ]
            answer = Answer(400, headers, json.dumps({"error": error}).encode())
            return answer, now + timedelta(minutes=minutes)
        seconds = max(1, math.ceil(wait.total_seconds()))
        headers = [("Content-Type", "text/html"), ("Retry-After", str(seconds))]
        page = b"<html><body><h1>429 Too Many Requests</h1></body></html>"
        return Answer(429, headers, page), now + timedelta(seconds=seconds)

    def announced_reset(self, answer: Answer, now: datetime) -> datetime | None:
        """The reset a (possibly the app's own) rate-limit answer announces, else None."""
        headers = Headers(answer.headers)
        if self.limit == "x_rate_limit_reset":
            reset = headers.get("x-rate-limit-reset", "")
            if answer.status == 429 and reset.isdigit():
                return datetime.fromtimestamp(int(reset), UTC)
            return None
        if self.limit == "graph_usage":
            try:
                error = json.loads(answer.body).get("error") or {}
                usage = json.loads(headers.get("X-Business-Use-Case-Usage", "{}"))
            except (ValueError, AttributeError):
                return None
            if error.get("code") not in (4, 17, 32, 613):
                return None
            waits = [entry.get("estimated_time_to_regain_access", 0)
                     for entries in usage.values() for entry in entries]  # fmt: skip
            return now + timedelta(minutes=max(waits, default=0))
        retry_after = headers.get("Retry-After", "")
        if answer.status == 429 and retry_after.isdigit():
            return now + timedelta(seconds=int(retry_after))
        return None


def _matches(patterns: Iterable[str], method: str, path: str) -> bool:
    return any(re.fullmatch(pattern, f"{method} {path}") for pattern in patterns)


WORDPRESS = Platform(
    name="wordpress",
    creates=(r"POST /wp-json/wp/v2/posts",),
    limit="retry_after",
)
X = Platform(
    name="x",
    creates=(r"POST /2/tweets",),
    limit="x_rate_limit_reset",
    # X rotates the refresh token on every renewal: a lost answer there kills the
    # credentials on X's side whatever relais does (it then pauses the account, which
    # tests/connectors/test_x.py covers). Faults there would only measure X's design.
    exempt=(r"POST /2/oauth2/token",),
)
FACEBOOK = Platform(
    name="facebook",
    creates=(r"POST /v[0-9.]+/[0-9]+/(feed|videos)",),
    limit="graph_usage",
)


# -- the middleware ------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True, kw_only=True)
class Exchange:
    """One request as the platform side saw it (``at`` is the fake clock's time)."""

    at: datetime
    method: str
    path: str
    creates: bool
    fault: FaultKind | None
    acted: bool  # the wrapped app handled it (the item may exist)
    status: int | None  # None: the client got no answer
    reset: datetime | None  # the reset a rate-limit answer announced
    body: bytes = b""  # the request body, kept for creating requests only


@dataclass
class FaultInjector:
    """Wraps ``app``; each request is faulted with probability ``share``, the kind drawn
    uniformly from ``kinds``. Kinds in ``creates_only`` only hit creating requests."""

    app: WsgiApp
    rng: random.Random
    share: float
    kinds: Collection[FaultKind]
    clock: FakeClock
    platform: Platform
    creates_only: Collection[FaultKind] = frozenset()
    # The wait a rate limit announces, drawn per fault.
    rate_limit_wait: Callable[[random.Random], timedelta] = field(
        default_factory=lambda: _some_wait
    )
    exchanges: list[Exchange] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not 0.0 <= self.share <= 1.0:
            raise ValueError(f"share must be in [0, 1], not {self.share}")
        self.kinds = tuple(self.kinds)
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown or not self.kinds:
            raise ValueError(f"fault kinds must be some of {FAULT_KINDS}, not {self.kinds}")

    # -- what happened ---------------------------------------------------------------

    @property
    def faults(self) -> list[Exchange]:
        return [exchange for exchange in self.exchanges if exchange.fault is not None]

    def fault_counts(self) -> Counter[str]:
        return Counter(exchange.fault for exchange in self.faults if exchange.fault)

    def early_requests(self) -> list[str]:
        """Requests that arrived before the latest reset a rate-limit answer had announced
        (each such request once, with the answer that announced the reset)."""
        problems: list[str] = []
        limit: Exchange | None = None
        for exchange in self.exchanges:
            if limit is not None and limit.reset is not None and exchange.at < limit.reset:
                problems.append(
                    f"{self.platform.name}: {exchange.method} {exchange.path} at "
                    f"{exchange.at:%H:%M:%S}, before the reset at {limit.reset:%H:%M:%S} "
                    f"announced by the {limit.status} to {limit.method} {limit.path} at "
                    f"{limit.at:%H:%M:%S}"
                )
            if exchange.reset is not None and (
                limit is None or limit.reset is None or exchange.reset > limit.reset
            ):
                limit = exchange
        return problems

    # -- WSGI --------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        method = str(environ.get("REQUEST_METHOD", "GET"))
        path = str(environ.get("PATH_INFO", ""))
        body = _take_body(environ)
        creates = self.platform.is_create(method, path)
        kind = self._draw(method, path, creates)
        now = self.clock.now()

        def record(status: int | None, acted: bool, reset: datetime | None = None) -> None:
            self.exchanges.append(
                Exchange(
                    at=now,
                    method=method,
                    path=path,
                    creates=creates,
                    fault=kind,
                    acted=acted,
                    status=status,
                    reset=reset,
                    body=body if creates else b"",
                )
            )

        if kind == "rate_limit":
            answer, reset = self.platform.rate_limited(now, self.rate_limit_wait(self.rng))
            record(answer.status, False, reset)
            return _respond(answer, start_response)
        if kind == "http_503":
            record(503, False)
            return _respond(_error_page(503), start_response)
        if kind in ("refused", "timeout_before", "reset_before"):
            record(None, False)
            raise {"refused": RefusedFault, "timeout_before": ConnectTimeoutFault,
                   "reset_before": ConnectionResetFault}[kind](f"injected {kind}")  # fmt: skip
        try:
            answer = _run(self.app, environ)
        except Exception:  # the fake's own lost answer (DropConnection, ...)
            record(None, True)
            raise
        if kind is None:
            record(answer.status, True, self.platform.announced_reset(answer, now))
            return _respond(answer, start_response)
        if kind == "http_500":
            record(500, True)
            return _respond(_error_page(500), start_response)
        if kind == "timeout_after":
            record(None, True)
            raise DropConnection(f"injected {kind}: the platform acted, the answer is lost")
        if kind == "reset_after":
            record(None, True)
            raise ConnectionResetFault(f"injected {kind}: the platform acted")
        # truncated: the headers promise the short body, so the client reads all of it.
        cut = answer.body[: len(answer.body) // 2]
        headers = [(k, v) for k, v in answer.headers if k.lower() != "content-length"]
        record(answer.status, True)
        return _respond(
            Answer(answer.status, [*headers, ("Content-Length", str(len(cut)))], cut),
            start_response,
        )

    def _draw(self, method: str, path: str, creates: bool) -> FaultKind | None:
        if self.platform.is_exempt(method, path) or self.rng.random() >= self.share:
            return None
        kinds = [k for k in self.kinds if creates or k not in self.creates_only]
        return self.rng.choice(kinds) if kinds else None


def _some_wait(rng: random.Random) -> timedelta:
    """Between half a minute and X's 15-minute window."""
    return timedelta(seconds=rng.randint(30, 15 * 60))


def _take_body(environ: dict[str, Any]) -> bytes:
    """Read the request body and put it back, so the wrapped app still reads it."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body: bytes = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = BytesIO(body)
    return body


def _run(app: WsgiApp, environ: dict[str, Any]) -> Answer:
    iterable, status, headers = run_wsgi_app(app, environ, buffered=True)
    try:
        body = b"".join(iterable)
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            close()
    return Answer(int(status.split(" ", 1)[0]), list(headers.items()), body)


def _respond(answer: Answer, start_response: Callable[..., Any]) -> list[bytes]:
    start_response(f"{answer.status} {HTTPStatus(answer.status).phrase}", answer.headers)
    return [answer.body]


def _error_page(status: int) -> Answer:
    """What a web server or a reverse proxy sends, not a platform's JSON error body."""
    page = f"<html><body><h1>{status} {HTTPStatus(status).phrase}</h1></body></html>".encode()
    headers = [("Content-Type", "text/html")]
    if status == 503:
        headers.append(("Retry-After", "30"))
    return Answer(status, headers, page)
