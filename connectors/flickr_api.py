"""A thin typed wrapper around flickrapi 2.4: signed calls, one upload, errors translated.

flickrapi signs every request with OAuth 1.0a (an ``OAuth1`` auth object from
requests-oauthlib) and sends it through ``OAuthFlickrInterface.session``, a *class*
attribute shared by every instance; :class:`FlickrClient` gives each account its own
session instead, so tests can mount a fake on it and accounts never share one.

Every failure leaves this module as one of :mod:`connectors.errors`, the original kept as
``__cause__``:

- ``stat=fail`` codes 95-100 (key, signature, token, permissions) -> ``AuthExpired``;
  105 (service unavailable) and 106 (write failed) -> ``Retryable``; any other code
  (116 bad URL, 5 file type not recognised, ...) -> ``Permanent`` with Flickr's message.
- HTTP 429 -> ``RateLimited`` until ``Retry-After`` (an hour when Flickr gives none).
- For a creating request (``creating=True``): a read timeout, a connection broken after
  the request went out, a garbled answer or an HTTP 5xx -> ``Ambiguous``. For a read, or
  when the connection was never made -> ``Retryable``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests
from flickrapi import FlickrAPI
from flickrapi.auth import FlickrAccessToken
from flickrapi.exceptions import FlickrError, IllegalArgumentException

from connectors.credentials import Secret
from connectors.errors import (
    Ambiguous,
    AuthExpired,
    Permanent,
    PublishError,
    Retryable,
)
from connectors.http import lost_answer, refusal
from scheduler.clock import Clock

log = logging.getLogger(__name__)

AUTH_CODES = frozenset(range(95, 101))
TRANSIENT_CODES = frozenset({105, 106})
# Upload API error 6, "User exceeded upload limit": a free account's 1,000 photos (Flickr
# Free accounts: 1,000 photos and videos) or a Pro account's monthly cap.
UPLOAD_LIMIT_CODE = 6
DEFAULT_RATE_LIMIT_WAIT = timedelta(hours=1)


@dataclass(frozen=True, kw_only=True)
class FlickrCredentials:
    """The four secrets of one Flickr account (values never printed)."""

    api_key: Secret
    api_secret: Secret
    oauth_token: Secret
    oauth_token_secret: Secret


@dataclass(frozen=True, kw_only=True)
class Endpoints:
    rest_url: str
    upload_url: str


class FlickrClient:
    """One account's signed access to Flickr; every method raises only ``PublishError``."""

    def __init__(
        self,
        credentials: FlickrCredentials,
        *,
        endpoints: Endpoints,
        clock: Clock,
        account: str,
        session: requests.Session,
        timeout: float,
        upload_timeout: float,
    ) -> None:
        token = FlickrAccessToken(
            credentials.oauth_token.reveal(),
            credentials.oauth_token_secret.reveal(),
            "write",
        )
        self._api = FlickrAPI(
            credentials.api_key.reveal(),
            credentials.api_secret.reveal(),
            token=token,
            store_token=False,
            format="parsed-json",
            timeout=timeout,
        )
        # Instance attributes shadow flickrapi's class-level URLs and shared session.
        self._api.REST_URL = endpoints.rest_url
        self._api.UPLOAD_URL = endpoints.upload_url
        self._api.flickr_oauth.session = session
        self._last = threading.local()
        session.hooks["response"].append(self._remember)
        self.clock = clock
        self.account = account
        self.timeout = timeout
        self.upload_timeout = upload_timeout

    def call(
        self,
        method: str,
        *,
        creating: bool = False,
        tolerate: frozenset[int] = frozenset(),
        **params: str,
    ) -> Mapping[str, Any]:
        """A signed REST call (``format=json&nojsoncallback=1``); Flickr's JSON answer.

        A ``stat=fail`` whose code is in ``tolerate`` is returned, not raised, as
        ``{"stat": "fail", "code": N, "message": ...}``.
        """
        self._last.response = None
        try:
            answer = self._api.do_flickr_call(method, timeout=self.timeout, **params)
        except FlickrError as error:
            if error.code is not None and error.code in tolerate:
                return {"stat": "fail", "code": error.code, "message": _flickr_message(error)}
            raise self._translate(error, method, creating=creating) from error
        except Exception as error:
            raise self._translate(error, method, creating=creating) from error
        if not isinstance(answer, dict):
            raise Permanent(f"Flickr answered {method} with {type(answer).__name__}, not JSON")
        return answer

    def upload(self, path: Path, **fields: str) -> str:
        """Upload one photo (multipart to the upload URL); the new photo's id."""
        self._last.response = None
        try:
            photo = path.open("rb")
        except OSError as error:
            raise Permanent(f"cannot read {path.name} for Flickr: {error.strerror}") from error
        try:
            with photo:
                # The upload endpoint answers XML whatever format is asked; etree parses it.
                answer = self._api.upload(
                    path.name, photo, timeout=self.upload_timeout, format="etree", **fields
                )
        except Exception as error:
            raise self._translate(error, "upload", creating=True) from error
        photo_id = answer.findtext("photoid")
        if not photo_id:
            raise Ambiguous(f"Flickr accepted {path.name} but its answer has no photo id")
        return str(photo_id).strip()

    # -- translation -----------------------------------------------------------------

    def _remember(self, response: requests.Response, *_args: Any, **_kwargs: Any) -> None:
        """flickrapi turns a non-200 into a bare FlickrError: keep status and headers."""
        self._last.response = response

    def _translate(self, error: Exception, what: str, *, creating: bool) -> PublishError:
        where = f"Flickr {what} for account {self.account}"
        if isinstance(error, FlickrError) and error.code is not None:
            return self._stat_fail(error.code, _flickr_message(error), where)
        if isinstance(error, FlickrError):
            return self._http_failure(error, where, creating=creating)
        if isinstance(error, IllegalArgumentException):
            return Permanent(f"{where}: {error}")  # refused by flickrapi before sending
        # Sent or not, the answer was lost or unreadable (a RequestException, a garbled
        # XML or JSON answer, anything unexpected): the photo may exist when it may have
        # reached Flickr.
        return lost_answer(error, where=where, creating=creating)

    def _stat_fail(self, code: int, message: str, where: str) -> PublishError:
        text = f"{where}: {message} (code {code})"
        if code in AUTH_CODES:
            return AuthExpired(
                f"{text}; authorise relais again (perms=write) and replace the account's "
                "oauth_token and oauth_token_secret, see the README, section Flickr"
            )
        if code == UPLOAD_LIMIT_CODE:
            return Permanent(
                f"{where}: Flickr refused the upload: the account is at its upload limit (a "
                "free Flickr account keeps at most 1,000 photos and videos); upgrade it to "
                "Flickr Pro or delete photos, then `relais retry` sends it again (code 6)"
            )
        if code in TRANSIENT_CODES:
            return Retryable(text)
        return Permanent(text)

    def _http_failure(self, error: FlickrError, where: str, *, creating: bool) -> PublishError:
        response: requests.Response | None = getattr(self._last, "response", None)
        if response is None or response.status_code == 200:
            return Permanent(f"{where}: {error}")
        status = response.status_code
        words = f"Flickr answered HTTP {status}"
        if status == 403:  # Flickr's answer to a signature or token it does not accept
            return AuthExpired(self._auth_message(where, words), http_status=status)
        return refusal(
            status,
            words=words,
            headers=response.headers,
            where=where,
            creating=creating,
            now=self.clock.now(),
            rate_limit_wait=DEFAULT_RATE_LIMIT_WAIT,
            auth_message=lambda said: self._auth_message(where, said),
        )

    @staticmethod
    def _auth_message(where: str, said: str) -> str:
        return (
            f"{where}: Flickr refused the credentials ({said}); authorise relais again, "
            "see the README, section Flickr"
        )


def _flickr_message(error: FlickrError) -> str:
    """flickrapi's message is 'Error: <code>: <Flickr's words>'; keep Flickr's words."""
    text = str(error)
    prefix = f"Error: {error.code}: "
    return text[len(prefix) :] if text.startswith(prefix) else text
