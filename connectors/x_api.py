"""X API v2 plumbing under the X connector: credentials, token renewal, requests, media.

Every call goes through :class:`XHttp` (plain requests, signed by requests-oauthlib for
OAuth 1.0a or stamped with the OAuth 2.0 bearer token), one session per account:

- OAuth 1.0a user context (:class:`OAuth1Authorizer`): four secrets, no expiry.
- OAuth 2.0 user context (:class:`OAuth2Authorizer`): a bearer access token (about 2 h)
  renewed at ``POST /2/oauth2/token`` when it is known to be expired or on a 401; X rotates
  the refresh token on every renewal, so the new one is saved at once.
- The post and the reads: ``POST /2/tweets``, ``GET /2/users/me``,
  ``GET /2/users/{id}/tweets`` (:meth:`XHttp.create_post`, :meth:`XHttp.me`,
  :meth:`XHttp.users_posts`).
- Media (:class:`MediaUploader`): ``POST /2/media/upload`` for images, chunked
  ``initialize`` / ``{id}/append`` / ``{id}/finalize`` for video, then
  ``GET /2/media/upload?command=STATUS`` while X is still processing.

Every failure leaves this module as a :mod:`connectors.errors` class (:func:`translate`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import requests
from requests.auth import AuthBase, HTTPBasicAuth
from requests_oauthlib import OAuth1

from connectors.credentials import Credentials, MissingCredential, Secret
from connectors.errors import (
    AuthExpired,
    Permanent,
    PublishError,
    Retryable,
)
from connectors.http import lost_answer, refusal
from scheduler.clock import Clock
from scheduler.logs import fields

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.x.com"
# X's rate-limit windows are 15 minutes; used when a 429 comes without its reset header.
_DEFAULT_RATE_WINDOW = timedelta(minutes=15)
# Renew a little before the announced expiry so a token never dies in flight.
_EXPIRY_MARGIN = timedelta(seconds=60)

_T = TypeVar("_T")


class XHttpError(Exception):
    """A non-2xx answer from X; ``response`` has its status, headers and problem body."""

    def __init__(self, response: requests.Response) -> None:
        super().__init__(f"HTTP {response.status_code}: {problem_message(response)}")
        self.response = response


def problem_message(response: requests.Response) -> str:
    """X's own words from an error body (problem+json, v1-style ``errors``, OAuth errors)."""
    try:
        body = response.json()
    except ValueError:
        return response.reason or f"HTTP {response.status_code}"
    if not isinstance(body, dict):
        return response.reason or f"HTTP {response.status_code}"
    words = [
        str(error["message"])
        for error in body.get("errors") or ()
        if isinstance(error, dict) and error.get("message")
    ]
    for key in ("detail", "error_description", "error", "title"):
        if not words and body.get(key):
            words.append(str(body[key]))
    return "; ".join(words) or response.reason or f"HTTP {response.status_code}"


class OAuth1Authorizer:
    """OAuth 1.0a user context: consumer key/secret and access token/secret; no renewal."""

    def __init__(self, secrets: Credentials) -> None:
        self._consumer_key = secrets.get("consumer_key")
        self._consumer_secret = secrets.get("consumer_secret")
        self._access_token = secrets.get("access_token")
        self._access_token_secret = secrets.get("access_token_secret")
        self.generation = 0

    def _keys(self) -> tuple[str, str, str, str]:
        return (
            self._consumer_key.reveal(),
            self._consumer_secret.reveal(),
            self._access_token.reveal(),
            self._access_token_secret.reveal(),
        )

    def requests_auth(self) -> AuthBase:
        return OAuth1(*self._keys())

    def renew(self, generation: int) -> bool:
        return False


