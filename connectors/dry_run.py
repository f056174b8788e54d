"""A connector that records what it would send, one JSON object per line.

For demos, the offline default config and tests of the scheduler itself: every ``publish``
appends one line to a JSON Lines file, ``find`` reads the file back. It deliberately does
not deduplicate: a real platform would post twice if asked twice, so the log shows double
sends instead of hiding them.

The two helpers at the top (options parsing, ``OSError`` translation) are shared with the
other local-file connector, :mod:`connectors.static_blog`.
"""

from __future__ import annotations

import json
import os
import re
import threading
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from connectors.base import (
    AccountSettings,
    Connector,
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
from connectors.errors import Ambiguous, Retryable
from connectors.localfs import translate_os_error, writable_folder_verdict
from scheduler.clock import Clock, ensure_utc


class DryRunOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    log: Path
    max_text_length: int | None = Field(default=None, ge=1)
    media_kinds: frozenset[str] = frozenset({"image", "video"})
    max_media: int = Field(default=10, ge=0)
    # Stand in for a platform: render and check exactly as that connector would (offline),
    # so `relais check` on a demo config shows what the platform would receive.
    like: str | None = None
    like_options: dict[str, Any] = Field(default_factory=dict)


class DryRunConnector:
    """Appends each delivery to ``log``; ``platform_id`` is ``dry-run:<delivery_id>``."""

    kind: ClassVar[str] = "dry_run"

    def __init__(
        self,
        settings: AccountSettings,
        clock: Clock,
        imitate: Callable[[AccountSettings, Clock], Connector] | None = None,
    ) -> None:
        """``imitate`` builds the platform connector that ``like:`` names (the registry's
        builder, passed in so that this module need not import the registry)."""
        options = parse_options(DryRunOptions, settings)
        self.account = settings.name
        self.clock = clock
        self.log_path = settings.resolve(options.log)
        self.limits = Limits(
            max_text_length=options.max_text_length,
            media_kinds=options.media_kinds,
            max_media=options.max_media,
        )
        self.lead_time = timedelta(0)
        self.min_lead_time = timedelta(0)
        self.platform = None
        # Standing for a blog, it gives each article a permalink, as the blog would, so
        # that posts announcing the article get their link offline too.
        self.permalink_base: str | None = None
        if options.like in BLOG_LIKES:
            base = options.like_options.get("base_url") or options.like_options.get("site_url")
            self.permalink_base = str(base or f"https://dry-run.invalid/{self.account}/")
            if not self.permalink_base.endswith("/"):
                self.permalink_base += "/"
        if options.like:
            if imitate is None:
                raise ValueError(
                    f"account {settings.name!r} (dry_run): like: {options.like!r} needs the "
                    "connector registry to build the platform it stands for"
                )
            imitated = replace(settings, kind=options.like, options=options.like_options)
            self.platform = imitate(imitated, clock)
        if self.platform is not None:
            self.limits = self.platform.limits
        # Dispatch may publish from several threads; appends must not interleave.
        self._lock = threading.Lock()

    def verify(self) -> Verdict:
        return writable_folder_verdict(self.log_path.parent, "the dry-run log folder")

    def render(self, outgoing: Outgoing) -> RenderedText:
        if self.platform is not None:
            return self.platform.render(outgoing)
        return plain_text(outgoing, self.limits.max_text_length)

    def check(self, outgoing: Outgoing) -> list[Problem]:
        if self.platform is not None:
            return self.platform.check(outgoing)
        return check_limits(self.limits, outgoing, self.render(outgoing))

    def publish(self, outgoing: Outgoing) -> Published:
        line = json.dumps(self._record(outgoing), ensure_ascii=False) + "\n"
        data = line.encode("utf-8")
        with self._lock:
            try:
                self.log_path.parent.mkdir(parents=True, exist_ok=True)
                log = self.log_path.open("a+b", buffering=0)
            except OSError as error:
                raise translate_os_error(error, self.log_path, self.account) from error
            with log:
                self._append(log, data)
                try:
                    os.fsync(log.fileno())
                except OSError as error:
                    # The line was handed to the kernel: it may or may not be on disk now.
                    raise Ambiguous(
                        f"account {self.account}: wrote {self.log_path} but could not "
                        f"sync it: {error.strerror}"
                    ) from error
        return self._published(outgoing)

    def find(self, outgoing: Outgoing) -> Published | None:
        try:
            raw = self.log_path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise translate_os_error(error, self.log_path, self.account, doing="read") from error
        for line in raw.splitlines():
            record = _parse_line(line)
            if record is not None and record.get("delivery_id") == outgoing.delivery_id:
                return self._published(outgoing)
        return None

    def _append(self, log: BinaryIO, data: bytes) -> None:
        """One ``write`` of the whole line, so concurrent appenders never interleave."""
        try:
            end = log.seek(0, os.SEEK_END)
            # A crash mid-write leaves a fragment without its newline; start on a fresh
            # line so that fragment cannot swallow this record.
            if end > 0:
                log.seek(end - 1)
                if log.read(1) != b"\n":
                    data = b"\n" + data
            written = log.write(data)
        except OSError as error:
            raise translate_os_error(error, self.log_path, self.account) from error
        if written != len(data):
            # Only a fragment went out; the next append starts a fresh line after it.
            raise Retryable(
                f"account {self.account}: only {written} of {len(data)} bytes reached "
                f"{self.log_path}; is the disk full?"
            )

    def _record(self, outgoing: Outgoing) -> dict[str, Any]:
        return {
            "delivery_id": outgoing.delivery_id,
            "post_id": outgoing.post_id,
            "account": outgoing.account,
            "library": outgoing.library,
            "author": outgoing.author,
            "sent_at": ensure_utc(self.clock.now()).isoformat(),
            "due_at": ensure_utc(outgoing.due_at).isoformat(),
            "title": outgoing.title,
            "text": outgoing.text,
            "sends": self.render(outgoing).text,
            "link": outgoing.link,
            "tags": list(outgoing.tags),
            "media": [
                {
                    "file": item.path.name,
                    "alt": item.alt,
                    "mime_type": item.mime_type,
                    "size": item.size,
                    "sha256": item.sha256,
                }
                for item in outgoing.media
            ],
        }

    def _published(self, outgoing: Outgoing) -> Published:
        url = None
        if self.permalink_base is not None:
            url = f"{self.permalink_base}{_slug(outgoing)}/"
        return Published(platform_id=f"dry-run:{outgoing.delivery_id}", url=url)


# The kinds whose published URL is an article that other posts may announce.
BLOG_LIKES = frozenset({"wordpress", "static_blog"})


def _slug(outgoing: Outgoing) -> str:
    """``<title, plain letters>-<first 8 of the delivery id>``, like the blogs' own slugs."""
    words = unicodedata.normalize("NFKD", (outgoing.title or "article").lower())
    plain = "".join(char for char in words if not unicodedata.combining(char))
    title = re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:60].strip("-") or "article"
    return f"{title}-{re.sub(r'[^a-z0-9]', '', outgoing.delivery_id.lower())[:8]}"


def _parse_line(line: bytes) -> Mapping[str, Any] | None:
    """A record, or None for a blank line or the fragment an interrupted write left."""
    try:
        record = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) else None
