"""A small client for Meta's Graph API, shared by the Facebook Page and Instagram connectors.

facebook-sdk is not used: it only accepts Graph API versions 2.8-3.1 (all retired) and
drops status codes and headers. The Graph version is pinned here, in one place.

The client turns every answer into a JSON object or raises:

- :class:`GraphError`: the platform answered with an error body (code, subcode,
  ``is_transient``, its own message, the response headers);
- :class:`GraphTransportError`: no usable answer; ``maybe_sent`` tells whether the request
  may have reached the platform (read timeout, connection reset after sending).

:func:`publish_error` translates both into :mod:`connectors.errors` for dispatch.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

import requests

from connectors.credentials import Secret
from connectors.errors import (
    Ambiguous,
    AuthExpired,
    Permanent,
    PublishError,
    RateLimited,
    Retryable,
)
from connectors.http import may_have_reached, refusal

log = logging.getLogger(__name__)

# Meta's Graph API changelog, "Available Graph API versions": v25.0 released 18 February
# 2026, available until 29 July 2028 (v26.0, July 2026, has no end date yet). A test fails
# six months before the end: move both lines then.
GRAPH_VERSION = "v25.0"
GRAPH_VERSION_ENDS = date(2028, 7, 29)
DEFAULT_API_BASE = "https://graph.facebook.com"

# Graph error codes (developers.facebook.com/docs/graph-api/guides/error-handling).
_TRANSIENT_CODES = frozenset({1, 2})
_THROTTLED_CODES = frozenset({4, 17, 32, 341, 613, 80001})
_TEMPORARY_BLOCK = 368
_TOKEN_CODES = frozenset({102, 190})
DUPLICATE_POST = 506
# Instagram subcodes: server error, download timeout, container creation failed, upload error
# (Instagram Graph API reference, Error Codes), and 2207052 "media fetch failed", which
# Meta also answers for a fetch of a good file that failed (Postiz made it retryable after
# production incidents: gitroomhq/postiz-app#1900); relais check refuses bad files first.
_TRANSIENT_SUBCODES = frozenset({2207001, 2207003, 2207032, 2207052, 2207053})
# Instagram: "The media is not ready for publishing, please wait for a moment" at
# media_publish: the same container is published again after a wait.
NOT_READY_SUBCODE = 2207027
# Instagram: "the maximum number of posts ... by Content Publishing API" reached.
_PUBLISH_LIMIT_SUBCODE = 2207042
EXPIRED_CONTAINER_SUBCODE = 2207020

THROTTLE_BACKOFF = timedelta(minutes=15)
BLOCK_BACKOFF = timedelta(hours=1)


class GraphError(Exception):
    """The Graph API answered with an error object."""

    def __init__(
        self,
        *,
        http_status: int,
        code: int | None,
        subcode: int | None,
        message: str,
        user_message: str | None,
        is_transient: bool,
        headers: Mapping[str, str],
    ) -> None:
        detail = f"code {code}" + (f"/{subcode}" if subcode else "")
        super().__init__(f"Graph API error ({detail}, HTTP {http_status}): {message}")
        self.http_status = http_status
        self.code = code
        self.subcode = subcode
        self.message = message
        self.user_message = user_message
        self.is_transient = is_transient
        self.headers = headers

    @property
    def words(self) -> str:
        """The platform's own message, with the user-facing explanation when it gave one."""
        if self.user_message and self.user_message != self.message:
            return f"{self.message}: {self.user_message}"
        return self.message

    @property
    def has_body(self) -> bool:
        """False when the answer was not a Graph error object (a proxy's 502 page)."""
        return self.code is not None


class GraphTransportError(Exception):
    """No answer: ``maybe_sent`` says whether the platform may have acted on the request."""

    def __init__(self, message: str, *, maybe_sent: bool) -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent


