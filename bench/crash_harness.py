"""Crash harness: the real ``relais run`` killed with SIGKILL while it publishes, then counted.

A fake WordPress blog runs over real HTTP on loopback in a process of its own
(``bench/fake_platform.py``), so it outlives every daemon and records every post it creates.
The daemons use the real ``wordpress`` connector against it. The harness drops the post
files into the inbox (the daemon takes them itself: a kill may also land in the middle of an
inbox scan), then, ``--kills`` times, lets a daemon work a random short moment and kills it
with SIGKILL; it then lets the daemons finish (reap, reconcile ``unknown`` by slug, publish
the rest) and compares what the queue says with what the blog received.

    .venv/bin/python bench/crash_harness.py --posts 500 --kills 200 --seed 1
    .venv/bin/python bench/crash_harness.py --posts 2000 --kills 20 --daemons 4 --cap 500 \\
        --database postgresql+psycopg://postgres@127.0.0.1:5432/postgres

With ``--database`` (a PostgreSQL server's URL) a fresh database ``relais_bench_<hex>`` is
created on that server for each project and dropped at the end; several daemons may then
share it. Without it each project has its own SQLite file (one daemon per queue).
With ``--cap N`` the blog has ``daily_cap: N``: posts without a time are placed on the
following days, and WordPress's native scheduling (``schedule_ahead`` 7 days) takes them
at once as scheduled posts, so the run still finishes; the harness checks that no local
day received more than N posts.

It prints: posts given, published once, published twice (created more than once on the
blog), lost (neither published nor with a person), left to a person (with the reasons),
the kills, the wall time; and, with ``--stages``, one kill at each failpoint (after the
claim, after ``sending``, after the blog answered but before the commit) and its outcome.
Exit status 1 when any post was published twice or lost.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import requests
import yaml
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from scheduler.db.engines import make_engine, upgrade
from scheduler.db.models import Delivery, DeliveryEvent, Post
from scheduler.delivery.states import State
from tests.fakes.wordpress import APPLICATION_PASSWORD, USERNAME

PLATFORM_SCRIPT = Path(__file__).with_name("fake_platform.py")
# The fake blog's only user and its Application Password.
BLOG_USERNAME = USERNAME
BLOG_PASSWORD = APPLICATION_PASSWORD
ZONE = "Europe/Zurich"
STAGES = ("after_claim", "after_sending", "after_publish")
# Nothing more will happen to these without a person.
SETTLED = frozenset(
    {State.PUBLISHED, State.NEEDS_ATTENTION, State.FAILED, State.MISSED, State.CANCELLED}
)
WITH_A_PERSON = frozenset(
    {State.NEEDS_ATTENTION, State.FAILED, State.HELD, State.MISSED, State.CANCELLED}
)
# Something may be on its way to the blog: never a legitimate end state.
IN_FLIGHT = frozenset({State.CLAIMED, State.SENDING, State.UNKNOWN})
POST_FILE = """\
library: redaction
author: harness
title: "{title}"
text: |
  Message {number} du banc d'essai des pannes (graine {seed}).
