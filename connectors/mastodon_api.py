"""A small client for the Mastodon REST API (``/api/v1``, ``/api/v2``), bearer-token auth.

Mastodon.py exists and is well kept, but it cannot serve the exactly-once core: it turns
every transport failure into one ``MastodonNetworkError`` (the underlying exception only
survives as implicit context, so "did the request reach the server?" must be dug out of
it), computes rate-limit resets against the process' wall clock (``time.time``) and
sleeps by itself in its "wait"/"pace" modes and when it polls media processing. relais
needs six endpoints, injected time and no sleeping, so this is plain ``requests`` through
:mod:`connectors.http`, like the WordPress client.

Sources for the platform's behaviour (docs.joinmastodon.org unless said otherwise):
``methods/statuses`` (``Idempotency-Key``: "stored for up to 1 hour"; ``scheduled_at``:
"at least 5 minutes in the future", answered with a ScheduledStatus), ``methods/media``
(``POST /api/v2/media`` answers 202 with ``url: null`` while a large file is processed;
a status cannot attach it until then: 422), ``methods/instance#v2`` (the instance's
limits), ``api/rate-limits`` (``X-RateLimit-Reset`` as an ISO 8601 timestamp; 300
requests per 5 minutes, media uploads 30 per 30 minutes), ``methods/statuses#source``
(the plain text a status was written with).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import requests
from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors.base import RequestTimeout
from connectors.credentials import Secret
from connectors.errors import AuthExpired, PublishError, RateLimited, Retryable
from connectors.http import lost_answer, refusal
from scheduler.clock import Clock, ensure_utc
from scheduler.durations import Duration

# A rate-limited request with no usable reset waits this long (Mastodon's window is 5 min).
RATE_LIMIT_WAIT = timedelta(minutes=5)


class MastodonOptions(BaseModel):
    """A ``mastodon`` account's options in config.yaml (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instance: str = Field(description="The server's address, e.g. https://mastodon.social.")
    visibility: Literal["public", "unlisted"] = "public"
    language: str = Field(default="fr", pattern=r"^[a-z]{2,3}$")
    content_warning: str | None = Field(
        default=None, description="A content warning (spoiler text) put on every post."
    )
    schedule_ahead: Duration = Field(
        default=timedelta(0),
        description="How long before its time a post is handed to the server's own "
        "scheduling; 0 sends every post at its time.",
    )
    timeout: RequestTimeout = timedelta(seconds=30)

    @field_validator("instance")
    @classmethod
    def _instance(cls, value: str) -> str:
        if not value.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ValueError(f"{value!r} is not an https:// address")
        return value.rstrip("/")


@dataclass(frozen=True, kw_only=True)
class InstanceLimits:
    """What ``/api/v2/instance`` says this server accepts."""

    max_characters: int = 500
    max_media: int = 4
    characters_per_url: int = 23
    image_bytes: int = 16 * 1024 * 1024
    video_bytes: int = 99 * 1024 * 1024
    mime_types: frozenset[str] = frozenset(
        {"image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4", "video/webm"}
    )

    @classmethod
    def from_instance(cls, document: Mapping[str, Any]) -> InstanceLimits:
        configuration = document.get("configuration") or {}
        statuses = configuration.get("statuses") or {}
        media = configuration.get("media_attachments") or {}
        default = cls()
        return cls(
            max_characters=int(statuses.get("max_characters", default.max_characters)),
            max_media=int(statuses.get("max_media_attachments", default.max_media)),
            characters_per_url=int(
                statuses.get("characters_reserved_per_url", default.characters_per_url)
            ),
            image_bytes=int(media.get("image_size_limit", default.image_bytes)),
            video_bytes=int(media.get("video_size_limit", default.video_bytes)),
            mime_types=frozenset(media.get("supported_mime_types") or default.mime_types),
        )


@dataclass(frozen=True, kw_only=True)
class Status:
    """A status, or a scheduled status (``scheduled_at`` set, ``url`` None)."""

    id: str
    url: str | None
    created_at: datetime | None = None
    scheduled_at: datetime | None = None
    text: str | None = None  # scheduled statuses carry their source text in ``params``


