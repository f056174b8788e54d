"""The contract every platform connector passes, against its platform's fake.

Each platform provides a :class:`PlatformCase` in ``tests/connectors/cases/<name>.py``
(as ``CASE``); ``test_contract.py`` runs the same suite over all of them.
"""

from __future__ import annotations

import io
import struct
import uuid
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from hashlib import sha256
from pathlib import Path
from typing import Any, Literal, Protocol

from PIL import Image

from connectors.base import Connector, MediaItem, MemoryNotes, Outgoing
from connectors.errors import AuthExpired, PublishError
from tests.support import FakeClock

ErrorClass = Literal["retryable", "rate_limited", "auth_expired", "permanent", "ambiguous"]
PostKind = Literal["text", "link", "image", "images", "video"]
ERROR_CLASSES: tuple[ErrorClass, ...] = (
    "retryable",
    "rate_limited",
    "auth_expired",
    "permanent",
    "ambiguous",
)


class PlatformFake(Protocol):
    """What the suite needs from a platform's fake (each fake has more of its own)."""

    def created(self) -> list[dict[str, Any]]:
        """The items that exist on the platform, oldest first, each with its ``"id"``."""
        ...

    def fail_next_create(self, error: ErrorClass) -> None:
        """The next creating request answers as the platform does for that class of error
        (its real status, body and headers). ``ambiguous``: the item IS created, but the
        answer is lost (the fake raises ``tests.fakes.wsgi.DropConnection``)."""
        ...

    def expire_credentials(self) -> None:
        """From now on the credentials are dead (revoked token, refresh refused)."""
        ...


@dataclass(frozen=True, kw_only=True)
class PlatformCase:
    name: str
    kinds: tuple[PostKind, ...]
    max_text_length: int | None  # None: the platform takes any length
    # (tmp_path, clock) -> a connector wired to a fresh fake, and that fake.
    build: Callable[[Path, FakeClock], tuple[Connector, PlatformFake]]
    # Extra fields some platforms need on every post (e.g. a title for YouTube).
    title: str | None = "Goûter de l'Escalade"
    notes: dict[str, str] = field(default_factory=dict)
    # The classes of error the platform can answer (a file system has no rate limit).
    errors: tuple[ErrorClass, ...] = ERROR_CLASSES
    # What the connector raises for a class, when not the error of the same name: a static
    # blog's lost answer is a plain retry, since publishing again finds the page.
    raises: Mapping[ErrorClass, type[PublishError]] = field(default_factory=dict)
    # What dead credentials raise: offline accounts have none, an unusable folder needs a
    # person all the same.
    dead_credentials: type[PublishError] = AuthExpired
    # The lookup after a lost answer needs no credentials (YouTube asks the noted upload
    # session, whose URI is enough): dead credentials cannot stop it finding the item.
    finds_without_credentials: bool = False


def png_bytes(width: int = 8, height: int = 8) -> bytes:
    rows = b"".join(b"\x00" + b"\x80\x40\x20" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def jpeg_bytes(width: int = 8, height: int = 8) -> bytes:
    """A real JPEG (Instagram takes JPEG only), made with Pillow."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (128, 64, 32)).save(buffer, format="JPEG")
    return buffer.getvalue()


def mp4_bytes(size: int = 4096) -> bytes:
    """An ISO base media file: ``ftyp`` box then padding in an ``mdat`` box."""
    ftyp = struct.pack(">I4s4sI4s4s", 24, b"ftyp", b"isom", 512, b"isom", b"mp41")
    body = bytes(range(256)) * (size // 256 + 1)
    mdat = struct.pack(">I4s", 8 + size, b"mdat") + body[:size]
    return ftyp + mdat


def media_item(folder: Path, name: str, data: bytes, mime_type: str, alt: str) -> MediaItem:
    path = folder / name
    path.write_bytes(data)
    return MediaItem(
        path=path, alt=alt, mime_type=mime_type, size=len(data), sha256=sha256(data).hexdigest()
    )


def outgoing(
    kind: PostKind,
    folder: Path,
    *,
    due_at: datetime,
    account: str = "account",
    text: str = "Trois collègues déguisées pour le goûter de l'Escalade !",
    title: str | None = "Goûter de l'Escalade",
    delivery_id: str | None = None,
) -> Outgoing:
    """A post of the given kind, its media written into ``folder``."""
    media: tuple[MediaItem, ...] = ()
    if kind == "image":
        media = (media_item(folder, "photo.jpg", jpeg_bytes(), "image/jpeg", "Une marmite"),)
    elif kind == "images":
        media = tuple(
            media_item(folder, f"photo{n}.jpg", jpeg_bytes(8 + n), "image/jpeg", f"Photo {n}")
            for n in range(3)
        )
    elif kind == "video":
        media = (media_item(folder, "clip.mp4", mp4_bytes(600_000), "video/mp4", "Un film"),)
    return Outgoing(
        delivery_id=delivery_id or str(uuid.uuid4()),
        post_id=str(uuid.uuid4()),
        account=account,
        library="eaux-vives",
        author="marie",
        title=title,
        text=text,
        link="https://www.example.org/agenda/escalade" if kind == "link" else None,
        media=media,
        due_at=due_at,
        tags=("escalade", "bibliothèque"),
        notes=MemoryNotes(),
    )
