"""``relais run`` as child processes: started, watched through their log, killed with SIGKILL
at random moments, and finally left to settle every delivery."""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from scheduler.db.models import Delivery, Post
from scheduler.delivery.states import State
from tests.harness.project import BLOG_PASSWORD, SETTLED, Project

# -- the daemon ----------------------------------------------------------------------------


class LogFile:
    """One file for every daemon's log, each line prefixed with its pid. Reader threads
    write to it at once, and a text file object is not safe for that (lines came out
    mixed with garbage), hence the lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, pid: int, line: str) -> None:
        with self._lock:
            self._file.write(f"[{pid}] {line}")

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def __enter__(self) -> LogFile:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class DaemonProcess:
    """``relais run`` as a child; its log goes to a file, watched for a few lines."""

    WATCHED = ("relais started", "failpoint reached")

    def __init__(self, project: Project, log: LogFile, *, failpoints: str = "") -> None:
        environment = {
            **os.environ,
            "RELAIS_FAILPOINTS": failpoints,
            "RELAIS_BLOG_APPLICATION_PASSWORD": BLOG_PASSWORD,
        }
        # The database is the project's (in config.yaml), whatever the caller's shell says.
        environment.pop("RELAIS_DATABASE_URL", None)
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scheduler", "--config", str(project.config), "run"],
            cwd=project.directory,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.log = log
        self.seen: dict[str, queue.Queue[str]] = {name: queue.Queue() for name in self.WATCHED}
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.log.write(self.process.pid, line)
            for name, lines in self.seen.items():
                if name in line:
                    lines.put(line)

    def wait_for(self, watched: str, timeout: float) -> dict[str, Any] | None:
        """The first log line containing ``watched`` (parsed), or None after ``timeout``."""
        try:
            line = self.seen[watched].get(timeout=timeout)
        except queue.Empty:
            return None
        self.seen[watched].put(line)  # later callers see it too
        try:
            return json.loads(line)  # type: ignore[no-any-return]
        except ValueError:
            return {"message": line.strip()}

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> int | None:
        """SIGKILL; returns the exit status when the process had already ended by itself."""
        ended = self.process.poll()
        if ended is None:
            self.process.kill()
        self.process.wait()
        self.reader.join(timeout=10)
        return ended

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as systemd does; returns the exit status."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.reader.join(timeout=10)
        return code


# -- the runs ------------------------------------------------------------------------------


@dataclass(kw_only=True)
class KillLog:
    kills: int = 0
    while_work_remained: int = 0
    before_started: int = 0
    # Exit statuses of daemons that ended although nobody killed them: always a finding.
    ended_by_themselves: list[int] = field(default_factory=list)
    final_exit_codes: list[int] = field(default_factory=list)
    finished: bool = False


def unfinished(project: Project) -> int:
    """Post files not taken yet plus deliveries not settled."""
    files = sum(1 for _ in (project.directory / "inbox").rglob("*.yaml"))
    with project.sessions()() as session:
        open_deliveries = session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.state.not_in(SETTLED))
        )
    return files + int(open_deliveries or 0)


def settled(project: Project, given: int) -> bool:
    """Every post file taken, every delivery settled, or waiting for a day that is not
    yet in reach (a full daily cap pushed it past the blog's scheduling window)."""
    if any((project.directory / "inbox").rglob("*.yaml")):
        return False
    horizon = datetime.now(UTC) + timedelta(days=7)
    with project.sessions()() as session:
        posts = session.scalar(select(func.count()).select_from(Post)) or 0
        rejected = sum(1 for _ in (project.directory / "rejected").rglob("*.yaml"))
        busy = session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(
                Delivery.state.not_in(SETTLED | {State.HELD}),
                (Delivery.due_at.is_(None)) | (Delivery.due_at <= horizon),
            )
        )
    return posts + rejected >= given and not busy


def random_kills(
    project: Project, *, kills: int, daemons: int, rng: random.Random, max_work: float, log: LogFile
) -> KillLog:
    """Keep ``daemons`` alive; ``kills`` times, let one work a random moment, SIGKILL it."""
    record = KillLog()
    running: list[DaemonProcess] = []
    try:
        for _ in range(kills):
            for _missing in range(daemons - len(running)):
                running.append(DaemonProcess(project, log))
            victim = rng.choice(running)
            if rng.random() < 0.1:
                # Now and then during start-up: the migration check, the reaper, the first scan.
                time.sleep(rng.uniform(0.05, 1.0))
                record.before_started += victim.wait_for("relais started", 0) is None
            else:
                victim.wait_for("relais started", 60)
                time.sleep(rng.uniform(0.05, max_work))
            ended = victim.kill()
            if ended is not None:
                record.ended_by_themselves.append(ended)
            running.remove(victim)
            record.kills += 1
            record.while_work_remained += unfinished(project) > 0
    finally:
        for daemon in running:
            daemon.kill()
    return record


def finish(
    project: Project, *, given: int, daemons: int, timeout: float, log: LogFile, record: KillLog
) -> None:
    """Start the daemons once more and let them settle everything; then SIGTERM them."""
    running = [DaemonProcess(project, log) for _ in range(daemons)]
    deadline = time.monotonic() + timeout
    try:
        for daemon in running:
            # A SIGTERM before the daemon has its signal handlers would be one more kill.
            daemon.wait_for("relais started", 60)
        while time.monotonic() < deadline:
            if settled(project, given):
                record.finished = True
                break
            for daemon in running:
                if not daemon.alive():
                    record.ended_by_themselves.append(daemon.process.returncode)
            running = [daemon for daemon in running if daemon.alive()]
            if not running:
                break
            time.sleep(0.5)  # polling the queue a real process is working on
    finally:
        record.final_exit_codes = [daemon.stop() for daemon in running]
