"""Engines, sessions and the migration check.

SQLite is made safe for a queue: WAL, ``synchronous=FULL`` (a committed state change
survives a power cut), foreign keys on, and every transaction opened with
``BEGIN IMMEDIATE`` so that two writers serialise at the start instead of failing with
"database is locked" halfway through a claim.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
UPGRADE_COMMAND = "relais db upgrade"


def make_engine(url: str, *, reader: bool = False) -> Engine:
    """An engine on the queue. ``reader``: for processes that only look (the desk's pages):
    on SQLite its transactions begin DEFERRED and are query-only, so a long read never
    holds the write lock the daemon's claims need (WAL readers do not block writers)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        _make_sqlite_safe(engine, reader=reader)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _make_sqlite_safe(engine: Engine, *, reader: bool = False) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so that BEGIN is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if reader:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN" if reader else "BEGIN IMMEDIATE")


def alembic_config(url: str) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = url
    return config


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


class SchemaOutOfDate(Exception):
    pass


def require_head(engine: Engine) -> None:
    """Refuse to work on a database that is not at the latest migration, saying how to fix it."""
    url = engine.url.render_as_string(hide_password=True)
    current = current_revision(engine)
    head = head_revision(url)
    if current != head:
        where = "has no relais schema yet" if current is None else f"is at revision {current}"
        raise SchemaOutOfDate(
            f"the database {url} {where}, but this relais needs revision {head}; "
            f"run `{UPGRADE_COMMAND}` (with the same config) and start again"
        )
