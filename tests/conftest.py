from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler.app import App
from tests.databases import fresh_postgres_database
from tests.support import FakeClock, make_app


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same tests on a SQLite file and on a fresh PostgreSQL database. The PostgreSQL one
    is already migrated (a copy of the session's template); the SQLite file is made a copy of
    its template by ``tests.databases.migrate`` (``make_app`` calls it)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'queue.db'}"
        return
    with fresh_postgres_database(migrated=True) as url:
        yield url


@pytest.fixture
def app(tmp_path: Path, clock: FakeClock) -> App:
    """An app on SQLite; tests that must also hold on PostgreSQL use ``any_app``."""
    return make_app(tmp_path, clock)


@pytest.fixture
def any_app(tmp_path: Path, clock: FakeClock, database: str) -> Iterator[App]:
    built = make_app(tmp_path, clock, database=database)
    yield built
    built.engine.dispose()
