"""Media files named by post files: found, confined, measured, sniffed and hashed.

A post file names its media relative to its own folder. Whoever writes the post file
chooses that name, so the name is untrusted: it must lead to a regular file inside the
allowed root (the inbox, or the folder of a post file checked outside the inbox) after
every ``..`` and symbolic link is resolved. Containment is first decided on the path, so
a file outside the root is not even opened to be measured; then it is decided again on
what was opened (:mod:`scheduler.intake.confined_open`), and from then on the file is
read only through that one descriptor.
"""

from __future__ import annotations

import difflib
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO

import filetype

from scheduler.intake.confined_open import UnsafeFile, open_confined, within

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
    """A media file that passed every check; ``source`` is its real path.

    ``handle`` is the descriptor it was checked through: the media store copies from it,
    never from ``source`` again (a path can be swapped for a link after the check).
    """

    source: Path
    alt: str | None
    mime_type: str
    size: int
    sha256: str
    handle: BinaryIO | None = field(default=None, compare=False, repr=False)


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
        handle, _ = open_confined(
            real,
            root=root,
            max_bytes=max_bytes,
            name=repr(reference),
            root_label=root_label,
            too_big=lambda size: (
                f"{reference!r} is {human_size(size)}; media files may be "
                f"at most {human_size(max_bytes)}"
            ),
        )
    except FileNotFoundError:
        raise MediaError(_missing(reference, Path(real))) from None
    except UnsafeFile as unsafe:
        raise MediaError(str(unsafe)) from None
    try:
        head, size, digest = _read(handle, reference, max_bytes)
        mime_type = _sniff(head, suffix, reference)
    except BaseException:
        handle.close()
        raise
    return MediaRef(
        source=Path(real), alt=alt, mime_type=mime_type, size=size, sha256=digest, handle=handle
    )


def _within(path: str, root: Path) -> bool:
    return within(path, root)


def _read(handle: BinaryIO, reference: str, max_bytes: int) -> tuple[bytes, int, str]:
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
