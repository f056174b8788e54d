"""Where Instagram fetches media from: Meta downloads every image and video from a public
URL, and the library's server usually sits behind a firewall.

Two hosts:

- :class:`PublicBaseUrlHost`: the media store is already served by the library's web
  server; an item's URL is the configured base plus its stored file name.
- :class:`WordPressMediaHost`: the file is uploaded to a WordPress blog's media library
  and its ``source_url`` is used (the blog is another configured account).
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Protocol, cast
from urllib.parse import quote

import requests

from connectors.base import AccountSettings, MediaItem
from connectors.credentials import MissingCredential
from connectors.errors import AuthExpired, Permanent, Retryable

log = logging.getLogger(__name__)
WORDPRESS_MODULE = "connectors.wordpress_api"


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


class _ClientFactory(Protocol):
    def __call__(
        self, settings: AccountSettings, session: requests.Session | None = None
    ) -> MediaLibrary: ...


class MediaHost(Protocol):
    """Gives a public URL for a media item; may upload it first.

    ``public_url`` raises a :class:`connectors.errors.PublishError` when the item cannot
    be made public right now (``Retryable``) or at all (``Permanent``, ``AuthExpired``).
    """

    def public_url(self, item: MediaItem) -> str: ...


class PublicBaseUrlHost:
    """The media store served under ``base_url``: ``base_url`` + the stored file name."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"

    def public_url(self, item: MediaItem) -> str:
        return self.base_url + quote(item.path.name)


class WordPressMediaHost:
    """Uploads each item to a WordPress media library and returns its ``source_url``.

    ``connectors.wordpress_api`` is imported when the first item is uploaded, so this
    module (and Instagram) loads even where the WordPress client is not installed.
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

    def public_url(self, item: MediaItem) -> str:
        # One upload per file per process: a retried publish reuses the earlier upload.
        known = self._uploaded.get(item.sha256)
        if known is not None:
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
        log.info(
            "media uploaded to the blog for instagram",
            extra={"blog": self.blog.name, "file": item.path.name, "media_id": uploaded.id},
        )
        return uploaded.source_url

    def _client(self) -> MediaLibrary:
        if self._wordpress is None:
            try:
                # Imported by name: the WordPress client is written separately and this
                # module must load (and type-check) without it.
                module = importlib.import_module(WORDPRESS_MODULE)
            except ImportError as error:
                raise Permanent(
                    "media_host_account needs the WordPress connector "
                    "(connectors.wordpress_api), which is not installed"
                ) from error
            factory = cast(_ClientFactory, module.wordpress_client_for)
            try:
                self._wordpress = factory(self.blog, self.session)
            except MissingCredential as error:
                raise AuthExpired(str(error)) from error
        return self._wordpress
