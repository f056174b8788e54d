"""The daily cap counter itself, on SQLite and PostgreSQL: reserved up to the cap, given back
one at a time, never below zero, and only for its own account and day."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.app import App
from scheduler.db.models import DailyUsage
from scheduler.delivery.transitions import transaction
from scheduler.rules.daily_cap import release, reserve
from tests.invariants import cap_units
from tests.support import FakeClock, make_app


@pytest.fixture
def queue(tmp_path: Path, clock: FakeClock, database: str) -> Iterator[App]:
    app = make_app(tmp_path, clock, database=database)
    yield app
    app.engine.dispose()


def take(app: App, account: str, day: str, cap: int) -> bool:
    with transaction(app.sessions) as session:
        return reserve(session, account, day, cap)


def give_back(app: App, account: str, day: str) -> None:
    with transaction(app.sessions) as session:
        release(session, account, day)


def units(app: App) -> dict[tuple[str, str], int]:
    with transaction(app.sessions) as session:
        return cap_units(session)


def test_units_are_taken_up_to_the_cap_and_no_further(queue: App) -> None:
    assert [take(queue, "facebook", "2026-12-09", 2) for _ in range(3)] == [True, True, False]
    assert units(queue) == {("facebook", "2026-12-09"): 2}


def test_a_unit_given_back_frees_exactly_one_place(queue: App) -> None:
    take(queue, "facebook", "2026-12-09", 2)
    take(queue, "facebook", "2026-12-09", 2)
    give_back(queue, "facebook", "2026-12-09")
    assert units(queue) == {("facebook", "2026-12-09"): 1}
    give_back(queue, "facebook", "2026-12-09")
    assert units(queue) == {}  # at zero
    assert take(queue, "facebook", "2026-12-09", 2)
    assert take(queue, "facebook", "2026-12-09", 2)
    assert not take(queue, "facebook", "2026-12-09", 2)


def test_giving_back_never_goes_below_zero(queue: App) -> None:
    take(queue, "facebook", "2026-12-09", 1)
    for _ in range(3):
        give_back(queue, "facebook", "2026-12-09")
    assert units(queue) == {}
    with transaction(queue.sessions) as session:
        assert min(used for used in cap_units_with_zero(session).values()) == 0
    assert take(queue, "facebook", "2026-12-09", 1)
    assert not take(queue, "facebook", "2026-12-09", 1)


def test_each_account_and_day_has_its_own_count(queue: App) -> None:
    for account, day in [("facebook", "2026-12-09"), ("twitter", "2026-12-09")]:
        take(queue, account, day, 3)
        take(queue, account, day, 3)
    take(queue, "facebook", "2026-12-10", 3)
    give_back(queue, "facebook", "2026-12-09")
    assert units(queue) == {
        ("facebook", "2026-12-09"): 1,
        ("twitter", "2026-12-09"): 2,
        ("facebook", "2026-12-10"): 1,
    }
    # A full day on one account leaves the other's free.
    assert not take(queue, "twitter", "2026-12-09", 2)
    assert take(queue, "facebook", "2026-12-09", 2)


def cap_units_with_zero(session: Session) -> dict[tuple[str, str], int]:
    return {(row.account, row.local_day): row.used for row in session.scalars(select(DailyUsage))}
