"""``relais status``: every kind of trouble is reported, with its reason, and exits non-zero."""

from __future__ import annotations

import dataclasses
import os
import random
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from connectors.errors import Ambiguous, AuthExpired, Permanent, RateLimited
from scheduler.app import App
from scheduler.db.models import Delivery
from scheduler.delivery.transitions import transaction
from scheduler.reports.status import (
    Level,
    Status,
    build_status,
    daemon_alive,
    reader_sessions,
    render_status,
)
from scheduler.reports.status import status_exit_code as exit_code
from scheduler.rules.series import note_missed
from scheduler.service.heartbeat import ALIVE_WITHIN, beat, forget
from scheduler.service.instance_lock import InstanceLock
from tests.support import FakeClock, ScriptedConnector, make_app, queue_delivery

# Thursdays 10:00 Zurich: the first occurrence is 2026-12-10 09:00 UTC, 24 h after START.
THURSDAYS = {
    "accounts": ["blog"],
    "weekday": "thursday",
    "time": "10:00",
    "from": "2026-12-01",
    "alert_before": "48h",
}


@dataclass(frozen=True)
class Troubles:
    app: App
    clock: FakeClock
    needs_attention: str
    unknown: str
    held: str
    failed: str
    rate_limited: str
    overdue: str
    next_due: str


def sent_through(app: App, **answers: list[object]) -> App:
    connectors = {name: ScriptedConnector(answers=list(a)) for name, a in answers.items()}  # type: ignore[arg-type]
    return dataclasses.replace(app, connectors=connectors)


def run_due(app: App) -> None:
    app.dispatcher(rng=random.Random(3)).run_due()


def make_troubles(tmp_path: Path, clock: FakeClock) -> Troubles:
    """A queue with one of each problem, made the way the daemon makes them."""
    base = make_app(tmp_path, clock, series={"jeudi": THURSDAYS})
    base.series().materialise()
    app = sent_through(
        base,
        blog=[Ambiguous("read timeout after the body was sent"), Ambiguous("connection reset")],
        facebook=[AuthExpired("token expired", http_status=401)],
        twitter=[
            Permanent("(#100) Invalid link", http_status=400),
            RateLimited("too many requests", until=clock.now() + timedelta(hours=1)),
        ],
    )
    needs_attention = queue_delivery(app, account="blog", key="redaction/perdu")
    run_due(app)
    clock.advance(minutes=3)  # past reconcile_after: not found on the platform
    run_due(app)
    unknown = queue_delivery(app, account="blog", key="redaction/incertain")
    held = queue_delivery(app, account="facebook", key="redaction/en-attente")
    failed = queue_delivery(app, account="twitter", key="redaction/refuse")
    rate_limited = queue_delivery(
        app, account="twitter", key="redaction/limite", due_at=clock.now() + timedelta(seconds=1)
    )
    clock.advance(seconds=1)
    run_due(app)
    # Due ten minutes ago, on an account that waits for its rate limit: nobody sends it.
    overdue = queue_delivery(
        app,
        account="twitter",
        key="redaction/en-retard",
        due_at=clock.now() - timedelta(minutes=10),
    )
    next_due = queue_delivery(
        app, account="blog", key="redaction/demain", due_at=clock.now() + timedelta(days=1)
    )
    return Troubles(
        app, clock, needs_attention, unknown, held, failed, rate_limited, overdue, next_due
    )


def status_of(app: App, *, alive: bool | None = True) -> Status:
    return build_status(
        reader_sessions(app.config.database_url),
        clock=app.clock,
        zone=app.config.zone,
        accounts=sorted(app.config.accounts),
        series=app.config.series,
        daemon_alive=alive,
    )


@pytest.fixture
def troubles(tmp_path: Path, clock: FakeClock) -> Troubles:
    return make_troubles(tmp_path, clock)


@pytest.fixture
def status(troubles: Troubles) -> Status:
    return status_of(troubles.app)


@pytest.fixture
def text(troubles: Troubles, status: Status) -> str:
    return render_status(status, troubles.app.config.zone)


def line_of(text: str, delivery_id: str) -> str:
    [line] = [line for line in text.splitlines() if line.strip().startswith(delivery_id[:8])]
    return line