to: [blog]
"""


# -- the fake blog, in its own process ---------------------------------------------------


class Platform:
    """``bench/fake_platform.py`` as a child process; ``created()`` asks what it holds."""

    def __init__(self, *, time_limit: float, latency: float, log: IO[str]) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(PLATFORM_SCRIPT),
                f"--time-limit={time_limit}",
                f"--latency={latency}",
            ],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        if not first:
            raise RuntimeError(f"the fake platform did not start (exit {self.process.wait()})")
        self.url: str = json.loads(first)["url"]

    def created(self) -> list[dict[str, Any]]:
        answer = requests.get(f"{self.url}/__relais/created", timeout=30)
        answer.raise_for_status()
        return answer.json()  # type: ignore[no-any-return]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def platform(
    directory: Path, *, time_limit: float = 3600, latency: float = 0.01
) -> Iterator[Platform]:
    with (directory / "platform.log").open("a", encoding="utf-8") as log:
        served = Platform(time_limit=time_limit, latency=latency, log=log)
        try:
            yield served
        finally:
            served.stop()


# -- a project: config, database, inbox ---------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Project:
    directory: Path
    config: Path
    database_url: str
    cap: int | None

    def sessions(self) -> sessionmaker[Session]:
        return _sessions(self.database_url)


@functools.cache
def _sessions(database_url: str) -> sessionmaker[Session]:
    # One engine per database for the whole run; the harness only reads the queue.
    return sessionmaker(make_engine(database_url), expire_on_commit=False)


def dispose(database_url: str) -> None:
    _sessions(database_url).kw["bind"].dispose()


@contextmanager
def fresh_database(directory: Path, server: str | None, *, keep: bool = False) -> Iterator[str]:
    """A SQLite file in ``directory``, or a new database on the PostgreSQL ``server``
    (dropped afterwards, even when a daemon still holds a connection, unless ``keep``)."""
    if server is None:
        directory.mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{directory / 'queue.db'}"
        return
    name = f"relais_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(make_url(server), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        if not keep:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_project(directory: Path, *, blog_url: str, database_url: str, cap: int | None) -> Project:
    """config.yaml for one WordPress account, short leases and reconciliation, migrated."""
    directory.mkdir(parents=True, exist_ok=True)
    blog: dict[str, Any] = {
        "kind": "wordpress",
        "base_url": blog_url,
        "username": BLOG_USERNAME,
        "timeout": 10,
    }
    if cap is not None:
        blog["rules"] = {"daily_cap": cap}
    settings: dict[str, Any] = {
        "timezone": ZONE,
        "database": database_url,
        "libraries": {"redaction": {"name": "Rédaction"}},
        "accounts": {"blog": blog},
        "approval": {"auto": [{"library": "redaction"}]},
        # A dead daemon's claims come back within seconds, an `unknown` is looked for a
        # second after the crash: the run is about what happens, not about waiting.
        "dispatch": {
            "lease": "5s",
            "reconcile_after": "1s",
            "backoff_base": "1s",
            "backoff_max": "5s",
            "shutdown_deadline": "5s",
        },
        "intake": {"settle": "1s", "scan_interval": "1s"},
    }
    config = directory / "config.yaml"
    config.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    (directory / "inbox").mkdir(exist_ok=True)
    upgrade(database_url)
    return Project(directory=directory, config=config, database_url=database_url, cap=cap)


def title_of(number: int) -> str:
    return f"Essai {number:05d}"


def drop_posts(project: Project, count: int, *, seed: int, first: int = 1) -> list[str]:
    """``count`` post files in the inbox, already settled; returns their (unique) titles."""
    folder = project.directory / "inbox" / "redaction"
    folder.mkdir(parents=True, exist_ok=True)
    settled = time.time() - 60
    titles = []
    for number in range(first, first + count):
        path = folder / f"essai-{number:05d}.yaml"
        path.write_text(
            POST_FILE.format(title=title_of(number), number=number, seed=seed), encoding="utf-8"
        )
        os.utime(path, (settled, settled))
        titles.append(title_of(number))
    return titles


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


# -- the count -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Tally:
    given: int
    published_once: int
    published_twice: list[str]  # delivery ids (or titles when never queued)
    lost: list[str]
    with_a_person: Counter[str]  # "state: reason" -> how many
    on_blog_though_with_a_person: int
    waiting: Counter[str]  # not settled, not due within reach (full days ahead)
    creations: int
    strangers: int  # creations whose title no post file had
    busiest_day: tuple[str, int] | None  # the local day with the most posts on the blog

    @property
    def ok(self) -> bool:
        return not self.published_twice and not self.lost


def tally(project: Project, titles: Sequence[str], creations: Sequence[dict[str, Any]]) -> Tally:
    by_title = Counter(str(item["title"]) for item in creations)
    given = set(titles)
    with project.sessions()() as session:
        rows = {
            title: (delivery_id, state, error, reason, due_at)
            for title, delivery_id, state, error, reason, due_at in session.execute(
                select(
                    Post.title,
                    Delivery.id,
                    Delivery.state,
                    Delivery.last_error,
                    Delivery.reason,
                    Delivery.due_at,
                ).join(Post, Delivery.post_id == Post.id)
            )
        }
    rejected = {path.stem for path in (project.directory / "rejected").rglob("*.yaml")}
    horizon = datetime.now(UTC) + timedelta(days=7)
    once, twice, lost = 0, [], []
    person: Counter[str] = Counter()
    waiting: Counter[str] = Counter()
    on_blog_anyway = 0
    for title in titles:
        made = by_title.get(title, 0)
        row = rows.get(title)
        if row is None:
            file_stem = f"essai-{title.split()[-1]}"
            if made > 1:
                twice.append(title)
            elif file_stem in rejected:
                person["rejected: the post file was refused"] += 1
            else:
                lost.append(f"{title} (never queued)")
            continue
        delivery_id, state, error, reason, due_at = row
        if made > 1:
            twice.append(delivery_id)
        elif state == State.PUBLISHED:
            if made == 1:
                once += 1
            else:
                lost.append(f"{delivery_id} (published in the queue, not on the blog)")
        elif state in WITH_A_PERSON:
            person[f"{state}: {error or reason or 'no reason recorded'}"] += 1
            on_blog_anyway += made
        elif state not in IN_FLIGHT and due_at is not None and due_at > horizon:
            waiting[f"{state} until {due_at:%Y-%m-%d}"] += 1
        else:
            lost.append(f"{delivery_id} (still {state})")
    per_day = Counter(
        datetime.fromisoformat(str(item["date_gmt"]))
        .replace(tzinfo=UTC)
        .astimezone(ZoneInfo(ZONE))
        .date()
        .isoformat()
        for item in creations
    )
    return Tally(
        given=len(titles),
        published_once=once,
        published_twice=twice,
        lost=lost,
        with_a_person=person,
        on_blog_though_with_a_person=on_blog_anyway,
        waiting=waiting,
        creations=len(creations),
        strangers=sum(count for title, count in by_title.items() if title not in given),
        busiest_day=per_day.most_common(1)[0] if per_day else None,
    )


def history(project: Project, delivery_id: str) -> list[tuple[str | None, str, str | None]]:
    """The delivery's state changes (from, to, reason), oldest first."""
    with project.sessions()() as session:
        return [
            (row.from_state, row.to_state, row.reason)
            for row in session.execute(
                select(DeliveryEvent.from_state, DeliveryEvent.to_state, DeliveryEvent.reason)
                .where(DeliveryEvent.delivery_id == delivery_id)
                .order_by(DeliveryEvent.id)
            )
        ]


