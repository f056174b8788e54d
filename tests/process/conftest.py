"""Every process test ends with the queue invariants checked (tests/invariants.py).

After the test, each ``config.yaml`` under its ``tmp_path`` whose queue holds the relais
tables is checked: whatever the daemons did, killed or not, the daily-cap counters, the
leases and the event rows must agree with the deliveries. The crash harness tests check
their own queues before dropping them (a PostgreSQL database dropped by the test is not
checked again here).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.exc import OperationalError

from scheduler.config import ConfigError, load_config
from scheduler.db.engines import make_engine
from tests.invariants import project_violations


def _queues(directory: Path) -> Iterator[Path]:
    for config_path in sorted(directory.rglob("config.yaml")):
        try:
            url = load_config(config_path).database_url
        except ConfigError:
            continue  # not a relais config (a fake platform's, a hostile one)
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                migrated = inspect(connection).has_table("delivery")
        except OperationalError:
            migrated = False  # a PostgreSQL database the test dropped itself
        finally:
            engine.dispose()
        if migrated:
            yield config_path


@pytest.fixture(autouse=True)
def queue_invariants(tmp_path: Path) -> Iterator[None]:
    yield
    found = {
        str(config_path.relative_to(tmp_path)): problems
        for config_path in _queues(tmp_path)
        if (problems := project_violations(config_path, datetime.now(UTC)))
    }
    assert not found, f"queue invariants broken after the test: {found}"
