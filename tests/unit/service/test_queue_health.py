"""A queue that cannot be written: good files wait in the inbox, readers are told, once.

The fault is real: another connection holds SQLite's write lock (as a backup tool or a
stuck process does), and the daemon's connections give up after 50 ms instead of 30 s.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from werkzeug.test import Client

from scheduler.app import App
from scheduler.reports.status import Level, build_status, reader_sessions, render_status
from scheduler.service.daemon import Daemon
from scheduler.service.http_endpoint import make_http_app
from scheduler.service.instance_lock import sqlite_path
from scheduler.service.queue_health import (
    MARKER_NAME,
    QueueUnwritable,
    is_queue_fault,
    read_marker,
)
from tests.support import FakeClock, drop

GOOD = """\
library: redaction
author: communication
text: Le blog des bibliothèques ouvre aujourd'hui.
to: [facebook]
"""


def impatient(app: App) -> None:
    """The app's connections wait 50 ms for a lock instead of 30 s."""

    @event.listens_for(app.engine, "connect")
    def _short_wait(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=50")

    app.engine.dispose()


@contextmanager
def write_lock_held(app: App) -> Iterator[None]:
    path = sqlite_path(app.config.database_url)
    assert path is not None
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@pytest.fixture
def daemon(app: App) -> Iterator[Daemon]:
    impatient(app)
    running = Daemon(app)
    running.prepare()
    running.scheduler.start(paused=True)  # jobs are run by hand here
    yield running
    running.scheduler.shutdown(wait=False)
    running._release()


def marker(app: App) -> Path:
    return app.config.path(app.config.state_dir) / MARKER_NAME


def test_a_good_file_waits_in_the_inbox_while_the_queue_cannot_be_written(app: App) -> None:
    impatient(app)
    path = drop(app.config, "redaction/ouverture.yaml", GOOD)
    with write_lock_held(app), pytest.raises(QueueUnwritable, match="cannot write the queue"):
        app.intake().scan()
    assert path.exists()
    assert not app.config.rejected_dir.exists() or not any(app.config.rejected_dir.rglob("*"))
    report = app.intake().scan()
    assert [queued for queued, _ in report.queued] == [path]
    assert not path.exists()


def test_one_warning_per_fault_and_readers_say_critical_while_it_lasts(
    daemon: Daemon, app: App, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    path = drop(app.config, "redaction/ouverture.yaml", GOOD)
    health = make_http_app(
        sessions=reader_sessions(app.config.database_url),
        clock=clock,
        zone=app.config.zone,
        accounts=sorted(app.config.accounts),
        series={},
        queue_fault=lambda: daemon.health.fault,
    )
    caplog.set_level(logging.INFO)
    with write_lock_held(app):
        for _ in range(4):
            daemon._intake_job()
            daemon._health_job()
            daemon._dispatch_job()
        answer = Client(health).get("/healthz")
        status = build_status(
            reader_sessions(app.config.database_url),
            clock=clock,
            zone=app.config.zone,
            accounts=sorted(app.config.accounts),
            series={},
            daemon_alive=True,
            queue_fault=read_marker(marker(app)),
        )
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage().split(" (")[0] for r in warnings] == [
        "cannot write the queue since 2026-12-09 09:00:00 UTC"
    ]
    assert not any(record.exc_info for record in caplog.records)
    assert path.exists()
    assert answer.status_code == 503
    assert answer.get_data(as_text=True).startswith("critical: cannot write the queue")
    assert status.attention[0].level == Level.CRITICAL
    assert "cannot write the queue" in status.attention[0].message
    assert "cannot write the queue" in render_status(status, app.config.zone)

    caplog.clear()
    daemon._intake_job()
    daemon._health_job()
    assert not path.exists()
    assert daemon.health.fault is None
    assert read_marker(marker(app)) is None
    assert Client(health).get("/healthz").status_code == 200
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "the queue can be written again (fault since 2026-12-09T09:00:00+00:00)"
    ]


def test_the_marker_is_written_in_place_so_a_full_disk_cannot_refuse_it(
    daemon: Daemon, app: App
) -> None:
    before = os.stat(marker(app))
    daemon.health.failed(OSError(errno.ENOSPC, "No space left on device"), doing="test")
    after = os.stat(marker(app))
    assert (after.st_ino, after.st_size) == (before.st_ino, before.st_size)
    fault = read_marker(marker(app))
    assert fault is not None and "No space left on device" in fault.error


@pytest.mark.parametrize("how", ["removed", "replaced"])
def test_a_queue_file_removed_or_replaced_under_the_daemon_stops_it(
    daemon: Daemon, app: App, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = sqlite_path(app.config.database_url)
    assert path is not None
    copy = path.with_name("copy.db")
    shutil.copy(path, copy)
    if how == "removed":
        path.unlink()
    else:
        os.replace(copy, path)
    daemon._intake_job()
    assert daemon._stop.is_set() and daemon._exit_code == 1
    assert app.stopping.is_set()
    critical = [r.getMessage() for r in caplog.records if r.levelno == logging.CRITICAL]
    assert len(critical) == 1 and f"the queue {path} was {how}" in critical[0]


def test_machine_faults_are_told_from_file_faults() -> None:
    assert is_queue_fault(OSError(errno.ENOSPC, "No space left on device"))
    assert is_queue_fault(sqlite3.OperationalError("database is locked"))
    assert not is_queue_fault(OSError(errno.ENOENT, "No such file"))
    assert not is_queue_fault(ValueError("bad"))