class _NoAuth(AuthBase):
    """Keeps a session-wide bearer token off the token endpoint (public clients)."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.pop("Authorization", None)
        return request


class OAuth2Authorizer(AuthBase):
    """OAuth 2.0 user context. As a requests ``auth`` it stamps the current access token;
    ``renew`` trades the refresh token for a new pair and saves both (X rotates them).

    ``generation`` counts renewals, so a caller that saw a 401 renews only if nobody else
    did meanwhile: two threads must not both spend the same single-use refresh token.
    """

    def __init__(
        self,
        *,
        account: str,
        secrets: Credentials,
        session: requests.Session,
        token_url: str,
        timeout: float,
        clock: Clock,
    ) -> None:
        self.account = account
        self._secrets = secrets
        self._client_id = secrets.get("client_id")
        self._client_secret = secrets.find("client_secret")
        self._access_token = secrets.get("access_token")
        secrets.get("refresh_token")  # fail early, with where to put it, if it is missing
        self._session = session
        self._token_url = token_url
        self._timeout = timeout
        self._clock = clock
        self._expires_at: datetime | None = None
        self._lock = threading.Lock()
        self.generation = 0

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        expires_at = self._expires_at
        if expires_at is not None and self._clock.now() >= expires_at:
            self.renew(self.generation)
        request.headers["Authorization"] = f"Bearer {self._access_token.reveal()}"
        return request

    def requests_auth(self) -> AuthBase:
        return self

    def renew(self, generation: int) -> bool:
        """Renew unless another caller already did since ``generation``; True when a newer
        token is now in use. Raises AuthExpired when X refuses the refresh token."""
        with self._lock:
            if self.generation != generation:
                return True
            refresh_token = self._secrets.get("refresh_token")
            form = {
                "grant_type": "refresh_token",
                "refresh_token": refresh_token.reveal(),
                "client_id": self._client_id.reveal(),
            }
            # Confidential clients authenticate with HTTP Basic; public ones send only
            # client_id in the form.
            auth: AuthBase = (
                HTTPBasicAuth(self._client_id.reveal(), self._client_secret.reveal())
                if self._client_secret is not None
                else _NoAuth()
            )
            try:
                response = self._session.post(
                    self._token_url, data=form, auth=auth, timeout=self._timeout
                )
            except requests.RequestException as error:
                raise Retryable(
                    f"account {self.account}: could not reach X to renew the access token "
                    f"({type(error).__name__})"
                ) from error
            if response.status_code in (400, 401):
                raise AuthExpired(
                    f"account {self.account}: X refused to renew the OAuth 2.0 access token "
                    f"({problem_message(response)}); authorise relais again (scopes "
                    "tweet.read tweet.write users.read media.write offline.access) and store "
                    "the new access_token and refresh_token",
                    http_status=response.status_code,
                ) from XHttpError(response)
            if not response.ok:
                raise Retryable(
                    f"account {self.account}: renewing the access token failed: "
                    f"{problem_message(response)}",
                    http_status=response.status_code,
                ) from XHttpError(response)
            tokens = response.json()
            new_refresh = tokens.get("refresh_token")
            if new_refresh:
                # Saved first: the old refresh token is already dead on X's side.
                self._secrets.save("refresh_token", Secret(str(new_refresh)))
            self._access_token = Secret(str(tokens["access_token"]))
            self._secrets.save("access_token", self._access_token)
            expires_in = tokens.get("expires_in")
            self._expires_at = (
                self._clock.now() + timedelta(seconds=int(expires_in)) - _EXPIRY_MARGIN
                if expires_in
                else None
            )
            self.generation += 1
            log.info("renewed the X access token", extra=fields(account=self.account))
            return True


Authorizer = OAuth1Authorizer | OAuth2Authorizer


def load_authorizer(
    mode: str,
    *,
    account: str,
    secrets: Credentials,
    session: requests.Session,
    api_base: str,
    timeout: float,
    clock: Clock,
) -> Authorizer:
    """The account's credentials (MissingCredential names the secret and where to put it)."""
    if mode == "oauth1":
        return OAuth1Authorizer(secrets)
    authorizer = OAuth2Authorizer(
        account=account,
        secrets=secrets,
        session=session,
        token_url=f"{api_base}/2/oauth2/token",
        timeout=timeout,
        clock=clock,
    )
    return authorizer


def with_renewal(authorizer: Authorizer, action: Callable[[], _T]) -> _T:
    """Run ``action``; after a 401 renew the OAuth 2.0 token once and run it again (a 401
    means X did nothing, so repeating is safe)."""
    generation = authorizer.generation
    try:
        return action()
    except XHttpError as error:
        if error.response.status_code != 401 or not authorizer.renew(generation):
            raise
    return action()


class XHttp:
    """Calls to the X API over the account's session, each with a timeout; a non-2xx
    answer raises :class:`XHttpError`, after one token renewal for a 401."""

    def __init__(
        self, *, session: requests.Session, api_base: str, authorizer: Authorizer, timeout: float
    ) -> None:
        self.session = session
        self.api_base = api_base
        self.authorizer = authorizer
        self.timeout = timeout

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> dict[str, Any]:
        def once() -> dict[str, Any]:
            response = self.session.request(
                method,
                f"{self.api_base}{path}",
                params=params,
                json=json,
                data=data,
                files=files,
                auth=self.authorizer.requests_auth(),
                timeout=self.timeout,
            )
            if not response.ok:
                raise XHttpError(response)
            body = response.json() if response.content else {}
            return body if isinstance(body, dict) else {}

        return with_renewal(self.authorizer, once)

    def create_post(self, text: str, media_ids: list[str]) -> dict[str, Any]:
        """``POST /2/tweets``; the answer's ``data`` has the new post's ``id``."""
        body: dict[str, Any] = {"text": text}
        if media_ids:
            body["media"] = {"media_ids": media_ids}
        return self.send("POST", "/2/tweets", json=body)

    def me(self) -> dict[str, Any]:
        """``GET /2/users/me``: the account the credentials post as."""
        return self.send("GET", "/2/users/me")

    def users_posts(
        self, user_id: str, *, since: datetime | None, pagination_token: str | None
    ) -> dict[str, Any]:
        """One page (100) of the account's own posts, newest first, no replies or reposts."""
        params = {"max_results": "100", "exclude": "replies,retweets"}
        if since is not None:
            # X takes YYYY-MM-DDTHH:mm:ssZ (RFC 3339, UTC, whole seconds).
            params["start_time"] = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if pagination_token:
            params["pagination_token"] = pagination_token
        return self.send("GET", f"/2/users/{user_id}/tweets", params=params)