class GraphClient:
    """Requests to one Graph API host with one access token (sent in a header, never in
    the URL, so it cannot end up in a log line or an exception message)."""

    def __init__(
        self,
        *,
        api_base: str,
        token: Secret,
        session: requests.Session,
        timeout: float,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self._token = token
        self.session = session
        self.timeout = timeout

    def url(self, path: str, *, base: str | None = None) -> str:
        return f"{(base or self.api_base).rstrip('/')}/{GRAPH_VERSION}/{path.lstrip('/')}"

    def get(self, path: str, params: Mapping[str, str | int] | None = None) -> dict[str, Any]:
        return self._send("GET", self.url(path), params=dict(params or {}), timeout=self.timeout)

    def post(
        self,
        path: str,
        data: Mapping[str, str | int],
        *,
        files: Mapping[str, tuple[str, Any, str]] | None = None,
        base: str | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        return self._send(
            "POST",
            self.url(path, base=base),
            data={key: str(value) for key, value in data.items()},
            files=dict(files) if files else None,
            timeout=timeout or self.timeout,
        )

    def delete(self, path: str) -> dict[str, Any]:
        """``DELETE /{node}``: Meta answers ``{"success": true}``."""
        return self._send("DELETE", self.url(path), timeout=self.timeout)

    def _send(self, method: str, url: str, *, timeout: float, **kwargs: Any) -> dict[str, Any]:
        headers = {"Authorization": f"OAuth {self._token.reveal()}"}
        try:
            response = self.session.request(method, url, headers=headers, timeout=timeout, **kwargs)
        except requests.RequestException as error:
            reached = may_have_reached(error)
            what = f"no answer from {url}" if reached else f"could not connect to {url}"
            raise GraphTransportError(
                f"{what} ({type(error).__name__})", maybe_sent=reached
            ) from error
        return _parse(response)


def _parse(response: requests.Response) -> dict[str, Any]:
    headers = dict(response.headers)
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.ok and isinstance(body, dict) and "error" not in body:
        return body
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        raise GraphError(
            http_status=response.status_code,
            code=None,
            subcode=None,
            message=f"unexpected answer (HTTP {response.status_code}, not a Graph error body)",
            user_message=None,
            is_transient=False,
            headers=headers,
        )
    raise _graph_error(response.status_code, error, headers)


def _graph_error(status: int, error: Mapping[str, Any], headers: Mapping[str, str]) -> GraphError:
    code = error.get("code")
    subcode = error.get("error_subcode")
    return GraphError(
        http_status=status,
        code=code if isinstance(code, int) else None,
        subcode=subcode if isinstance(subcode, int) else None,
        message=str(error.get("message") or "no message"),
        user_message=error.get("error_user_msg") or None,
        is_transient=bool(error.get("is_transient", False)),
        headers=headers,
    )


def regain_access_at(headers: Mapping[str, str], now: datetime) -> datetime | None:
    """When a throttled app or Page may call again, from Meta's usage headers.

    ``X-Business-Use-Case-Usage`` maps business ids to lists of usage entries and
    ``X-App-Usage`` is one entry; either may carry ``estimated_time_to_regain_access``
    in minutes. The longest wait wins.
    """
    minutes: list[float] = []
    lowered = {name.lower(): value for name, value in headers.items()}
    for name in ("x-business-use-case-usage", "x-app-usage", "x-ad-account-usage"):
        raw = lowered.get(name)
        if not raw:
            continue
        try:
            usage = json.loads(raw)
        except ValueError:
            continue
        entries: list[Any] = []
        if isinstance(usage, dict) and "call_count" not in usage:
            for value in usage.values():
                entries.extend(value if isinstance(value, list) else [value])
        else:
            entries.append(usage)
        for entry in entries:
            if isinstance(entry, dict):
                wait = entry.get("estimated_time_to_regain_access")
                if isinstance(wait, int | float) and wait > 0:
                    minutes.append(float(wait))
    return now + timedelta(minutes=max(minutes)) if minutes else None


def publish_error(
    error: GraphError | GraphTransportError,
    *,
    account: str,
    doing: str,
    creating: bool,
    now: datetime,
) -> PublishError:
    """The error dispatch understands for a failed Graph call; the caller raises it ``from``
    the original. ``creating``: the request may create the item, so an unclear outcome is
    ``Ambiguous`` rather than ``Retryable``."""
    if isinstance(error, GraphTransportError):
        if creating and error.maybe_sent:
            return Ambiguous(f"account {account}: {doing}: {error}; it may have been created")
        return Retryable(f"account {account}: {doing}: {error}")
    status = error.http_status
    words = error.words
    if error.code in _TOKEN_CODES:
        return AuthExpired(_token_message(account, error.message), http_status=status)
    if error.code in _THROTTLED_CODES or error.subcode == _PUBLISH_LIMIT_SUBCODE:
        until = regain_access_at(error.headers, now) or now + THROTTLE_BACKOFF
        return RateLimited(f"account {account}: {doing}: {words}", until=until, http_status=status)
    if error.code == _TEMPORARY_BLOCK:
        until = regain_access_at(error.headers, now) or now + BLOCK_BACKOFF
        return RateLimited(
            f"account {account}: temporarily blocked by Meta: {words}",
            until=until,
            http_status=status,
        )
    if (
        error.is_transient
        or error.code in _TRANSIENT_CODES
        or error.subcode in _TRANSIENT_SUBCODES
        or error.subcode == EXPIRED_CONTAINER_SUBCODE
    ):
        # Meta said the call failed: nothing was created, trying again is safe.
        return Retryable(f"account {account}: {doing}: {words}", http_status=status)
    if not error.has_body:
        # No Graph error object (a proxy's page, a success whose body was cut off): only
        # the status speaks, as for any platform.
        return refusal(
            status,
            words=words,
            headers=error.headers,
            where=f"account {account}: {doing}",
            creating=creating,
            now=now,
            rate_limit_wait=THROTTLE_BACKOFF,
            auth_message=lambda said: _token_message(account, said),
        )
    return Permanent(words, http_status=status)


def _token_message(account: str, said: str) -> str:
    return (
        f"account {account}: the access token no longer works ({said}); "
        "make a new one and store it where the docs say"
    )


def lookup_error(
    error: GraphError | GraphTransportError, *, account: str, doing: str, now: datetime
) -> PublishError:
    """The error for a failed read during reconciliation, as ``Connector.find`` promises:
    ``Retryable`` or ``RateLimited`` when asking again later may work, ``AuthExpired``
    for a dead token (dispatch pauses the account), ``Permanent`` when a person must look.
    A read creates nothing, so never ``Ambiguous``."""
    return publish_error(error, account=account, doing=doing, creating=False, now=now)