def why(project: Project, delivery_id: str) -> str:
    """``relais why``: what a person reads about a delivery."""
    done = subprocess.run(
        [sys.executable, "-m", "scheduler", "--config", str(project.config), "why", delivery_id],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "RELAIS_DATABASE_URL"},
    )
    return done.stdout + done.stderr


# -- one kill at each precise stage ---------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class StageOutcome:
    stage: str
    delivery_id: str
    state_when_killed: str
    final_state: str
    creations: int
    path: tuple[str, ...]  # the states the delivery went through

    def describe(self) -> str:
        killed = self.state_when_killed
        after = self.path[self.path.index(killed) + 1 :] if killed in self.path else self.path
        return (
            f"{self.stage:<14} killed while {killed:<8} -> {' -> '.join(after)}; "
            f"created on the blog {self.creations}x"
        )


def state_of(project: Project, delivery_id: str) -> str:
    with project.sessions()() as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None, delivery_id
        return delivery.state


def kill_at_stage(
    project: Project, blog: Platform, stage: str, *, log: LogFile, timeout: float = 60
) -> StageOutcome:
    """One post; the daemon frozen at ``stage`` is killed, then a normal one takes over."""
    [title] = drop_posts(project, 1, seed=0, first=STAGES.index(stage) + 90001)
    frozen = DaemonProcess(project, log, failpoints=stage)
    reached = frozen.wait_for("failpoint reached", timeout)
    frozen.kill()
    if reached is None:
        raise RuntimeError(f"the daemon never reached the failpoint {stage}; see {log.path}")
    delivery_id = str(reached["delivery_id"])
    when_killed = state_of(project, delivery_id)
    after = DaemonProcess(project, log)
    after.wait_for("relais started", timeout)
    deadline = time.monotonic() + timeout
    try:
        while state_of(project, delivery_id) not in SETTLED and time.monotonic() < deadline:
            time.sleep(0.2)  # polling the queue a real process is working on
    finally:
        after.stop()
    made = sum(1 for item in blog.created() if item["title"] == title)
    return StageOutcome(
        stage=stage,
        delivery_id=delivery_id,
        state_when_killed=when_killed,
        final_state=state_of(project, delivery_id),
        creations=made,
        path=tuple(to for _from, to, _why in history(project, delivery_id)),
    )


