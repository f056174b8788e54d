"""The inbox: find complete post files, queue them, and move each one out of the way.

The periodic full scan is the truth; file events only make a scan come sooner. A file is
taken only once it is complete (not modified for ``settle``), editors' temporary files and
dotfiles are ignored, and a file is never lost: a good one goes to ``processed/``, a bad
one to ``rejected/`` beside a ``.error`` file that says what to fix.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypeAlias

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from connectors.base import Connector
from scheduler.clock import Clock
from scheduler.config import Config
from scheduler.delivery.transitions import transaction
from scheduler.intake.check import validate_post_file
from scheduler.intake.confined_open import open_confined
from scheduler.intake.file_names import ERROR_SUFFIX, move_aside, shown
from scheduler.intake.inbox_walk import InboxWalk
from scheduler.intake.ingest import IngestResult, Outcome, ingest_post
from scheduler.intake.media import MediaError
from scheduler.intake.media_store import MediaStore
from scheduler.intake.post_file import FileProblem, PostFile, PostFileInvalid
from scheduler.intake.safe_yaml import YamlInvalid, load_yaml
from scheduler.logs import fields
from scheduler.notifications.events import record
from scheduler.notifications.kinds import Kind
from scheduler.rules.placement import Placement
from scheduler.rules.series import SeriesCalendar
from scheduler.service.queue_health import QueueUnwritable, describe_error, is_queue_fault

log = logging.getLogger(__name__)

Progress: TypeAlias = Callable[[list[Path]], Iterable[Path]]


@dataclass(kw_only=True)
class IntakeReport:
    queued: list[tuple[Path, IngestResult]] = field(default_factory=list)
    rejected: list[tuple[Path, str]] = field(default_factory=list)
    waiting: list[Path] = field(default_factory=list)


class Intake:
    def __init__(
        self,
        *,
        config: Config,
        sessions: sessionmaker[Session],
        clock: Clock,
        connectors: Mapping[str, Connector],
        store: MediaStore,
        placement: Placement,
        series: SeriesCalendar,
        wall_time: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.sessions = sessions
        self.clock = clock
        self.connectors = connectors
        self.store = store
        self.placement = placement
        self.series = series
        # File modification times are wall-clock times, whatever clock schedules run on.
        self.walk = InboxWalk(
            inbox=config.inbox_dir,
            skip=lambda: {config.processed_dir.resolve(), config.rejected_dir.resolve()},
            settle_seconds=config.intake.settle.total_seconds(),
            wall_time=wall_time,
        )

    def candidates(self) -> list[Path]:
        return self.walk.candidates()

    def is_complete(self, path: Path) -> bool:
        return self.walk.is_complete(path)

    def scan(self, *, progress: Progress | None = None) -> IntakeReport:
        """Take every complete post file; ``progress`` wraps the files (a bar at a terminal)."""
        report = IntakeReport()
        candidates = self.candidates()
        if candidates and self.config.series:
            self.series.materialise()  # an episode takes an occurrence that must exist
        for path in progress(candidates) if progress else candidates:
            if not self.is_complete(path):
                report.waiting.append(path)
                continue
            try:
                self.take(path, report)
            except Exception as error:
                if is_queue_fault(error):
                    # The machine, not the file: the file stays where it is for the scan
                    # after the fault, and the files after it would only fail the same way.
                    raise QueueUnwritable(
                        f"cannot write the queue ({describe_error(error)}); "
                        f"{shown(str(path))} and the files after it stay in the inbox until "
                        "it works again"
                    ) from error
                # A bug must not stop the scan, nor leave the file to crash every later one.
                log.exception("post file could not be taken", extra=fields(file=shown(str(path))))
                self._quarantine(path, error, report)
        if report.queued:
            self.placement.place_approved()
        if report.waiting:
            log.debug("files not complete yet", extra=fields(count=len(report.waiting)))
        return report

    def take(self, path: Path, report: IntakeReport) -> None:
        post_file: PostFile | None = None
        try:
            post_file = self._take(path, report)
        finally:
            if post_file is not None:
                post_file.close_media()

    def _take(self, path: Path, report: IntakeReport) -> PostFile | None:
        """Queue, reject or leave ``path``; returns the checked post file, if it was one."""
        relative = path.relative_to(self.config.inbox_dir)
        now = self.clock.now()
        inbox = Path(os.path.realpath(self.config.inbox_dir))
        if not Path(os.path.realpath(path)).is_relative_to(inbox):
            # Never read what a link points at outside the inbox (e.g. /etc/passwd).
            message = "is a link to a file outside the inbox; drop the file itself"
            self._reject(
                path, relative, [FileProblem(path=relative, line=None, message=message)], now
            )
            report.rejected.append((path, message))
            return None
        try:
            post_file = validate_post_file(
                path, config=self.config, connectors=self.connectors, now=now
            )
        except PostFileInvalid as invalid:
            self._reject(path, relative, invalid.problems, now)
            report.rejected.append((path, "; ".join(p.message for p in invalid.problems)))
            return None
        try:
            with transaction(self.sessions) as session:
                result = ingest_post(
                    session,
                    post_file,
                    config=self.config,
                    store=self.store,
                    now=now,
                    series=self.series,
                )
        except MediaError as changed:  # rewritten between the check and the copy
            problem = FileProblem(path=relative, line=None, message=str(changed))
            self._reject(path, relative, [problem], now)
            report.rejected.append((path, str(changed)))
            return post_file
        except IntegrityError:
            # Several daemons share the inbox: another one queued this post first. The
            # next scan sees the same content and moves the file as unchanged.
            log.info("post file taken by another daemon", extra=fields(file=shown(str(relative))))
            return post_file
        if not path.exists():
            return post_file  # another daemon moved it after queueing the same content
        if result.outcome == Outcome.REFUSED:
            problem = FileProblem(path=relative, line=None, message=result.message)
            self._reject(path, relative, [problem], now)
            report.rejected.append((path, result.message))
            return post_file
        moved = move_aside(path, self.config.processed_dir / relative, now, with_error_file=False)
        log.info(
            "post file %s: %s",
            result.outcome,
            result.message,
            extra=fields(
                post_id=result.post_id, file=shown(str(relative)), moved_to=shown(str(moved))
            ),
        )
        report.queued.append((path, result))
        return post_file

    def _quarantine(self, path: Path, error: Exception, report: IntakeReport) -> None:
        relative = path.relative_to(self.config.inbox_dir)
        message = (
            f"relais failed on this file ({type(error).__name__}); nothing was queued. "
            "Tell the operator: the details are in the daemon's log"
        )
        try:
            problem = FileProblem(path=relative, line=None, message=message)
            self._reject(path, relative, [problem], self.clock.now())
        except Exception:  # the scan goes on whatever happens to one file
            log.exception(
                "could not move the file to rejected/", extra=fields(file=shown(str(path)))
            )
        report.rejected.append((path, message))

    def _reject(
        self, path: Path, relative: Path, problems: list[FileProblem], now: datetime
    ) -> None:
        self._tell_rejection(path, relative, problems, now)
        moved = move_aside(path, self.config.rejected_dir / relative, now, with_error_file=True)
        name = shown(str(relative))
        lines = [
            f"{name} was not queued. Fix what is listed below and drop the file into "
            "the inbox again (`relais check FILE` shows the same list).",
        ]
        if moved.name != path.name:
            lines.append(f"It is in {shown(str(moved.parent))} as {shown(moved.name)}.")
        lines.append("")
        for problem in problems:
            where = f"{name}:{problem.line}" if problem.line else name
            lines.append(f"{where}: {shown(problem.message)}")
        error_file = moved.with_name(moved.name + ERROR_SUFFIX)
        error_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        log.warning(
            "post file rejected: %s",
            shown("; ".join(problem.message for problem in problems)),
            extra=fields(file=name, moved_to=shown(str(moved)), error_file=shown(str(error_file))),
        )

    def _tell_rejection(
        self, path: Path, relative: Path, problems: list[FileProblem], now: datetime
    ) -> None:
        """The author and the library's contacts hear of it (the outbox), before the file
        moves: a crash in between rejects the file again at the next scan, under the same
        key (its path, content and day), so they hear of it once."""
        if self.config.notifications is None:
            return
        raw = _rejected_bytes(path, self.config)
        author, library = _who_wrote(raw, relative, self.config)
        name = shown(str(relative))
        quoted = [
            f"{name}:{problem.line}: {shown(problem.message)}"
            if problem.line
            else f"{name}: {shown(problem.message)}"
            for problem in problems
        ]
        day = now.astimezone(self.config.zone).date().isoformat()
        key = f"{name}:{hashlib.sha256(raw).hexdigest()[:16]}:{day}"
        with transaction(self.sessions) as session:
            record(
                session, Kind.FILE_REJECTED, key=key, now=now, author=author, library=library,
                details={"file": name, "problems": quoted},
            )  # fmt: skip


def _rejected_bytes(path: Path, config: Config) -> bytes:
    """A rejected file's bytes, to find its author, through the same confined open as
    intake (no link, FIFO, device or hard link, nothing outside the inbox); none when it
    is not a file to read."""
    try:
        if not stat.S_ISREG(path.lstat().st_mode):
            return b""
        handle, _info = open_confined(
            path,
            root=Path(os.path.realpath(config.inbox_dir)),
            max_bytes=config.intake.max_file_bytes,
            name=str(path),
        )
    except (OSError, ValueError):
        return b""
    with handle:
        return handle.read(config.intake.max_file_bytes)


def _who_wrote(raw: bytes, relative: Path, config: Config) -> tuple[str | None, str | None]:
    """The ``author:`` and library of a rejected file, as far as it can be read."""
    library = relative.parts[0] if len(relative.parts) > 1 else None
    author = None
    try:
        data = load_yaml(raw, max_bytes=config.intake.max_file_bytes).data
    except (YamlInvalid, ValueError):
        data = None
    if isinstance(data, dict):
        if isinstance(data.get("author"), str):
            author = data["author"]
        if isinstance(data.get("library"), str):
            library = data["library"]
    return author, library if library in config.libraries else None
