"""Real databases for tests: a SQLite file, or a fresh PostgreSQL database per test.

PostgreSQL tests use the server named by ``RELAIS_TEST_POSTGRES_URL``, else the machine's own
server at 127.0.0.1:5432 when it answers. Without one they skip, except under ``CI=true``,
where a missing server is a failure: CI must never pass by skipping them.

Alembic runs once per test session and dialect, on a template: a test's new SQLite file is
a copy of a migrated one, and a test's PostgreSQL database is created ``TEMPLATE`` a migrated
one (each test session has its own template, so parallel runs on one server, perhaps at
different migrations, never share one). :func:`migrate` is the one entry point.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import socket
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from scheduler.db.engines import upgrade
from scheduler.service.instance_lock import sqlite_path

POSTGRES_URL_ENV = "RELAIS_TEST_POSTGRES_URL"


# The machine's own server: `make test` runs the PostgreSQL tests whenever it answers.
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@functools.cache
def _default_server_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def postgres_server_url() -> str:
    url = os.environ.get(POSTGRES_URL_ENV)
    if url:
        return url
    if _default_server_answers():
        return DEFAULT_POSTGRES_URL
    if os.environ.get("CI") == "true":
        pytest.fail(f"no PostgreSQL server at 127.0.0.1:5432 and {POSTGRES_URL_ENV} is not set")
    pytest.skip(f"no PostgreSQL server at 127.0.0.1:5432; set {POSTGRES_URL_ENV} to name one")


# Databases made from the migrated template: already at head, Alembic need not look.
_FROM_TEMPLATE: set[str] = set()


def migrate(url: str) -> None:
    """Bring a test database to the latest migration, the cheap way when it is new: a new
    SQLite file becomes a copy of the session's migrated template, a PostgreSQL database
    made from the template is already there; anything else goes through Alembic."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_sqlite_template(), path)
    elif url not in _FROM_TEMPLATE:
        upgrade(url)


@functools.cache
def _sqlite_template() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="relais-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    migrated = folder / "migrated.db"
    upgrade(f"sqlite:///{migrated}")
    # One self-contained file (no -wal beside it) that a plain copy reproduces.
    template = folder / "template.db"
    with sqlite3.connect(migrated) as source, sqlite3.connect(template) as target:
        source.backup(target)
    source.close()
    target.close()
    return template


@functools.cache
def _postgres_template(server_url: str) -> str:
    """A migrated database on the server, for this test session only; dropped at exit."""
    server = make_url(server_url)
    name = f"relais_template_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    atexit.register(_drop, server_url, name)
    admin.dispose()
    upgrade(server.set(database=name).render_as_string(hide_password=False))
    return name


def _drop(server_url: str, name: str) -> None:
    admin = create_engine(make_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def fresh_postgres_database(*, migrated: bool = False) -> Iterator[str]:
    """A new database on the test server, empty or (``migrated``) at the latest migration;
    dropped afterwards."""
    server = make_url(postgres_server_url())
    name = f"relais_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        template = _postgres_template(postgres_server_url()) if migrated else None
        with admin.connect() as connection:
            copied = f' TEMPLATE "{template}"' if template else ""
            connection.execute(text(f'CREATE DATABASE "{name}"{copied}'))
    except Exception as error:
        admin.dispose()
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL at {server.render_as_string()} is not usable: {error}")
    url = server.set(database=name).render_as_string(hide_password=False)
    if migrated:
        _FROM_TEMPLATE.add(url)
    try:
        yield url
    finally:
        _FROM_TEMPLATE.discard(url)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
