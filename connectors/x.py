"""X (Twitter) through API v2: a post with text, a link and up to 4 images or one video.

Everything goes through one small client of our own (:mod:`connectors.x_api`): the post
(``POST /2/tweets``), the reads and the v2 media upload, over one requests session and one
set of credentials (``auth: oauth1``, signed by requests-oauthlib, or ``auth: oauth2``, a
bearer token renewed in place; see docs/platforms/x.md).

Why not tweepy: it was used for three calls (create a post, read the account, list its
posts) while media upload, OAuth 2.0 renewal and error handling already needed our own
client, since tweepy 4 has no v2 media upload, sends to a hard-coded host and gives no
request a timeout. Two ways to talk to X meant two error paths and two places where a
token is handled; one client makes both one. The fake (tests/fakes/x.py) checks every
request against X's OpenAPI spec, so the hand-written calls are held to the real API.

X has no idempotency key and no native scheduling. Before the create request leaves, the
connector writes the note ``x.sent_at`` (kept from the first attempt); ``find`` then looks
through the account's posts since that moment for the same text. X also refuses a post
whose text repeats a recent one ("duplicate content"): that refusal means the post is
already there, so ``publish`` looks it up and returns it.
"""

from __future__ import annotations

import html
import logging
import re
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

import requests
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator
from twitter_text import extract_urls_with_indices, parse_tweet

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
from connectors.errors import AuthExpired, Permanent, PublishError, RateLimited, Retryable
from connectors.x_api import (
    DEFAULT_API_BASE,
    IMAGE_TYPES,
    VIDEO_TYPES,
    Authorizer,
    MediaUploader,
    XHttp,
    XHttpError,
    load_authorizer,
    problem_message,
    translate,
)
from scheduler.clock import Clock, ensure_utc
from scheduler.logs import fields

log = logging.getLogger(__name__)

MAX_TEXT = 280
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_GIF_BYTES = 15 * 1024 * 1024
MAX_VIDEO_BYTES = 512 * 1024 * 1024
SENT_AT_NOTE = "x.sent_at"
DUPLICATE = "duplicate content"
# Reconciliation looks a little before the recorded moment: clocks differ.
_CLOCK_SLACK = timedelta(minutes=2)
_PLATFORM_ERRORS = (
    requests.RequestException,
    XHttpError,
    MissingCredential,
    OSError,
)


class XOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    auth: Literal["oauth1", "oauth2"]
    # Where every call goes (tests point it at a fake on loopback).
    api_base: str = DEFAULT_API_BASE
    # Skips GET /2/users/me before the first reconciliation.
    user_id: str | None = Field(default=None, pattern=r"^[0-9]{1,19}$")
    hashtags: bool = True
    # The longest wait for one HTTP request (`timeout_seconds`, its old name, still loads).
    timeout: RequestTimeout = Field(
        default=timedelta(seconds=30), validation_alias=AliasChoices("timeout", "timeout_seconds")
    )
    chunk_bytes: int = Field(default=4 * 1024 * 1024, ge=64 * 1024, le=5 * 1024 * 1024)
    # The longest wait for X to process a video (`processing_timeout_seconds` still loads).
    processing_timeout: PositiveDuration = Field(
        default=timedelta(minutes=10),
        validation_alias=AliasChoices("processing_timeout", "processing_timeout_seconds"),
    )
    reconcile_pages: int = Field(default=3, ge=1, le=32)

    @field_validator("api_base")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+$", value.rstrip("/")):
            raise ValueError("must be a scheme and host such as https://api.x.com")
        return value.rstrip("/")


@dataclass(frozen=True, kw_only=True)
class XPost:
    """A post as X lists it."""

    id: str
    text: str


@dataclass(frozen=True)
class _Wired:
    authorizer: Authorizer
    http: XHttp
    uploader: MediaUploader


