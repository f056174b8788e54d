"""The queue database: SQLite made safe, migrations required before work."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from scheduler.db.engines import SchemaOutOfDate, make_engine, require_head, upgrade


def test_sqlite_runs_in_wal_with_full_sync_and_foreign_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    upgrade(url)
    with make_engine(url).connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_writers_take_the_write_lock_when_their_transaction_begins(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    upgrade(url)
    with make_engine(url).begin() as holder:
        holder.execute(text("SELECT 1"))  # a read only, yet the write lock is held
        other = sqlite3.connect(tmp_path / "queue.db", timeout=0.05, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()


def test_an_empty_database_is_refused_with_the_command_that_fixes_it(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'queue.db'}")
    with pytest.raises(SchemaOutOfDate, match="relais db upgrade"):
        require_head(engine)


def test_an_upgraded_database_is_accepted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    upgrade(url)
    require_head(make_engine(url))
