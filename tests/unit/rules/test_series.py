"""Recurring series: one occurrence per week at the same local time, created once."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from scheduler.app import App, build_app
from scheduler.config import load_config
from scheduler.db.models import SeriesOccurrence
from scheduler.delivery.editor import list_deliveries
from scheduler.delivery.transitions import transaction
from tests.support import FakeClock, drop, make_app, write_config

ZONE = ZoneInfo("Europe/Zurich")
BOUDOIR = {
    "accounts": ["facebook"],
    "weekday": "wednesday",
    "time": "10:00",
    "from": "2026-03-04",
    "until": "2026-11-25",
    "skip": ["2026-04-08"],
    "alert_before": "48h",
}
EPISODE = """\
library: redaction
author: communication
title: Le boudoir
text: Un livre, une minute.
to: [facebook]
series: boudoir
"""


def occurrences(app: App) -> list[SeriesOccurrence]:
    with transaction(app.sessions) as session:
        rows = session.scalars(select(SeriesOccurrence).order_by(SeriesOccurrence.at)).all()
        session.expunge_all()
        return list(rows)


def test_wednesday_ten_oclock_stays_ten_oclock_across_both_dst_changes(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    app = make_app(tmp_path, clock, series={"boudoir": BOUDOIR})
    app.series().materialise(ahead=timedelta(weeks=40))
    rows = occurrences(app)
    days = [date.fromisoformat(row.occurrence_date) for row in rows]
    assert days[0] == date(2026, 3, 4) and days[-1] == date(2026, 11, 25)
    assert date(2026, 4, 8) not in days  # skipped
    assert all(later - earlier in (timedelta(weeks=1), timedelta(weeks=2))
               for earlier, later in itertools.pairwise(days))  # fmt: skip
    assert len(days) == len(set(days)) == 39 - 1  # 39 Wednesdays, one skipped
    for row in rows:
        local = row.at.astimezone(ZONE)
        assert (local.weekday(), local.hour, local.minute) == (2, 10, 0)
    by_day = {row.occurrence_date: row.at for row in rows}
    assert by_day["2026-03-25"].hour == 9  # CET, before 2026-03-29
    assert by_day["2026-04-01"].hour == 8  # CEST
    assert by_day["2026-10-21"].hour == 8  # CEST, before 2026-10-25
    assert by_day["2026-10-28"].hour == 9  # CET again


def test_a_restart_or_a_second_daemon_creates_no_duplicate(tmp_path: Path, database: str) -> None:
    clock = FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    app = make_app(tmp_path, clock, series={"boudoir": BOUDOIR}, database=database)
    config = load_config(write_config(tmp_path, series={"boudoir": BOUDOIR}, database=database))
    # Two daemons (separate engines on the same file) materialise at the same moment.
    daemons = [build_app(config, clock=clock) for _ in range(4)]
    barrier = threading.Barrier(len(daemons))
    created: list[int] = []

    def materialise(daemon: App) -> None:
        barrier.wait()
        created.append(daemon.series().materialise(ahead=timedelta(weeks=12)))

    threads = [threading.Thread(target=materialise, args=(d,)) for d in daemons]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(created) == len(occurrences(app)) == 12 - 1
    assert app.series().materialise(ahead=timedelta(weeks=12)) == 0  # a restart
    with transaction(app.sessions) as session:
        duplicates = session.execute(
            select(SeriesOccurrence.occurrence_date, func.count())
            .group_by(SeriesOccurrence.occurrence_date)
            .having(func.count() > 1)
        ).all()
    assert duplicates == []


def test_episodes_take_the_next_occurrences_and_a_cancelled_one_frees_its_own(
    tmp_path: Path,
) -> None:
    clock = FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    app = make_app(tmp_path, clock, series={"boudoir": BOUDOIR})
    drop(app.config, "redaction/episode-1.yaml", EPISODE)
    drop(app.config, "redaction/episode-2.yaml", EPISODE.replace("une minute", "deux"))
    app.intake().scan()
    rows = list_deliveries(app.sessions, zone=ZONE)
    assert sorted(row.due_at.astimezone(ZONE).isoformat() for row in rows if row.due_at) == [
        "2026-03-04T10:00:00+01:00",
        "2026-03-11T10:00:00+01:00",
    ]
    assert {row.state for row in rows} == {"scheduled"}
    drop(app.config, "redaction/episode-1.yaml", EPISODE + "cancel: true\n")
    app.intake().scan()
    drop(app.config, "redaction/episode-3.yaml", EPISODE.replace("une minute", "trois"))
    app.intake().scan()
    [third] = [row for row in list_deliveries(app.sessions, zone=ZONE) if "3" in row.post_key]
    assert third.due_at is not None
    assert third.due_at.astimezone(ZONE).date() == date(2026, 3, 4)


def test_an_occurrence_without_episode_is_reported_once_then_missed(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    app = make_app(tmp_path, clock, series={"boudoir": BOUDOIR})
    calendar = app.series()
    calendar.materialise()
    assert calendar.watch() == []  # 2026-03-04 10:00 is more than 48 h away
    clock.moment = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    [reported] = calendar.watch()
    assert reported.occurrence_date == "2026-03-04"
    assert calendar.watch() == []  # once
    clock.moment = datetime(2026, 3, 4, 9, 1, tzinfo=UTC)
    calendar.watch()
    states = {row.occurrence_date: row.state for row in occurrences(app)}
    assert states["2026-03-04"] == "missed"
    assert states["2026-03-11"] == "open"


def test_an_episode_of_an_unknown_series_is_rejected(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    app = make_app(tmp_path, clock, series={"boudoir": BOUDOIR})
    drop(app.config, "redaction/typo.yaml", EPISODE.replace("boudoir", "boudoire"))
    report = app.intake().scan()
    [(_, message)] = report.rejected
    assert "did you mean 'boudoir'" in message