def test_a_healthy_queue_exits_zero(tmp_path: Path, clock: FakeClock) -> None:
    app = sent_through(make_app(tmp_path, clock), facebook=[])
    queue_delivery(app)
    later = queue_delivery(app, due_at=clock.now() + timedelta(hours=2), key="redaction/plus-tard")
    run_due(app)
    status = status_of(app)
    text = render_status(status, app.config.zone)
    assert exit_code(status) == 0
    assert "nothing needs a person" in text
    assert "scheduled" in line_of(text, later)  # the next due
    assert "facebook     last success 2026-12-09 10:00" in text


def test_the_queue_is_counted_by_state_and_account(troubles: Troubles) -> None:
    counts = {(c.state, c.account): c.count for c in status_of(troubles.app).counts}
    assert counts == {
        ("needs_attention", "blog"): 1,
        ("unknown", "blog"): 1,
        ("scheduled", "blog"): 1,
        ("held", "facebook"): 1,
        ("failed", "twitter"): 1,
        ("retry_wait", "twitter"): 1,
        ("scheduled", "twitter"): 1,
    }


def test_an_overdue_delivery_is_critical_with_its_age(
    troubles: Troubles, status: Status, text: str
) -> None:
    assert status.overdue.count == 1
    assert status.oldest_overdue_age == timedelta(minutes=10)
    assert "CRITICAL  1 overdue, the oldest by 10 min" in text
    assert "redaction/en-retard" in line_of(text, troubles.overdue)
    assert exit_code(status) == Level.CRITICAL


def test_a_delivery_due_a_moment_ago_is_not_overdue_yet(tmp_path: Path, clock: FakeClock) -> None:
    app = make_app(tmp_path, clock)
    queue_delivery(app, due_at=clock.now() - timedelta(seconds=90))
    status = status_of(app)
    assert status.overdue.count == 0
    assert exit_code(status) == 0


def test_unknown_and_needs_attention_are_listed_with_their_reasons(
    troubles: Troubles, status: Status, text: str
) -> None:
    assert "needs_attention" in line_of(text, troubles.needs_attention)
    assert "not found on the platform" in line_of(text, troubles.needs_attention)
    assert "connection reset" in line_of(text, troubles.unknown)
    assert "CRITICAL  1 need attention" in text
    assert "WARNING   1 unknown, waiting for reconciliation" in text


def test_a_paused_account_is_critical_and_its_held_post_says_why(
    troubles: Troubles, status: Status, text: str
) -> None:
    assert "account facebook is paused (token expired)" in text
    assert "relais accounts resume facebook" in text
    assert "facebook     PAUSED since 2026-12-09 10:03: token expired" in text
    assert "account paused: token expired" in line_of(text, troubles.held)
    assert "WARNING   1 held" in text


def test_a_rate_limited_account_is_shown_but_needs_nobody(
    troubles: Troubles, status: Status, text: str
) -> None:
    assert "twitter      rate limited until 2026-12-09 11:00" in text
    assert not any("twitter" in item.message for item in status.attention)


def test_a_recent_failure_is_critical_with_the_platforms_message(
    troubles: Troubles, status: Status, text: str
) -> None:
    assert "CRITICAL  1 failed in the last 24 hours" in text
    assert "(#100) Invalid link" in line_of(text, troubles.failed)
    troubles.clock.advance(hours=25)
    assert status_of(troubles.app).failed_recently.count == 0


def test_a_series_occurrence_without_episode_warns_then_goes_critical(
    troubles: Troubles, status: Status, text: str
) -> None:
    assert "WARNING   series jeudi 2026-12-10 has no episode yet" in text
    assert "jeudi            2026-12-10 10:00  in alert window" in text
    troubles.clock.advance(days=1)
    later = status_of(troubles.app)
    assert "CRITICAL  series jeudi 2026-12-10 passed without an episode" in render_status(
        later, troubles.app.config.zone
    )
    # The daemon marking it missed does not silence it: a person notes it.
    troubles.app.series().watch()
    again = render_status(status_of(troubles.app), troubles.app.config.zone)
    assert "`relais series noted jeudi 2026-12-10` ends this alert" in again
    with transaction(troubles.app.sessions) as session:
        assert note_missed(session, "jeudi", "2026-12-10")
    assert "jeudi 2026-12-10" not in render_status(
        status_of(troubles.app), troubles.app.config.zone
    )


