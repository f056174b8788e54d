"""Media files named by post files: found, confined, measured, sniffed and hashed.

A post file names its media relative to its own folder. Whoever writes the post file
chooses that name, so the name is untrusted: it must lead to a regular file inside the
allowed root (the inbox, or the folder of a post file checked outside the inbox) after
every ``..`` and symbolic link is resolved. Containment is decided on the path alone, so
a file outside the root is never opened, not even to be measured.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

import filetype

# Extension -> the content types a file so named may hold. The ISO-BMFF containers are
# interchangeable in practice (phones write .mov files with mp4 brands and vice versa).
_VIDEO = ("video/mp4", "video/quicktime", "video/x-m4v")
ALLOWED: dict[str, tuple[str, ...]] = {
    ".jpg": ("image/jpeg",),
    ".jpeg": ("image/jpeg",),
    ".png": ("image/png",),
    ".gif": ("image/gif",),
    ".webp": ("image/webp",),
    ".mp4": _VIDEO,
    ".mov": _VIDEO,
    ".m4v": _VIDEO,
}
_VIDEO_BY_SUFFIX = {".mp4": "video/mp4", ".mov": "video/quicktime", ".m4v": "video/x-m4v"}
_SNIFF_BYTES = 8192
_CHUNK = 1 << 20


@dataclass(frozen=True, kw_only=True)
class MediaRef:
    """A media file that passed every check; ``source`` is its real path."""

    source: Path
    alt: str | None
    mime_type: str
    size: int
    sha256: str


class MediaError(ValueError):
    """The reference cannot be used; the message says why and what to do."""


def resolve_media(
    reference: str,
    *,
    alt: str | None,
    base_dir: Path,
    root: Path,
    max_bytes: int,
    root_label: str = "the inbox",
) -> MediaRef:
    """Check the file ``reference`` names, relative to ``base_dir``, and describe it.

    ``base_dir`` and ``root`` must be real paths (no symbolic links), ``base_dir`` inside
    ``root``. Raises :class:`MediaError`.
    """
    if not reference.strip():
        raise MediaError("the media file name is empty")
    if "\0" in reference:
        raise MediaError(f"{reference!r} contains a NUL character; name the file plainly")
    if (
        PurePosixPath(reference).is_absolute()
        or PureWindowsPath(reference).is_absolute()
        or reference.startswith("~")
    ):
        raise MediaError(
            f"{reference!r} is an absolute path; name the file relative to the post file's "
            "folder, such as photo.jpg"
        )
    lexical = os.path.normpath(base_dir / reference)
    if not _within(lexical, root):
        raise MediaError(
            f"{reference!r} points outside {root_label}; put the file next to the post"
        )
    real = os.path.realpath(lexical)
    if not _within(real, root):
        raise MediaError(
            f"{reference!r} is a symbolic link to a file outside {root_label}; copy the file "
            "itself next to the post"
        )
    suffix = Path(real).suffix.lower()
    if suffix not in ALLOWED:
        raise MediaError(
            f"{reference!r}: {suffix or 'files without an extension'} cannot be published; "
            f"use {', '.join(sorted(ext.lstrip('.') for ext in ALLOWED))}"
        )
    try:
        info = os.stat(real)
    except FileNotFoundError:
        raise MediaError(_missing(reference, Path(real))) from None
    except OSError as error:
        raise MediaError(f"{reference!r} cannot be read: {error.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise MediaError(f"{reference!r} is not a regular file")
    if info.st_size > max_bytes:
        raise MediaError(
            f"{reference!r} is {human_size(info.st_size)}; media files may be at most "
            f"{human_size(max_bytes)}"
        )
    head, size, digest = _read(real, reference, info, max_bytes)
    mime_type = _sniff(head, suffix, reference)
    return MediaRef(source=Path(real), alt=alt, mime_type=mime_type, size=size, sha256=digest)


def _within(path: str, root: Path) -> bool:
    return os.path.commonpath([path, os.fspath(root)]) == os.fspath(root)


def _read(
    real: str, reference: str, expected: os.stat_result, max_bytes: int
) -> tuple[bytes, int, str]:
    # O_NOFOLLOW and the inode comparison close the gap between the checks above and
    # this open: a file swapped for a link meanwhile is refused, not followed.
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(real, flags)
    except OSError as error:
        raise MediaError(f"{reference!r} cannot be read: {error.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        now = os.fstat(handle.fileno())
        if (now.st_dev, now.st_ino) != (expected.st_dev, expected.st_ino):
            raise MediaError(f"{reference!r} changed while it was checked; drop it again")
        digest = hashlib.sha256()
        head = handle.read(_SNIFF_BYTES)
        digest.update(head)
        size = len(head)
        while chunk := handle.read(_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise MediaError(f"{reference!r} grew past {human_size(max_bytes)} while read")
            digest.update(chunk)
    return head, size, digest.hexdigest()


def _sniff(head: bytes, suffix: str, reference: str) -> str:
    accepted = ALLOWED[suffix]
    kind = filetype.guess(head)
    if kind is not None and kind.mime in accepted:
        return str(kind.mime)
    # filetype knows few ISO-BMFF brands; any ftyp box is a video container of that family.
    if kind is None and suffix in _VIDEO_BY_SUFFIX and head[4:8] == b"ftyp":
        return _VIDEO_BY_SUFFIX[suffix]
    if not head:
        raise MediaError(f"{reference!r} is empty")
    if kind is None:
        raise MediaError(f"{reference!r} is named {suffix} but holds no image or video data")
    actual = f".{kind.extension}"
    hint = f"; rename it to {actual}" if actual in ALLOWED else ""
    raise MediaError(
        f"{reference!r} is named {suffix} but holds {kind.extension.upper()} data{hint}"
    )


def _missing(reference: str, path: Path) -> str:
    message = f"{reference!r} does not exist (names are relative to the post file's folder)"
    try:
        siblings = [entry.name for entry in path.parent.iterdir()]
    except OSError:
        return message
    close = difflib.get_close_matches(path.name, siblings, n=1)
    return message + (f"; did you mean {close[0]!r}?" if close else "")


def human_size(size: int) -> str:
    if size < 1000:
        return f"{size} bytes"
    if size < 1_000_000:
        return f"{size / 1000:.1f} kB"
    return f"{size / 1_000_000:.1f} MB"
