"""The "platform" of the offline connectors (``dry_run``, ``static_blog``) is the file system:
these fakes read back what was written and make the next write fail as a disk does.

A full disk is real (``/dev/full`` where the file should be) and a folder in the way is a
real file. A failed ``fsync`` cannot be had on demand from a file system, so that one call
fails with the errno a kernel gives (``ENOSPC``, ``EIO``): once, then ``os`` is itself
again; :func:`remove_faults` clears any fault left over.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.connectors.contract import ErrorClass

_ORIGINAL_FSYNC = os.fsync
_installed: list[FsyncFault] = []


class FsyncFault:
    """``os.fsync`` fails with ``code`` on its call number ``skip + 1``, once."""

    def __init__(self, code: int, *, skip: int = 0) -> None:
        self.code = code
        self.skip = skip

    def install(self) -> None:
        _installed.append(self)
        os.fsync = self._fsync

    def _fsync(self, descriptor: int) -> None:
        if self.skip > 0:
            self.skip -= 1
            return _ORIGINAL_FSYNC(descriptor)
        remove_faults()
        raise OSError(self.code, os.strerror(self.code))


def remove_faults() -> None:
    _installed.clear()
    os.fsync = _ORIGINAL_FSYNC


def _block(folder: Path) -> Callable[[], None]:
    """A file where ``folder`` should be (fails for root too, unlike chmod); the undo."""
    aside = folder.with_name(folder.name + ".aside")
    if folder.exists():
        folder.rename(aside)
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("a file where a folder should be\n", encoding="utf-8")

    def undo() -> None:
        folder.unlink()
        if aside.exists():
            aside.rename(folder)

    return undo


class DryRunLog:
    """The JSON-lines log a ``dry_run`` account appends to."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._undo: list[Callable[[], object]] = []

    def created(self) -> list[dict[str, Any]]:
        remove_faults()
        while self._undo:
            self._undo.pop()()
        if not self.path.is_file():
            return []
        records = []
        for line in self.path.read_bytes().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a fragment left by an interrupted write
            records.append({**record, "id": f"dry-run:{record['delivery_id']}"})
        return records

    def fail_next_create(self, error: ErrorClass) -> None:
        if error == "retryable":
            # A full disk, for real: the log is /dev/full, whose writes fail with ENOSPC.
            aside = self.path.with_name(self.path.name + ".aside")
            if self.path.exists():
                self.path.rename(aside)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.symlink_to("/dev/full")
            self._undo.append(
                lambda: (self.path.unlink(), aside.exists() and aside.rename(self.path))
            )
        elif error == "ambiguous":
            # The line was handed to the kernel, the sync failed: it may be on disk.
            FsyncFault(errno.EIO).install()
        elif error == "permanent":
            _block(self.path.parent)
        else:
            raise ValueError(f"a file system has no {error} answer")

    def expire_credentials(self) -> None:
        """No credentials to expire: the folder becomes unusable, which needs a person."""
        _block(self.path.parent)


class StaticBlogFolder:
    """The output folder of a ``static_blog`` account: one Markdown page per post."""

    def __init__(self, output: Path) -> None:
        self.output = output
        self.posts = output / "posts"

    def created(self) -> list[dict[str, Any]]:
        remove_faults()
        if not self.posts.is_dir():
            return []
        pages = sorted(self.posts.glob("*.md"), key=lambda page: page.stat().st_mtime_ns)
        return [{"id": page.stem, "text": page.read_text(encoding="utf-8")} for page in pages]

    def fail_next_create(self, error: ErrorClass) -> None:
        if error == "retryable":
            FsyncFault(errno.ENOSPC).install()  # the page's own sync, before the rename
        elif error == "ambiguous":
            # The page is renamed into place, then syncing its folder fails: it is there,
            # and since publishing again finds the page, the answer is a plain retry.
            FsyncFault(errno.EIO, skip=1).install()
        elif error == "permanent":
            shutil.rmtree(self.posts, ignore_errors=True)
            _block(self.posts)
        else:
            raise ValueError(f"a file system has no {error} answer")

    def expire_credentials(self) -> None:
        _block(self.output)