# -- the whole run ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Settings:
    posts: int = 500
    kills: int = 200
    daemons: int = 1
    database: str | None = None  # a PostgreSQL server URL; None: SQLite
    seed: int = 1
    cap: int | None = None
    max_work: float = 1.5  # seconds a daemon works before its kill, at most
    latency: float = 0.01  # seconds the blog takes to answer
    final_timeout: float = 600
    stages: bool = True
    keep: bool = False  # keep the PostgreSQL databases for inspection


@dataclass(frozen=True, kw_only=True)
class Report:
    settings: Settings
    tally: Tally
    kills: KillLog
    wall_seconds: float
    stages: tuple[StageOutcome, ...]
    explanations: tuple[str, ...]  # `relais why` of a few posts published twice or lost
    database_url: str

    @property
    def ok(self) -> bool:
        return self.tally.ok and not self.kills.ended_by_themselves and self.kills.finished


def run(settings: Settings, workdir: Path) -> Report:
    if settings.daemons > 1 and settings.database is None:
        raise ValueError("several daemons need a PostgreSQL --database (SQLite takes one)")
    rng = random.Random(settings.seed)
    started = time.monotonic()
    with ExitStack() as stack:
        log = stack.enter_context(LogFile(workdir / "daemons.log"))
        blog = stack.enter_context(platform(workdir, latency=settings.latency))
        database_url = stack.enter_context(
            fresh_database(workdir / "run", settings.database, keep=settings.keep)
        )
        stack.callback(dispose, database_url)
        project = make_project(
            workdir / "run", blog_url=blog.url, database_url=database_url, cap=settings.cap
        )
        titles = drop_posts(project, settings.posts, seed=settings.seed)
        kills = random_kills(
            project,
            kills=settings.kills,
            daemons=settings.daemons,
            rng=rng,
            max_work=settings.max_work,
            log=log,
        )
        finish(
            project,
            given=len(titles),
            daemons=settings.daemons,
            timeout=settings.final_timeout,
            log=log,
            record=kills,
        )
        counted = tally(project, titles, blog.created())
        wall = time.monotonic() - started
        problems = [item.split()[0] for item in counted.published_twice + counted.lost]
        explanations = tuple(why(project, delivery_id) for delivery_id in problems[:5])
        stages: list[StageOutcome] = []
        if settings.stages:
            stage_url = stack.enter_context(
                fresh_database(workdir / "stages", settings.database, keep=settings.keep)
            )
            stack.callback(dispose, stage_url)
            staged = make_project(
                workdir / "stages", blog_url=blog.url, database_url=stage_url, cap=None
            )
            stages = [kill_at_stage(staged, blog, stage, log=log) for stage in STAGES]
    return Report(
        settings=settings,
        tally=counted,
        kills=kills,
        wall_seconds=wall,
        stages=tuple(stages),
        explanations=explanations,
        database_url=database_url,
    )


