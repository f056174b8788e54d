"""The HTTP boundary every connector goes through: three questions, answered once.

1. :func:`may_have_reached`: did a failed request possibly reach the platform? This is what
   exactly-once rests on: a creating request that may have arrived is ``Ambiguous`` (the
   delivery is reconciled, never re-sent blindly); one that surely did not is ``Retryable``.
2. :func:`retry_at`: when the platform said to come back (``Retry-After`` as seconds or as an
   HTTP date, X's ``x-rate-limit-reset`` as epoch seconds).
3. :func:`refusal`: the generic meaning of an error status (401, 408, 429, 5xx, other 4xx)
   as one of :mod:`connectors.errors`. A connector first handles what only its platform
   says (Graph error codes, YouTube's quota reasons, WordPress's anonymous refusals), then
   hands the rest here.

:func:`lost_answer` combines 1 with the caller's "does this request create the item?".

How a lost request shows up, in requests/urllib3 and in httplib2 (google-api-python-client)::

    not reached (the connection never carried the request)
      requests.ConnectTimeout  <- MaxRetryError(ConnectTimeoutError)
      requests.ConnectionError <- MaxRetryError(NewConnectionError / NameResolutionError)
      ConnectionRefusedError, socket.gaierror, httplib2.ServerNotFoundError (httplib2)
      httpx.ConnectError, httpx.ConnectTimeout (httpx, under the atproto SDK)
    may have reached (the request left, the answer did not come back whole)
      requests.ReadTimeout, socket.timeout (httplib2 cannot tell a connect timeout apart)
      requests.ConnectionError <- ProtocolError(ConnectionResetError / RemoteDisconnected)
      requests.ChunkedEncodingError <- ProtocolError(IncompleteRead), http.client.IncompleteRead
      httpx.ReadTimeout, ReadError, WriteError, WriteTimeout, RemoteProtocolError
      a 2xx whose body is not what the platform sends (a truncated JSON: ValueError)
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from http.client import HTTPException

import httplib2
import httpx
import requests
from urllib3.exceptions import (
    ConnectTimeoutError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from connectors.errors import (
    Ambiguous,
    AuthExpired,
    Permanent,
    PublishError,
    RateLimited,
    Retryable,
)

# Failures of the connection itself: nothing of the request was delivered. Checked first,
# and not looked into: urllib3's ConnectTimeoutError carries the socket's TimeoutError,
# which on its own would mean "may have reached".
_NOT_SENT: tuple[type[BaseException], ...] = (
    ConnectTimeoutError,  # NewConnectionError and NameResolutionError are subclasses
    NewConnectionError,
    ConnectionRefusedError,
    socket.gaierror,
    httplib2.ServerNotFoundError,
    requests.ConnectTimeout,
    httpx.ConnectError,  # httpx (the atproto SDK): the connection never carried it
    httpx.ConnectTimeout,
)
_NOT_SENT_ERRNOS = frozenset({errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH})
# The connection broke or went silent once the request was on its way.
_AFTER_SENDING: tuple[type[BaseException], ...] = (
    ProtocolError,
    ReadTimeoutError,
    HTTPException,  # RemoteDisconnected, IncompleteRead, BadStatusLine
    ConnectionResetError,
    ConnectionAbortedError,
    BrokenPipeError,
    TimeoutError,  # socket.timeout: a read timeout (or, with httplib2, either kind)
    requests.ReadTimeout,
    httpx.ReadTimeout,  # httpx: sent, or partly sent, and the answer did not come back
    httpx.ReadError,
    httpx.WriteError,
    httpx.WriteTimeout,
    httpx.RemoteProtocolError,
)


def may_have_reached(error: BaseException) -> bool:
    """Whether the platform may have received (and acted on) the request that failed.

    The exception, its ``args``, urllib3's ``reason`` and the ``__cause__``/``__context__``
    chain are searched. Evidence that the request left wins; without any, a failure to
    connect (``requests.ConnectionError`` and the errors above) means "not reached", and
    anything else (a read error, an unreadable 2xx body, an unexpected exception) "may
    have": only the safe answer is given when in doubt.
    """
    seen_not_sent = False
    for link in _chain(error):
        if isinstance(link, _NOT_SENT) or (
            type(link) is OSError and link.errno in _NOT_SENT_ERRNOS
        ):
            seen_not_sent = True
        elif isinstance(link, _AFTER_SENDING):
            return True
    if seen_not_sent:
        return False
    # requests raises a bare ConnectionError for a connection it could not use at all.
    return not isinstance(error, requests.ConnectionError)


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The exception and everything it carries, each once; not inside a "not sent" one."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, _NOT_SENT):
            continue
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            pending.append(reason)
        pending.extend(link for link in (current.__cause__, current.__context__) if link)


def lost_answer(error: BaseException, *, where: str, creating: bool) -> PublishError:
    """A request that got no usable answer: ``Ambiguous`` when it creates the item and may
    have reached the platform, ``Retryable`` otherwise (the caller raises it ``from``)."""
    if creating and may_have_reached(error):
        return Ambiguous(
            f"{where}: the answer was lost ({type(error).__name__}); it may have been created"
        )
    if may_have_reached(error):
        return Retryable(f"{where}: the answer was lost ({type(error).__name__})")
    return Retryable(f"{where}: could not connect ({type(error).__name__})")


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever its case (requests' headers, httplib2's lower-case dict,
    or a plain dict)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def retry_at(headers: Mapping[str, str], now: datetime) -> datetime | None:
    """When the platform said to try again: ``Retry-After`` (seconds or an HTTP date, RFC
    9110 §10.2.3) or ``x-rate-limit-reset`` (epoch seconds, X). None when it said nothing
    usable, including a moment already past: the caller then applies its own default."""
    retry_after = (header(headers, "Retry-After") or "").strip()
    if retry_after.isdigit():
        return now + timedelta(seconds=max(1, int(retry_after)))
    if retry_after:
        try:
            moment = parsedate_to_datetime(retry_after)
        except (TypeError, ValueError, IndexError):
            moment = None
        if moment is not None:
            moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
            return moment if moment > now else None
    reset = (header(headers, "x-rate-limit-reset") or "").strip()
    if reset.isdigit():
        moment = datetime.fromtimestamp(int(reset), UTC)
        return moment if moment > now else None
    return None


def retry_after(headers: Mapping[str, str], now: datetime) -> timedelta | None:
    """:func:`retry_at` as a wait from ``now``."""
    moment = retry_at(headers, now)
    return None if moment is None else moment - now


def refusal(
    status: int,
    *,
    words: str,
    headers: Mapping[str, str],
    where: str,
    creating: bool,
    now: datetime,
    rate_limit_wait: timedelta,
    auth_message: Callable[[str], str],
) -> PublishError:
    """The generic meaning of an error status, for what the connector did not recognise.

    - 401: ``AuthExpired`` (``auth_message(words)`` says how to renew the credentials);
    - 429: ``RateLimited`` until :func:`retry_at`, or ``rate_limit_wait`` from now;
    - 5xx, and a 2xx that carried no usable answer: the platform may have acted, so
      ``Ambiguous`` when ``creating``, else ``Retryable`` (after ``Retry-After`` if given);
    - 408 (the server gave up waiting for the request): ``Retryable``;
    - 403 and every other status: ``Permanent`` with the platform's words.

    Messages start with ``where`` (say what was being done to which account) unless it is
    empty.
    """

    def said(text: str) -> str:
        return f"{where}: {text}" if where else text

    if status == 401:
        return AuthExpired(auth_message(words), http_status=status)
    if status == 429:
        until = retry_at(headers, now) or now + rate_limit_wait
        return RateLimited(said(f"rate limited ({words})"), until=until, http_status=status)
    if status >= 500 or 200 <= status < 300:
        if creating:
            return Ambiguous(
                said(f"HTTP {status} ({words}); it may have been created"), http_status=status
            )
        wait = retry_after(headers, now)
        return Retryable(said(f"HTTP {status} ({words})"), retry_after=wait, http_status=status)
    if status == 408:
        return Retryable(said(words), http_status=status)
    return Permanent(said(words), http_status=status)
