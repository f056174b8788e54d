"""Weekdays and local times as config.yaml writes them: ``wednesday``, ``"10:00"``."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from enum import IntEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BeforeValidator


class Weekday(IntEnum):
    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6


def _weekday(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return Weekday[value.strip().upper()]
        except KeyError:
            raise ValueError(f"{value!r} is not a weekday such as wednesday") from None
    return value


def _local_time(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 10:00 as the sexagesimal number 600.
        value = f"{value // 60}:{value % 60:02d}"
    if isinstance(value, str):
        match = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            raise ValueError(f"{value!r} is not a time of day such as 10:00")
        return time(int(match[1]), int(match[2]))
    return value


WeekdayName = Annotated[Weekday, BeforeValidator(_weekday)]
LocalTime = Annotated[time, BeforeValidator(_local_time)]


def weekly_dates(weekday: int, first: date, last: date) -> list[date]:
    """Every ``weekday`` from ``first`` to ``last`` inclusive."""
    start = first + timedelta(days=(weekday - first.weekday()) % 7)
    count = max(0, (last - start).days // 7 + 1)
    return [start + timedelta(weeks=week) for week in range(count)]


def local_moment(day: date, at: time, zone: ZoneInfo) -> datetime:
    """``day`` at wall-clock ``at`` in ``zone``, as UTC. The same wall time every week,
    whatever the offset that day; a time inside a spring DST gap lands just after it."""
    return datetime.combine(day, at, zone).astimezone(UTC)
