"""Where a post may go on an account: the pure part of the house rules.

Given the moments already taken on an account, :func:`next_free_slot` finds the earliest
moment from ``earliest`` that keeps every rule: inside posting hours, under the daily cap
on that local day, and at least ``min_gap`` away from every other post. It is
deterministic (the same input gives the same slot) and explains every move it made.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from scheduler.durations import format_duration
from scheduler.rules.house_rules import AccountRules

HORIZON = timedelta(days=400)


@dataclass(frozen=True, kw_only=True)
class Slot:
    """``at`` is None when no slot exists before ``latest``; ``why`` says what happened."""

    at: datetime | None
    why: tuple[str, ...]


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def broken_rule(
    rules: AccountRules, zone: ZoneInfo, taken: Sequence[datetime], moment: datetime
) -> str | None:
    """The first rule ``moment`` breaks, in words, or None when it fits.

    ``taken`` must be sorted (lookups are binary searches: placing thousands of posts
    stays fast)."""
    local = moment.astimezone(zone)
    if not rules.hours.contains(local.time()):
        return f"{local:%H:%M} is outside posting hours {_hours(rules)}"
    if rules.daily_cap is not None:
        same_day = _count_on_day(taken, local.date(), zone)
        if same_day >= rules.daily_cap:
            return f"{local:%a %Y-%m-%d} already has {same_day} posts (daily_cap {rules.daily_cap})"
    close = _closer_than(taken, moment, rules.min_gap)
    if close:
        return (
            f"another post at {close[0].astimezone(zone):%a %H:%M} is closer than "
            f"min_gap {format_duration(rules.min_gap)}"
        )
    return None


def _count_on_day(taken: Sequence[datetime], day: date, zone: ZoneInfo) -> int:
    start = datetime.combine(day, time(0), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    return bisect_left(taken, end) - bisect_left(taken, start)


def _closer_than(taken: Sequence[datetime], moment: datetime, gap: timedelta) -> list[datetime]:
    """The taken moments strictly less than ``gap`` away from ``moment``."""
    if not gap:
        return []
    low = bisect_right(taken, moment - gap)
    high = bisect_left(taken, moment + gap)
    return list(taken[low:high])


def next_free_slot(
    rules: AccountRules,
    zone: ZoneInfo,
    taken: Sequence[datetime],
    *,
    earliest: datetime,
    latest: datetime | None = None,
) -> Slot:
    """The earliest moment >= ``earliest`` (and < ``latest``) that keeps every rule."""
    ordered = taken if _is_sorted(taken) else sorted(taken)
    candidate = earliest.astimezone(UTC)
    limit = latest if latest is not None else earliest + HORIZON
    why: list[str] = []
    while candidate < limit:
        local = candidate.astimezone(zone)
        if local.time() < rules.hours.start:
            why.append(f"{local:%H:%M} is before posting hours {_hours(rules)}")
            candidate = _at(local.date(), rules, zone)
            continue
        if not rules.hours.contains(local.time()):
            why.append(f"{local:%a %H:%M} is after posting hours {_hours(rules)}")
            candidate = _at(local.date() + timedelta(days=1), rules, zone)
            continue
        if rules.daily_cap is not None:
            same_day = _count_on_day(ordered, local.date(), zone)
            if same_day >= rules.daily_cap:
                why.append(f"{local:%a %Y-%m-%d} is full ({same_day} of daily_cap)")
                candidate = _at(local.date() + timedelta(days=1), rules, zone)
                continue
        close = _closer_than(ordered, candidate, rules.min_gap)
        if close:
            why.append(
                f"too close to the post at {max(close).astimezone(zone):%a %H:%M} "
                f"(min_gap {format_duration(rules.min_gap)})"
            )
            candidate = max(close) + rules.min_gap
            continue
        return Slot(at=candidate, why=tuple(why))
    return Slot(at=None, why=(*why, "no free slot before the end of its window"))


def _is_sorted(moments: Sequence[datetime]) -> bool:
    return all(a <= b for a, b in itertools.pairwise(moments))


def _at(day: date, rules: AccountRules, zone: ZoneInfo) -> datetime:
    """The start of posting hours on ``day``, in UTC (a DST gap moves it forward)."""
    moment = datetime.combine(day, rules.hours.start, zone)
    return moment.astimezone(UTC)


def _hours(rules: AccountRules) -> str:
    end = "24:00" if rules.hours.end.hour == 23 and rules.hours.end.minute == 59 else None
    return f"{rules.hours.start:%H:%M}-{end or format(rules.hours.end, '%H:%M')}"
