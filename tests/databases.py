"""Real databases for tests: a SQLite file, or a fresh PostgreSQL database per test.

PostgreSQL tests use the server named by ``RELAIS_TEST_POSTGRES_URL``, else the machine's own
server at 127.0.0.1:5432 when it answers. Without one they skip, except under ``CI=true``,
where a missing server is a failure: CI must never pass by skipping them.
"""

from __future__ import annotations

import functools
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

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


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty database on the test server; dropped afterwards."""
    server = make_url(postgres_server_url())
    name = f"relais_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        admin.dispose()
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL at {server.render_as_string()} is not usable: {error}")
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
