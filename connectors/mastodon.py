"""Mastodon: one status per delivery, with up to 4 images (alt text) or one video.

The text is sent as written, the link on a line of its own when the text does not contain
it, with the account's language, visibility and content warning. Length is counted as the
server counts it (``app/validators/status_length_validator.rb`` in mastodon/mastodon:
grapheme clusters of the content warning plus the text, every http(s) URL as
``characters_reserved_per_url`` = 23, a mention ``@name@server`` as ``@name``).

The server's own limits (characters, media count and sizes, types) come from
``/api/v2/instance``; ``relais accounts check`` and every publish keep a copy in the state
folder so that ``relais check``, which never touches the network, uses them.

Exactly once: every status is posted with ``Idempotency-Key: <delivery id>``, so a resend
within the server's hour returns the same status instead of a second one; the moment of
the first attempt is noted before the request, and ``find`` compares the source text
(``GET /api/v1/statuses/:id/source``) of the account's statuses created since then, and
of its scheduled statuses. Uploads are noted per file hash so a retry does not upload
again; an upload still being processed (202) makes the attempt ``Retryable`` rather
than waiting.

Native scheduling (``schedule_ahead`` > 0) hands a post over with ``scheduled_at`` when it
is at least 5 minutes ahead (the server refuses less); ``relais cancel`` and ``relais move``
withdraw or move it there (:class:`connectors.handover.ChangesSchedule`).
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import ClassVar

import requests
from twitter_text import extract_urls_with_indices

from connectors.base import (
    AccountSettings,
    Limits,
    Outgoing,
    Problem,
    Published,
    RenderedText,
    Verdict,
    check_limits,
    parse_options,
    plain_text,
)
from connectors.credentials import MissingCredential
from connectors.errors import AuthExpired, Permanent, PublishError, Retryable
from connectors.handover import Confirmation, HandedOver, Liveness
from connectors.mastodon_api import InstanceLimits, MastodonClient, MastodonOptions, Status
from connectors.text_count import graphemes
from scheduler.clock import Clock, ensure_utc
from scheduler.logs import fields

log = logging.getLogger(__name__)

# The server refuses a scheduled_at sooner than 5 minutes ahead (methods/statuses); a
# minute more covers the request's own time.
MIN_SCHEDULE_LEAD = timedelta(minutes=6)
# How far back before the first attempt ``find`` looks (clocks of two machines differ).
FIND_MARGIN = timedelta(minutes=2)
# The most statuses one request returns (methods/accounts#statuses: limit at most 40).
RECENT_LIMIT = 40
_MENTION = re.compile(r"(?<![\w/])@(\w+)@[\w.-]+\w")
_NOTE_SENT = "mastodon.first_attempt"
_NOTE_ACCOUNT = "mastodon.account_id"
_NOTE_MEDIA = "mastodon.media."


class MastodonConnector:
    """Publishes as one Mastodon account (an access token with ``write:statuses``,
    ``write:media`` and ``read:statuses``)."""

    kind: ClassVar[str] = "mastodon"
    # The account's statuses come from the server's database, not a search index, and a
    # search that cannot reach back to the first attempt says so (Permanent); a resend
    # within the hour would anyway return the same status (Idempotency-Key).
    find_is_authoritative: ClassVar[bool] = True

    def __init__(
        self, settings: AccountSettings, clock: Clock, *, session: requests.Session | None = None
    ) -> None:
        self.options = parse_options(MastodonOptions, settings)
        self.settings = settings
        self.account = settings.name
        self.clock = clock
        self.session = session or requests.Session()
        self.instance_file = (settings.state_dir or settings.base_dir / "state") / (
            f"instances/{settings.name}.json"
        )
        self.instance = self._remembered_limits()
        self.limits = Limits(
            max_text_length=self.instance.max_characters,
            media_kinds=frozenset({"image", "video"}),
            max_media=self.instance.max_media,
        )
        self.lead_time = self.options.schedule_ahead
        self.min_lead_time = MIN_SCHEDULE_LEAD if self.lead_time else timedelta(0)

    # -- offline ---------------------------------------------------------------------

    def render(self, outgoing: Outgoing) -> RenderedText:
        rendered = plain_text(outgoing, self.instance.max_characters)
        length = graphemes(self.options.content_warning or "") + self.counted_length(rendered.text)
        return RenderedText(
            text=rendered.text,
            length=length,
            limit=self.instance.max_characters,
            counted_as="characters as Mastodon counts them",
        )

    def counted_length(self, text: str) -> int:
        """Graphemes, with each URL worth ``characters_per_url`` and mentions their name."""
        urls = [
            found["indices"]
            for found in extract_urls_with_indices(text)
            if str(found["url"]).startswith(("http://", "https://"))
        ]
        pieces: list[str] = []
        position = 0
        for start, end in urls:
            pieces.append(text[position:start])
            pieces.append("x" * self.instance.characters_per_url)
            position = end
        pieces.append(text[position:])
        countable = _MENTION.sub(lambda match: "@" + match.group(1), "".join(pieces))
        return graphemes(countable)

    def check(self, outgoing: Outgoing) -> list[Problem]:
        problems = check_limits(self.limits, outgoing, self.render(outgoing))
        videos = [item for item in outgoing.media if item.mime_type.startswith("video/")]
        if videos and len(outgoing.media) > 1:
            problems.append(
                Problem(field="media", message=f"{self.account} takes one video, on its own")
            )
        for item in outgoing.media:
            limit = self.instance.video_bytes if item in videos else self.instance.image_bytes
            if item.mime_type not in self.instance.mime_types:
                problems.append(
                    Problem(
                        field="media",
                        message=f"{item.path.name} is {item.mime_type}; {self.account}'s "
                        "server does not take that type",
                    )
                )
            if item.size > limit:
                problems.append(
                    Problem(
                        field="media",
                        message=f"{item.path.name} is {item.size} bytes; {self.account}'s "
                        f"server takes at most {limit}",
                    )
                )
        return problems

    # -- online ----------------------------------------------------------------------

    def verify(self) -> Verdict:
        try:
            client = self._client()
            me = client.me()
            self._remember_limits(client)
        except MissingCredential as error:
            return Verdict(ok=False, message=str(error))
        except PublishError as error:
            return Verdict(ok=False, message=error.message)
        return Verdict(
            ok=True,
            message=f"posts as @{me.get('acct')} on {self.options.instance} "
            f"({self.instance.max_characters} characters, {self.instance.max_media} media)",
        )

    def publish(self, outgoing: Outgoing) -> Published:
        client = self._client_or_pause()
        ids = fields(delivery_id=outgoing.delivery_id, account=self.account)
        if outgoing.notes.get(_NOTE_ACCOUNT) is None:
            outgoing.notes.put(_NOTE_ACCOUNT, str(client.me()["id"]))
            self._remember_limits(client)
        media_ids = [
            self._upload(client, outgoing, number) for number in range(len(outgoing.media))
        ]
        now = ensure_utc(self.clock.now())
        due_at = ensure_utc(outgoing.due_at)
        scheduled_at = due_at if self.lead_time and due_at - now >= MIN_SCHEDULE_LEAD else None
        if outgoing.notes.get(_NOTE_SENT) is None:
            # Noted before the request: ``find`` looks at what was created since.
            outgoing.notes.put(_NOTE_SENT, now.isoformat())
        status = client.post_status(
            text=self.render(outgoing).text,
            media_ids=media_ids,
            visibility=self.options.visibility,
            language=self.options.language,
            spoiler_text=self.options.content_warning,
            scheduled_at=scheduled_at,
            idempotency_key=outgoing.delivery_id,
        )
        log.info("status %s", status.id, extra=ids | fields(status_id=status.id))
        return _published(status)

    def find(self, outgoing: Outgoing) -> Published | None:
        sent = outgoing.notes.get(_NOTE_SENT)
        account_id = outgoing.notes.get(_NOTE_ACCOUNT)
        if sent is None or account_id is None:
            return None  # nothing was ever sent for this delivery
        client = self._client_or_pause()
        text = self.render(outgoing).text.strip()
        since = datetime.fromisoformat(sent) - FIND_MARGIN
        recent = client.recent_statuses(account_id, limit=RECENT_LIMIT)
        for status in recent:
            if status.created_at is not None and status.created_at < since:
                break  # newest first: the rest is older than the first attempt
            if client.source_text(status.id).strip() == text:
                return _published(status)
        else:
            if len(recent) == RECENT_LIMIT:
                raise Permanent(
                    f"{self.account}: more than {RECENT_LIMIT} statuses since the first "
                    "attempt; look at the account for this post, then mark it or send it again"
                )
        for scheduled in client.scheduled_statuses():
            if (scheduled.text or "").strip() == text:
                return _published(scheduled)
        return None

    def confirm(self, outgoing: Outgoing, platform_id: str) -> Confirmation:
        """A scheduled status that the server has turned into a status is live; one still
        scheduled is pending; one gone without a status was dropped by the server."""
        client = self._client_or_pause()
        scheduled_id = _scheduled_id(platform_id)
        if any(item.id == scheduled_id for item in client.scheduled_statuses()):
            return Confirmation(liveness=Liveness.PENDING)
        found = self.find(outgoing)
        if found is not None and not found.platform_id.startswith("scheduled/"):
            return Confirmation(liveness=Liveness.LIVE, url=found.url)
        return Confirmation(
            liveness=Liveness.NOT_LIVE,
            reason=f"{self.account}: the server no longer has the scheduled status and "
            "published none with its text; look at the account, then send it again with "
            "relais retry",
        )

    # -- cancel and move on the server's own schedule (methods/scheduled_statuses) ----------

    def change_problem(self, outgoing: Outgoing, at: datetime | None) -> str | None:
        if at is not None and ensure_utc(at) - ensure_utc(self.clock.now()) < MIN_SCHEDULE_LEAD:
            return (
                "Mastodon schedules at least 5 minutes ahead; cancel it and queue the post "
                "again for that time instead"
            )
        return None

    def withdraw(self, outgoing: Outgoing, platform_id: str) -> None:
        """Delete the scheduled status; one already gone is withdrawn already."""
        try:
            self._client_or_pause().delete_scheduled(_scheduled_id(platform_id))
        except Permanent as error:
            if error.http_status != 404:
                raise

    def reschedule(self, outgoing: Outgoing, platform_id: str, at: datetime) -> None:
        """Move the scheduled status (idempotent: moving it to where it is changes nothing)."""
        self._client_or_pause().reschedule(_scheduled_id(platform_id), at)

    # -- steps -----------------------------------------------------------------------

    def _client(self) -> MastodonClient:
        return MastodonClient(
            options=self.options,
            token=self.settings.secrets().get("access_token"),
            session=self.session,
            clock=self.clock,
            account=self.account,
        )

    def _client_or_pause(self) -> MastodonClient:
        try:
            return self._client()
        except MissingCredential as error:
            raise AuthExpired(str(error)) from error

    def _upload(self, client: MastodonClient, outgoing: Outgoing, number: int) -> str:
        item = outgoing.media[number]
        key = _NOTE_MEDIA + item.sha256
        media_id = outgoing.notes.get(key)
        if media_id is None:
            media_id, ready = client.upload_media(
                item.path, mime_type=item.mime_type, description=item.alt
            )
            outgoing.notes.put(key, media_id)
        else:
            ready = client.media_ready(media_id)
        if not ready:
            # The server refuses to attach it until then (422); try again shortly.
            raise Retryable(
                f"{self.account}: {item.path.name} is still being processed by the server",
                retry_after=timedelta(minutes=1),
            )
        return media_id

    def _remembered_limits(self) -> InstanceLimits:
        try:
            return InstanceLimits.from_instance(json.loads(self.instance_file.read_text()))
        except (OSError, ValueError, TypeError):
            return InstanceLimits()

    def _remember_limits(self, client: MastodonClient) -> None:
        document = client.instance()
        self.instance = InstanceLimits.from_instance(document)
        self.limits = Limits(
            max_text_length=self.instance.max_characters,
            media_kinds=self.limits.media_kinds,
            max_media=self.instance.max_media,
        )
        try:
            self.instance_file.parent.mkdir(parents=True, exist_ok=True)
            _write_atomically(self.instance_file, json.dumps(document))
        except OSError as error:
            log.warning(
                "cannot keep the server's limits: %s", error, extra=fields(account=self.account)
            )


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def _published(status: Status) -> Published:
    if status.scheduled_at is not None:
        return HandedOver(
            platform_id=f"scheduled/{status.id}", url=None, live_at=status.scheduled_at
        )
    return Published(platform_id=status.id, url=status.url)


def _scheduled_id(platform_id: str) -> str:
    prefix, _, scheduled_id = platform_id.partition("/")
    if prefix != "scheduled" or not scheduled_id:
        raise ValueError(f"{platform_id!r} is not a scheduled status")
    return scheduled_id
