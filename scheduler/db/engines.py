"""Engines, sessions and the migration check.

SQLite is made safe for a queue: WAL, ``synchronous=FULL`` (a committed state change
survives a power cut), foreign keys on, and every transaction opened with
``BEGIN IMMEDIATE`` so that two writers serialise at the start instead of failing with
"database is locked" halfway through a claim.

Alembic is imported only by ``upgrade``: every command and the daemon check the schema's
revision, and importing Alembic (with Mako and Pygments) cost each of them about 0.2 s and
several MB for a question one query and the migration files' headers answer.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

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


class SchemaOutOfDate(Exception):
    pass


def alembic_config(url: str) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = url
    return config


def head_revision(url: str | None = None) -> str | None:
    """The newest migration: the one no other names as its ``down_revision``.

    Read from the ``revision`` and ``down_revision`` assignments of the files in
    migrations/versions (what Alembic's ScriptDirectory finds, without importing Alembic;
    tests/unit/db/test_revisions.py holds the two to the same answer). ``url`` is unused
    and kept for the callers that pass it."""
    revisions, parents = _revisions()
    heads = sorted(revisions - parents)
    if len(heads) > 1:
        raise SchemaOutOfDate(f"the migrations have several heads: {', '.join(heads)}")
    return heads[0] if heads else None


def known_revisions() -> set[str]:
    """Every revision this relais has a migration for."""
    return _revisions()[0]


def _revisions() -> tuple[set[str], set[str]]:
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        values = _module_constants(path, ("revision", "down_revision"))
        if isinstance(values.get("revision"), str):
            revisions.add(values["revision"])
        down = values.get("down_revision")
        parents.update([down] if isinstance(down, str) else list(down or ()))
    return revisions, parents


def _module_constants(path: Path, names: tuple[str, ...]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            target, value = node.target.id, node.value
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            target, value = node.targets[0].id, node.value
        else:
            continue
        if target in names and value is not None:
            found[target] = ast.literal_eval(value)
    return found


def current_revision(engine: Engine) -> str | None:
    """The revision recorded in Alembic's own table (None on a queue without a schema)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
        found = sorted(versions)
    if len(found) > 1:
        raise SchemaOutOfDate(f"the database records several revisions: {', '.join(found)}")
    return found[0] if found else None


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def require_head(engine: Engine) -> None:
    """Refuse to work on a database that is not at the latest migration, saying how to fix it."""
    url = engine.url.render_as_string(hide_password=True)
    current = current_revision(engine)
    head = head_revision(url)
    if current is not None and current not in known_revisions():
        # `relais db upgrade` cannot help (Alembic does not know the revision): say so.
        raise SchemaOutOfDate(
            f"the database {url} is at revision {current}, newer than this relais knows (its "
            f"newest is {head}): a newer relais upgraded it. Run that newer relais, or "
            "restore the backup taken before the upgrade"
        )
    if current != head:
        where = "has no relais schema yet" if current is None else f"is at revision {current}"
        raise SchemaOutOfDate(
            f"the database {url} {where}, but this relais needs revision {head}; "
            f"run `{UPGRADE_COMMAND}` (with the same config) and start again"
        )
