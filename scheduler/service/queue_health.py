"""Whether the daemon can write its queue, told once per fault, to the log and to readers.

A full disk, a write lock held by another program or a read-only mount are faults of the
machine, not of a post file: the file waits in the inbox, dispatch waits, and the daemon
says so once (a warning when the fault starts, a line when it ends), not a traceback per
cycle. ``relais status`` runs in another process: it learns of the fault from a marker
file the daemon preallocates at start, because on a full disk a new file cannot be written
but bytes already allocated can be overwritten.

The queue file itself is watched too: a ``queue.db`` replaced or removed under a running
daemon would take every later write into a file nobody will read again, so the daemon
compares the file's device and inode on each cycle and stops when they change.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import InterfaceError, InternalError, OperationalError

from scheduler.clock import Clock, ensure_utc
from scheduler.logs import fields

log = logging.getLogger(__name__)

MARKER_NAME = "queue-health"
_MARKER_BYTES = 4096
# Errors of the machine under the queue (and the media store beside it), not of a file.
_MACHINE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.ENOMEM})


class QueueUnwritable(Exception):
    """Work stopped because the queue (or the media store) cannot be written; the
    database's or the system's error is the ``__cause__``."""


def is_queue_fault(error: BaseException) -> bool:
    """A database or disk failure, as opposed to a bad file or a bug."""
    if isinstance(error, QueueUnwritable):
        return True
    # Not DataError, IntegrityError or ProgrammingError: those are about the data or
    # the code, and waiting would not make them pass.
    if isinstance(error, OperationalError | InterfaceError | InternalError):
        return True
    if isinstance(error, sqlite3.OperationalError | sqlite3.InterfaceError):
        return True
    return isinstance(error, OSError) and error.errno in _MACHINE_ERRNOS


@dataclass(frozen=True, kw_only=True)
class QueueFault:
    since: datetime
    error: str

    def describe(self) -> str:
        return f"cannot write the queue since {self.since:%Y-%m-%d %H:%M:%S} UTC ({self.error})"


def describe_error(error: BaseException) -> str:
    if isinstance(error, QueueUnwritable) and error.__cause__ is not None:
        error = error.__cause__
    text = str(getattr(error, "orig", None) or error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]


class QueueHealth:
    """The daemon's view of its queue: one warning when writing fails, one line when it
    works again; the current fault for ``/healthz`` and, through the marker, for status."""

    def __init__(self, *, clock: Clock, marker: Path | None) -> None:
        self.clock = clock
        self.marker = marker
        self._fault: QueueFault | None = None
        self._lock = threading.Lock()

    @property
    def fault(self) -> QueueFault | None:
        return self._fault

    def prepare(self) -> None:
        """Allocate the marker while the disk has room, stating that writes work."""
        if self.marker is None:
            return
        self.marker.parent.mkdir(parents=True, exist_ok=True)
        self.marker.write_bytes(b" " * _MARKER_BYTES)
        self._write_marker(None)

    def failed(self, error: BaseException, *, doing: str) -> None:
        with self._lock:
            if self._fault is not None:
                log.debug("queue still cannot be written", extra=fields(doing=doing))
                return
            self._fault = QueueFault(since=self.clock.now(), error=describe_error(error))
            fault = self._fault
        log.warning(
            "%s; post files wait in the inbox and sends wait until it works again: free disk "
            "space, or end what holds the database",
            fault.describe(),
            extra=fields(doing=doing),
        )
        self._write_marker(fault)

    def succeeded(self) -> None:
        with self._lock:
            fault, self._fault = self._fault, None
        if fault is not None:
            log.warning("the queue can be written again (fault since %s)", fault.since.isoformat())
            self._write_marker(None)

    def _write_marker(self, fault: QueueFault | None) -> None:
        if self.marker is None:
            return
        state = (
            {"fault": None}
            if fault is None
            else {"fault": {"since": fault.since.isoformat(), "error": fault.error}}
        )
        body = json.dumps(state).encode()[: _MARKER_BYTES - 1]
        try:
            # Overwrite in place: the blocks exist already, so a full disk cannot refuse it.
            fd = os.open(self.marker, os.O_WRONLY)
            try:
                os.pwrite(fd, body.ljust(_MARKER_BYTES, b" "), 0)
            finally:
                os.close(fd)
        except OSError as error:
            log.warning("queue health marker not written: %s", error.strerror)


def read_marker(path: Path) -> QueueFault | None:
    """The fault a running daemon recorded beside its state, if any."""
    try:
        state = json.loads(path.read_bytes().strip() or b"{}")
        fault = state.get("fault")
        if not fault:
            return None
        return QueueFault(
            since=ensure_utc(datetime.fromisoformat(fault["since"])), error=fault["error"]
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


class DatabaseFileGone(Exception):
    """The SQLite file the daemon opened is no longer the one at its path."""


class DatabaseFileIdentity:
    """Device and inode of the SQLite file at start, compared on each cycle."""

    def __init__(self, path: Path) -> None:
        self.path = path
        info = os.stat(path)
        self._identity = (info.st_dev, info.st_ino)

    def check(self) -> None:
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            raise DatabaseFileGone(
                f"the queue {self.path} was removed while relais was running; relais stops "
                "rather than write into a deleted file: restore the file (or run `relais db "
                "upgrade` for a new one) and start relais again"
            ) from None
        if (info.st_dev, info.st_ino) != self._identity:
            raise DatabaseFileGone(
                f"the queue {self.path} was replaced by another file while relais was running; "
                "relais stops rather than write into the old one: start relais again to use "
                "the new file"
            )
