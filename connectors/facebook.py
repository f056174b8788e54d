"""A Facebook Page: text, link, photo(s) and video posts through the Graph API.

- Text and link posts go to ``POST /{page-id}/feed`` (``message``, ``link``).
- Photos are uploaded unpublished (``POST /{page-id}/photos`` with ``published=false``,
  multipart ``source``) and attached to one feed post with ``attached_media``.
- A video is sent in one multipart request to ``POST /{page-id}/videos`` on the
  ``graph-video`` host (``source``, ``title``, ``description``); the resumable flow would
  need an app id and a User token besides the Page token.
- A post due at least ten minutes ahead is scheduled natively (``published=false`` +
  ``scheduled_publish_time``); dispatch hands it over ``schedule_ahead`` before it is due.
- No idempotency key: before the first request that can create the post, the time is
  noted; ``find`` looks for the same message created since then among the Page's
  published and scheduled posts (videos: the Page's videos).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

import requests
from pydantic import BaseModel, ConfigDict, Field, field_validator

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
from connectors.errors import Ambiguous, AuthExpired, Permanent, PublishError, Retryable
from connectors.graph import (
    DEFAULT_API_BASE,
    DUPLICATE_POST,
    GraphClient,
    GraphError,
    GraphTransportError,
    lookup_error,
    publish_error,
)
from connectors.handover import Confirmation, HandedOver, Liveness
from scheduler.clock import Clock, ensure_utc
from scheduler.durations import Duration
from scheduler.logs import fields

log = logging.getLogger(__name__)

MAX_MESSAGE = 63206
# Facebook schedules between 10 minutes and 30 days ahead [30 days: unverified].
SCHEDULE_MIN_AHEAD = timedelta(minutes=10)
SCHEDULE_MAX_AHEAD = timedelta(days=29)
SENT_AT_NOTE = "facebook.first_sent_at"
SCHEDULED_NOTE = "facebook.scheduled_for"
# Slack for the clocks of this server and Meta's when matching created_time.
CLOCK_SKEW = timedelta(minutes=5)
_PAGES_SEARCHED = 5
_T = TypeVar("_T")


class FacebookOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    page_id: str = Field(pattern=r"^[0-9]+$")
    api_base: str = DEFAULT_API_BASE
    video_api_base: str = "https://graph-video.facebook.com"
    schedule_ahead: Duration = timedelta(hours=24)
    timeout: RequestTimeout = timedelta(seconds=30)
    upload_timeout: PositiveDuration = timedelta(minutes=10)

    @field_validator("schedule_ahead")
    @classmethod
    def _within_facebook_window(cls, value: timedelta) -> timedelta:
        if value < timedelta(0) or value > SCHEDULE_MAX_AHEAD:
            raise ValueError("schedule_ahead must be between 0 (never schedule) and 29 days")
        return value


def compose_text(text: str, link: str | None, tags: Sequence[str]) -> str:
    """The text, then the link on its own line (when given), then the missing hashtags."""
    body = text.rstrip()
    if link and link not in body:
        body = f"{body}\n{link}" if body else link
    hashtags = [f"#{tag.replace(' ', '')}" for tag in tags if tag.strip()]
    missing = [tag for tag in hashtags if tag.lower() not in body.lower()]
    if missing:
        body = f"{body}\n\n{' '.join(missing)}" if body else " ".join(missing)
    return body


class FacebookPageConnector:
    """Posts to one Page with a Page access token (secret ``page_token``)."""

    kind: ClassVar[str] = "facebook_page"

    def __init__(
        self,
        settings: AccountSettings,
        clock: Clock,
        *,
        session: requests.Session | None = None,
    ) -> None:
        self.options = parse_options(FacebookOptions, settings)
        self.settings = settings
        self.account = settings.name
        self.clock = clock
        self.session = session or requests.Session()
        self.limits = Limits(
            max_text_length=MAX_MESSAGE,
            media_kinds=frozenset({"image", "video"}),
            max_media=10,
            max_media_bytes=1_000_000_000,
        )
        self.lead_time = self.options.schedule_ahead
        # One minute more than Facebook's ten, so the request still qualifies on arrival.
        self.min_lead_time = SCHEDULE_MIN_AHEAD + timedelta(minutes=1)

    # -- offline -----------------------------------------------------------------------

    def render(self, outgoing: Outgoing) -> RenderedText:
        # A link post without media carries the link as a preview, not in the message.
        link = outgoing.link if outgoing.media else None
        text = compose_text(outgoing.text, link, outgoing.tags)
        return RenderedText(text=text, length=len(text), limit=MAX_MESSAGE)

    def check(self, outgoing: Outgoing) -> list[Problem]:
        problems = check_limits(self.limits, outgoing, self.render(outgoing))
        videos = [item for item in outgoing.media if item.mime_type.startswith("video/")]
        if videos and len(outgoing.media) > 1:
            problems.append(
                Problem(
                    field="media",
                    message=f"{self.account} takes one video alone, not mixed with other media",
                )
            )
        return problems

    # -- online ------------------------------------------------------------------------

    def verify(self) -> Verdict:
        try:
            client = self._client()
            me = client.get("me", {"fields": "id,name"})
            if str(me.get("id")) != self.options.page_id:
                # /me answers the token's owner: a Page token is the Page itself. A person's
                # token cannot publish "as the Page" (error #200).
                return Verdict(
                    ok=False,
                    message=f"the secret page_token belongs to {me.get('name')!r} (id "
                    f"{me.get('id')}), not to Page {self.options.page_id}: store the Page "
                    "token (GET /me/accounts with a long-lived user token lists it) or a "
                    "System User token of the Page",
                )
            page = client.get(self.options.page_id, {"fields": "id,name"})
        except MissingCredential as error:
            return Verdict(ok=False, message=str(error))
        except (GraphError, GraphTransportError) as error:
            failure = publish_error(
                error, account=self.account, doing="reading the Page", creating=False,
                now=self.clock.now(),
            )  # fmt: skip
            return Verdict(ok=False, message=failure.message)
        return Verdict(ok=True, message=f"posts as Page {page.get('name')!r} (id {page.get('id')})")

    def publish(self, outgoing: Outgoing) -> Published:
        client = self._publishing_client()
        now = ensure_utc(self.clock.now())
        due = ensure_utc(outgoing.due_at)
        scheduling = due - now >= SCHEDULE_MIN_AHEAD
        if outgoing.notes.get(SENT_AT_NOTE) is None:
            outgoing.notes.put(SENT_AT_NOTE, now.isoformat())
        message = self.render(outgoing).text
        page = self.options.page_id
        if outgoing.media and outgoing.media[0].mime_type.startswith("video/"):
            video = outgoing.media[0]
            data: dict[str, str | int] = {"description": message}
            if outgoing.title:
                data["title"] = outgoing.title
            with video.path.open("rb") as source:
                answer = self._call(
                    "uploading the video", creating=True,
                    call=lambda: client.post(
                        f"{page}/videos", {**data, **self._timing(outgoing, scheduling)},
                        files={"source": (video.path.name, source, video.mime_type)},
                        base=self.options.video_api_base,
                        timeout=self.options.upload_timeout.total_seconds(),
                    ),
                )  # fmt: skip
            video_id = str(answer["id"])
            return self._result(outgoing, video_id, self._video_url(video_id))
        data = {"message": message}
        if outgoing.link and not outgoing.media:
            data["link"] = outgoing.link
        for index, item in enumerate(outgoing.media):
            photo_id = self._upload_photo(client, item, temporary=scheduling)
            data[f"attached_media[{index}]"] = json.dumps({"media_fbid": photo_id})
        # The time is checked after the uploads, right before the create call.
        data.update(self._timing(outgoing, scheduling))
        try:
            answer = self._call(
                "creating the post", creating=True,
                call=lambda: client.post(f"{page}/feed", data), duplicate_ok=True,
            )  # fmt: skip
        except _Duplicate as duplicate:
            found = self.find(outgoing)
            if found is None:
                raise Permanent(duplicate.error.words, http_status=400) from duplicate.error
            log.info(
                "facebook refused a duplicate: the post already exists",
                extra=fields(
                    delivery_id=outgoing.delivery_id,
                    post_id=outgoing.post_id,
                    account=self.account,
                    platform_id=found.platform_id,
                ),
            )
            return found
        post_id = str(answer["id"])
        return self._result(outgoing, post_id, f"https://www.facebook.com/{post_id}")

    # -- cancel and move on Facebook's own schedule (Pages API, posts guide: update and
    # delete a post; scheduled_publish_time 10 minutes to 30 days ahead) ---------------------

    def change_problem(self, outgoing: Outgoing, at: datetime | None) -> str | None:
        if at is None:
            return None
        ahead = ensure_utc(at) - ensure_utc(self.clock.now())
        if not SCHEDULE_MIN_AHEAD <= ahead <= SCHEDULE_MAX_AHEAD:
            return (
                "Facebook schedules between 10 minutes and 30 days ahead; cancel it and "
                "queue the post again for that time instead"
            )
        return None

    def withdraw(self, outgoing: Outgoing, platform_id: str) -> None:
        client = self._publishing_client()
        try:
            client.delete(platform_id)
        except GraphError as error:
            if error.code == 100:  # "does not exist": deleted already
                return
            raise self._change_error(error, "deleting the scheduled post") from error
        except GraphTransportError as error:
            raise self._change_error(error, "deleting the scheduled post") from error

    def reschedule(self, outgoing: Outgoing, platform_id: str, at: datetime) -> None:
        client = self._publishing_client()
        moment = int(ensure_utc(at).timestamp())
        try:
            client.post(platform_id, {"scheduled_publish_time": moment})
        except (GraphError, GraphTransportError) as error:
            raise self._change_error(error, "moving the scheduled post") from error
        outgoing.notes.put(SCHEDULED_NOTE, ensure_utc(at).isoformat())

    def _change_error(self, error: GraphError | GraphTransportError, doing: str) -> PublishError:
        # Deleting or moving twice does no harm: a lost answer is worth another try.
        failure = publish_error(
            error, account=self.account, doing=doing, creating=False, now=self.clock.now()
        )
        return Retryable(failure.message) if isinstance(failure, Ambiguous) else failure

    def _timing(self, outgoing: Outgoing, scheduling: bool) -> dict[str, str | int]:
        """The schedule fields, computed just before the create call: Meta refuses a
        ``scheduled_publish_time`` less than 10 minutes ahead (Pages API, posts guide)
        as a permanent error, and media uploads may have taken that long."""
        if not scheduling:
            if outgoing.notes.get(SCHEDULED_NOTE):
                outgoing.notes.put(SCHEDULED_NOTE, "")  # an earlier attempt scheduled it
            return {}
        now = ensure_utc(self.clock.now())
        due = ensure_utc(outgoing.due_at)
        if due - now < SCHEDULE_MIN_AHEAD:
            # Too late to schedule; published at its time rather than early.
            raise Retryable(
                "the uploads took until less than 10 minutes before the post's time, too "
                "late for Facebook's own scheduling; it is sent at its time instead",
                retry_after=max(due - now, timedelta(0)),
            )
        outgoing.notes.put(SCHEDULED_NOTE, due.isoformat())
        return {"published": "false", "scheduled_publish_time": int(due.timestamp())}

    def _result(self, outgoing: Outgoing, platform_id: str, url: str) -> Published:
        scheduled = outgoing.notes.get(SCHEDULED_NOTE)
        if not scheduled:
            return Published(platform_id=platform_id, url=url)
        return HandedOver(
            platform_id=platform_id, url=url, live_at=datetime.fromisoformat(scheduled)
        )

    def confirm(self, outgoing: Outgoing, platform_id: str) -> Confirmation:
        """Live when Facebook says the post (``is_published``) or video (``published``) is
        published (Graph API reference: Page Post, Video)."""
        try:
            client = self._client()
        except MissingCredential as error:
            raise Retryable(str(error)) from error
        video = bool(outgoing.media) and outgoing.media[0].mime_type.startswith("video/")
        flag = "published" if video else "is_published"
        try:
            node = client.get(platform_id, {"fields": f"id,{flag},permalink_url"})
        except GraphError as error:
            if error.code == 100:  # "does not exist, cannot be loaded": deleted
                return Confirmation(
                    liveness=Liveness.NOT_LIVE,
                    reason=f"{platform_id} is no longer on the Page (deleted there?); "
                    "`relais retry` sends it again",
                )
            raise lookup_error(
                error, account=self.account, doing="reading the post", now=self.clock.now()
            ) from error
        except GraphTransportError as error:
            raise lookup_error(
                error, account=self.account, doing="reading the post", now=self.clock.now()
            ) from error
        if node.get(flag):
            url = (
                self._video_url(platform_id) if video else f"https://www.facebook.com/{platform_id}"
            )
            return Confirmation(liveness=Liveness.LIVE, url=url)
        return Confirmation(
            liveness=Liveness.PENDING,
            reason=f"Facebook has not published {platform_id} yet",
        )

    def find(self, outgoing: Outgoing) -> Published | None:
        sent = outgoing.notes.get(SENT_AT_NOTE)
        if sent is None:
            return None  # the note is written before anything can be created
        since = datetime.fromisoformat(sent) - CLOCK_SKEW
        try:
            client = self._client()
        except MissingCredential as error:
            raise AuthExpired(str(error)) from error
        message = self.render(outgoing).text.strip()
        page = self.options.page_id
        if outgoing.media and outgoing.media[0].mime_type.startswith("video/"):
            for video in self._recent(client, f"{page}/videos", "id,description,created_time"):
                if _created(video) < since:
                    break
                if str(video.get("description", "")).strip() == message:
                    video_id = str(video["id"])
                    return self._result(outgoing, video_id, self._video_url(video_id))
            return None
        for edge in ("published_posts", "scheduled_posts"):
            for post in self._recent(client, f"{page}/{edge}", "id,message,created_time"):
                if _created(post) < since:
                    break
                if str(post.get("message", "")).strip() == message:
                    post_id = str(post["id"])
                    return self._result(outgoing, post_id, f"https://www.facebook.com/{post_id}")
        return None

    # -- helpers -----------------------------------------------------------------------

    def _client(self) -> GraphClient:
        return GraphClient(
            api_base=self.options.api_base,
            token=self.settings.secrets().get("page_token"),
            session=self.session,
            timeout=self.options.timeout.total_seconds(),
        )

    def _publishing_client(self) -> GraphClient:
        try:
            return self._client()
        except MissingCredential as error:
            # Held, not failed: the posts go out once someone stores the token.
            raise AuthExpired(str(error)) from error

    def _upload_photo(self, client: GraphClient, item: MediaItem, *, temporary: bool) -> str:
        data: dict[str, str | int] = {"published": "false"}
        if item.alt:
            data["alt_text_custom"] = item.alt  # Graph reference, Page Photos: alt text
        if temporary:
            data["temporary"] = "true"  # photos of a scheduled post must outlive the upload
        with item.path.open("rb") as source:
            # An unpublished photo is invisible; uploading it again after a lost answer
            # cannot make a double post, so the upload is not a "create".
            answer = self._call(
                f"uploading {item.path.name}", creating=False,
                call=lambda: client.post(
                    f"{self.options.page_id}/photos", data,
                    files={"source": (item.path.name, source, item.mime_type)},
                    timeout=self.options.upload_timeout.total_seconds(),
                ),
            )  # fmt: skip
        return str(answer["id"])

    def _call(
        self, doing: str, *, creating: bool, call: Callable[[], _T], duplicate_ok: bool = False
    ) -> _T:
        try:
            return call()
        except (GraphError, GraphTransportError) as error:
            if duplicate_ok and isinstance(error, GraphError) and error.code == DUPLICATE_POST:
                raise _Duplicate(error) from error
            raise publish_error(
                error, account=self.account, doing=doing, creating=creating, now=self.clock.now()
            ) from error

    def _recent(self, client: GraphClient, edge: str, fields: str) -> Iterator[dict[str, Any]]:
        """The edge's items, newest first, a few pages at most."""
        params: dict[str, str | int] = {"fields": fields, "limit": 25}
        for _ in range(_PAGES_SEARCHED):
            try:
                answer = client.get(edge, params)
            except (GraphError, GraphTransportError) as error:
                raise lookup_error(
                    error, account=self.account, doing=f"reading {edge}", now=self.clock.now()
                ) from error
            yield from answer.get("data", [])
            after = answer.get("paging", {}).get("cursors", {}).get("after")
            if not after or "next" not in answer.get("paging", {}):
                return
            params["after"] = after

    def _video_url(self, video_id: object) -> str:
        return f"https://www.facebook.com/{self.options.page_id}/videos/{video_id}"


class _Duplicate(Exception):
    def __init__(self, error: GraphError) -> None:
        super().__init__(error.message)
        self.error = error


def _created(item: dict[str, Any]) -> datetime:
    """Graph times look like ``2026-12-09T09:00:00+0000``."""
    return datetime.strptime(str(item["created_time"]), "%Y-%m-%dT%H:%M:%S%z")
