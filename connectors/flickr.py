"""Flickr: each image of a post becomes one photo, optionally filed into an album.

Flickr has no scheduling and no idempotency key, so every photo carries two machine tags:
``relais:delivery=<delivery id>`` and ``relais:image=<n>`` (1-based position in the post).
They make ``publish`` idempotent per image and let ``find`` reconcile a lost answer:

- ``publish`` first looks for the delivery's photos (the photo ids it noted after each
  upload, then ``flickr.photos.search(user_id="me", machine_tags=...)``) and uploads only
  the images that are not there yet, then files them into the album (``album`` option:
  found by title with ``flickr.photosets.getList``, created with ``flickr.photosets.create``
  around the first photo when missing, else ``flickr.photosets.addPhoto``).
- ``find`` returns the post only when *all* its images are on Flickr. When some are
  missing it returns ``None`` and logs, at error level, which images exist (with their
  ids) and which are missing: the delivery goes to a person, never re-uploaded blindly.
  It does not touch albums.

The published id is the first photo's id; the URL is its ``flic.kr`` short link.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, ClassVar

import requests
from flickrapi.shorturl import encode as short_id
from pydantic import BaseModel, ConfigDict, Field

from connectors.base import (
    AccountSettings,
    Limits,
    Outgoing,
    PositiveDuration,
    Problem,
    Published,
    RenderedText,
    RequestTimeout,
    Verdict,
    check_limits,
    parse_options,
)
from connectors.credentials import MissingCredential
from connectors.errors import (
    Ambiguous,
    AuthExpired,
    Permanent,
    PublishError,
    Retryable,
)
from connectors.flickr_api import Endpoints, FlickrClient, FlickrCredentials
from scheduler.clock import Clock
from scheduler.logs import fields

log = logging.getLogger(__name__)

# Flickr documents no description limit; relais refuses more than this, offline.
MAX_DESCRIPTION = 65_535
# Nor a title limit in the upload API; the site's own form stops at 255.
MAX_TITLE = 255
MAX_TAGS = 75  # per photo, machine tags included
MACHINE_TAGS_PER_PHOTO = 2
MAX_PHOTO_BYTES = 200 * 1024 * 1024
NAMESPACE = "relais"
NOTE_PREFIX = "flickr.photo."
_HTTP_BASE = r"^https?://[^\s/]+(/[^\s]*)?$"


class FlickrOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    album: str | None = Field(default=None, min_length=1, max_length=MAX_TITLE)
    is_public: bool = True
    api_base: str = Field(default="https://api.flickr.com", pattern=_HTTP_BASE)
    upload_base: str = Field(default="https://up.flickr.com", pattern=_HTTP_BASE)
    timeout: RequestTimeout = timedelta(seconds=30)
    upload_timeout: PositiveDuration = timedelta(minutes=5)


def delivery_tag(delivery_id: str) -> str:
    """``relais:delivery=<id>`` with letters and digits only: Flickr drops punctuation from
    tags when it searches ("Tags", Flickr help), and how it normalises a machine tag's value
    is not documented, so the value has none (a UUID without its hyphens)."""
    return f"{NAMESPACE}:delivery={re.sub(r'[^A-Za-z0-9]', '', delivery_id)}"


def image_tag(index: int) -> str:
    return f"{NAMESPACE}:image={index}"


def clean_tag(tag: str) -> str:
    """A machine tag as Flickr compares it: lower case, punctuation dropped from the value."""
    head, _, value = tag.partition("=")
    return head.lower() + "=" + re.sub(r"[\W_]+", "", value.lower())


def tag_field(tags: Sequence[str], delivery_id: str, index: int) -> str:
    """Flickr's space-separated ``tags``: the post's tags (quoted when they have spaces),
    then the two machine tags."""
    words: list[str] = []
    for tag in tags:
        word = " ".join(tag.replace('"', "").lstrip("#").split())
        if word and word not in words:
            words.append(f'"{word}"' if " " in word else word)
    return " ".join([*words, delivery_tag(delivery_id), image_tag(index)])


class FlickrConnector:
    """Uploads a post's images as Flickr photos; see the module docstring."""

    kind: ClassVar[str] = "flickr"
    # find() answering None means "never created": every upload carries the delivery's
    # machine tag, and publish uploads only the images not found again.
    find_is_authoritative: ClassVar[bool] = True

    def __init__(
        self, settings: AccountSettings, clock: Clock, *, session: requests.Session | None = None
    ) -> None:
        self.options = parse_options(FlickrOptions, settings)
        self.settings = settings
        self.account = settings.name
        self.clock = clock
        self.session = session or requests.Session()
        self.limits = Limits(
            max_text_length=MAX_DESCRIPTION,
            media_kinds=frozenset({"image"}),
            max_media=10,
            max_media_bytes=MAX_PHOTO_BYTES,
            requires_media=True,
        )
        self.lead_time = timedelta(0)
        self.min_lead_time = timedelta(0)
        self._client: FlickrClient | None = None

    # -- offline ---------------------------------------------------------------------

    def render(self, outgoing: Outgoing) -> RenderedText:
        """The description Flickr receives: the text (HTML-escaped, since Flickr reads
        limited HTML) and the link as an anchor on its own line, counted in characters."""
        text = html.escape(outgoing.text.rstrip(), quote=False)
        if outgoing.link and outgoing.link not in outgoing.text:
            link = html.escape(outgoing.link)
            text = f'{text}\n\n<a href="{link}">{link}</a>'
        return RenderedText(text=text, length=len(text), limit=MAX_DESCRIPTION)

    def title(self, outgoing: Outgoing) -> str:
        if outgoing.title:
            return outgoing.title.strip()
        first = next((line.strip() for line in outgoing.text.splitlines() if line.strip()), "")
        return first if len(first) <= MAX_TITLE else first[: MAX_TITLE - 1] + "…"

    def check(self, outgoing: Outgoing) -> list[Problem]:
        problems = check_limits(self.limits, outgoing, self.render(outgoing))
        title = self.title(outgoing)
        if len(title) > MAX_TITLE:
            problems.append(
                Problem(
                    field="title",
                    message=f"the title is {len(title)} characters; {outgoing.account} "
                    f"(Flickr) takes at most {MAX_TITLE}",
                )
            )
        room = MAX_TAGS - MACHINE_TAGS_PER_PHOTO
        if len(outgoing.tags) > room:
            problems.append(
                Problem(
                    field="tags",
                    message=f"{len(outgoing.tags)} tags; Flickr takes {MAX_TAGS} per photo "
                    f"and relais adds {MACHINE_TAGS_PER_PHOTO}, so at most {room}",
                )
            )
        return problems

    # -- online ----------------------------------------------------------------------

    def verify(self) -> Verdict:
        """One ``flickr.auth.oauth.checkToken``: who the token posts as, and its perms."""
        try:
            client = self._connect()
            token = self.settings.secrets().get("oauth_token").reveal()
        except MissingCredential as error:
            return Verdict(ok=False, message=str(error))
        try:
            answer = client.call("flickr.auth.oauth.checkToken", oauth_token=token)
        except PublishError as error:
            return Verdict(ok=False, message=error.message)
        oauth = answer.get("oauth", {})
        perms = _content(oauth.get("perms"))
        user = oauth.get("user", {})
        who = f"Flickr user '{user.get('username', '?')}' (id {user.get('nsid', '?')})"
        if perms not in ("write", "delete"):
            return Verdict(
                ok=False,
                message=f"the token of {who} has perms={perms or 'none'}; uploads need "
                "perms=write: authorise relais again, see the README, section Flickr",
            )
        album = f", into the album '{self.options.album}'" if self.options.album else ""
        return Verdict(ok=True, message=f"posts as {who} with perms={perms}{album}")

    def publish(self, outgoing: Outgoing) -> Published:
        if not outgoing.media:
            raise Permanent(f"account {self.account}: a Flickr post needs at least one image")
        client = self._connect_or_raise()
        photos = self._photos_on_flickr(client, outgoing)
        title = self.title(outgoing)
        description = self.render(outgoing).text
        for index, item in enumerate(outgoing.media, start=1):
            if index in photos:
                log.info(
                    "image %d is already on Flickr; not uploading it again",
                    index,
                    extra=self._ids(outgoing, photo_id=photos[index]),
                )
                continue
            try:
                photo_id = client.upload(
                    item.path,
                    title=title,
                    description=description,
                    tags=tag_field(outgoing.tags, outgoing.delivery_id, index),
                    is_public="1" if self.options.is_public else "0",
                    is_friend="0",
                    is_family="0",
                )
            except Permanent:
                if photos:  # the delivery fails, but these photos stay on Flickr
                    log.error(
                        "image %d was refused; images %s are already on Flickr (photo ids %s)",
                        index,
                        sorted(photos),
                        [photos[key] for key in sorted(photos)],
                        extra=self._ids(outgoing),
                    )
                raise
            # Durable before anything else can fail: a retry skips this image for sure.
            outgoing.notes.put(f"{NOTE_PREFIX}{index}", photo_id)
            photos[index] = photo_id
            log.info("uploaded image %d", index, extra=self._ids(outgoing, photo_id=photo_id))
        ordered = [photos[index] for index in sorted(photos)]
        if self.options.album:
            self._file_in_album(client, self.options.album, ordered, outgoing)
        return _published(ordered)

    def find(self, outgoing: Outgoing) -> Published | None:
        if not outgoing.media:
            return None
        client = self._connect_or_raise()
        photos = self._photos_on_flickr(client, outgoing)
        wanted = range(1, len(outgoing.media) + 1)
        missing = [index for index in wanted if index not in photos]
        if not photos:
            return None
        if missing:
            log.error(
                "only part of the post is on Flickr: images %s are there (photo ids %s), "
                "images %s are missing; upload them by hand with the tags %s",
                sorted(photos),
                [photos[index] for index in sorted(photos)],
                missing,
                delivery_tag(outgoing.delivery_id),
                extra=self._ids(outgoing),
            )
            return None
        return _published([photos[index] for index in wanted])

    # -- steps -----------------------------------------------------------------------

    def _photos_on_flickr(self, client: FlickrClient, outgoing: Outgoing) -> dict[int, str]:
        """Image index -> photo id for this delivery's photos: noted ids, then a search."""
        photos: dict[int, str] = {}
        for index in range(1, len(outgoing.media) + 1):
            noted = outgoing.notes.get(f"{NOTE_PREFIX}{index}")
            if noted:
                photos[index] = noted
        if len(photos) == len(outgoing.media):
            return photos
        answer = client.call(
            "flickr.photos.search",
            user_id="me",
            machine_tags=delivery_tag(outgoing.delivery_id),
            extras="machine_tags",
            per_page="500",
        )
        wanted = clean_tag(delivery_tag(outgoing.delivery_id))
        found: dict[int, list[str]] = {}
        for photo in answer.get("photos", {}).get("photo", []):
            tags = [clean_tag(tag) for tag in str(photo.get("machine_tags", "")).split()]
            if wanted not in tags:
                continue  # the search matched loosely; only our exact tag counts
            position = _image_index(tags)
            if position is not None and 1 <= position <= len(outgoing.media):
                found.setdefault(position, []).append(str(photo["id"]))
        for index, ids in found.items():
            if len(ids) > 1:
                log.warning(
                    "image %d is on Flickr %d times (photo ids %s); using the oldest",
                    index,
                    len(ids),
                    ids,
                    extra=self._ids(outgoing),
                )
            photos.setdefault(index, min(ids, key=lambda photo_id: (len(photo_id), photo_id)))
        return photos

    def _file_in_album(
        self, client: FlickrClient, album: str, photo_ids: list[str], outgoing: Outgoing
    ) -> None:
        """Album steps are repeatable (found by title; "already in set" is fine), so a lost
        answer here is retried instead of sending the delivery to reconciliation."""
        try:
            album_id = self._album_id(client, album)
            rest = photo_ids
            if album_id is None:
                answer = client.call(
                    "flickr.photosets.create", title=album, primary_photo_id=photo_ids[0]
                )
                album_id = str(answer["photoset"]["id"])
                rest = photo_ids[1:]
                log.info("created the album %r", album, extra=self._ids(outgoing))
            for photo_id in rest:
                client.call(
                    "flickr.photosets.addPhoto",
                    tolerate=frozenset({3}),  # "Photo already in set"
                    photoset_id=album_id,
                    photo_id=photo_id,
                )
        except Ambiguous as error:
            raise Retryable(
                f"{error.message}; the photos are up, the album step will be retried"
            ) from error
        except Permanent as error:
            # The photos are public already: failing the delivery would hide that.
            log.error(
                "the photos are published but not in the album %r: %s",
                album,
                error.message,
                extra=self._ids(outgoing),
            )

    def _album_id(self, client: FlickrClient, album: str) -> str | None:
        page, pages = 1, 1
        while page <= pages:
            answer = client.call("flickr.photosets.getList", page=str(page), per_page="500")
            listing = answer.get("photosets", {})
            for photoset in listing.get("photoset", []):
                if html.unescape(_content(photoset.get("title"))).strip() == album.strip():
                    return str(photoset["id"])
            pages = int(listing.get("pages", 1) or 1)
            page += 1
        return None

    def _connect(self) -> FlickrClient:
        """The client, built on first use so that missing secrets only fail the calls."""
        if self._client is None:
            secrets = self.settings.secrets()
            credentials = FlickrCredentials(
                api_key=secrets.get("api_key"),
                api_secret=secrets.get("api_secret"),
                oauth_token=secrets.get("oauth_token"),
                oauth_token_secret=secrets.get("oauth_token_secret"),
            )
            self._client = FlickrClient(
                credentials,
                endpoints=Endpoints(
                    rest_url=self.options.api_base.rstrip("/") + "/services/rest/",
                    upload_url=self.options.upload_base.rstrip("/") + "/services/upload/",
                ),
                clock=self.clock,
                account=self.account,
                session=self.session,
                timeout=self.options.timeout.total_seconds(),
                upload_timeout=self.options.upload_timeout.total_seconds(),
            )
        return self._client

    def _connect_or_raise(self) -> FlickrClient:
        try:
            return self._connect()
        except MissingCredential as error:
            raise AuthExpired(str(error)) from error

    def _ids(self, outgoing: Outgoing, **more: Any) -> dict[str, Any]:
        return fields(
            delivery_id=outgoing.delivery_id,
            post_id=outgoing.post_id,
            account=outgoing.account,
            **more,
        )


def _content(value: Any) -> str:
    """Flickr's JSON wraps text as ``{"_content": "..."}``."""
    if isinstance(value, Mapping):
        return str(value.get("_content", ""))
    return "" if value is None else str(value)


def _image_index(clean_tags: Sequence[str]) -> int | None:
    prefix = clean_tag(image_tag(0)).removesuffix("0")
    for tag in clean_tags:
        if tag.startswith(prefix) and tag[len(prefix) :].isdigit():
            return int(tag[len(prefix) :])
    return None


def _published(photo_ids: Sequence[str]) -> Published:
    first = photo_ids[0]
    return Published(platform_id=first, url=f"https://flic.kr/p/{short_id(first)}")
