"""Walking the inbox: which post files are there, and which are complete.

A file relais cannot take for a reason of the machine (a folder it may not read, a path
longer than the system allows, a modification time in the future) would otherwise wait
silently for ever. Each such problem is told once at warning level, with the path, and
told again only if it comes back after it went away.

A file whose modification time is in the future (a clock set wrong where it was written,
a copy that kept its time) cannot be judged by its age: it is taken once it has not
changed, neither time nor size, for ``settle`` by the wall clock.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from scheduler.intake.file_names import shown
from scheduler.logs import fields

log = logging.getLogger(__name__)

POST_SUFFIXES = frozenset({".yaml", ".yml"})
_TEMPORARY_SUFFIXES = (".swp", ".swx", ".swo", ".tmp", ".part", ".crdownload", ".kate-swp")


def is_post_file_name(name: str) -> bool:
    """Dotfiles, editor backups and partial downloads are not post files (yet)."""
    if name.startswith((".", "#", "~")) or name.endswith(("~", "#")):
        return False
    if name.endswith(_TEMPORARY_SUFFIXES):
        return False
    return Path(name).suffix.lower() in POST_SUFFIXES


class InboxWalk:
    def __init__(
        self,
        *,
        inbox: Path,
        skip: Callable[[], set[Path]],
        settle_seconds: float,
        wall_time: Callable[[], float],
    ) -> None:
        self.inbox = inbox
        self.skip = skip
        self.settle_seconds = settle_seconds
        self.wall_time = wall_time
        self._told: set[str] = set()
        self._seen: set[str] = set()
        # path -> (mtime, size, wall time first seen so) for files dated in the future
        self._future: dict[Path, tuple[float, int, float]] = {}

    def candidates(self) -> list[Path]:
        """The post files of the inbox, in a stable order; starts a new round of telling."""
        self._told &= self._seen
        self._seen = set()
        skip = self.skip()
        found: list[Path] = []
        for folder, subfolders, files in os.walk(self.inbox, onerror=self._cannot_walk):
            here = Path(folder)
            subfolders[:] = sorted(
                name
                for name in subfolders
                if not name.startswith(".") and (here / name).resolve() not in skip
            )
            found.extend(here / name for name in sorted(files) if is_post_file_name(name))
        self._future = {path: seen for path, seen in self._future.items() if path in found}
        return found

    def is_complete(self, path: Path) -> bool:
        try:
            status = path.lstat()
        except FileNotFoundError:
            return False
        except OSError as error:
            self.tell(
                f"lstat:{path}",
                "a post file cannot be looked at (%s); it waits in the inbox",
                error.strerror,
                path=path,
            )
            return False
        now = self.wall_time()
        age = now - status.st_mtime
        if age >= self.settle_seconds:
            self._future.pop(path, None)
            return True
        if age >= -1.0:  # being written, or just written
            return False
        stamp = datetime.fromtimestamp(status.st_mtime, UTC).isoformat(timespec="seconds")
        self.tell(
            f"future:{path}",
            "a post file is dated in the future (%s); it is taken once it has not changed "
            "for %s s (touch it to take it sooner)",
            stamp,
            self.settle_seconds,
            path=path,
        )
        first = self._future.get(path)
        if first is None or first[:2] != (status.st_mtime, status.st_size):
            self._future[path] = (status.st_mtime, status.st_size, now)
            return False
        return now - first[2] >= self.settle_seconds

    def _cannot_walk(self, error: OSError) -> None:
        where = Path(error.filename) if error.filename else self.inbox
        self.tell(
            f"walk:{where}",
            "a folder of the inbox cannot be read (%s); the post files in it wait",
            error.strerror,
            path=where,
        )

    def tell(self, key: str, message: str, *arguments: object, path: Path) -> None:
        """Log ``message`` at warning level once while the problem lasts."""
        self._seen.add(key)
        if key in self._told:
            return
        self._told.add(key)
        log.warning(message, *arguments, extra=fields(file=shown(str(path))))
