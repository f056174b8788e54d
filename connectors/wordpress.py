"""A WordPress blog through its REST API: one blog post per delivery.

The post's text becomes the content (Markdown to HTML, the link appended as a paragraph when
the text does not already contain it), its first paragraph the excerpt; the account's
``categories`` and the post's tags are filed by name, created when missing. The first image
is the featured image, the others follow the text as ``<figure>`` blocks; all are uploaded
to the media library and attached to the post.

WordPress schedules natively: a post handed over early is sent with ``status: publish`` and
``date_gmt`` = ``due_at``, which WordPress stores as ``future`` and publishes itself.

WordPress has no idempotency key, so every delivery gets a deterministic slug
(``<title, at most 60>-<first 8 of the delivery id>``): ``publish`` looks it up before
creating, and ``find`` reconciles an interrupted send by it. Uploaded media ids are kept in
the delivery's notes, so a retry does not upload twice.
"""

from __future__ import annotations

import logging
import mimetypes
import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape
from html.parser import HTMLParser
from typing import ClassVar

import markdown
import requests

from connectors.base import (
    AccountSettings,
    Limits,
    MediaItem,
    Outgoing,
    Problem,
    Published,
    RenderedText,
    Verdict,
    check_limits,
    parse_options,
)
from connectors.credentials import MissingCredential
from connectors.errors import Ambiguous, AuthExpired, Permanent, PublishError, Retryable
from connectors.handover import Confirmation, HandedOver, Liveness
from connectors.wordpress_api import (
    NewPost,
    UploadedMedia,
    WordPressClient,
    WordPressOptions,
    WordPressPost,
)
from scheduler.clock import Clock, ensure_utc
from scheduler.logs import fields

log = logging.getLogger(__name__)

# WordPress stores content in a LONGTEXT column and has no limit of its own; this bound only
# catches a pasted file or a runaway template before it reaches the blog.
MAX_CONTENT_CHARACTERS = 100_000
# The image types WordPress 6.1 accepts by default.
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
SLUG_TITLE_LENGTH = 60
EXCERPT_LENGTH = 300
TITLE_FROM_TEXT_LENGTH = 80
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s")
_NOTE_PREFIX = "wordpress.media."


