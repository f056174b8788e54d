"""The HTTP boundary: did a failed request reach the platform, when to come back, what a
status means. The exception chains are the real ones: requests/urllib3 and httplib2 talk to
a socket on loopback that misbehaves, and the fault-injection transport's chains are
checked against the same function."""

from __future__ import annotations

import contextlib
import json
import random
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httplib2
import pytest
import requests
from urllib3.exceptions import MaxRetryError, NameResolutionError

from connectors.errors import (
    Ambiguous,
    AuthExpired,
    Permanent,
    PublishError,
    RateLimited,
    Retryable,
)
from connectors.http import lost_answer, may_have_reached, refusal, retry_at
from tests.fakes.faults import FAULT_KINDS, FaultInjector, FaultKind, Platform, faulty_session
from tests.support import START, FakeClock

Behaviour = Callable[[socket.socket], None]
# Long enough for a loopback answer, short enough to keep the read-timeout cases quick.
CLIENT_TIMEOUT = 0.3


@contextmanager
def misbehaving_server(behaviour: Behaviour) -> Iterator[str]:
    """A loopback HTTP "server" that reads each request's head, then does ``behaviour``."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            held.append(connection)
            received = b""
            while b"\r\n\r\n" not in received:
                chunk = connection.recv(4096)
                if not chunk:
                    break
                received += chunk
            behaviour(connection)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1/items"
    finally:
        stop.set()
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        listener.close()
        for connection in held:
            connection.close()
        thread.join(timeout=5)


def stay_silent(connection: socket.socket) -> None:
    """Read the request, answer nothing (the platform is slow, or acted and hung)."""


def hang_up(connection: socket.socket) -> None:
    connection.close()


def reset_mid_answer(connection: socket.socket) -> None:
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
    # SO_LINGER with a zero timeout: close() sends RST, as a crashed peer's kernel does.
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()


def cut_body(connection: socket.socket) -> None:
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b'{"id": "12')
    connection.close()


def short_json(connection: socket.socket) -> None:
    """Headers that promise exactly the half body sent: the bytes arrive, the JSON is cut."""
    body = b'{"id": "12'
    head = f"HTTP/1.1 201 Created\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    connection.sendall(head + body)
    connection.close()


def closed_port() -> str:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now: the connection is refused
    return f"http://127.0.0.1:{port}/v1/items"


def requests_error(url: str) -> BaseException:
    with pytest.raises(Exception) as raised:
        response = requests.post(url, json={"text": "bonjour"}, timeout=CLIENT_TIMEOUT)
        response.json()
    return raised.value


def httplib2_error(url: str) -> BaseException:
    with pytest.raises(Exception) as raised:
        _, content = httplib2.Http(timeout=CLIENT_TIMEOUT).request(url, "POST", body=b"{}")
        json.loads(content)  # as googleapiclient reads an answer
    return raised.value


# -- did it reach the platform? ------------------------------------------------------------


def test_a_refused_connection_did_not_reach_the_platform() -> None:
    for error in (requests_error(closed_port()), httplib2_error(closed_port())):
        assert not may_have_reached(error), repr(error)
        assert isinstance(lost_answer(error, where="posting", creating=True), Retryable)


def test_an_unknown_host_did_not_reach_the_platform() -> None:
    # Built as urllib3 builds it: no name is resolved in tests (no network but loopback).
    unresolved = NameResolutionError("api.example.invalid", None, socket.gaierror(-2, "unknown"))  # type: ignore[arg-type]
    error = requests.ConnectionError(MaxRetryError(None, "/2/tweets", unresolved))  # type: ignore[arg-type]
    assert not may_have_reached(error)
    assert not may_have_reached(httplib2.ServerNotFoundError("Unable to find the server"))


@pytest.mark.parametrize(
    "behaviour",
    [stay_silent, hang_up, reset_mid_answer, cut_body, short_json],
    ids=lambda behaviour: behaviour.__name__,
)
def test_a_request_that_left_may_have_reached_the_platform(behaviour: Behaviour) -> None:
    with misbehaving_server(behaviour) as url:
        errors = [requests_error(url), httplib2_error(url)]
    for error in errors:
        assert may_have_reached(error), repr(error)
        failure = lost_answer(error, where="posting", creating=True)
        assert isinstance(failure, Ambiguous) and "may have been created" in failure.message
        assert isinstance(lost_answer(error, where="reading", creating=False), Retryable)


def test_the_fault_injection_chains_mean_what_the_faults_say() -> None:
    """Whatever the fault, the boundary says "may have reached" when the platform acted;
    a reset while writing is taken for one after (the client cannot tell them apart)."""
    said: dict[FaultKind, bool] = {}
    for kind in FAULT_KINDS:
        injector = FaultInjector(
            app=_created,
            rng=random.Random(1),
            share=1.0,
            kinds=[kind],
            clock=FakeClock(START),
            platform=Platform(name="test", creates=(r"POST /v1/items",), limit="retry_after"),
        )
        try:
            response = faulty_session(injector).post("https://platform.test/v1/items", timeout=5)
        except requests.RequestException as error:
            said[kind] = may_have_reached(error)
            continue
        if response.ok:
            with pytest.raises(ValueError) as raised:
                response.json()
            said[kind] = may_have_reached(raised.value)
        else:  # an answer: its status speaks (see refusal())
            said[kind] = response.status_code >= 500
    assert said == {
        "rate_limit": False,
        "http_500": True,
        "http_503": True,  # a 5xx cannot say the platform did nothing
        "refused": False,
        "timeout_before": False,
        "timeout_after": True,
        "reset_before": True,
        "reset_after": True,
        "truncated": True,
    }


def _created(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("201 Created", [("Content-Type", "application/json")])
    return [json.dumps({"id": "1234567890"}).encode()]


# -- when to come back ---------------------------------------------------------------------

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "120"}, NOW + timedelta(seconds=120)),
        ({"retry-after": " 0 "}, NOW + timedelta(seconds=1)),
        ({"Retry-After": "Mon, 02 Mar 2026 09:05:00 GMT"}, NOW + timedelta(minutes=5)),
        (
            {"x-rate-limit-reset": str(int((NOW + timedelta(minutes=15)).timestamp()))},
            NOW + timedelta(minutes=15),
        ),
        ({"Retry-After": "Mon, 02 Mar 2026 08:00:00 GMT"}, None),  # already past
        ({"x-rate-limit-reset": str(int(NOW.timestamp()) - 60)}, None),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_at_reads_seconds_http_dates_and_epoch_resets(
    headers: dict[str, str], expected: datetime | None
) -> None:
    assert retry_at(headers, NOW) == expected


def test_retry_at_reads_httplib2_and_requests_headers() -> None:
    answer = httplib2.Response({"status": "503", "retry-after": "30"})
    assert retry_at(answer, NOW) == NOW + timedelta(seconds=30)
    response = requests.Response()
    response.headers.update({"Retry-After": "30"})
    assert retry_at(response.headers, NOW) == NOW + timedelta(seconds=30)


# -- what a status means -------------------------------------------------------------------


def refused(status: int, *, creating: bool = False, **headers: str) -> PublishError:
    return refusal(
        status,
        words="the platform's words",
        headers=headers,
        where="account blog: posting",
        creating=creating,
        now=NOW,
        rate_limit_wait=timedelta(minutes=15),
        auth_message=lambda said: f"renew the token ({said})",
    )


def test_the_generic_statuses_map_to_the_error_classes() -> None:
    expired = refused(401)
    assert isinstance(expired, AuthExpired)
    assert expired.message == "renew the token (the platform's words)"
    assert type(refused(403)) is Permanent and type(refused(404)) is Permanent
    assert type(refused(408)) is Retryable
    limited = refused(429, Retry_After="60")
    assert isinstance(limited, RateLimited) and limited.until == NOW + timedelta(minutes=15)
    limited = refused(429, **{"Retry-After": "60"})
    assert isinstance(limited, RateLimited) and limited.until == NOW + timedelta(seconds=60)
    for status in (500, 502, 503):
        assert type(refused(status, creating=True)) is Ambiguous
        assert type(refused(status)) is Retryable
    overloaded = refused(503, **{"Retry-After": "30"})
    assert isinstance(overloaded, Retryable) and overloaded.retry_after == timedelta(seconds=30)
    assert refused(500).http_status == 500


def test_httpx_failures_are_told_apart_like_requests_ones() -> None:
    import httpx

    request = httpx.Request("POST", "https://pds.example.org/xrpc/com.atproto.repo.createRecord")
    assert not may_have_reached(httpx.ConnectError("refused", request=request))
    assert not may_have_reached(httpx.ConnectTimeout("no answer", request=request))
    assert may_have_reached(httpx.ReadTimeout("lost", request=request))
    assert may_have_reached(httpx.RemoteProtocolError("cut", request=request))
