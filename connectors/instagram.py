"""An Instagram professional account: image, carousel and reel posts through the Graph API.

Instagram publishes in two steps: ``POST /{ig-user-id}/media`` makes a container from a
public URL that Meta downloads (see :mod:`connectors.media_host`); once the container's
``status_code`` is ``FINISHED``, ``POST /{ig-user-id}/media_publish`` turns it into a post.

Reconciliation rests on the container: its id is noted (durably) before ``media_publish``,
and a container whose status is ``PUBLISHED`` was posted; any other status means it was
not. A retried ``publish`` reuses a noted container instead of making another one, so a
post is never published twice. The account's publishing quota is read before publishing.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any, ClassVar

import requests
from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.base import (
    AccountSettings,
    Limits,
    MediaItem,
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
from connectors.errors import AuthExpired, Permanent, PublishError, RateLimited, Retryable
from connectors.facebook import CLOCK_SKEW, compose_text
from connectors.graph import (
    DEFAULT_API_BASE,
    EXPIRED_CONTAINER_SUBCODE,
    NOT_READY_SUBCODE,
    GraphClient,
    GraphError,
    GraphTransportError,
    lookup_error,
    publish_error,
)
from connectors.image_rules import ImageRules, fit, image_problems, measure, violations
from connectors.media_host import MediaHost, PublicBaseUrlHost, WordPressMediaHost
from scheduler.clock import Clock, ensure_utc
from scheduler.logs import fields

log = logging.getLogger(__name__)

MAX_CAPTION = 2200
MAX_HASHTAGS = 30
MAX_MENTIONS = 20
CONTAINER_NOTE = "instagram.container_id"
SENT_AT_NOTE = "instagram.first_sent_at"
MEDIA_NOTE = "instagram.media_id"
QUOTA_FALLBACK = timedelta(hours=1)
NOT_READY_WAIT = timedelta(minutes=1)
# Instagram Graph API reference, IG User Media, image specifications: JPEG, 8 MiB at most
# ("It should be less than 8 MiB", error 2207004), aspect ratio within 4:5 to 1.91:1.
INSTAGRAM_IMAGES = ImageRules(
    platform="Instagram",
    formats=frozenset({"image/jpeg"}),
    max_bytes=8 * 1024 * 1024,
    min_ratio=Fraction(4, 5),
    max_ratio=Fraction(191, 100),
    source="developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/"
    "ig-user/media (image specifications); .../reference/error-codes",
)
# Container errors worth a fresh container: server error, download timeout, failed creation.
_RETRY_SUBCODES = frozenset({2207001, 2207003, 2207032, 2207053})
# Our own status for a container that failed transiently (not one of Instagram's).
_RETRY_WITH_NEW = "ERROR_RETRYABLE"
_HASHTAG = re.compile(r"(?<![\w&])#\w+")
_MENTION = re.compile(r"(?<![\w])@[\w.]+")


class InstagramOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ig_user_id: str = Field(pattern=r"^[0-9]+$")
    api_base: str = DEFAULT_API_BASE
    public_media_base_url: str | None = Field(default=None, pattern=r"^https?://")
    media_host_account: str | None = None
    timeout: RequestTimeout = timedelta(seconds=30)
    poll_interval: PositiveDuration = timedelta(seconds=5)
    container_wait: PositiveDuration = timedelta(minutes=5)
    # Convert images Instagram refuses (PNG, a phone's 3:4 or 9:16, over 8 MiB) into a
    # JPEG padded to 4:5, kept in the media store beside the original.
    convert_images: bool = False

    @model_validator(mode="after")
    def _one_media_host(self) -> InstagramOptions:
        if (self.public_media_base_url is None) == (self.media_host_account is None):
            raise ValueError("set exactly one of public_media_base_url and media_host_account")
        return self


class InstagramConnector:
    """Posts to one Instagram professional account (secret ``access_token``)."""

    kind: ClassVar[str] = "instagram"

    def __init__(
        self,
        settings: AccountSettings,
        clock: Clock,
        *,
        session: requests.Session | None = None,
        accounts: Mapping[str, AccountSettings] | None = None,
        media_host: MediaHost | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.options = parse_options(InstagramOptions, settings)
        self.settings = settings
        self.account = settings.name
        self.clock = clock
        self.session = session or requests.Session()
        self.sleep = sleep
        self.media_host = media_host or self._media_host(accounts or {})
        self.limits = Limits(
            max_text_length=MAX_CAPTION,
            media_kinds=frozenset({"image", "video"}),
            max_media=10,
            max_media_bytes=1_000_000_000,
            requires_media=True,
        )
        self.lead_time = timedelta(0)
        self.min_lead_time = timedelta(0)

    # -- offline -----------------------------------------------------------------------

    def render(self, outgoing: Outgoing) -> RenderedText:
        # Links in captions are not clickable, but readers can still copy them.
        text = compose_text(outgoing.text, outgoing.link, outgoing.tags)
        return RenderedText(text=text, length=len(text), limit=MAX_CAPTION)

    def check(self, outgoing: Outgoing) -> list[Problem]:
        rendered = self.render(outgoing)
        problems = check_limits(self.limits, outgoing, rendered)
        hashtags = len(_HASHTAG.findall(rendered.text))
        if hashtags > MAX_HASHTAGS:
            problems.append(
                Problem(field="text", message=f"{hashtags} hashtags; Instagram takes at most 30")
            )
        mentions = len(_MENTION.findall(rendered.text))
        if mentions > MAX_MENTIONS:
            problems.append(
                Problem(field="text", message=f"{mentions} mentions; Instagram takes at most 20")
            )
        videos = [item for item in outgoing.media if item.mime_type.startswith("video/")]
        if videos and len(outgoing.media) > 1:
            problems.append(
                Problem(field="media", message="Instagram takes one video alone (a reel)")
            )
        for item in outgoing.media:
            problems.extend(
                image_problems(INSTAGRAM_IMAGES, item, convertible=self.options.convert_images)
            )
        return problems

    # -- online ------------------------------------------------------------------------

    def verify(self) -> Verdict:
        try:
            user = self._client().get(self.options.ig_user_id, {"fields": "id,username"})
        except MissingCredential as error:
            return Verdict(ok=False, message=str(error))
        except (GraphError, GraphTransportError) as error:
            failure = publish_error(
                error, account=self.account, doing="reading the Instagram account",
                creating=False, now=self.clock.now(),
            )  # fmt: skip
            return Verdict(ok=False, message=failure.message)
        return Verdict(
            ok=True, message=f"posts as Instagram @{user.get('username')} (id {user.get('id')})"
        )

    def publish(self, outgoing: Outgoing) -> Published:
        try:
            client = self._client()
        except MissingCredential as error:
            raise AuthExpired(str(error)) from error
        for _ in range(2):  # a second container only if the first one expired
            container = outgoing.notes.get(CONTAINER_NOTE)
            status = self._status(client, container) if container else None
            if container and status == "PUBLISHED":
                return self._published_media(client, outgoing)
            if not container or status not in ("FINISHED", "IN_PROGRESS"):
                container = self._create_container(client, outgoing)
                outgoing.notes.put(CONTAINER_NOTE, container)
            self._wait_until_finished(client, container)
            self._check_quota(client)
            if outgoing.notes.get(SENT_AT_NOTE) is None:
                outgoing.notes.put(SENT_AT_NOTE, ensure_utc(self.clock.now()).isoformat())
            try:
                answer = client.post(
                    f"{self.options.ig_user_id}/media_publish", {"creation_id": container}
                )
            except GraphError as error:
                if error.subcode == NOT_READY_SUBCODE:
                    # The container stays noted: the next attempt publishes this one.
                    raise Retryable(
                        f"account {self.account}: Instagram says the media is not ready for "
                        "publishing; the same container is published after a wait",
                        retry_after=NOT_READY_WAIT,
                    ) from error
                if error.subcode == EXPIRED_CONTAINER_SUBCODE:
                    log.info("container expired; making a new one", extra=self._ids(outgoing))
                    outgoing.notes.put(CONTAINER_NOTE, "")
                    continue
                raise self._error(error, "publishing the container", creating=True) from error
            except GraphTransportError as error:
                raise self._error(error, "publishing the container", creating=True) from error
            media_id = str(answer["id"])
            outgoing.notes.put(MEDIA_NOTE, media_id)
            return Published(platform_id=media_id, url=self._permalink(client, media_id))
        raise Retryable(f"account {self.account}: the new container expired as well")

    def find(self, outgoing: Outgoing) -> Published | None:
        container = outgoing.notes.get(CONTAINER_NOTE)
        media_id = outgoing.notes.get(MEDIA_NOTE)
        if not container and not media_id:
            return None  # the container is noted before media_publish can run
        try:
            client = self._client()
        except MissingCredential as error:
            raise AuthExpired(str(error)) from error
        if media_id:  # media_publish answered before the crash or loss
            return Published(platform_id=media_id, url=self._permalink(client, media_id))
        if not container:
            return None  # its last container expired before media_publish
        if not container:
            return None  # its last container expired before media_publish
        try:
            answer = client.get(container, {"fields": "status_code,status"})
        except (GraphError, GraphTransportError) as error:
            raise lookup_error(
                error, account=self.account, doing="reading the container", now=self.clock.now()
            ) from error
        if answer.get("status_code") != "PUBLISHED":
            return None
        return self._published_media(client, outgoing)

    # -- steps -------------------------------------------------------------------------

    def _create_container(self, client: GraphClient, outgoing: Outgoing) -> str:
        caption = self.render(outgoing).text
        media = outgoing.media
        if len(media) == 1:
            item = media[0]
            if item.mime_type.startswith("video/"):
                data = {
                    "media_type": "REELS",
                    "video_url": self.media_host.public_url(item, outgoing.notes),
                }
            else:
                data = self._image(item, outgoing)
            return self._new_container(client, {**data, "caption": caption})
        children = [
            self._new_container(client, {**self._image(item, outgoing), "is_carousel_item": "true"})
            for item in media
        ]
        return self._new_container(
            client, {"media_type": "CAROUSEL", "children": ",".join(children), "caption": caption}
        )

    def _image(self, item: MediaItem, outgoing: Outgoing) -> dict[str, str]:
        data = {"image_url": self.media_host.public_url(self._acceptable(item), outgoing.notes)}
        if item.alt:
            data["alt_text"] = item.alt
        return data

    def _acceptable(self, item: MediaItem) -> MediaItem:
        """The image as Instagram takes it: itself, or (``convert_images``) its fitted JPEG
        copy, made once and kept in the media store beside it."""
        if not self.options.convert_images or not item.path.is_file():
            return item
        if not violations(INSTAGRAM_IMAGES, measure(item.path.read_bytes())):
            return item
        copy = fit(INSTAGRAM_IMAGES, item.path, item.path.with_name(f"{item.sha256}.ig.jpg"))
        data = copy.read_bytes()
        return MediaItem(
            path=copy,
            alt=item.alt,
            mime_type="image/jpeg",
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
        )

    def _new_container(self, client: GraphClient, data: Mapping[str, str]) -> str:
        try:
            # An unpublished container is invisible and expires: not a "create".
            answer = client.post(f"{self.options.ig_user_id}/media", data)
        except (GraphError, GraphTransportError) as error:
            raise self._error(error, "creating a media container", creating=False) from error
        return str(answer["id"])

    def _status(self, client: GraphClient, container: str) -> str:
        try:
            answer = client.get(container, {"fields": "status_code,status"})
        except (GraphError, GraphTransportError) as error:
            raise self._error(error, "reading the container", creating=False) from error
        status = str(answer.get("status_code", ""))
        if status == "ERROR":
            subcode = _subcode(answer.get("status"))
            if subcode in _RETRY_SUBCODES:
                return _RETRY_WITH_NEW  # worth a fresh container, like an expired one
            raise Permanent(
                f"Instagram could not process the media: {answer.get('status') or 'ERROR'}"
            )
        return status

    def _wait_until_finished(self, client: GraphClient, container: str) -> None:
        polls = max(1, math.ceil(self.options.container_wait / self.options.poll_interval))
        for poll in range(polls):
            status = self._status(client, container)
            if status == "FINISHED":
                return
            if status == _RETRY_WITH_NEW:
                raise Retryable(
                    f"account {self.account}: Instagram failed to fetch or process the media "
                    "(a transient error); the next attempt makes a new container"
                )
            if status != "IN_PROGRESS":
                raise Retryable(f"account {self.account}: the media container is {status}")
            if poll < polls - 1:
                self.sleep(self.options.poll_interval.total_seconds())
        # The container stays noted: the next attempt picks it up where it is.
        raise Retryable(
            f"account {self.account}: Instagram is still processing the media after "
            f"{self.options.container_wait.total_seconds():g} s; will look again",
            retry_after=self.options.container_wait,
        )

    def _check_quota(self, client: GraphClient) -> None:
        try:
            answer = client.get(
                f"{self.options.ig_user_id}/content_publishing_limit",
                {"fields": "quota_usage,config"},
            )
        except (GraphError, GraphTransportError) as error:
            raise self._error(error, "reading the publishing quota", creating=False) from error
        entries = answer.get("data") or [{}]
        usage = int(entries[0].get("quota_usage", 0))
        config = entries[0].get("config") or {}
        total = int(config.get("quota_total", 50))
        if usage < total:
            return
        window = timedelta(seconds=int(config.get("quota_duration", 86400)))
        until = self._window_frees(client, window)
        raise RateLimited(
            f"account {self.account}: {usage} of {total} posts in the last "
            f"{window.total_seconds() / 3600:g} h; Instagram takes no more until {until:%H:%M} UTC",
            until=until,
        )

    def _window_frees(self, client: GraphClient, window: timedelta) -> datetime:
        """When the oldest post of the rolling window leaves it (a lower bound: the quota
        counts API posts only); an hour from now when that cannot be told."""
        now = ensure_utc(self.clock.now())
        try:
            recent = client.get(
                f"{self.options.ig_user_id}/media", {"fields": "id,timestamp", "limit": 100}
            ).get("data", [])
        except (GraphError, GraphTransportError):
            return now + QUOTA_FALLBACK
        inside = [_time(item) for item in recent if _time(item) > now - window]
        frees = min(inside) + window if inside else now + QUOTA_FALLBACK
        return max(frees, now + timedelta(minutes=1))

    def _published_media(self, client: GraphClient, outgoing: Outgoing) -> Published:
        """The media a ``PUBLISHED`` container became: same caption, published since the
        first attempt (Instagram does not link a container to its media)."""
        sent = outgoing.notes.get(SENT_AT_NOTE)
        since = datetime.fromisoformat(sent) - CLOCK_SKEW if sent else None
        caption = self.render(outgoing).text.strip()
        try:
            recent = client.get(
                f"{self.options.ig_user_id}/media",
                {"fields": "id,caption,timestamp,permalink", "limit": 50},
            ).get("data", [])
        except (GraphError, GraphTransportError) as error:
            raise lookup_error(
                error, account=self.account, doing="listing media", now=self.clock.now()
            ) from error
        for item in reversed(recent):  # oldest first: the first match is ours
            if since is not None and _time(item) < since:
                continue
            if str(item.get("caption", "")).strip() == caption:
                outgoing.notes.put(MEDIA_NOTE, str(item["id"]))
                return Published(platform_id=str(item["id"]), url=item.get("permalink"))
        raise Permanent(
            f"account {self.account}: Instagram says the container was published, but no "
            "recent post has its caption; check the account by hand"
        )

    def _permalink(self, client: GraphClient, media_id: str) -> str | None:
        try:
            answer = client.get(media_id, {"fields": "id,permalink"})
        except (GraphError, GraphTransportError):
            # The post exists; a missing link must not turn it into a failure.
            log.warning(
                "could not read the permalink",
                extra=fields(account=self.account, platform_id=media_id),
            )
            return None
        link = answer.get("permalink")
        return str(link) if link else None

    # -- helpers -----------------------------------------------------------------------

    def _client(self) -> GraphClient:
        return GraphClient(
            api_base=self.options.api_base,
            token=self.settings.secrets().get("access_token"),
            session=self.session,
            timeout=self.options.timeout.total_seconds(),
        )

    def _error(
        self, error: GraphError | GraphTransportError, doing: str, *, creating: bool
    ) -> PublishError:
        return publish_error(
            error, account=self.account, doing=doing, creating=creating, now=self.clock.now()
        )

    def _media_host(self, accounts: Mapping[str, AccountSettings]) -> MediaHost:
        if self.options.public_media_base_url is not None:
            return PublicBaseUrlHost(self.options.public_media_base_url)
        name = self.options.media_host_account
        assert name is not None  # the options' validator guarantees one of the two
        if name not in accounts:
            raise ValueError(
                f"account {self.account!r}: media_host_account {name!r} is not a configured "
                "account (or relais was built without passing the accounts to instagram)"
            )
        return WordPressMediaHost(accounts[name], session=self.session)

    def _ids(self, outgoing: Outgoing) -> dict[str, Any]:
        return {"delivery_id": outgoing.delivery_id, "account": self.account}


def _subcode(status: object) -> int | None:
    found = re.search(r"\d{5,}", str(status or ""))
    return int(found.group()) if found else None


def _time(item: Mapping[str, Any]) -> datetime:
    """Graph times look like ``2026-12-09T09:00:00+0000``."""
    return datetime.strptime(str(item["timestamp"]), "%Y-%m-%dT%H:%M:%S%z")
