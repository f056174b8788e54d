"""Where Instagram fetches media from: Meta downloads every image and video from a public
URL, and the library's server usually sits behind a firewall.

Two hosts:

- :class:`PublicBaseUrlHost`: the media store is already served by the library's web
  server; an item's URL is the configured base plus its stored file name.
- :class:`WordPressMediaHost`: the file is uploaded to a WordPress blog's media library
  and its ``source_url`` is used (the blog is another configured account).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

import requests

from connectors.base import AccountSettings, DeliveryNotes, MediaItem
from connectors.credentials import MissingCredential
from connectors.errors import AuthExpired, Permanent, Retryable
from connectors.wordpress_api import wordpress_client_for
from scheduler.logs import fields

log = logging.getLogger(__name__)
_NOTE_PREFIX = "media_host."


class UploadedMedia(Protocol):
    """The part of ``connectors.wordpress_api.UploadedMedia`` used here."""

    @property
    def id(self) -> int: ...

    @property
    def source_url(self) -> str: ...


class MediaLibrary(Protocol):
    """The part of ``connectors.wordpress_api.WordPressClient`` used here."""

    def upload_media(
        self, path: Path, *, mime_type: str, filename: str, alt: str | None
    ) -> UploadedMedia: ...


class MediaHost(Protocol):
    """Gives a public URL for a media item; may upload it first.

    ``public_url`` raises a :class:`connectors.errors.PublishError` when the item cannot
    be made public right now (``Retryable``) or at all (``Permanent``, ``AuthExpired``).
    """

    def public_url(self, item: MediaItem, notes: DeliveryNotes | None = None) -> str: ...


class PublicBaseUrlHost:
    """The media store served under ``base_url``: ``base_url`` + the stored file name."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"

    def public_url(self, item: MediaItem, notes: DeliveryNotes | None = None) -> str:
        return self.base_url + quote(item.path.name)


class WordPressMediaHost:
    """Uploads each item to a WordPress media library and returns its ``source_url``.

    The client is built at the first upload, so a blog that is down does not stop
    Instagram's account from starting.
    """

    def __init__(
        self,
        blog: AccountSettings,
        *,
        session: requests.Session | None = None,
        client: MediaLibrary | None = None,
    ) -> None:
        self.blog = blog
        self.session = session
        self._wordpress = client
        self._uploaded: dict[str, str] = {}

    def public_url(self, item: MediaItem, notes: DeliveryNotes | None = None) -> str:
        # One upload per file and delivery, noted in the queue database (the delivery's
        # notes), so a retry after a restart reuses it; in memory too within the process.
        key = _NOTE_PREFIX + item.sha256[:40]
        known = self._uploaded.get(item.sha256) or (notes.get(key) if notes else None)
        if known:
            return known
        client = self._client()
        try:
            uploaded = client.upload_media(
                item.path, mime_type=item.mime_type, filename=item.path.name, alt=item.alt
            )
        except requests.RequestException as error:
            raise Retryable(
                f"could not upload {item.path.name} to the blog {self.blog.name!r} for "
                f"Instagram: {type(error).__name__}"
            ) from error
        self._uploaded[item.sha256] = uploaded.source_url
        if notes is not None:
            notes.put(key, uploaded.source_url)
        log.info(
            "media uploaded to the blog for instagram",
            extra=fields(account=self.blog.name, file=item.path.name, media_id=uploaded.id),
        )
        return uploaded.source_url

    def _client(self) -> MediaLibrary:
        if self._wordpress is None:
            try:
                self._wordpress = wordpress_client_for(self.blog, self.session)
            except MissingCredential as error:
                raise AuthExpired(str(error)) from error
            except ValueError as error:  # the blog account's options are unusable
                raise Permanent(f"media_host_account {self.blog.name!r}: {error}") from error
        return self._wordpress