def translate(
    error: BaseException, *, account: str, doing: str, creating: bool, now: datetime
) -> PublishError:
    """One platform failure as the error class dispatch acts on (``raise ... from error``).

    ``creating``: the failed request may create the post, so a lost answer or a 5xx is
    Ambiguous (it may exist now); for anything else it is Retryable.
    """
    if isinstance(error, PublishError):
        return error
    if isinstance(error, MissingCredential):
        return AuthExpired(str(error))
    where = f"account {account}: {doing}"
    response = getattr(error, "response", None)
    if not isinstance(response, requests.Response) or response.ok:
        return lost_answer(error, where=where, creating=creating)
    status = response.status_code
    words = problem_message(response)
    if status == 409:  # X: a conflicting request in flight; nothing was created
        return Retryable(f"{where}: {words}", http_status=status)
    return refusal(
        status,
        words=words,
        headers=response.headers,
        where=where,
        creating=creating,
        now=now,
        rate_limit_wait=_DEFAULT_RATE_WINDOW,
        auth_message=lambda said: (
            f"{where}: X refused the credentials ({said}); create "
            "new tokens in the developer console and store them (see the README, section X / "
            "Twitter)"
        ),
    )


# X's media categories for posts, by the file's MIME type.
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})
VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime"})


class MediaUploader:
    """Uploads one file and returns its media id once X can attach it to a post.

    ``sleep`` is injected so tests never wait for X's processing; processing that takes
    longer than ``processing_timeout`` is Retryable (nothing has been posted yet).
    """

    def __init__(
        self,
        *,
        http: XHttp,
        chunk_bytes: int,
        processing_timeout: timedelta,
        sleep: Callable[[float], None],
    ) -> None:
        self.http = http
        self.chunk_bytes = chunk_bytes
        self.processing_timeout = processing_timeout
        self.sleep = sleep

    def upload(self, path: Path, mime_type: str, alt: str | None) -> str:
        """The media id of ``path``, uploaded, processed and given its alt text."""
        if mime_type in VIDEO_TYPES:
            media = self.upload_chunked(path, mime_type, "tweet_video")
        elif mime_type == "image/gif":
            media = self.upload_chunked(path, mime_type, "tweet_gif")
        else:
            media = self.upload_simple(path.name, path.read_bytes(), mime_type, "tweet_image")
        media_id = str(media["id"])
        self.wait_until_processed(media_id, media.get("processing_info"))
        if alt:
            self.http.send(
                "POST",
                "/2/media/metadata",
                json={"id": media_id, "metadata": {"alt_text": {"text": alt[:1000]}}},
            )
        return media_id

    def upload_simple(
        self, name: str, data: bytes, mime_type: str, category: str
    ) -> dict[str, Any]:
        """``POST /2/media/upload``, multipart ``media`` + ``media_category``."""
        body = self.http.send(
            "POST",
            "/2/media/upload",
            data={"media_category": category},
            files={"media": (name, data, mime_type)},
        )
        return _data(body, "POST /2/media/upload")

    def upload_chunked(self, path: Path, mime_type: str, category: str) -> dict[str, Any]:
        """initialize (JSON) -> append (multipart, one per chunk, read as it goes) -> finalize."""
        started = self.http.send(
            "POST",
            "/2/media/upload/initialize",
            json={
                "media_type": mime_type,
                "total_bytes": path.stat().st_size,
                "media_category": category,
            },
        )
        media_id = str(_data(started, "initialize")["id"])
        with path.open("rb") as file:
            for index, chunk in enumerate(iter(lambda: file.read(self.chunk_bytes), b"")):
                self.http.send(
                    "POST",
                    f"/2/media/upload/{media_id}/append",
                    data={"segment_index": str(index)},
                    files={"media": (path.name, chunk, "application/octet-stream")},
                )
        finished = self.http.send("POST", f"/2/media/upload/{media_id}/finalize")
        return _data(finished, "finalize")

    def wait_until_processed(self, media_id: str, processing: Any) -> None:
        waited = 0.0
        while isinstance(processing, dict):
            state = processing.get("state")
            if state == "succeeded":
                return
            if state == "failed":
                raise Permanent(f"X could not process media {media_id}; check its format")
            if waited >= self.processing_timeout.total_seconds():
                raise Retryable(
                    f"X was still processing media {media_id} after {int(waited)} s",
                    retry_after=timedelta(minutes=5),
                )
            pause = float(processing.get("check_after_secs") or 1)
            self.sleep(pause)
            waited += pause
            status = self.http.send(
                "GET", "/2/media/upload", params={"command": "STATUS", "media_id": media_id}
            )
            processing = _data(status, "media status").get("processing_info")


def _data(body: Mapping[str, Any], what: str) -> dict[str, Any]:
    data = body.get("data")
    if not isinstance(data, dict) or "id" not in data:
        raise Retryable(f"X answered {what} without a media id")
    return data