class WordPressConnector:
    """Publishes to one WordPress blog as one user (an Application Password)."""

    kind: ClassVar[str] = "wordpress"
    # find() answering None means "never created": the slug is ours and unique, and the
    # look-up reads every status (LOOKUP_STATUSES, drafts and trash included).
    find_is_authoritative: ClassVar[bool] = True

    def __init__(
        self, settings: AccountSettings, clock: Clock, *, session: requests.Session | None = None
    ) -> None:
        self.options = parse_options(WordPressOptions, settings)
        self.settings = settings
        self.account = settings.name
        self.clock = clock
        self.session = session or requests.Session()
        self.limits = Limits(
            max_text_length=MAX_CONTENT_CHARACTERS, media_kinds=frozenset({"image"}), max_media=10
        )
        self.lead_time = self.options.schedule_ahead
        self.min_lead_time = timedelta(minutes=2)

    # -- offline ---------------------------------------------------------------------

    def render(self, outgoing: Outgoing) -> RenderedText:
        """The post's HTML content; inline images show their file name in place of the
        media library address they get when uploaded."""
        inline = [(item.path.name, item.alt or "") for item in outgoing.media[1:]]
        html = content_html(outgoing, inline)
        return RenderedText(
            text=html,
            length=len(html),
            limit=MAX_CONTENT_CHARACTERS,
            counted_as="HTML characters",
        )

    def check(self, outgoing: Outgoing) -> list[Problem]:
        problems = check_limits(self.limits, outgoing, self.render(outgoing))
        for item in outgoing.media:
            if item.mime_type.startswith("image/") and item.mime_type not in IMAGE_TYPES:
                problems.append(
                    Problem(
                        field="media",
                        message=f"{item.path.name} is {item.mime_type}; WordPress takes "
                        f"{', '.join(sorted(IMAGE_TYPES))}",
                    )
                )
        return problems

    # -- online ----------------------------------------------------------------------

    def verify(self) -> Verdict:
        try:
            client = self._client()
            user = client.me()
        except MissingCredential as error:
            return Verdict(ok=False, message=str(error))
        except PublishError as error:
            return Verdict(ok=False, message=error.message)
        roles = ", ".join(user.roles) or "no role"
        missing = sorted({"publish_posts", "upload_files"} - user.capabilities)
        if missing:
            return Verdict(
                ok=False,
                message=f"user {user.slug!r} ({roles}) on {client.base_url} lacks "
                f"{' and '.join(missing)}; give it the Author role or higher",
            )
        message = (
            f"posts as {user.name!r} (user {user.slug!r}, id {user.id}, {roles}) "
            f"on {client.base_url}"
        )
        if self.options.categories and "manage_categories" not in user.capabilities:
            message += "; it cannot create missing categories (create them in Posts > Categories)"
        return Verdict(ok=True, message=message)

    def publish(self, outgoing: Outgoing) -> Published:
        client = self._client_or_pause()
        slug = slug_for(outgoing)
        ids = fields(delivery_id=outgoing.delivery_id, account=self.account, slug=slug)
        existing = client.post_by_slug(slug)
        if existing is not None:
            log.info("post already on the blog; not creating it again", extra=ids)
            return _published(existing)
        media = self._upload(client, outgoing, slug)
        categories = tuple(client.term_id("categories", name) for name in self.options.categories)
        tags = tuple(client.term_id("tags", name) for name in outgoing.tags)
        due_at = ensure_utc(outgoing.due_at)
        created = client.create_post(
            NewPost(
                title=title_for(outgoing),
                content=content_html(outgoing, [(m.source_url, a) for m, a in media[1:]]),
                excerpt=excerpt_for(outgoing.text),
                slug=slug,
                # Past due: published now, dated now. Ahead: WordPress schedules it.
                date_gmt=due_at if due_at > ensure_utc(self.clock.now()) else None,
                categories=categories,
                tags=tags,
                featured_media=media[0][0].id if media else None,
            )
        )
        if created.slug != slug:
            log.warning("WordPress changed the slug to %s", created.slug, extra=ids)
        self._attach(client, [uploaded for uploaded, _alt in media], created, ids)
        log.info("blog post %s (%s)", created.id, created.status, extra=ids)
        return _published(created)

    def find(self, outgoing: Outgoing) -> Published | None:
        client = self._client_or_pause()
        found = client.post_by_slug(slug_for(outgoing))
        if found is None:
            return None
        # A crash or a lost answer between the create and the attach steps: the images
        # noted as uploaded are attached now (attaching again does no harm).
        noted = self._noted_media(outgoing)
        if noted:
            ids = fields(delivery_id=outgoing.delivery_id, account=self.account)
            self._attach(client, noted, found, ids)
        return _published(found)

    def _noted_media(self, outgoing: Outgoing) -> list[UploadedMedia]:
        media: list[UploadedMedia] = []
        for key in _media_keys(outgoing):
            remembered = outgoing.notes.get(key)
            if remembered:
                media_id, _, url = remembered.partition(" ")
                media.append(UploadedMedia(id=int(media_id), source_url=url))
        return media

    def confirm(self, outgoing: Outgoing, platform_id: str) -> Confirmation:
        """Live when the post's status is ``publish`` (REST API, posts: status)."""
        try:
            post = self._client().post_by_id(int(platform_id))
        except MissingCredential as error:
            raise Retryable(str(error)) from error
        except (AuthExpired, Permanent, Ambiguous) as error:
            raise Retryable(error.message) from error
        if post is None:
            return Confirmation(
                liveness=Liveness.NOT_LIVE,
                reason=f"post {platform_id} is no longer on the blog (deleted there?); "
                "`relais retry` publishes it again",
            )
        if post.status == "publish":
            return Confirmation(liveness=Liveness.LIVE, url=post.link or None)
        if post.status == "future":
            # WordPress publishes future posts from WP-Cron, run by page loads: a blog with
            # few visits or DISABLE_WP_CRON without a system cron "misses" the schedule.
            return Confirmation(
                liveness=Liveness.PENDING,
                reason=f"WordPress has not published post {platform_id} at its time (a "
                "missed schedule: WP-Cron did not run; make the blog's cron run, e.g. a "
                "system cron calling wp-cron.php, or publish it in the dashboard)",
            )
        return Confirmation(
            liveness=Liveness.NOT_LIVE,
            reason=f"post {platform_id} is {post.status} on the blog, not published (a "
            "person changed it there?)",
        )

    # -- cancel and move on WordPress' own schedule -----------------------------------

    def change_problem(self, outgoing: Outgoing, at: datetime | None) -> str | None:
        if at is not None and ensure_utc(at) - ensure_utc(self.clock.now()) < self.min_lead_time:
            return "WordPress would publish it at once: move it at least 2 minutes ahead"
        return None

    def withdraw(self, outgoing: Outgoing, platform_id: str) -> None:
        self._client_or_pause().trash_post(int(platform_id))

    def reschedule(self, outgoing: Outgoing, platform_id: str, at: datetime) -> None:
        post = self._client_or_pause().update_post_date(int(platform_id), at)
        if post.status != "future":
            raise Permanent(f"post {platform_id} is {post.status} after the move, not future")

    # -- steps -----------------------------------------------------------------------

    def _client(self) -> WordPressClient:
        return WordPressClient(
            base_url=self.options.base_url,
            username=self.options.username,
            password=self.settings.secrets().get("application_password"),
            session=self.session,
            timeout=self.options.timeout.total_seconds(),
            clock=self.clock,
        )

    def _client_or_pause(self) -> WordPressClient:
        try:
            return self._client()
        except MissingCredential as error:
            raise AuthExpired(str(error)) from error

    def _upload(
        self, client: WordPressClient, outgoing: Outgoing, slug: str
    ) -> list[tuple[UploadedMedia, str]]:
        """Each image in the media library once, even across retries; with its alt text."""
        uploaded: list[tuple[UploadedMedia, str]] = []
        keys = _media_keys(outgoing)
        for number, item in enumerate(outgoing.media, start=1):
            key = keys[number - 1]
            remembered = outgoing.notes.get(key)
            if not remembered and key == _NOTE_PREFIX + item.sha256[:40]:
                # noted by an earlier version, with the whole hash (SQLite only)
                remembered = outgoing.notes.get(_NOTE_PREFIX + item.sha256)
            if remembered:
                media_id, _, url = remembered.partition(" ")
                media = UploadedMedia(id=int(media_id), source_url=url)
            else:
                name = f"{slug}-{number}{_suffix(item)}"
                media = client.upload_file(item.path, mime_type=item.mime_type, filename=name)
                outgoing.notes.put(key, f"{media.id} {media.source_url}")
            if item.alt:
                client.update_media(media.id, alt=item.alt)
            uploaded.append((media, item.alt or ""))
        return uploaded

    def _attach(
        self,
        client: WordPressClient,
        media: Sequence[UploadedMedia],
        post: WordPressPost,
        ids: dict[str, object],
    ) -> None:
        """Attach the images to the post (featured_media alone does not). The post exists
        by now, so a failure here is logged, never raised."""
        for item in media:
            try:
                client.update_media(item.id, post=post.id)
            except PublishError as error:
                log.warning(
                    "could not attach media %s to post %s: %s",
                    item.id,
                    post.id,
                    error.message,
                    extra=ids,
                )


