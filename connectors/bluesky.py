"""Bluesky: one post per delivery, through the atproto SDK, with an app password.

The text is sent as written (the link on a line of its own when the text does not contain
it, every address shown short as Bluesky's app shows it, the facet keeping it whole), at
most 300 graphemes (``app.bsky.feed.post``), with facets for mentions, links and
hashtags on UTF-8 byte offsets (:mod:`connectors.bluesky_text`; mentions resolved to DIDs
when sending), the account's language in ``langs``, and either up to 4 images with alt text
and aspect ratio (``app.bsky.embed.images``, each at most 2,000,000 bytes) or, for a post
with a link and no image, a link card (``app.bsky.embed.external``) whose title and
description come from the linked page's Open Graph tags, else from the post, and whose
thumbnail is the page's ``og:image`` when it is at most 1,000,000 bytes.

Authentication: an app password (Settings > Privacy and security > App passwords), never
the account password: a value that does not have the app-password shape
``xxxx-xxxx-xxxx-xxxx`` is refused. The session (access and refresh JWTs) is kept in the
account's token folder and refreshed by the SDK, whose clock is relais' injected clock,
so a restart does not log in again (``createSession`` is rate-limited to 30 per 5 minutes
and 300 per day: docs.bsky.app, "Rate Limits"). The PDS is ``pds`` in the options, and the
SDK follows the one the account's DID document names after login.

Bluesky has no scheduling: relais sends at the time. Exactly once: the record key is a
TID derived from the delivery and noted before the first request, so ``find`` is an
exact ``getRecord`` and a resend after a lost answer finds the record instead of
creating a second one.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any, ClassVar
from urllib.parse import urljoin

import httpx
from atproto import Client, models
from atproto_client import exceptions as atproto_errors
from atproto_client.request import Request
from pydantic import BaseModel, ConfigDict, Field

from connectors.base import (
    AccountSettings,
    Limits,
    Outgoing,
    Problem,
    Published,
    RenderedText,
    RequestTimeout,
    Verdict,
    check_limits,
    parse_options,
    plain_text,
)
from connectors.bluesky_text import Facet, detect_facets, record_key, shorten_links
from connectors.credentials import MissingCredential, Secret
from connectors.errors import AuthExpired, Permanent, PublishError, RateLimited, Retryable
from connectors.http import lost_answer
from connectors.text_count import graphemes
from scheduler.clock import Clock, ensure_utc
from scheduler.logs import fields

log = logging.getLogger(__name__)

MAX_GRAPHEMES = 300
MAX_IMAGE_BYTES = 2_000_000  # app.bsky.embed.images#image.image.maxSize
MAX_THUMB_BYTES = 1_000_000  # app.bsky.embed.external#external.thumb.maxSize
POST = "app.bsky.feed.post"
_APP_PASSWORD = re.compile(r"^[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$")
_NOTE_FIRST = "bluesky.first_attempt"
_NOTE_BLOB = "bluesky.blob."
RATE_LIMIT_WAIT = timedelta(minutes=5)


class BlueskyOptions(BaseModel):
    """A ``bluesky`` account's options in config.yaml (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    handle: str = Field(pattern=r"^[a-zA-Z0-9.-]+\.[a-zA-Z]+$")
    pds: str = Field(default="https://bsky.social", pattern=r"^https?://")
    language: str = Field(default="fr", pattern=r"^[a-z]{2,3}$")
    link_card: bool = True
    timeout: RequestTimeout = timedelta(seconds=30)


class _ClockedClient(Client):  # type: ignore[misc]  # the SDK ships no type information
    """The SDK's client, refreshing its session by relais' clock rather than the system's."""

    def __init__(self, base_url: str, request: Request, clock: Clock) -> None:
        super().__init__(base_url, request)
        self._clock = clock

    def get_current_time(self) -> datetime:
        return ensure_utc(self._clock.now())


