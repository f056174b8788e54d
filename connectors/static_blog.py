"""A blog written to a folder: Markdown pages with front matter, copied media, an Atom feed.

The offline account kind of the default config. Layout under ``output``::

    posts/<slug>.md              one page per delivery, YAML front matter then the text
    media/<sha256 prefix>-<name> media files, content-addressed so re-copies are no-ops
    feed.xml                     Atom feed of the newest ``feed_entries`` pages

The page is the commit point: media are copied before it, the feed is derived after it.
Every file is written to a temporary name in its own folder and renamed into place, so a
crash leaves either the old file or the new one. ``publish`` is idempotent: a delivery that
already has a page gets that page back instead of a second one.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import tempfile
import threading
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, ClassVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from feedgen.feed import FeedGenerator
from pydantic import BaseModel, ConfigDict, Field, field_validator

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
from connectors.errors import Permanent
from connectors.localfs import translate_os_error, writable_folder_verdict
from scheduler.clock import Clock, ensure_utc
from scheduler.logs import fields

log = logging.getLogger(__name__)

SLUG_TITLE_LENGTH = 60
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_NOT_FILE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class StaticBlogOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    output: Path
    site_url: str
    title: str = Field(default="relais blog", min_length=1)
    feed_entries: int = Field(default=50, ge=1)
    # The zone of the dates in slugs and pages; by default config.yaml's `timezone`.
    timezone: str | None = None

    @field_validator("site_url")
    @classmethod
    def _site_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http:// or https:// address")
        if not value.endswith("/"):
            raise ValueError(f"{value!r} must end with / (the folder the blog is served from)")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone name such as Europe/Zurich") from None
        return value


@dataclass(frozen=True, kw_only=True)
class Page:
    """A page read back from ``posts/``: what the feed and ``find`` need of it."""

    slug: str
    delivery_id: str
    title: str
    author: str
    date: datetime
    published: datetime
    tags: tuple[str, ...]
    body: str


class StaticBlogConnector:
    """Writes ``posts/<slug>.md``; ``platform_id`` is the slug, ``url`` the page's folder."""

    kind: ClassVar[str] = "static_blog"
    # find() answering None means "never created": the article is a file this connector
    # writes itself (atomically); no file, no article.
    find_is_authoritative: ClassVar[bool] = True

    def __init__(self, settings: AccountSettings, clock: Clock) -> None:
        options = parse_options(StaticBlogOptions, settings)
        self.account = settings.name
        self.clock = clock
        self.output = settings.resolve(options.output)
        self.site_url = options.site_url
        self.feed_title = options.title
        self.feed_entries = options.feed_entries
        self.zone = ZoneInfo(options.timezone or settings.timezone)
        self.limits = Limits(requires_title=True)
        self.lead_time = timedelta(0)
        self.min_lead_time = timedelta(0)
        # Two publishes at once must not race on the feed or on the same page.
        self._lock = threading.Lock()

    @property
    def posts_dir(self) -> Path:
        return self.output / "posts"

    @property
    def media_dir(self) -> Path:
        return self.output / "media"

    def verify(self) -> Verdict:
        return writable_folder_verdict(self.output, "the blog folder")

    def render(self, outgoing: Outgoing) -> RenderedText:
        return plain_text(outgoing, None)

    def check(self, outgoing: Outgoing) -> list[Problem]:
        problems = check_limits(self.limits, outgoing)
        if outgoing.title and not outgoing.title.strip():
            problems.append(Problem(field="title", message=f"{self.account} needs a title"))
        if outgoing.title is not None and "\n" in outgoing.title:
            problems.append(Problem(field="title", message="a blog title must fit on one line"))
        return problems

    def publish(self, outgoing: Outgoing) -> Published:
        with self._lock:
            existing = self._find_page(outgoing)
            if existing is not None:
                log.info(
                    "page already written; not writing it again",
                    extra=self._ids(outgoing, slug=existing.slug),
                )
                self._refresh_feed(outgoing)
                return self._published(existing.slug)
            slug = self._free_slug(outgoing)
            try:
                for item in outgoing.media:
                    self._copy_media(item.path, self._media_name(item.sha256, item.path.name))
                page = self._render(outgoing)
                self.posts_dir.mkdir(parents=True, exist_ok=True)
                _write_atomically(self.posts_dir / f"{slug}.md", page.encode("utf-8"))
            except OSError as error:
                path = Path(error.filename) if error.filename else self.output
                raise translate_os_error(error, path, self.account) from error
            log.info("page written", extra=self._ids(outgoing, slug=slug))
            self._refresh_feed(outgoing)
            return self._published(slug)

    def find(self, outgoing: Outgoing) -> Published | None:
        page = self._find_page(outgoing)
        return None if page is None else self._published(page.slug)

    # -- pages -------------------------------------------------------------------------

    def slug_of(self, outgoing: Outgoing, *, full_id: bool = False) -> str:
        """``<due local date>-<title>-<id prefix>``: the same delivery always gets the same."""
        day = ensure_utc(outgoing.due_at).astimezone(self.zone).date().isoformat()
        title = _slugify(outgoing.title or "")[:SLUG_TITLE_LENGTH].strip("-") or "post"
        ident = _ident(outgoing.delivery_id)
        return f"{day}-{title}-{ident if full_id else ident[:8]}"

    def _free_slug(self, outgoing: Outgoing) -> str:
        # An eight-character prefix can collide; the full id cannot. Never overwrite.
        short = self.slug_of(outgoing)
        return (
            short
            if not (self.posts_dir / f"{short}.md").exists()
            else self.slug_of(outgoing, full_id=True)
        )

    def _find_page(self, outgoing: Outgoing) -> Page | None:
        """The page holding this delivery's id, looked up by slug first.

        The title or the zone may have changed since an interrupted publish, so any page
        ending in this delivery's id is considered too; the front matter has the last word.
        """
        blocked = _file_in_the_way(self.posts_dir)
        if blocked is not None:
            # Not "not found": with a file where the folder should be, relais cannot look
            # (Connector.find's contract), and a person must move it.
            unusable = NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(blocked))
            raise translate_os_error(unusable, blocked, self.account, doing="read")
        ident = _ident(outgoing.delivery_id)
        candidates = [
            self.posts_dir / f"{self.slug_of(outgoing)}.md",
            self.posts_dir / f"{self.slug_of(outgoing, full_id=True)}.md",
        ]
        try:
            if self.posts_dir.is_dir():
                # The identifier is [a-z0-9-] only, so it is safe inside a glob pattern.
                for suffix in (ident[:8], ident):
                    candidates.extend(sorted(self.posts_dir.glob(f"*-{suffix}.md")))
            for path in dict.fromkeys(candidates):
                page = self._read_page(path)
                if page is not None and page.delivery_id == outgoing.delivery_id:
                    return page
        except OSError as error:
            path = Path(error.filename) if error.filename else self.posts_dir
            raise translate_os_error(error, path, self.account, doing="read") from error
        return None

    def _read_page(self, path: Path) -> Page | None:
        """The page at ``path``, None if absent; a page a person broke is skipped, logged."""
        try:
            raw = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None  # a file where the folder should be: nothing was published there
        try:
            text = raw.decode("utf-8")  # UnicodeDecodeError is a ValueError
            match = _FRONT_MATTER.match(text)
            meta = yaml.safe_load(match.group(1)) if match else None
            if not isinstance(meta, Mapping) or match is None:
                raise ValueError("no front matter between --- lines")
            return Page(
                slug=path.stem,
                delivery_id=str(meta["delivery_id"]),
                title=str(meta.get("title") or ""),
                author=str(meta.get("author") or ""),
                date=_moment(meta["date"]),
                published=_moment(meta["published"]),
                tags=tuple(str(tag) for tag in meta.get("tags") or ()),
                body=text[match.end() :].strip(),
            )
        except (yaml.YAMLError, ValueError, KeyError, TypeError) as error:
            log.warning(
                "skipping unreadable page %s: %s", path, error, extra=fields(account=self.account)
            )
            return None

    def _render(self, outgoing: Outgoing) -> str:
        files = [
            f"media/{self._media_name(item.sha256, item.path.name)}" for item in outgoing.media
        ]
        media = [
            {"file": file, "alt": item.alt, "mime_type": item.mime_type}
            for file, item in zip(files, outgoing.media, strict=True)
        ]
        meta: dict[str, Any] = {
            "title": outgoing.title,
            "date": ensure_utc(outgoing.due_at).astimezone(self.zone).isoformat(),
            "published": ensure_utc(self.clock.now()).astimezone(self.zone).isoformat(),
            "author": outgoing.author,
            "library": outgoing.library,
            "link": outgoing.link,
            "tags": list(outgoing.tags),
            "media": media,
            "delivery_id": outgoing.delivery_id,
            "post_id": outgoing.post_id,
        }
        # safe_dump quotes strings that would read back as dates, so they stay strings.
        front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)
        body = [outgoing.text.strip()]
        if outgoing.link:
            body.append(f"<{outgoing.link}>")
        for file, item in zip(files, outgoing.media, strict=True):
            url = self.site_url + file
            if item.mime_type.startswith("image/"):
                body.append(f"![{_markdown_text(item.alt or '')}]({url})")
            else:
                body.append(f"[{_markdown_text(item.path.name)}]({url})")
        return f"---\n{front}---\n\n" + "\n\n".join(body) + "\n"

    def _published(self, slug: str) -> Published:
        return Published(platform_id=slug, url=f"{self.site_url}posts/{slug}/")

    def _ids(self, outgoing: Outgoing, **more: Any) -> dict[str, Any]:
        return fields(
            delivery_id=outgoing.delivery_id,
            post_id=outgoing.post_id,
            account=self.account,
            **more,
        )

    # -- media -------------------------------------------------------------------------

    @staticmethod
    def _media_name(sha256: str, name: str) -> str:
        return f"{sha256[:12]}-{_NOT_FILE_NAME.sub('-', name).strip('-.') or 'file'}"

    def _copy_media(self, source: Path, name: str) -> None:
        try:
            reader = source.open("rb")
        except FileNotFoundError as error:
            raise Permanent(
                f"account {self.account}: media file {source} is missing from relais' "
                "media store; re-submit the post with its media"
            ) from error
        target = self.media_dir / name
        with reader:
            if target.is_file() and target.stat().st_size == os.fstat(reader.fileno()).st_size:
                return  # content-addressed: same hash prefix and size is the same file
            self.media_dir.mkdir(parents=True, exist_ok=True)
            with _atomic_file(target) as writer:
                shutil.copyfileobj(reader, writer)

    # -- feed --------------------------------------------------------------------------

    def _refresh_feed(self, outgoing: Outgoing) -> None:
        """Rewrite feed.xml; the page is already out, so a failure here is only logged."""
        try:
            self._write_feed()
        except (OSError, ValueError):
            # ValueError: lxml refuses text that XML cannot hold (control characters).
            log.exception(
                "could not rewrite %s; the next publish tries again",
                self.output / "feed.xml",
                extra=self._ids(outgoing),
            )

    def _write_feed(self) -> None:
        pages = [
            page
            for path in sorted(self.posts_dir.glob("*.md"))
            if (page := self._read_page(path)) is not None
        ]
        pages.sort(key=lambda page: (page.date, page.published), reverse=True)
        newest = pages[: self.feed_entries]
        host = urlsplit(self.site_url).hostname
        feed = FeedGenerator()
        feed.id(self.site_url)
        feed.title(self.feed_title)
        feed.link(href=self.site_url, rel="alternate")
        feed.link(href=f"{self.site_url}feed.xml", rel="self")
        feed.author({"name": self.feed_title})
        feed.updated(max((page.published for page in newest), default=self.clock.now()))
        for page in newest:
            entry = feed.add_entry(order="append")
            # Built from the delivery, not the file name, so a renamed page keeps its id.
            day = page.date.astimezone(self.zone).date().isoformat()
            entry.id(f"tag:{host},{day}:delivery/{page.delivery_id}")
            entry.title(page.title or page.slug)
            entry.link(href=f"{self.site_url}posts/{page.slug}/", rel="alternate")
            entry.author({"name": page.author or self.feed_title})
            entry.updated(page.published)
            entry.content(page.body, type="text")
            for tag in page.tags:
                entry.category(term=tag)
        _write_atomically(self.output / "feed.xml", feed.atom_str(pretty=True))


def _ident(delivery_id: str) -> str:
    return _NOT_SLUG.sub("-", delivery_id.lower()).strip("-") or "delivery"


def _slugify(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return _NOT_SLUG.sub("-", ascii_title.lower()).strip("-")


def _markdown_text(text: str) -> str:
    # Brackets and newlines would end the link text early.
    return re.sub(r"[\[\]\n]", " ", text).strip()


def _moment(value: Any) -> datetime:
    """A front-matter time: relais writes strings; a hand edit may leave a YAML timestamp."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return ensure_utc(moment)


def _write_atomically(path: Path, data: bytes) -> None:
    with _atomic_file(path) as handle:
        handle.write(data)


@contextmanager
def _atomic_file(path: Path) -> Iterator[IO[bytes]]:
    """A temporary file next to ``path``, synced and renamed over it on success only."""
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed by the with below
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
    )
    temporary = Path(handle.name)
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        _sync_folder(path.parent)
    finally:
        temporary.unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    # The rename is only durable once the folder's entry is on disk.
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _file_in_the_way(folder: Path) -> Path | None:
    """The file standing where ``folder`` or one of its parents should be, if any; a folder
    that does not exist yet is not in the way (nothing was ever published there)."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return None if candidate.is_dir() else candidate
    return None
