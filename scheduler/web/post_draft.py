"""A post being written on the desk: the form's fields as a post file, its pictures kept
between two checks, and the move into the library's inbox folder once it passes.

The file stays the one way in: the desk writes exactly the post file a contributor could
have written, checks it with ``relais check``'s code, and intake takes it from the inbox.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DRAFT_NAME = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
PICTURE_SLOTS = 3
PICTURE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp")
DRAFT_LIFETIME_SECONDS = 2 * 24 * 3600


@dataclass(frozen=True, kw_only=True)
class PostForm:
    """What the form holds; ``when`` is next, at, window or series."""

    library: str
    author: str
    title: str = ""
    text: str = ""
    link: str = ""
    accounts: tuple[str, ...] = ()
    when: str = "next"
    at: str = ""
    window_from: str = ""
    window_until: str = ""
    series: str = ""
    alts: tuple[str, ...] = ("",) * PICTURE_SLOTS

    def post_file(self, pictures: dict[int, str], media_prefix: str) -> dict[str, Any]:
        post: dict[str, Any] = {"library": self.library, "author": self.author}
        if self.title.strip():
            post["title"] = self.title.strip()
        post["text"] = self.text.replace("\r\n", "\n")
        if self.link.strip():
            post["link"] = self.link.strip()
        media = [
            {
                "file": f"{media_prefix}{name}",
                **({"alt": self.alts[slot]} if self.alts[slot] else {}),
            }
            for slot, name in sorted(pictures.items())
        ]
        if media:
            post["media"] = media
        post["to"] = list(self.accounts)
        if self.when == "at":
            post["at"] = _local(self.at)
        elif self.when == "window":
            post["window"] = {"from": _local(self.window_from), "until": _local(self.window_until)}
        elif self.when == "series":
            post["series"] = self.series
        return post


def _local(field_value: str) -> str:
    # <input type=datetime-local> gives 2026-12-10T16:00; post files write 2026-12-10 16:00.
    return field_value.replace("T", " ")


def post_yaml(post: dict[str, Any]) -> str:
    return yaml.safe_dump(post, allow_unicode=True, sort_keys=False, width=1000)


def key_lines(text: str) -> dict[int, str]:
    """The line on which each top-level key of a dumped post file starts."""
    return {
        number: line.split(":", 1)[0]
        for number, line in enumerate(text.splitlines(), start=1)
        if line and not line[0].isspace() and ":" in line and not line.startswith("-")
    }


def field_of_line(lines: dict[int, str], line: int | None) -> str:
    """The form field a problem on ``line`` belongs to (the key it falls under)."""
    if line is None:
        return "form"
    keys = [number for number in lines if number <= line]
    return lines[max(keys)] if keys else "form"


@dataclass(frozen=True)
class Drafts:
    """Drafts in ``root`` (state_dir/desk-drafts): one folder each, pictures in media/."""

    root: Path

    def new(self) -> str:
        self.sweep()
        return secrets.token_urlsafe(24)

    def folder(self, draft: str) -> Path:
        if not DRAFT_NAME.match(draft):
            raise ValueError("not a draft name")
        return self.root / draft

    def pictures(self, draft: str) -> dict[int, str]:
        media = self.folder(draft) / "media"
        found: dict[int, str] = {}
        if media.is_dir():
            for path in sorted(media.iterdir()):
                slot, _, _rest = path.name.partition("-")
                if slot.isdigit() and 0 <= int(slot) < PICTURE_SLOTS:
                    found[int(slot)] = path.name
        return found

    def keep_picture(self, draft: str, slot: int, filename: str, content: bytes) -> str:
        media = self.folder(draft) / "media"
        media.mkdir(parents=True, exist_ok=True)
        self.drop_picture(draft, slot)
        name = f"{slot}-{safe_name(filename)}"
        (media / name).write_bytes(content)
        return name

    def drop_picture(self, draft: str, slot: int) -> None:
        for name in [n for s, n in self.pictures(draft).items() if s == slot]:
            (self.folder(draft) / "media" / name).unlink(missing_ok=True)

    def write(self, draft: str, text: str) -> Path:
        folder = self.folder(draft)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "post.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    def sweep(self) -> None:
        """Drafts left for two days are forgotten."""
        if not self.root.is_dir():
            return
        horizon = time.time() - DRAFT_LIFETIME_SECONDS
        for folder in self.root.iterdir():
            if folder.is_dir() and folder.stat().st_mtime < horizon:
                shutil.rmtree(folder, ignore_errors=True)


def safe_name(filename: str) -> str:
    """A file name that is only letters, digits, '.', '-', '_' (and keeps its suffix)."""
    base = Path(filename).name
    ascii_name = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_name).strip(".-").lower()
    return cleaned[-80:] or "picture"


def slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:40] or "post"


def publish_draft(drafts: Drafts, draft: str, form: PostForm, inbox: Path, key: str) -> Path:
    """Move the pictures and the post file into ``inbox/<library>/``; the post file last,
    under a dot-name renamed at the end, so intake never sees half of it."""
    folder = inbox / form.library
    media_folder = folder / "media"
    media_folder.mkdir(parents=True, exist_ok=True)
    pictures = drafts.pictures(draft)
    moved: dict[int, str] = {}
    for slot, name in pictures.items():
        target = f"{key}-{name}"
        shutil.copyfile(drafts.folder(draft) / "media" / name, media_folder / target)
        moved[slot] = target
    post = {"id": key, **form.post_file(moved, "media/")}
    temporary = folder / f".{key}.yaml"
    temporary.write_text(post_yaml(post), encoding="utf-8")
    with temporary.open("rb") as handle:
        os.fsync(handle.fileno())
    final = folder / f"{key}.yaml"
    os.replace(temporary, final)
    shutil.rmtree(drafts.folder(draft), ignore_errors=True)
    return final
