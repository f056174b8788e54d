"""The desk's reader engine: on SQLite a read never holds the lock the daemon writes with."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from scheduler.db.engines import make_engine
from tests.support import FakeClock, make_app


def test_a_long_read_does_not_block_a_writer_and_cannot_write(tmp_path: Path) -> None:
    app = make_app(tmp_path, FakeClock())
    reader = make_engine(app.config.database_url, reader=True)
    with reader.connect() as looking, looking.begin():
        looking.execute(text("SELECT count(*) FROM delivery")).all()  # the read is open
        started = time.monotonic()
        with app.engine.connect() as writing, writing.begin():  # BEGIN IMMEDIATE
            writing.execute(text("DELETE FROM daily_usage"))
        assert time.monotonic() - started < 5  # a blocked writer would wait 30 s
        with pytest.raises(OperationalError, match="readonly"):
            looking.execute(text("DELETE FROM daily_usage"))
    reader.dispose()
