"""Shared by the benchmarks: the machine, temp projects, a bulk-filled queue, process probes.

Every benchmark prints the machine it ran on and its figure as a ratio to a baseline measured
in the same run, so a figure means the same on a laptop and on the library's server.
"""

from __future__ import annotations

import json
import os
import platform
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, insert

# Six accounts, as many as the library network runs; all offline (dry-run logs).
ACCOUNTS = ("blog", "facebook", "flickr", "instagram", "twitter", "youtube")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def machine() -> str:
    return (
        f"{platform.platform()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()} ({platform.python_implementation()})"
    )


def print_header(title: str) -> None:
    print(f"{title}\nmachine: {machine()}\n")


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """One benchmark's line in bench/RESULTS.md."""

    benchmark: str
    figure: str
    baseline: str
    ratio: str
    target: str
    met: bool | None  # None: no target for this line (context only)

    def row(self) -> str:
        verdict = {True: "met", False: "**missed**", None: "-"}[self.met]
        cells = (self.benchmark, self.figure, self.baseline, self.ratio, self.target, verdict)
        return "| " + " | ".join(cells) + " |"


def print_outcomes(outcomes: Sequence[Outcome]) -> None:
    """The Markdown rows, ready to paste into bench/RESULTS.md."""
    print("\n| benchmark | figure | baseline | ratio | target | |")
    print("|---|---|---|---|---|---|")
    for outcome in outcomes:
        print(outcome.row())


def percentile(values: Sequence[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), ``fraction`` in [0, 1]."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def write_project(directory: Path, **overrides: Any) -> Path:
    """A config with the six dry-run accounts and a migrated SQLite queue; its path."""
    # relais is imported where used, so a child process measuring an alternative
    # (bench/apscheduler_alternative.py) does not carry relais' imports in its memory.
    from scheduler.config import load_config
    from scheduler.db.engines import upgrade
    from tests.support import write_config

    accounts = {name: {"kind": "dry_run", "log": f"out/{name}.jsonl"} for name in ACCOUNTS}
    settings: dict[str, Any] = {
        "accounts": accounts,
        "approval": {"auto": [{"library": "redaction"}]},
    }
    settings.update(overrides)
    path = write_config(directory, **settings)
    upgrade(load_config(path).database_url)
    return path


# -- a big queue, filled fast -----------------------------------------------------------


def bulk_fill(
    database_url: str,
    *,
    deliveries: int,
    start: datetime,
    span: timedelta,
    state_of: Any,
    batch: int = 20_000,
) -> float:
    """Insert ``deliveries`` rows (one post per ``len(ACCOUNTS)`` of them) with SQLAlchemy
    Core executemany; due times spread evenly over ``[start, start + span)``.

    ``state_of(due_at)`` picks each delivery's state. Filling is not what is measured, so
    it runs with ``synchronous=OFF``. Returns the seconds it took.
    """
    engine = create_engine(database_url)

    @event.listens_for(engine, "connect")
    def _fast(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA synchronous=OFF")

    from scheduler.db.models import Delivery, Post

    started = time.perf_counter()
    payload: dict[str, Any] = {
        "title": "Titre",
        "text": "Bonjour",
        "link": None,
        "tags": [],
        "media": [],
    }
    step = span / deliveries
    made = 0
    with engine.connect() as connection:
        while made < deliveries:
            posts: list[dict[str, Any]] = []
            rows: list[dict[str, Any]] = []
            for _ in range(min(batch, deliveries - made) // len(ACCOUNTS) or 1):
                post_id = str(uuid.uuid4())
                due_at = start + step * made
                posts.append(
                    {
                        "id": post_id, "key": f"bench/{post_id}", "source_path": "bench.yaml",
                        "sha256": post_id.replace("-", ""), "library": "redaction",
                        "author": "bench", "title": "Titre", "created_at": start,
                        "updated_at": start, "cancelled_at": None,
                    }
                )  # fmt: skip
                for account in ACCOUNTS:
                    rows.append(
                        {
                            "id": str(uuid.uuid4()), "post_id": post_id, "account": account,
                            "state": state_of(due_at), "due_at": due_at, "window_end": None,
                            "timing": {"kind": "at"}, "payload": payload, "version": 1,
                            "attempts": 0, "created_at": start, "updated_at": start,
                        }
                    )  # fmt: skip
                    made += 1
            connection.execute(insert(Post), posts)
            connection.execute(insert(Delivery), rows)
            connection.commit()
    engine.dispose()
    return time.perf_counter() - started


# -- another process, measured from outside ------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ProcessSample:
    cpu_seconds: float  # user + system, all threads, since the process started
    rss_bytes: int
    peak_rss_bytes: int


def sample(pid: int) -> ProcessSample:
    """From /proc: utime+stime (fields 14 and 15 of stat) and VmRSS / VmHWM of status."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces; the fields after its ")" are fixed.
    after_name = stat[stat.rindex(")") + 2 :].split()
    cpu_ticks = int(after_name[11]) + int(after_name[12])
    memory = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            memory[key] = int(value.split()[0]) * 1024
    return ProcessSample(
        cpu_seconds=cpu_ticks / CLOCK_TICKS,
        rss_bytes=memory["VmRSS"],
        peak_rss_bytes=memory["VmHWM"],
    )


class Child:
    """A child process whose output lines a benchmark can wait for."""

    def __init__(self, arguments: Sequence[str], *, cwd: Path | None = None) -> None:
        environment = {**os.environ}
        environment.pop("RELAIS_DATABASE_URL", None)
        environment.pop("RELAIS_FAILPOINTS", None)
        self.lines: queue.Queue[tuple[float, str]] = queue.Queue()
        self.seen: list[str] = []
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            list(arguments),
            cwd=cwd,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put((time.perf_counter(), line))

    def wait_for(self, text: str, timeout: float = 120) -> float:
        """Seconds from spawn to the first output line holding ``text``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                moment, line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(line)
            if text in line:
                return moment - self.started
            if self.process.poll() is not None and self.lines.empty():
                break
        raise RuntimeError(f"no line with {text!r}; saw:\n{''.join(self.seen[-30:])}")

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def relais(config: Path, *arguments: str) -> list[str]:
    """The command line of ``relais --config CONFIG ARGUMENTS`` with this interpreter."""
    return [sys.executable, "-m", "scheduler", "--config", str(config), *arguments]


def json_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def utc_now() -> datetime:
    return datetime.now(UTC)


def megabytes(count: int) -> str:
    return f"{count / 2**20:.1f} MB"
