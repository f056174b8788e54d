"""Open a file someone else controls, once, and check what was opened rather than the path.

Between checking a path and opening it, whoever can write the inbox can swap the file
for a symbolic link, a hard link to a file elsewhere, or a FIFO. So the file is opened
first and everything is decided from that descriptor:

- ``O_NOFOLLOW``: a final component that is a link is refused, not followed;
- ``O_NONBLOCK``: opening a FIFO or a device returns at once instead of waiting for a
  writer, and ``fstat`` then refuses it (a socket cannot be opened at all: ``ENXIO``);
- ``fstat``: a regular file, with one link (a hard link would bring another directory's
  bytes in under a name inside the inbox), within the size bound;
- the path the kernel holds for the descriptor (``/proc/self/fd``) must be inside the
  root: a folder of the path swapped for a link after the walk is caught there.

Callers then read, hash and copy from the returned handle only.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOCTTY", 0)
)
_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


class UnsafeFile(ValueError):
    """The opened file may not be used; the message says why and what to do."""


def open_confined(
    path: str | os.PathLike[str],
    *,
    root: Path,
    max_bytes: int,
    name: str,
    root_label: str = "the inbox",
    too_big: Callable[[int], str] | None = None,
) -> tuple[BinaryIO, os.stat_result]:
    """Open ``path`` for reading if it is a lone regular file inside ``root`` (a real path).

    ``name`` is how messages call the file; ``too_big`` words the size refusal. Raises
    :class:`UnsafeFile`, or ``FileNotFoundError`` when there is nothing at ``path``
    (callers word that themselves).
    """
    try:
        fd = os.open(path, _FLAGS)
    except FileNotFoundError:
        raise
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise UnsafeFile(
                f"{name} is a symbolic link; put the file itself there, not a link"
            ) from None
        if error.errno == errno.ENXIO:
            raise UnsafeFile(f"{name} is a socket, not a regular file") from None
        raise UnsafeFile(f"{name} cannot be read: {error.strerror}") from None
    try:
        info = os.fstat(fd)
        for test, kind in _KINDS:
            if test(info.st_mode):
                raise UnsafeFile(f"{name} is {kind}, not a regular file")
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFile(f"{name} is not a regular file")
        if info.st_nlink != 1:
            raise UnsafeFile(
                f"{name} has {info.st_nlink} hard links; copy the file into {root_label} "
                "(cp, not ln)"
            )
        opened = opened_path(fd) or os.path.realpath(path)
        if not within(opened, root):
            raise UnsafeFile(
                f"{name} is a symbolic link to a file outside {root_label}; copy the file "
                "itself there"
            )
        if info.st_size > max_bytes:
            raise UnsafeFile(
                too_big(info.st_size)
                if too_big
                else f"{name} is {info.st_size} bytes, more than {max_bytes}"
            )
        return os.fdopen(fd, "rb"), info
    except BaseException:
        os.close(fd)
        raise


def opened_path(fd: int) -> str | None:
    """Where the kernel says ``fd`` is, links resolved; None where /proc is not mounted."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None


def within(path: str, root: Path) -> bool:
    return os.path.commonpath([path, os.fspath(root)]) == os.fspath(root)