class BlueskyConnector:
    """Publishes as one Bluesky account."""

    kind: ClassVar[str] = "bluesky"
    # getRecord by the delivery's own record key: the repository answers exactly.
    find_is_authoritative: ClassVar[bool] = True

    def __init__(
        self,
        settings: AccountSettings,
        clock: Clock,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.options = parse_options(BlueskyOptions, settings)
        self.settings = settings
        self.account = settings.name
        self.clock = clock
        self.transport = transport
        self.limits = Limits(
            max_text_length=MAX_GRAPHEMES,
            media_kinds=frozenset({"image"}),
            max_media=4,
            max_media_bytes=MAX_IMAGE_BYTES,
        )
        self.lead_time = timedelta(0)
        self.min_lead_time = timedelta(0)
        self._client: _ClockedClient | None = None
        self._did = ""  # the account's DID, from the session

    # -- offline ---------------------------------------------------------------------

    def render(self, outgoing: Outgoing) -> RenderedText:
        text, _links = shorten_links(plain_text(outgoing, MAX_GRAPHEMES).text)
        return RenderedText(
            text=text,
            length=graphemes(text),
            limit=MAX_GRAPHEMES,
            counted_as="graphemes as Bluesky counts them",
        )

    def check(self, outgoing: Outgoing) -> list[Problem]:
        problems = check_limits(self.limits, outgoing, self.render(outgoing))
        if len(self.render(outgoing).text.encode("utf-8")) > 3000:
            problems.append(
                Problem(field="text", message=f"{self.account} takes at most 3000 bytes of text")
            )
        return problems

    # -- online ----------------------------------------------------------------------

    def verify(self) -> Verdict:
        try:
            self._session()
        except MissingCredential as error:
            return Verdict(ok=False, message=str(error))
        except PublishError as error:
            return Verdict(ok=False, message=error.message)
        return Verdict(ok=True, message=f"posts as @{self.options.handle} ({self._did})")

    def publish(self, outgoing: Outgoing) -> Published:
        client = self._session_or_pause()
        ids = fields(delivery_id=outgoing.delivery_id, account=self.account)
        rkey = self._record_key(outgoing)
        found = self._get(client, rkey)
        if found is not None:
            log.info("post already on Bluesky; not creating it again", extra=ids)
            return found
        text, links = shorten_links(plain_text(outgoing, MAX_GRAPHEMES).text)
        record = models.AppBskyFeedPost.Record(
            text=text,
            created_at=ensure_utc(self.clock.now()).isoformat().replace("+00:00", "Z"),
            facets=self._facets(client, text, links) or None,
            embed=self._embed(client, outgoing),
            langs=[self.options.language],
        )
        data = models.ComAtprotoRepoCreateRecord.Data(
            repo=self._did, collection=POST, rkey=rkey, record=record
        )
        created = self._call(lambda: client.com.atproto.repo.create_record(data), creating=True)
        log.info("post %s", created.uri, extra=ids | fields(rkey=rkey))
        return self._published(created.uri)

    def find(self, outgoing: Outgoing) -> Published | None:
        first = outgoing.notes.get(_NOTE_FIRST)
        if first is None:
            return None  # nothing was ever sent for this delivery
        # getRecord needs no login ("Does not require auth"): the look-up works even while
        # the app password is dead, and it is exact.
        anonymous = _ClockedClient(self.options.pds, self._request(), self.clock)
        rkey = record_key(outgoing.delivery_id, datetime.fromisoformat(first))
        return self._get(anonymous, rkey, repo=self._did or self.options.handle)

    # -- steps -----------------------------------------------------------------------

    def _record_key(self, outgoing: Outgoing) -> str:
        first = outgoing.notes.get(_NOTE_FIRST)
        if first is None:
            first = ensure_utc(self.clock.now()).isoformat()
            outgoing.notes.put(_NOTE_FIRST, first)  # before the first request
        return record_key(outgoing.delivery_id, datetime.fromisoformat(first))

    def _get(
        self, client: _ClockedClient, rkey: str, *, repo: str | None = None
    ) -> Published | None:
        params = models.ComAtprotoRepoGetRecord.Params(
            repo=repo or self._did, collection=POST, rkey=rkey
        )
        try:
            found = self._call(lambda: client.com.atproto.repo.get_record(params), creating=False)
        except Permanent as error:
            if "RecordNotFound" in error.message:
                return None
            raise
        return self._published(found.uri)

    def _published(self, uri: str) -> Published:
        rkey = uri.rsplit("/", 1)[-1]
        return Published(
            platform_id=uri, url=f"https://bsky.app/profile/{self.options.handle}/post/{rkey}"
        )

    def _facets(
        self, client: _ClockedClient, text: str, links: list[Facet]
    ) -> list[models.AppBskyRichtextFacet.Main]:
        facets = []
        for facet in sorted([*links, *detect_facets(text)], key=lambda f: f.byte_start):
            feature = self._feature(client, facet)
            if feature is None:
                continue
            facets.append(
                models.AppBskyRichtextFacet.Main(
                    index=models.AppBskyRichtextFacet.ByteSlice(
                        byte_start=facet.byte_start, byte_end=facet.byte_end
                    ),
                    features=[feature],
                )
            )
        return facets

    def _feature(self, client: _ClockedClient, facet: Facet) -> Any:
        if facet.kind == "link":
            return models.AppBskyRichtextFacet.Link(uri=facet.value)
        if facet.kind == "tag":
            return models.AppBskyRichtextFacet.Tag(tag=facet.value)
        try:
            did = self._call(lambda: client.resolve_handle(facet.value), creating=False).did
        except Permanent:
            return None  # an unknown handle stays plain text, as in Bluesky's own app
        return models.AppBskyRichtextFacet.Mention(did=did)

    def _embed(self, client: _ClockedClient, outgoing: Outgoing) -> Any:
        if outgoing.media:
            images = [
                models.AppBskyEmbedImages.Image(
                    image=self._blob(client, item.path.read_bytes(), item.sha256, outgoing),
                    alt=item.alt or "",
                    aspect_ratio=_aspect_ratio(item.path.read_bytes()),
                )
                for item in outgoing.media
            ]
            return models.AppBskyEmbedImages.Main(images=images)
        if outgoing.link and self.options.link_card:
            return self._link_card(client, outgoing)
        return None

    def _blob(self, client: _ClockedClient, data: bytes, digest: str, outgoing: Outgoing) -> Any:
        # A blob is not referenced until the record is created; uploading again on a retry
        # is harmless (the PDS drops unreferenced blobs), so nothing is noted.
        del digest, outgoing
        return self._call(lambda: client.upload_blob(data), creating=False).blob

    def _link_card(self, client: _ClockedClient, outgoing: Outgoing) -> Any:
        assert outgoing.link is not None
        page = _page_card(outgoing.link, self._http(), self.options.timeout)
        title = page.get("title") or outgoing.title or outgoing.link
        description = page.get("description") or outgoing.text.strip().split("\n", 1)[0]
        thumb = None
        if page.get("image_bytes"):
            thumb = self._blob(client, page["image_bytes"], "", outgoing)
        return models.AppBskyEmbedExternal.Main(
            external=models.AppBskyEmbedExternal.External(
                uri=outgoing.link, title=title, description=description, thumb=thumb
            )
        )

    def _http(self) -> httpx.Client:
        return httpx.Client(transport=self.transport, follow_redirects=True)

    def _session(self) -> _ClockedClient:
        """A logged-in client: the saved session if it still works, else a new login."""
        if self._client is not None:
            return self._client
        secrets = self.settings.secrets()
        client = _ClockedClient(self.options.pds, self._request(), self.clock)

        def keep(_event: object, session: Any) -> None:
            self._did = session.did
            secrets.save("session", Secret(session.encode()))

        client.on_session_change(keep)
        saved = secrets.find("session")
        if saved is not None:
            try:
                self._call(
                    lambda: client.login(session_string=saved.reveal(), fetch_bsky_profile=False),
                    creating=False,
                )
                # Importing a session asks nothing of the server: one cheap read proves it.
                self._call(lambda: client.com.atproto.server.get_session(), creating=False)
                self._client = client
                return client
            except AuthExpired:
                log.info("saved Bluesky session refused; logging in again", extra=self._ids())
        password = secrets.get("app_password")
        if not _APP_PASSWORD.match(password.reveal()):
            raise AuthExpired(
                f"{self.account}: the secret app_password is not an app password "
                "(xxxx-xxxx-xxxx-xxxx); create one in Bluesky's Settings > Privacy and "
                "security > App passwords; never use the account's own password"
            )
        self._call(
            lambda: client.login(self.options.handle, password.reveal(), fetch_bsky_profile=False),
            creating=False,
        )
        self._client = client
        return client

    def _request(self) -> Request:
        return Request(transport=self.transport, timeout=self.options.timeout.total_seconds())

    def _session_or_pause(self) -> _ClockedClient:
        try:
            return self._session()
        except MissingCredential as error:
            raise AuthExpired(str(error)) from error

    def _ids(self) -> dict[str, object]:
        return fields(account=self.account)

    def _call(self, action: Any, *, creating: bool) -> Any:
        """Run one SDK call; its failures become :mod:`connectors.errors`."""
        where = f"{self.account} (Bluesky)"
        try:
            return action()
        except atproto_errors.RateLimitExceededError as error:
            until = error.reset_at or ensure_utc(self.clock.now()) + RATE_LIMIT_WAIT
            raise RateLimited(f"{where}: rate limited", until=until) from error
        except atproto_errors.UnauthorizedError as error:
            self._client = None
            raise AuthExpired(
                f"{where}: the app password or session no longer works ({error}); create a "
                "new app password and put it in the credentials"
            ) from error
        except atproto_errors.BadRequestError as error:
            said = _xrpc_error(error)
            if said.startswith(("ExpiredToken", "InvalidToken", "AuthFactorTokenRequired")):
                self._client = None
                raise AuthExpired(f"{where}: {said}") from error
            if said.startswith("AccountTakedown"):
                raise AuthExpired(f"{where}: the account is taken down ({said})") from error
            raise Permanent(f"{where}: {said}", http_status=400) from error
        except atproto_errors.NetworkError as error:
            if error.response is not None:  # 409, 413, 502 answered by the server
                if creating:
                    raise lost_answer(error, where=where, creating=True) from error
                raise Retryable(f"{where}: {error}") from error
            cause = error.__cause__ or error
            raise lost_answer(cause, where=where, creating=creating) from error
        except atproto_errors.RequestException as error:  # 5xx and the rest
            status = error.response.status_code if error.response is not None else 0
            if creating and status >= 500:
                raise lost_answer(error, where=where, creating=True) from error
            if status >= 500:
                raise Retryable(f"{where}: {error}", http_status=status) from error
            raise Permanent(f"{where}: {error}", http_status=status or None) from error


def _xrpc_error(error: atproto_errors.RequestErrorBase) -> str:
    content = error.response.content if error.response is not None else None
    name = getattr(content, "error", None)
    message = getattr(content, "message", None)
    return f"{name}: {message}" if name and message else str(name or error)


class _OpenGraph(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.properties: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "meta":
            return
        attributes = dict(attrs)
        name = attributes.get("property") or attributes.get("name") or ""
        if name.startswith("og:") and attributes.get("content"):
            self.properties.setdefault(name[3:], attributes["content"] or "")


def _page_card(link: str, http: httpx.Client, timeout: timedelta) -> dict[str, Any]:
    """The linked page's Open Graph title, description and image bytes, as far as they can
    be had; a page that cannot be read gives an empty card (the post's own words fill it)."""
    seconds = timeout.total_seconds()
    try:
        page = http.get(link, timeout=seconds)
        page.raise_for_status()
        parser = _OpenGraph()
        parser.feed(page.text[:500_000])
        card: dict[str, Any] = dict(parser.properties)
        image = card.get("image")
        if image:
            answer = http.get(urljoin(link, image), timeout=seconds)
            answer.raise_for_status()
            if len(answer.content) <= MAX_THUMB_BYTES:
                card["image_bytes"] = answer.content
        return card
    except (httpx.HTTPError, ValueError) as error:
        log.info("no link card from %s: %s", link, type(error).__name__)
        return {}
    finally:
        http.close()


def _aspect_ratio(data: bytes) -> Any:
    """Width and height of a PNG or JPEG, for ``aspectRatio`` (the app lays images out
    before loading them); None when the header cannot be read."""
    size = _image_size(data)
    if size is None:
        return None
    return models.AppBskyEmbedDefs.AspectRatio(width=size[0], height=size[1])


def _image_size(data: bytes) -> tuple[int, int] | None:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] == b"\xff\xd8":
        index = 2
        while index + 9 < len(data):
            if data[index] != 0xFF:
                return None
            marker = data[index + 1]
            length = int.from_bytes(data[index + 2 : index + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height = int.from_bytes(data[index + 5 : index + 7], "big")
                width = int.from_bytes(data[index + 7 : index + 9], "big")
                return width, height
            index += 2 + length
    return None
