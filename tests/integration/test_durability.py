"""What survives a power cut and an upgrade: SQLite settings on every connection, and
migrations that keep every row of a populated queue.

A committed state change must be on disk (``synchronous=FULL`` under WAL), whichever
connection the app happens to use: the pool opens new ones lazily, per thread, and again
after a dispose or an invalidated connection, and each one gets its pragmas afresh. And a
queue.db written by the first release must come out of ``relais db upgrade`` with every
post, delivery, attempt, event and counter intact, readable by today's code.
"""

from __future__ import annotations

import itertools
import random
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import event, select, text
from sqlalchemy.pool import Pool

from scheduler.db.engines import (
    alembic_config,
    current_revision,
    head_revision,
    make_engine,
    upgrade,
)
from scheduler.db.models import AccountState, Attempt, DailyUsage, Delivery, DeliveryEvent, Post
from scheduler.delivery.editor import list_deliveries
from scheduler.delivery.transitions import make_sessions, transaction
from tests.support import FakeClock, drop, make_app

WAL, FULL = "wal", 2

EDITORIAL = """\
library: redaction
author: communication
title: Bienvenue
text: Le blog des bibliothèques ouvre aujourd'hui.
to: [facebook, blog]
"""


@pytest.fixture
def pragmas() -> Iterator[list[tuple[int, str, int]]]:
    """(connection serial, journal_mode, synchronous) seen at every checkout of any pool.

    Listening on the Pool class reaches every engine, including the one Alembic's env.py
    builds for a migration; checkout runs after the app's connect hook, so this sees the
    connection exactly as the app will use it. Each new DBAPI connection gets a serial
    number when it is opened (ids of dead objects are reused, so they cannot count).
    """
    seen: list[tuple[int, str, int]] = []
    serials = itertools.count(1)

    def number(_dbapi_connection: Any, record: Any) -> None:
        record.info["probe_serial"] = next(serials)

    def probe(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if not isinstance(dbapi_connection, sqlite3.Connection):
            return
        cursor = dbapi_connection.cursor()
        mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
        synchronous = cursor.execute("PRAGMA synchronous").fetchone()[0]
        cursor.close()
        seen.append((record.info["probe_serial"], mode, synchronous))

    event.listen(Pool, "connect", number)
    event.listen(Pool, "checkout", probe)
    try:
        yield seen
    finally:
        event.remove(Pool, "checkout", probe)
        event.remove(Pool, "connect", number)


def test_every_connection_the_app_makes_is_wal_with_full_sync(
    tmp_path: Path, clock: FakeClock, pragmas: list[tuple[int, str, int]]
) -> None:
    def opened() -> int:
        return max((serial for serial, _mode, _sync in pragmas), default=0)

    app = make_app(tmp_path, clock)
    drop(app.config, "redaction/bienvenue.yaml", EDITORIAL)
    app.intake().scan()
    app.dispatcher(rng=random.Random(1)).run_due()
    # The app's own connections (the queue may come from the tests' migrated template, so
    # no migration engine need have opened one in this test).
    assert opened() >= 1

    # Two at once: the pool has to open a second one. Raw checkouts, because two open
    # transactions would serialise on BEGIN IMMEDIATE (by design).
    before = opened()
    first, second = app.engine.raw_connection(), app.engine.raw_connection()
    first.close()
    second.close()
    assert opened() > before

    # Another thread (as the lease renewer and the APScheduler jobs are).
    worker = threading.Thread(target=lambda: list_deliveries(app.sessions, zone=app.config.zone))
    worker.start()
    worker.join()

    # A connection the pool throws away (a driver error does this), then a reconnect:
    # with every pooled connection invalidated, the next checkout must open a new one.
    before = opened()
    held = [app.engine.connect() for _ in range(2)]
    for connection in held:
        connection.invalidate()
        connection.close()
    with app.engine.connect() as reconnected:
        reconnected.execute(text("SELECT 1"))
    assert opened() > before

    # A full dispose, then work again through the app.
    before = opened()
    app.engine.dispose()
    rows = list_deliveries(app.sessions, zone=app.config.zone)
    assert {row.state for row in rows} == {"published"}
    assert opened() > before

    assert {(mode, sync) for _serial, mode, sync in pragmas} == {(WAL, FULL)}, pragmas


def test_a_plain_connection_is_told_apart_by_the_probe(
    tmp_path: Path, pragmas: list[tuple[int, str, int]]
) -> None:
    """The check above can fail: a connection set to NORMAL is reported as such."""
    url = f"sqlite:///{tmp_path / 'other.db'}"
    engine = make_engine(url)

    @event.listens_for(engine, "connect")
    def _weaken(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    engine.dispose()
    assert [(mode, sync) for _conn, mode, sync in pragmas] == [(WAL, 1)]


# --- migrations on a populated queue ---------------------------------------------------

POST_ID = "11111111-aaaa-4bbb-8ccc-000000000001"
OTHER_POST_ID = "11111111-aaaa-4bbb-8ccc-000000000002"
# One delivery per interesting state; ids are fixed so the test can compare every value.
DELIVERIES: tuple[dict[str, Any], ...] = (
    {
        "id": "d0000001-0000-4000-8000-000000000001",
        "post_id": POST_ID,
        "account": "facebook",
        "state": "published",
        "due_at": "2026-12-09 09:00:00.000000",
        "window_end": None,
        "timing": '{"kind": "at"}',
        "payload": '{"title": "Bienvenue", "text": "Ouvert !", "link": null, "tags": [], '
        '"media": []}',
        "approved_by": "lea",
        "approved_at": "2026-12-08 17:30:00.000000",
        "reason": None,
        "lease_owner": None,
        "lease_until": None,
        "version": 5,
        "attempts": 1,
        "platform_id": "dry-run:abc",
        "url": "https://example.org/p/1",
        "last_error": None,
        "last_error_class": None,
        "created_at": "2026-12-08 17:00:00.000000",
        "updated_at": "2026-12-09 09:00:01.250000",
    },
    {
        "id": "d0000001-0000-4000-8000-000000000002",
        "post_id": POST_ID,
        "account": "twitter",
        "state": "retry_wait",
        "due_at": "2026-12-09 09:05:00.000000",
        "window_end": "2026-12-10 23:00:00.000000",
        "timing": '{"kind": "window", "window_start": "2026-12-09T08:00:00+00:00"}',
        "payload": '{"title": null, "text": "Goûter de l\'Escalade 🎉", "link": null, '
        '"tags": ["escalade"], "media": []}',
        "approved_by": None,
        "approved_at": None,
        "reason": None,
        "lease_owner": None,
        "lease_until": None,
        "version": 4,
        "attempts": 2,
        "platform_id": None,
        "url": None,
        "last_error": "HTTP 503 from the platform; retried later",
        "last_error_class": "retryable",
        "created_at": "2026-12-08 17:00:00.000000",
        "updated_at": "2026-12-09 09:00:02.000000",
    },
    {
        "id": "d0000001-0000-4000-8000-000000000003",
        "post_id": OTHER_POST_ID,
        "account": "facebook",
        "state": "claimed",
        "due_at": "2026-12-09 10:00:00.000000",
        "window_end": None,
        "timing": '{"kind": "next_free"}',
        "payload": '{"title": "Conte", "text": "L\'heure du conte", "link": null, '
        '"tags": [], "media": []}',
        "approved_by": "lea",
        "approved_at": "2026-12-08 18:00:00.000000",
        "reason": None,
        "lease_owner": "host:42:deadbeef",
        "lease_until": "2026-12-09 10:05:00.000000",
        "version": 3,
        "attempts": 0,
        "platform_id": None,
        "url": None,
        "last_error": None,
        "last_error_class": None,
        "created_at": "2026-12-08 17:10:00.000000",
        "updated_at": "2026-12-09 10:00:00.000000",
    },
    {
        "id": "d0000001-0000-4000-8000-000000000004",
        "post_id": OTHER_POST_ID,
        "account": "blog",
        "state": "pending_approval",
        "due_at": None,
        "window_end": None,
        "timing": '{"kind": "next_free"}',
        "payload": '{"title": "Conte", "text": "L\'heure du conte", "link": null, '
        '"tags": [], "media": []}',
        "approved_by": None,
        "approved_at": None,
        "reason": None,
        "lease_owner": None,
        "lease_until": None,
        "version": 1,
        "attempts": 0,
        "platform_id": None,
        "url": None,
        "last_error": None,
        "last_error_class": None,
        "created_at": "2026-12-08 17:10:00.000000",
        "updated_at": "2026-12-08 17:10:00.000000",
    },
    {
        "id": "d0000001-0000-4000-8000-000000000005",
        "post_id": OTHER_POST_ID,
        "account": "twitter",
        "state": "needs_attention",
        "due_at": "2026-12-09 08:00:00.000000",
        "window_end": None,
        "timing": '{"kind": "at"}',
        "payload": '{"title": "Conte", "text": "L\'heure du conte", "link": null, '
        '"tags": [], "media": []}',
        "approved_by": "lea",
        "approved_at": "2026-12-08 18:00:00.000000",
        "reason": "not found on the platform after an interrupted send",
        "lease_owner": None,
        "lease_until": None,
        "version": 6,
        "attempts": 1,
        "platform_id": None,
        "url": None,
        "last_error": "not found on the platform after an interrupted send",
        "last_error_class": "ambiguous",
        "created_at": "2026-12-08 17:10:00.000000",
        "updated_at": "2026-12-09 08:10:00.000000",
    },
)
ROWS: dict[str, list[dict[str, Any]]] = {
    "post": [
        {
            "id": POST_ID,
            "key": "redaction/bienvenue",
            "source_path": "redaction/bienvenue.yaml",
            "sha256": "a" * 64,
            "library": "redaction",
            "author": "communication",
            "title": "Bienvenue",
            "created_at": "2026-12-08 17:00:00.000000",
            "updated_at": "2026-12-08 17:00:00.000000",
            "cancelled_at": None,
        },
        {
            "id": OTHER_POST_ID,
            "key": "eaux-vives/heure-du-conte",
            "source_path": "eaux-vives/heure-du-conte.yaml",
            "sha256": "b" * 64,
            "library": "eaux-vives",
            "author": "marie",
            "title": "L'heure du conte",
            "created_at": "2026-12-08 17:10:00.000000",
            "updated_at": "2026-12-08 17:12:00.000000",
            "cancelled_at": None,
        },
    ],
    "delivery": list(DELIVERIES),
    "attempt": [
        {
            "id": 1,
            "delivery_id": DELIVERIES[0]["id"],
            "number": 1,
            "started_at": "2026-12-09 09:00:00.000000",
            "finished_at": "2026-12-09 09:00:01.250000",
            "outcome": "published",
            "http_status": None,
            "error_class": None,
            "message": None,
            "wait_seconds": None,
        },
        {
            "id": 2,
            "delivery_id": DELIVERIES[1]["id"],
            "number": 2,
            "started_at": "2026-12-09 09:00:01.000000",
            "finished_at": "2026-12-09 09:00:02.000000",
            "outcome": "error",
            "http_status": 503,
            "error_class": "retryable",
            "message": "HTTP 503 from the platform",
            "wait_seconds": 298,
        },
    ],
    "delivery_event": [
        {
            "id": number,
            "delivery_id": delivery["id"],
            "at": delivery["updated_at"],
            "from_state": None if number % 2 else "scheduled",
            "to_state": delivery["state"],
            "actor": "intake" if number % 2 else "host:42:deadbeef",
            "reason": f"event {number}",
        }
        for number, delivery in enumerate(DELIVERIES, start=1)
    ],
    "daily_usage": [
        {"account": "facebook", "local_day": "2026-12-09", "used": 2},
        {"account": "twitter", "local_day": "2026-12-09", "used": 1},
    ],
    "account_state": [
        {
            "account": "twitter",
            "paused": 0,
            "paused_reason": None,
            "paused_at": None,
            "rate_limited_until": "2026-12-09 09:30:00.000000",
            "last_success_at": "2026-12-08 12:00:00.000000",
        },
        {
            "account": "blog",
            "paused": 1,
            "paused_reason": "the application password was revoked",
            "paused_at": "2026-12-09 07:00:00.000000",
            "rate_limited_until": None,
            "last_success_at": None,
        },
    ],
}


def populate(path: Path) -> None:
    """Write the rows as the first release's schema holds them, with plain SQL."""
    with sqlite3.connect(path) as connection:
        for table, rows in ROWS.items():
            for row in rows:
                columns = ", ".join(row)
                marks = ", ".join("?" for _ in row)
                connection.execute(
                    f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(row.values())
                )
    connection.close()


def dump(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Every row of the 0001 tables, as stored, in primary-key order."""
    with sqlite3.connect(path) as connection:
        connection.row_factory = sqlite3.Row
        # The 0001 columns only: later migrations add columns (empty for old rows).
        found = {
            table: [
                dict(row)
                for row in connection.execute(
                    f"SELECT {', '.join(rows[0])} FROM {table} ORDER BY 1, 2"
                )
            ]
            for table, rows in ROWS.items()
        }
    connection.close()
    return found


def expected() -> dict[str, list[dict[str, Any]]]:
    return {
        table: sorted(rows, key=lambda row: tuple(str(value) for value in list(row.values())[:2]))
        for table, rows in ROWS.items()
    }


@pytest.fixture
def first_release_queue(tmp_path: Path) -> tuple[str, Path]:
    path = tmp_path / "queue.db"
    url = f"sqlite:///{path}"
    upgrade(url, "0001")
    assert current_revision(make_engine(url)) == "0001"
    populate(path)
    assert dump(path) == expected()  # the fixture itself wrote what the test compares
    return url, path


def test_upgrading_a_populated_first_release_queue_keeps_every_row(
    first_release_queue: tuple[str, Path],
) -> None:
    url, path = first_release_queue
    upgrade(url)
    engine = make_engine(url)
    assert current_revision(engine) == head_revision(url)
    assert dump(path) == expected()

    # Today's code reads the old rows: the editor's list, and every model.
    rows = list_deliveries(make_sessions(engine), zone=ZoneInfo("Europe/Zurich"))
    by_id = {row.id: row for row in rows}
    assert {row.id: row.state for row in rows} == {d["id"]: d["state"] for d in DELIVERIES}
    published = by_id[DELIVERIES[0]["id"]]
    assert (published.post_key, published.url, published.approved_by) == (
        "redaction/bienvenue",
        "https://example.org/p/1",
        "lea",
    )
    assert published.due_at is not None and published.due_at.isoformat() == (
        "2026-12-09T09:00:00+00:00"
    )
    assert by_id[DELIVERIES[3]["id"]].due_at is None
    with transaction(make_sessions(engine)) as session:
        retrying = session.get(Delivery, DELIVERIES[1]["id"])
        assert retrying is not None
        assert retrying.payload["text"] == "Goûter de l'Escalade 🎉"
        assert retrying.timing["kind"] == "window"
        assert retrying.window_end is not None and retrying.window_end.tzinfo is not None
        assert [a.http_status for a in session.scalars(select(Attempt).order_by(Attempt.id))] == [
            None,
            503,
        ]
        assert session.scalar(select(DeliveryEvent).where(DeliveryEvent.id == 5)) is not None
        assert {u.account: u.used for u in session.scalars(select(DailyUsage))} == {
            "facebook": 2,
            "twitter": 1,
        }
        blog = session.get(AccountState, "blog")
        assert blog is not None and blog.paused is True
        assert len(session.scalars(select(Post)).all()) == 2


def test_a_downgrade_then_upgrade_round_trip_keeps_every_row(
    first_release_queue: tuple[str, Path],
) -> None:
    url, path = first_release_queue
    upgrade(url)
    command.downgrade(alembic_config(url), "0001")
    assert current_revision(make_engine(url)) == "0001"
    assert dump(path) == expected()
    upgrade(url)
    assert current_revision(make_engine(url)) == head_revision(url)
    assert dump(path) == expected()