class XConnector:
    """One X account. ``session`` and ``sleep`` are injected by tests."""

    kind: ClassVar[str] = "x"

    def __init__(
        self,
        settings: AccountSettings,
        clock: Clock,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.options = parse_options(XOptions, settings)
        self.settings = settings
        self.account = settings.name
        self.clock = clock
        self.sleep = sleep
        self.session = session or requests.Session()
        self.limits = Limits(
            max_text_length=MAX_TEXT,
            media_kinds=frozenset({"image", "video"}),
            max_media=4,
            max_media_bytes=MAX_VIDEO_BYTES,
        )
        self.lead_time = timedelta(0)
        self.min_lead_time = timedelta(0)
        self._wired: _Wired | None = None
        self._user_id = self.options.user_id
        self._lock = threading.Lock()

    # -- offline ---------------------------------------------------------------------

    def render(self, outgoing: Outgoing) -> RenderedText:
        """The text, then the tags as hashtags (those not in it yet), then the link."""
        text = outgoing.text.rstrip()
        if self.options.hashtags:
            present = text.casefold()
            tags = [f"#{tag}" for tag in (re.sub(r"\W", "", t) for t in outgoing.tags) if tag]
            missing = [tag for tag in tags if tag.casefold() not in present]
            if missing:
                text = f"{text}\n{' '.join(missing)}" if text else " ".join(missing)
        if outgoing.link and outgoing.link not in text:
            text = f"{text}\n{outgoing.link}" if text else outgoing.link
        text = unicodedata.normalize("NFC", text)
        length = parse_tweet(text).weightedLength
        return RenderedText(
            text=text, length=length, limit=MAX_TEXT, counted_as="characters as X counts them"
        )

    def check(self, outgoing: Outgoing) -> list[Problem]:
        rendered = self.render(outgoing)
        problems = check_limits(replace(self.limits, max_text_length=None), outgoing, rendered)
        if rendered.length > MAX_TEXT:
            problems.insert(
                0,
                Problem(
                    field="text",
                    message=f"the text is {rendered.length} characters as X counts them "
                    f"(links count 23, emoji and CJK 2); X takes at most {MAX_TEXT}",
                ),
            )
        if not rendered.text and not outgoing.media:
            problems.append(Problem(field="text", message="X needs a text or a media file"))
        problems.extend(_media_problems(outgoing))
        return problems

    # -- online ----------------------------------------------------------------------

    def verify(self) -> Verdict:
        try:
            me = self._me()
        except MissingCredential as error:
            return Verdict(ok=False, message=str(error))
        except PublishError as error:
            return Verdict(ok=False, message=error.message)
        return Verdict(
            ok=True,
            message=f"posts as @{me.get('username')} ({me.get('name')}, id {me.get('id')})"
            f" with {self.options.auth}",
        )

    def publish(self, outgoing: Outgoing) -> Published:
        rendered = self.render(outgoing)
        wired = self._wire_or_raise()
        media_ids: list[str] = []
        for item in outgoing.media:
            try:
                media_ids.append(wired.uploader.upload(item.path, item.mime_type, item.alt))
            except _PLATFORM_ERRORS as error:
                raise self._translate(error, f"uploading {item.path.name}", False) from error
        if outgoing.notes.get(SENT_AT_NOTE) is None:
            outgoing.notes.put(SENT_AT_NOTE, ensure_utc(self.clock.now()).isoformat())

        try:
            body = wired.http.create_post(rendered.text, media_ids)
        except XHttpError as error:
            refused = error.response.status_code == 403
            if not refused or DUPLICATE not in problem_message(error.response).casefold():
                raise self._translate(error, "creating the post", True) from error
            return self._already_posted(outgoing, rendered.text, error)
        except _PLATFORM_ERRORS as error:
            raise self._translate(error, "creating the post", True) from error
        post_id = str(body["data"]["id"])
        log.info(
            "posted on X",
            extra=fields(
                account=self.account,
                delivery_id=outgoing.delivery_id,
                post_id=outgoing.post_id,
                platform_id=post_id,
            ),
        )
        return _published(post_id)

    def find(self, outgoing: Outgoing) -> Published | None:
        sent_at = outgoing.notes.get(SENT_AT_NOTE)
        if sent_at is None:
            # The note is committed before the create request leaves: nothing was sent.
            return None
        since = datetime.fromisoformat(sent_at) - _CLOCK_SLACK
        try:
            post = self._lookup(self.render(outgoing).text, since)
        except RateLimited as error:
            raise Retryable(error.message, retry_after=error.until - self.clock.now()) from error
        return _published(post.id) if post is not None else None

    # -- helpers ---------------------------------------------------------------------

    def _already_posted(self, outgoing: Outgoing, text: str, refusal: XHttpError) -> Published:
        """X says this text is a duplicate of a recent post: find that post."""
        post = self._lookup(text, since=None)
        if post is None:
            raise Permanent(
                f"account {self.account}: X refused the post as duplicate content "
                f"({problem_message(refusal.response)}), and no recent post with this text "
                "was found; check the account",
                http_status=403,
            ) from refusal
        log.warning(
            "X refused a duplicate: the post already exists",
            extra=fields(
                account=self.account,
                delivery_id=outgoing.delivery_id,
                post_id=outgoing.post_id,
                platform_id=post.id,
            ),
        )
        return _published(post.id)

    def _lookup(self, text: str, since: datetime | None) -> XPost | None:
        """The newest post of this account with ``text``, created at/after ``since``."""
        wanted = _comparable(text)
        try:
            wired = self._wire()
            user_id = self._user_id or str(self._me()["id"])
            self._user_id = user_id
            token: str | None = None
            for _ in range(self.options.reconcile_pages):
                page = wired.http.users_posts(user_id, since=since, pagination_token=token)
                for item in page.get("data") or ():
                    if _comparable(str(item.get("text", ""))) == wanted:
                        return XPost(id=str(item["id"]), text=str(item["text"]))
                token = (page.get("meta") or {}).get("next_token")
                if not token:
                    return None
        except _PLATFORM_ERRORS as error:
            raise self._translate(error, "looking through recent posts", False) from error
        # More pages than we read: the post may be further back; a person must look.
        raise Permanent(
            f"account {self.account}: more than {self.options.reconcile_pages} pages of posts "
            "to search; raise reconcile_pages or check the account by hand"
        )

    def _me(self) -> dict[str, Any]:
        try:
            body = self._wire().http.me()
        except MissingCredential:
            raise
        except _PLATFORM_ERRORS as error:
            raise self._translate(error, "reading the account (GET /2/users/me)", False) from error
        data = body.get("data")
        if not isinstance(data, dict) or "id" not in data:
            raise Retryable(f"account {self.account}: X answered /2/users/me without a user")
        return data

    def _wire(self) -> _Wired:
        """Credentials are read on first use, so a missing one never stops the daemon."""
        with self._lock:
            if self._wired is None:
                authorizer = load_authorizer(
                    self.options.auth,
                    account=self.account,
                    secrets=self.settings.secrets(),
                    session=self.session,
                    api_base=self.options.api_base,
                    timeout=self.options.timeout.total_seconds(),
                    clock=self.clock,
                )
                http = XHttp(
                    session=self.session,
                    api_base=self.options.api_base,
                    authorizer=authorizer,
                    timeout=self.options.timeout.total_seconds(),
                )
                uploader = MediaUploader(
                    http=http,
                    chunk_bytes=self.options.chunk_bytes,
                    processing_timeout=self.options.processing_timeout,
                    sleep=self.sleep,
                )
                self._wired = _Wired(authorizer, http, uploader)
            return self._wired

    def _wire_or_raise(self) -> _Wired:
        try:
            return self._wire()
        except MissingCredential as error:
            raise AuthExpired(str(error)) from error

    def _translate(self, error: BaseException, doing: str, creating: bool) -> PublishError:
        return translate(
            error, account=self.account, doing=doing, creating=creating, now=self.clock.now()
        )


def _published(post_id: str) -> Published:
    return Published(platform_id=post_id, url=f"https://x.com/i/web/status/{post_id}")


def _comparable(text: str) -> str:
    """Text as X gives it back: URLs become t.co links (media adds one), & < > are
    HTML-escaped, Unicode is NFC. So compare without URLs and with whitespace collapsed."""
    text = unicodedata.normalize("NFC", html.unescape(text))
    for found in reversed(extract_urls_with_indices(text)):
        start, end = found["indices"]
        text = text[:start] + " " + text[end:]
    return " ".join(text.split())


def _media_problems(outgoing: Outgoing) -> list[Problem]:
    """X takes up to 4 images, or one GIF, or one video, not a mix."""
    problems: list[Problem] = []
    alone = [item for item in outgoing.media if item.mime_type in VIDEO_TYPES | {"image/gif"}]
    if alone and len(outgoing.media) > 1:
        problems.append(
            Problem(
                field="media",
                message=f"{alone[0].path.name} must be alone: X takes up to 4 images, "
                "or one GIF, or one video",
            )
        )
    for item in outgoing.media:
        kind = item.mime_type.split("/", 1)[0]
        if kind == "image" and item.mime_type not in IMAGE_TYPES:
            problems.append(
                Problem(field="media", message=f"{item.path.name}: X takes JPEG, PNG, WebP, GIF")
            )
        elif kind == "video" and item.mime_type not in VIDEO_TYPES:
            problems.append(
                Problem(field="media", message=f"{item.path.name}: X takes MP4 or MOV video")
            )
        limit = {"image/gif": MAX_GIF_BYTES}.get(item.mime_type) or (
            MAX_IMAGE_BYTES if kind == "image" else MAX_VIDEO_BYTES
        )
        if item.size > limit:
            problems.append(
                Problem(
                    field="media",
                    message=f"{item.path.name} is {item.size} bytes; X takes at most {limit} "
                    f"for {item.mime_type}",
                )
            )
        if item.alt and len(item.alt) > 1000:
            problems.append(
                Problem(field="media", message=f"{item.path.name}: X takes alt text up to 1000")
            )
    return problems
