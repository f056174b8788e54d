"""YouTube's resumable upload (session, chunks, resuming after a crash) and YouTube's errors.

A video goes up in three steps: a ``POST`` that opens an upload session (its URI comes
back in ``Location``), ``PUT`` requests that each carry one chunk (answered ``308`` with
``Range: bytes=0-N`` until the last one, which is answered with the Video resource), and,
after an interruption, an empty ``PUT`` with ``Content-Range: bytes */SIZE`` that asks the
session how far it got.

The session URI is the marker that makes uploads safe to repeat: it is written to the
delivery's notes *before the first byte of the video leaves*. googleapiclient opens the
session and sends the first chunk inside one ``next_chunk()`` call, leaving no gap to
write the note in; so the ``http`` object googleapiclient is given (:class:`ApiHttp`)
writes it itself, from the session-opening response, before that response is handed
back. (Opening the session by hand would duplicate googleapiclient's request building;
observing its response keeps one code path for both.)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import httplib2
from googleapiclient.errors import HttpError

from connectors.errors import AuthExpired, PublishError, RateLimited, Retryable
from connectors.http import refusal, retry_after
from scheduler.logs import fields

log = logging.getLogger(__name__)

SESSION_NOTE = "upload_session"
VIDEO_NOTE = "video_id"
CHUNK_UNIT = 256 * 1024  # chunks other than the last must be multiples of this
# YouTube's quota day ends at midnight Pacific time.
QUOTA_ZONE = ZoneInfo("America/Los_Angeles")
# A 429 without Retry-After: YouTube documents no wait, so a short one.
RATE_LIMIT_WAIT = timedelta(minutes=1)


def transport(timeout: float) -> httplib2.Http:
    """The production transport: httplib2 with a timeout, not following 308 responses.

    YouTube answers every unfinished chunk with ``308 Resume Incomplete``; httplib2 would
    otherwise treat it as a permanent redirect (googleapiclient's own ``build_http`` does
    the same, but takes its timeout from a process-wide socket default).
    """
    http = httplib2.Http(timeout=timeout)
    http.redirect_codes = http.redirect_codes - {308}
    return http


class ApiHttp:
    """The ``http`` googleapiclient talks through: an authorised transport, plus three things.

    - Stream bodies (googleapiclient sends each chunk as a file slice) are read into bytes
      first, so a request retried after a token refresh resends the same chunk.
    - Requests to the ``api_base`` host keep its scheme: googleapiclient moves upload URLs
      to the host of ``client_options.api_endpoint`` but leaves them on ``https``, which
      breaks a plain-HTTP endpoint (a fake on loopback).
    - With ``on_session``, the URI of a newly opened upload session is handed to it before
      the response goes back to googleapiclient, that is, before any video byte is sent.
    """

    def __init__(
        self,
        inner: Any,
        api_base: str,
        on_session: Callable[[str], None] | None = None,
    ) -> None:
        self.inner = inner
        self.api_base = urlsplit(api_base)
        self.on_session = on_session

    def recording(self, on_session: Callable[[str], None]) -> ApiHttp:
        """The same transport, telling ``on_session`` about the session it opens."""
        return ApiHttp(self.inner, urlunsplit(self.api_base), on_session)

    def request(
        self,
        uri: str,
        method: str = "GET",
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        redirections: int = httplib2.DEFAULT_MAX_REDIRECTS,
        connection_type: Any = None,
    ) -> tuple[httplib2.Response, bytes]:
        if body is not None and hasattr(body, "read"):
            body = body.read()
        uri = self.on_api_base(uri)
        response, content = self.inner.request(
            uri,
            method,
            body=body,
            headers=dict(headers or {}),
            redirections=redirections,
            connection_type=connection_type,
        )
        opened = (
            method == "POST"
            and "uploadType=resumable" in uri
            and response.status == 200
            and "location" in response
        )
        if opened and self.on_session is not None:
            response["location"] = self.on_api_base(response["location"])
            self.on_session(response["location"])
        return response, content

    def on_api_base(self, uri: str) -> str:
        parts = urlsplit(uri)
        if parts.netloc == self.api_base.netloc and parts.scheme != self.api_base.scheme:
            return urlunsplit(parts._replace(scheme=self.api_base.scheme))
        return uri

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()


@dataclass(frozen=True, kw_only=True)
class SessionState:
    """Where an upload session stands: ``video`` once complete, else ``received`` bytes.

    ``expired``: the platform no longer knows the session (it lives about a week).
    """

    received: int = 0
    video: Mapping[str, Any] | None = None
    expired: bool = False


def ask_session(http: ApiHttp, uri: str, size: int) -> SessionState:
    """The empty ``PUT`` that asks a session how far it got; raises ``HttpError`` otherwise."""
    response, content = http.request(
        uri, "PUT", body=b"", headers={"Content-Range": f"bytes */{size}", "Content-Length": "0"}
    )
    if response.status in (200, 201):
        video = json.loads(content)
        if not isinstance(video, dict) or "id" not in video:
            raise HttpError(response, content, uri="upload session")
        return SessionState(received=size, video=video)
    if response.status == 308:
        # No Range header: the session exists but has received nothing yet.
        answered = response.get("range")
        received = int(answered.rsplit("-", 1)[1]) + 1 if answered else 0
        return SessionState(received=received)
    if response.status in (404, 410):
        return SessionState(expired=True)
    raise HttpError(response, content, uri="upload session")


def send_chunks(
    request: Any,
    http: ApiHttp,
    *,
    size: int,
    ids: Mapping[str, Any],
) -> Mapping[str, Any]:
    """Run a googleapiclient resumable request to its end; one log line per chunk.

    Returns the Video resource. To resume, set ``request.resumable_uri`` and
    ``request.resumable_progress`` first: only the remaining bytes are sent.
    """
    response: Mapping[str, Any] | None = None
    while response is None:
        status, response = request.next_chunk(http=http)
        sent = size if response is not None else int(status.resumable_progress)
        log.info(
            "video upload %d%%",
            100 * sent // max(size, 1),
            extra=fields(**ids, bytes_sent=sent, bytes_total=size),
        )
    return response


def translate(error: HttpError, now: datetime, auth_message: Callable[[str], str]) -> PublishError:
    """YouTube's error answer as one of :mod:`connectors.errors`, with YouTube's message.

    ``auth_message`` turns Google's words into a message that says how to re-authorise.
    """
    status = int(error.resp.status)
    reason, message = error_details(error.content)
    if status == 403 and reason == "quotaExceeded":
        return RateLimited(message, until=next_quota_day(now), http_status=status)
    if status == 400 and reason == "uploadLimitExceeded":
        return RateLimited(message, until=now + timedelta(hours=24), http_status=status)
    if reason in ("rateLimitExceeded", "userRateLimitExceeded"):
        wait = retry_after(error.resp, now)
        return Retryable(message, retry_after=wait, http_status=status)
    if status == 403 and reason == "insufficientPermissions":
        # A grant without the needed scope: only a new authorisation helps, so the account
        # is paused (its posts held) rather than each post failed.
        return AuthExpired(auth_message(message), http_status=status)
    # The rest is generic: 401 is still refused after the one token refresh; a 5xx is
    # Retryable, never Ambiguous, because the noted upload session makes the next attempt
    # resume, not restart.
    return refusal(
        status,
        words=message,
        headers=error.resp,
        where="",
        creating=False,
        now=now,
        rate_limit_wait=RATE_LIMIT_WAIT,
        auth_message=auth_message,
    )


def error_details(content: bytes) -> tuple[str | None, str]:
    """YouTube's ``error.errors[0].reason`` and ``error.message``."""
    try:
        error = json.loads(content)["error"]
        reasons = error.get("errors") or [{}]
        return reasons[0].get("reason"), str(error.get("message") or reasons[0].get("message"))
    except (ValueError, KeyError, TypeError, AttributeError):
        text = content.decode("utf-8", "replace").strip()[:300]
        return None, text or "YouTube answered without a message"


def next_quota_day(now: datetime) -> datetime:
    """The next midnight in Los Angeles, when YouTube's daily quota starts again."""
    local = now.astimezone(QUOTA_ZONE)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=QUOTA_ZONE)
    return midnight.astimezone(UTC)
