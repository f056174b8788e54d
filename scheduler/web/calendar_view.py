"""The shared calendar's content: every delivery of every account on each local day,
with the marks ``relais plan`` gives (days at their cap, days under target, posts waiting
for the editor) and the series dates, filled or empty.

The marks are computed over the whole queue, the filters only choose what is listed: a
day is full for an account whatever the person chose to look at.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from scheduler.config import SeriesConfig
from scheduler.db.models import Delivery, Post, SeriesOccurrence
from scheduler.delivery.states import State
from scheduler.delivery.transitions import transaction
from scheduler.reports.plan import COUNTED
from scheduler.rules.house_rules import AccountRules
from scheduler.rules.series import occurrence_times

# Withdrawn before they were ever in the plan: listed only when asked for by state.
LEFT_OUT = frozenset({State.CANCELLED, State.REJECTED})
TEXT_EXCERPT = 140


@dataclass(frozen=True, kw_only=True)
class Filters:
    library: str | None = None
    account: str | None = None
    state: str | None = None

    def keeps(self, entry: CalendarEntry) -> bool:
        if self.state is None and entry.state in LEFT_OUT:
            return False
        return (
            (self.library is None or entry.library == self.library)
            and (self.account is None or entry.account == self.account)
            and (self.state is None or entry.state == self.state)
        )


@dataclass(frozen=True, kw_only=True)
class CalendarEntry:
    delivery_id: str
    post_key: str
    library: str
    account: str
    author: str
    title: str | None
    excerpt: str
    state: str
    due_at: datetime  # aware UTC
    url: str | None


@dataclass(frozen=True, kw_only=True)
class DayMark:
    """An account's count against its rules on a day."""

    account: str
    counted: int
    limit: int


@dataclass(frozen=True, kw_only=True)
class SeriesDate:
    series: str
    title: str
    at: datetime
    filled: bool


@dataclass(frozen=True, kw_only=True)
class CalendarDay:
    day: date
    entries: tuple[CalendarEntry, ...]
    at_cap: tuple[DayMark, ...]
    under_target: tuple[DayMark, ...]
    series: tuple[SeriesDate, ...]
    waiting: int  # deliveries waiting for the editor that day (all libraries)


def month_range(month: date) -> tuple[date, int]:
    """The Monday before the first of the month, and the number of days of whole weeks
    that cover the month."""
    first = month.replace(day=1)
    start = first - timedelta(days=first.weekday())
    following = (first + timedelta(days=32)).replace(day=1)
    end = following + timedelta(days=(7 - following.weekday()) % 7)
    return start, (end - start).days


def week_range(day: date) -> tuple[date, int]:
    return day - timedelta(days=day.weekday()), 7


def build_calendar(
    sessions: sessionmaker[Session],
    *,
    zone: ZoneInfo,
    rules: Mapping[str, AccountRules],
    series: Mapping[str, SeriesConfig],
    start: date,
    days: int,
    filters: Filters = Filters(),
    today: date | None = None,
) -> list[CalendarDay]:
    first = datetime.combine(start, time(0), zone)
    last = datetime.combine(start + timedelta(days=days), time(0), zone)
    query = (
        select(
            Delivery.id,
            Delivery.account,
            Delivery.state,
            Delivery.due_at,
            Delivery.url,
            # Only the text, extracted by the database: decoding 2,000 payloads is not free.
            Delivery.payload["text"].as_string().label("text"),
            Post.key,
            Post.library,
            Post.author,
            Post.title,
        )
        .join(Post, Delivery.post_id == Post.id)
        .where(Delivery.due_at >= first, Delivery.due_at < last)
        .order_by(Delivery.due_at, Delivery.account, Post.key)
    )
    by_day: dict[date, list[CalendarEntry]] = defaultdict(list)
    with transaction(sessions) as session:
        for row in session.execute(query):
            entry = CalendarEntry(
                delivery_id=row.id,
                post_key=row.key,
                library=row.library,
                account=row.account,
                author=row.author,
                title=row.title,
                excerpt=_excerpt(row.text or "") if row.title is None else "",
                state=row.state,
                due_at=row.due_at,
                url=row.url,
            )
            by_day[entry.due_at.astimezone(zone).date()].append(entry)
        filled = _filled_occurrences(session, start, start + timedelta(days=days))
    dates = _series_dates(series, zone, start, start + timedelta(days=days - 1), filled)
    calendar: list[CalendarDay] = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        entries = by_day.get(day, [])
        counts: dict[str, int] = defaultdict(int)
        for entry in entries:
            if entry.state in COUNTED:
                counts[entry.account] += 1
        calendar.append(
            CalendarDay(
                day=day,
                entries=tuple(entry for entry in entries if filters.keeps(entry)),
                at_cap=_at_cap(rules, counts),
                under_target=_under_target(rules, counts) if today is None or day >= today else (),
                series=tuple(dates.get(day, ())),
                waiting=sum(1 for e in entries if e.state == State.PENDING_APPROVAL),
            )
        )
    return calendar


def _at_cap(rules: Mapping[str, AccountRules], counts: Mapping[str, int]) -> tuple[DayMark, ...]:
    return tuple(
        DayMark(account=account, counted=counts[account], limit=rule.daily_cap)
        for account, rule in sorted(rules.items())
        if rule.daily_cap is not None and counts.get(account, 0) >= rule.daily_cap
    )


def _under_target(
    rules: Mapping[str, AccountRules], counts: Mapping[str, int]
) -> tuple[DayMark, ...]:
    return tuple(
        DayMark(account=account, counted=counts.get(account, 0), limit=rule.daily_target)
        for account, rule in sorted(rules.items())
        if rule.daily_target is not None and counts.get(account, 0) < rule.daily_target
    )


def _filled_occurrences(session: Session, first: date, last: date) -> set[tuple[str, str]]:
    rows = session.execute(
        select(SeriesOccurrence.series, SeriesOccurrence.occurrence_date).where(
            SeriesOccurrence.occurrence_date >= first.isoformat(),
            SeriesOccurrence.occurrence_date <= last.isoformat(),
            SeriesOccurrence.post_id.is_not(None),
        )
    )
    return {(row.series, row.occurrence_date) for row in rows}


def _series_dates(
    series: Mapping[str, SeriesConfig],
    zone: ZoneInfo,
    first: date,
    last: date,
    filled: set[tuple[str, str]],
) -> dict[date, list[SeriesDate]]:
    dates: dict[date, list[SeriesDate]] = defaultdict(list)
    for name, config in sorted(series.items()):
        for day, moment in occurrence_times(config, zone, first, last):
            dates[day].append(
                SeriesDate(
                    series=name,
                    title=config.title or name,
                    at=moment,
                    filled=(name, day.isoformat()) in filled,
                )
            )
    return dates


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= TEXT_EXCERPT else flat[: TEXT_EXCERPT - 1] + "…"
