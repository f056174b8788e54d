"""Recurring series: occurrences materialised ahead, filled by episodes, watched.

An occurrence is a row unique on (series, date), inserted with ``ON CONFLICT DO NOTHING``,
so a restarted daemon or a second daemon never creates it twice. Its time is the series'
wall-clock time on that date in the configured zone, so "Wednesday 10:00" stays 10:00
across daylight-saving changes. An episode file naming the series takes the earliest
occurrence still open; one still open ``alert_before`` its time is reported, and one that
passes without an episode is recorded as missed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from scheduler.clock import Clock
from scheduler.config import SeriesConfig
from scheduler.db.models import SeriesOccurrence
from scheduler.delivery.transitions import transaction
from scheduler.logs import fields
from scheduler.notifications.events import record
from scheduler.notifications.kinds import Kind
from scheduler.rules.weekly import local_moment, weekly_dates

log = logging.getLogger(__name__)
AHEAD = timedelta(weeks=8)
# The states of an occurrence. A missed one is reported until a person notes it.
OPEN, FILLED, MISSED, NOTED = "open", "filled", "missed", "noted"


def occurrence_times(
    series: SeriesConfig, zone: ZoneInfo, first: date, last: date
) -> list[tuple[date, datetime]]:
    """The series' dates within [first, last] (bounds, skips applied) and their UTC times."""
    first = max(first, series.starts)
    if series.until is not None:
        last = min(last, series.until)
    skipped = set(series.skip)
    return [
        (day, local_moment(day, series.time, zone))
        for day in weekly_dates(series.weekday, first, last)
        if day not in skipped
    ]


class SeriesCalendar:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        clock: Clock,
        series: Mapping[str, SeriesConfig],
        zone: ZoneInfo,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.series = series
        self.zone = zone

    def materialise(self, ahead: timedelta = AHEAD) -> int:
        """Create the occurrences of the coming weeks that do not exist yet."""
        now = self.clock.now()
        today = now.astimezone(self.zone).date()
        created = 0
        with transaction(self.sessions) as session:
            for name, series in self.series.items():
                for day, moment in occurrence_times(
                    series, self.zone, today, (now + ahead).astimezone(self.zone).date()
                ):
                    created += _insert_occurrence(session, name, day, moment)
        return created

    def take_next(self, session: Session, name: str, post_id: str, now: datetime) -> datetime:
        """Give ``post_id`` the earliest open occurrence still to come; its time.

        Raises LookupError when the series has no open occurrence ahead.
        """
        occurrence = session.scalars(
            select(SeriesOccurrence)
            .where(
                SeriesOccurrence.series == name,
                SeriesOccurrence.state == "open",
                SeriesOccurrence.at > now,
            )
            .order_by(SeriesOccurrence.at)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if occurrence is None:
            raise LookupError(
                f"series {name!r} has no occurrence without an episode in the coming "
                f"{AHEAD.days // 7} weeks (until, skips, or every one already has its episode)"
            )
        occurrence.state = "filled"
        occurrence.post_id = post_id
        return occurrence.at

    @staticmethod
    def free(session: Session, post_id: str) -> None:
        """A cancelled episode gives its occurrence back."""
        for occurrence in session.scalars(
            select(SeriesOccurrence).where(SeriesOccurrence.post_id == post_id)
        ):
            occurrence.state = "open"
            occurrence.post_id = None
            occurrence.alerted_at = None

    def watch(self) -> list[SeriesOccurrence]:
        """Report occurrences still without an episode; record passed ones as missed.

        Returns the occurrences reported now (each is reported once).
        """
        now = self.clock.now()
        reported: list[SeriesOccurrence] = []
        with transaction(self.sessions) as session:
            open_ones = session.scalars(
                select(SeriesOccurrence).where(SeriesOccurrence.state == "open")
            ).all()
            for occurrence in open_ones:
                series = self.series.get(occurrence.series)
                when = occurrence.at.astimezone(self.zone).strftime("%a %Y-%m-%d %H:%M")
                ids = fields(series=occurrence.series, occurrence=occurrence.occurrence_date)
                if occurrence.at <= now:
                    occurrence.state = "missed"
                    log.error("series occurrence of %s passed without an episode", when, extra=ids)
                elif (
                    series is not None
                    and occurrence.alerted_at is None
                    and occurrence.at - series.alert_before <= now
                ):
                    occurrence.alerted_at = now
                    record(
                        session,
                        Kind.SERIES_EMPTY,
                        key=f"{occurrence.series}:{occurrence.occurrence_date}",
                        now=now,
                        details={"series": occurrence.series, "at": occurrence.at.isoformat()},
                    )
                    log.warning(
                        "series occurrence of %s has no episode yet; drop one into the inbox "
                        "with `series: %s`",
                        when,
                        occurrence.series,
                        extra=ids,
                    )
                    reported.append(occurrence)
        return reported


def note_missed(session: Session, series: str, occurrence_date: str) -> bool:
    """A person has dealt with a date that passed without an episode: no more alerts.
    False when there is no such missed date."""
    occurrence = session.scalars(
        select(SeriesOccurrence).where(
            SeriesOccurrence.series == series,
            SeriesOccurrence.occurrence_date == occurrence_date,
            SeriesOccurrence.state == MISSED,
        )
    ).one_or_none()
    if occurrence is None:
        return False
    occurrence.state = NOTED
    return True


def _insert_occurrence(session: Session, name: str, day: date, moment: datetime) -> int:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(SeriesOccurrence)
        .values(series=name, occurrence_date=day.isoformat(), at=moment, state="open")
        .on_conflict_do_nothing(index_elements=["series", "occurrence_date"])
        .returning(SeriesOccurrence.id)
    )
    return len(session.execute(statement).all())