class MastodonClient:
    """One account on one server; every failure is one of :mod:`connectors.errors`."""

    def __init__(
        self,
        *,
        options: MastodonOptions,
        token: Secret,
        session: requests.Session,
        clock: Clock,
        account: str,
    ) -> None:
        self.base_url = options.instance
        self.timeout = options.timeout.total_seconds()
        self.session = session
        self.clock = clock
        self.account = account
        self._token = token

    # -- reads -----------------------------------------------------------------------

    def me(self) -> Mapping[str, Any]:
        found: Mapping[str, Any] = self._json(
            "GET", "/api/v1/accounts/verify_credentials", where="who am I"
        )
        return found

    def instance(self) -> Mapping[str, Any]:
        found: Mapping[str, Any] = self._json("GET", "/api/v2/instance", where="instance limits")
        return found

    def recent_statuses(self, account_id: str, limit: int = 40) -> list[Status]:
        found = self._json(
            "GET",
            f"/api/v1/accounts/{account_id}/statuses",
            params={"limit": str(limit), "exclude_reblogs": "true", "exclude_replies": "true"},
            where="recent statuses",
        )
        return [_status(item) for item in found]

    def source_text(self, status_id: str) -> str:
        found = self._json("GET", f"/api/v1/statuses/{status_id}/source", where="status source")
        return str(found.get("text", ""))

    def scheduled_statuses(self) -> list[Status]:
        found = self._json("GET", "/api/v1/scheduled_statuses", where="scheduled statuses")
        return [_scheduled(item) for item in found]

    def media_ready(self, media_id: str) -> bool:
        """Whether an upload answered with 202 has finished processing (206: not yet)."""
        response = self._send("GET", f"/api/v1/media/{media_id}", where="media processing")
        return response.status_code == 200 and bool(_body(response).get("url"))

    # -- writes ----------------------------------------------------------------------

    def upload_media(
        self, path: Path, *, mime_type: str, description: str | None
    ) -> tuple[str, bool]:
        """The attachment's id, and whether it is ready (202: still being processed). A
        lost answer is only ``Retryable``: an unattached upload is removed by the server
        after a day, so uploading again costs nothing lasting."""
        with path.open("rb") as file:
            response = self._send(
                "POST",
                "/api/v2/media",
                files={"file": (path.name, file, mime_type)},
                data={"description": description} if description else None,
                where="media upload",
            )
        body = _body(response)
        return str(body["id"]), response.status_code == 200 and bool(body.get("url"))

    def post_status(
        self,
        *,
        text: str,
        media_ids: Sequence[str],
        visibility: str,
        language: str,
        spoiler_text: str | None,
        scheduled_at: datetime | None,
        idempotency_key: str,
    ) -> Status:
        form: list[tuple[str, str]] = [
            ("status", text),
            ("visibility", visibility),
            ("language", language),
        ]
        form += [("media_ids[]", media_id) for media_id in media_ids]
        if spoiler_text:
            form.append(("spoiler_text", spoiler_text))
        if scheduled_at is not None:
            form.append(("scheduled_at", ensure_utc(scheduled_at).isoformat()))
        response = self._send(
            "POST",
            "/api/v1/statuses",
            data=form,
            headers={"Idempotency-Key": idempotency_key},
            where="new status",
            creating=True,
        )
        body = _body(response)
        return _scheduled(body) if "scheduled_at" in body and "params" in body else _status(body)

    def delete_scheduled(self, scheduled_id: str) -> None:
        self._send("DELETE", f"/api/v1/scheduled_statuses/{scheduled_id}", where="unschedule")

    def reschedule(self, scheduled_id: str, moment: datetime) -> Status:
        response = self._send(
            "PUT",
            f"/api/v1/scheduled_statuses/{scheduled_id}",
            data={"scheduled_at": ensure_utc(moment).isoformat()},
            where="reschedule",
        )
        return _scheduled(_body(response))

    # -- transport -------------------------------------------------------------------

    def _json(self, method: str, path: str, *, where: str, **kwargs: Any) -> Any:
        return _body(self._send(method, path, where=where, **kwargs))

    def _send(
        self, method: str, path: str, *, where: str, creating: bool = False, **kwargs: Any
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {self._token.reveal()}", **kwargs.pop("headers", {})}
        where = f"{self.account} ({where})"
        try:
            response = self.session.request(
                method, self.base_url + path, headers=headers, timeout=self.timeout, **kwargs
            )
        except requests.RequestException as error:
            raise lost_answer(error, where=where, creating=creating) from error
        if response.ok:
            return response
        raise self._refusal(response, where=where, creating=creating)

    def _refusal(self, response: requests.Response, *, where: str, creating: bool) -> PublishError:
        words = str(_body(response, strict=False).get("error") or response.reason or "")
        now = ensure_utc(self.clock.now())
        if response.status_code == 429:
            # Mastodon's reset is an ISO 8601 timestamp, not seconds (api/rate-limits).
            reset = _iso(response.headers.get("X-RateLimit-Reset"))
            if reset is not None and reset > now:
                return RateLimited(f"{where}: rate limited", until=reset, http_status=429)
        if response.status_code == 403:
            # "Your login is currently disabled" / a suspended account: a person must act.
            return AuthExpired(f"{where}: the server refuses this account ({words})")
        return refusal(
            response.status_code,
            words=words or f"HTTP {response.status_code}",
            headers=response.headers,
            where=where,
            creating=creating,
            now=now,
            rate_limit_wait=RATE_LIMIT_WAIT,
            auth_message=lambda said: (
                f"{self.account}: the access token no longer works ({said}); create a new "
                "one in the account's Preferences > Development and put it in the "
                "credentials"
            ),
        )


def _body(response: requests.Response, *, strict: bool = True) -> Any:
    try:
        return response.json()
    except ValueError as error:
        if strict:
            raise Retryable(f"unreadable answer from Mastodon (HTTP {response.status_code})") from (
                error
            )
        return {}


def _iso(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return ensure_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def _status(item: Mapping[str, Any]) -> Status:
    return Status(id=str(item["id"]), url=item.get("url"), created_at=_iso(item.get("created_at")))


def _scheduled(item: Mapping[str, Any]) -> Status:
    params = item.get("params") or {}
    return Status(
        id=str(item["id"]),
        url=None,
        scheduled_at=_iso(item.get("scheduled_at")),
        text=params.get("text"),
    )