def test_only_warnings_exit_one(tmp_path: Path, clock: FakeClock) -> None:
    app = make_app(tmp_path, clock, series={"jeudi": THURSDAYS})
    app.series().materialise()
    status = status_of(app)
    assert [item.level for item in status.attention] == [Level.WARNING]
    assert exit_code(status) == 1


def test_the_next_due_deliveries_come_in_time_order(troubles: Troubles) -> None:
    status = status_of(troubles.app)
    assert [line.id for line in status.next_due] == [troubles.next_due]


def test_long_sections_show_the_first_few_and_how_many_more(
    tmp_path: Path, clock: FakeClock
) -> None:
    app = make_app(tmp_path, clock)
    for minutes in range(10, 18):
        queue_delivery(app, due_at=clock.now() - timedelta(minutes=minutes))
    status = status_of(app)
    text = render_status(status, app.config.zone)
    assert status.overdue.count == 8 and len(status.overdue.shown) == 5
    assert status.oldest_overdue_age == timedelta(minutes=17)
    assert "overdue (8):" in text and "... and 3 more" in text


def test_a_stopped_daemon_is_critical(tmp_path: Path, clock: FakeClock) -> None:
    app = make_app(tmp_path, clock)
    alive = daemon_alive(app.config.database_url)
    assert alive is False
    status = status_of(app, alive=alive)
    text = render_status(status, app.config.zone)
    assert "daemon: NOT RUNNING" in text
    assert "CRITICAL  the daemon is not running" in text
    assert exit_code(status) == 2


def test_a_running_daemon_is_seen_through_its_lock(tmp_path: Path, clock: FakeClock) -> None:
    app = make_app(tmp_path, clock)
    queue = tmp_path / "queue.db"
    lock = InstanceLock(queue.with_name("queue.db.lock"))
    lock.acquire()
    try:
        assert daemon_alive(app.config.database_url) is True
        # Looking does not take the lock away: the daemon still holds it.
        assert daemon_alive(app.config.database_url) is True
    finally:
        lock.release()
    assert daemon_alive(app.config.database_url) is False


def test_liveness_on_postgresql_is_told_by_the_heartbeat_rows(
    any_app: App, clock: FakeClock
) -> None:
    assert daemon_alive("postgresql+psycopg://relais@db.example.org/relais") is None
    app = any_app
    status = status_of(app, alive=None)
    assert "daemon: NOT RUNNING" in render_status(status, app.config.zone)
    assert exit_code(status) == 2
    beat(app.sessions, "one", now=clock.now(), started_at=clock.now())
    beat(app.sessions, "two", now=clock.now() - ALIVE_WITHIN * 2, started_at=clock.now())
    status = status_of(app, alive=None)
    assert status.daemon_alive is True and [d.owner for d in status.daemons] == ["one"]
    assert f"pid {os.getpid()}, last heartbeat" in render_status(status, app.config.zone)
    assert exit_code(status) == 0
    clock.advance(seconds=ALIVE_WITHIN.total_seconds() + 1)
    assert status_of(app, alive=None).daemon_alive is False
    forget(app.sessions, "one")


def test_a_report_neither_waits_for_the_daemons_writes_nor_sees_them_half_done(
    tmp_path: Path, clock: FakeClock
) -> None:
    app = make_app(tmp_path, clock)
    queue_delivery(app, due_at=clock.now() - timedelta(minutes=10))
    started = time.monotonic()
    # The daemon is in the middle of a transaction (it holds SQLite's write lock).
    with transaction(app.sessions) as session:
        session.execute(update(Delivery).values(state="claimed"))
        status = status_of(app)
    assert time.monotonic() - started < 5  # not the 30 s busy timeout
    assert status.overdue.count == 1  # the last committed state, not the pending change


def test_a_report_cannot_write(tmp_path: Path, clock: FakeClock) -> None:
    app = make_app(tmp_path, clock)
    reader = reader_sessions(app.config.database_url)
    with pytest.raises(OperationalError, match="readonly"), transaction(reader) as session:
        session.execute(update(Delivery).values(state="held"))