def _media_keys(outgoing: Outgoing) -> list[str]:
    """The note key of each media item's upload. The same bytes twice in a post are two
    media items, one alt text each (one upload would let the second alt text overwrite the
    featured image's). delivery_note.key holds 64 characters: 40 hex digits suffice."""
    keys: list[str] = []
    seen: dict[str, int] = {}
    for item in outgoing.media:
        repeat = seen.get(item.sha256, 0)
        seen[item.sha256] = repeat + 1
        keys.append(_NOTE_PREFIX + item.sha256[:40] + (f".{repeat}" if repeat else ""))
    return keys


def _published(post: WordPressPost) -> Published:
    """A future post is in WordPress' own schedule: handed over until seen published."""
    url = post.link
    # A future post's link is /?p=ID until it goes out; its permalink is already known.
    if post.status == "future" and post.permalink_template and post.slug:
        for placeholder in ("%postname%", "%pagename%"):
            if placeholder in post.permalink_template:
                url = post.permalink_template.replace(placeholder, post.slug)
                break
    if post.status == "future" and post.date_gmt is not None:
        return HandedOver(platform_id=str(post.id), url=url or None, live_at=post.date_gmt)
    return Published(platform_id=str(post.id), url=url or None)


def _suffix(item: MediaItem) -> str:
    return item.path.suffix.lower() or mimetypes.guess_extension(item.mime_type) or ""


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")


def slug_for(outgoing: Outgoing) -> str:
    """``<slugified title, at most 60>-<first 8 of the delivery id>``: the same delivery
    always gets the same slug, two deliveries (almost) never share one."""
    title = slugify(title_for(outgoing))[:SLUG_TITLE_LENGTH].strip("-") or "post"
    marker = re.sub(r"[^a-z0-9]", "", outgoing.delivery_id.lower())[:8]
    return f"{title}-{marker}"


def title_for(outgoing: Outgoing) -> str:
    """The post's title, or else its text's first sentence, shortened."""
    if outgoing.title and outgoing.title.strip():
        return outgoing.title.strip()
    first = _first_sentence(_plain(outgoing.text.strip().split("\n", 1)[0]))
    return _shorten(first, TITLE_FROM_TEXT_LENGTH) or "Sans titre"


def content_html(outgoing: Outgoing, inline: Sequence[tuple[str, str]]) -> str:
    """The text as HTML (single line breaks kept), then the inline images, then the link
    as a paragraph of its own unless the text already contains it."""
    parts = [markdown.markdown(outgoing.text.strip(), extensions=["nl2br"], output_format="html")]
    for source, alt in inline:
        parts.append(f'<figure class="wp-block-image"><img src="{escape(source)}" '
                     f'alt="{escape(alt)}"/></figure>')  # fmt: skip
    if outgoing.link and outgoing.link not in outgoing.text:
        link = escape(outgoing.link)
        parts.append(f'<p><a href="{link}">{link}</a></p>')
    return "\n".join(part for part in parts if part)


def excerpt_for(text: str) -> str:
    """The first paragraph as plain text; past 300 characters, its first sentence."""
    paragraph = _plain(re.split(r"\n\s*\n", text.strip(), maxsplit=1)[0])
    if len(paragraph) <= EXCERPT_LENGTH:
        return paragraph
    return _shorten(_first_sentence(paragraph), EXCERPT_LENGTH)


def _first_sentence(text: str) -> str:
    return _SENTENCE_END.split(text, maxsplit=1)[0]


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _plain(markdown_text: str) -> str:
    """Markdown to plain text: rendered, then the tags dropped, whitespace collapsed."""
    parser = _TextOnly()
    parser.feed(markdown.markdown(markdown_text, output_format="html"))
    parser.close()
    return " ".join("".join(parser.parts).split())