def render(report: Report) -> str:
    s, t, k = report.settings, report.tally, report.kills
    where = "PostgreSQL" if s.database else "SQLite"
    cap = f", daily_cap {s.cap}" if s.cap else ""
    lines = [
        f"relais crash harness: {s.daemons} daemon(s) on {where}{cap}, seed {s.seed}",
        f"  {'posts given':<34}{t.given:>7}",
        f"  {'published once':<34}{t.published_once:>7}",
        f"  {'published twice':<34}{len(t.published_twice):>7}",
        f"  {'lost':<34}{len(t.lost):>7}",
        f"  {'left to a person':<34}{sum(t.with_a_person.values()):>7}",
    ]
    lines += [f"    {count:>5}  {reason}" for reason, count in t.with_a_person.most_common()]
    if t.on_blog_though_with_a_person:
        lines.append(f"    ({t.on_blog_though_with_a_person} of them are on the blog after all)")
    if t.waiting:
        lines.append(f"  {'held/rolled past the run':<34}{sum(t.waiting.values()):>7}")
        lines += [f"    {count:>5}  {what}" for what, count in sorted(t.waiting.items())]
    lines += [
        f"  {'creations on the blog':<34}{t.creations:>7}",
        f"  {'kills (SIGKILL)':<34}{k.kills:>7}",
        f"    {k.while_work_remained:>5}  with work left after the kill",
        f"    {k.before_started:>5}  before the daemon said it had started",
        f"  {'daemons that ended by themselves':<34}{len(k.ended_by_themselves):>7}"
        + (
            f"  (exit {', '.join(map(str, k.ended_by_themselves))})"
            if k.ended_by_themselves
            else ""
        ),
        f"  {'settled before the time limit':<34}{'yes' if k.finished else 'NO':>7}",
        f"  {'final stop (SIGTERM) exit codes':<34}{','.join(map(str, k.final_exit_codes)):>7}",
        f"  {'wall time':<34}{report.wall_seconds:>6.1f}s",
    ]
    if s.cap and t.busiest_day:
        day, count = t.busiest_day
        verdict = "kept" if count <= s.cap else "BROKEN"
        lines.append(f"  {'busiest local day on the blog':<34}{count:>7}  ({day}; cap {verdict})")
    if t.strangers:
        lines.append(f"  creations of posts nobody gave: {t.strangers}")
    for item in t.published_twice + t.lost:
        lines.append(f"  ! {item}")
    lines += report.explanations
    if s.keep:
        lines.append(f"  queue: {report.database_url}")
    if report.stages:
        lines.append("precise-stage kills (failpoint, SIGKILL, restart):")
        lines += [f"  {outcome.describe()}" for outcome in report.stages]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=500)
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--daemons", type=int, default=1)
    parser.add_argument("--database", help="a PostgreSQL server URL (a fresh database is made)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cap", type=int, help="the blog's daily_cap")
    parser.add_argument("--max-work", type=float, default=1.5, help="seconds before a kill")
    parser.add_argument("--latency", type=float, default=0.01, help="the blog's answer time")
    parser.add_argument("--final-timeout", type=float, default=600)
    parser.add_argument("--no-stages", action="store_true", help="skip the failpoint kills")
    parser.add_argument("--keep", action="store_true", help="keep the work folder and databases")
    arguments = parser.parse_args(argv)
    settings = Settings(
        posts=arguments.posts,
        kills=arguments.kills,
        daemons=arguments.daemons,
        database=arguments.database,
        seed=arguments.seed,
        cap=arguments.cap,
        max_work=arguments.max_work,
        latency=arguments.latency,
        final_timeout=arguments.final_timeout,
        stages=not arguments.no_stages,
        keep=arguments.keep,
    )
    workdir = Path(tempfile.mkdtemp(prefix="relais-crash-"))
    report = run(settings, workdir)
    print(render(report))
    if arguments.keep or not report.ok:
        print(f"work folder (logs, queue, configs): {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
