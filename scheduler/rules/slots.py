"""Where a post may go on an account: the pure part of the house rules.

Given what is already taken on an account (:class:`~scheduler.rules.occupancy.Taken`),
:func:`broken_rule` says which rule a moment breaks, :func:`time_on_same_day` finds the
nearest moment of the same local day that keeps every rule, and :func:`next_free_slot`
the earliest moment from ``earliest`` that does. They are deterministic (the same input
gives the same answer) and name the posts that stand in the way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from scheduler.durations import format_duration
from scheduler.rules.house_rules import AccountRules
from scheduler.rules.occupancy import Taken, cap_day

HORIZON = timedelta(days=400)
# Candidate times for a move inside a day: every quarter hour, plus the exact edges of
# the gaps around the posts already there (the nearest legal moment is often one).
GRID = timedelta(minutes=15)


@dataclass(frozen=True, kw_only=True)
class Conflict:
    """A rule a moment breaks, in words, and the posts (keys) that make it break."""

    rule: str
    text: str
    holders: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Slot:
    """``at`` is None when no slot exists before ``latest``; ``why`` says what happened."""

    at: datetime | None
    why: tuple[str, ...]
    holders: tuple[str, ...] = ()


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    return cap_day(moment, zone)


def broken_rule(
    rules: AccountRules, zone: ZoneInfo, taken: Taken, moment: datetime
) -> Conflict | None:
    """The first rule ``moment`` breaks, or None when it fits."""
    local = moment.astimezone(zone)
    if not rules.hours.contains(local.time()):
        return Conflict(
            rule="hours", text=f"{local:%H:%M} is outside posting hours {hours_text(rules)}"
        )
    if rules.daily_cap is not None:
        same_day = taken.count_on(local.date(), zone)
        if same_day >= rules.daily_cap:
            holders = tuple(holder for _, holder in taken.on(local.date(), zone))
            return Conflict(
                rule="daily_cap",
                text=f"{local:%a %Y-%m-%d} is full ({same_day} of daily_cap {rules.daily_cap})",
                holders=holders,
            )
    close = taken.closer_than(moment, rules.min_gap)
    if close:
        at, holder = close[0]
        return Conflict(
            rule="min_gap",
            text=f"{holder} at {at.astimezone(zone):%a %H:%M} is closer than "
            f"min_gap {format_duration(rules.min_gap)}",
            holders=tuple(h for _, h in close),
        )
    return None


def time_on_same_day(
    rules: AccountRules, zone: ZoneInfo, taken: Taken, wanted: datetime, *, not_before: datetime
) -> datetime | None:
    """The moment of ``wanted``'s local day nearest to it that keeps every rule (a later
    one wins a tie), not before ``not_before``; None when the day has no such moment."""
    day = cap_day(wanted, zone)
    if rules.daily_cap is not None and taken.count_on(day, zone) >= rules.daily_cap:
        return None
    candidates = set(_grid(day, rules, zone))
    for moment, _holder in taken.on(day, zone):
        candidates.update((moment - rules.min_gap, moment + rules.min_gap))
    fitting = [
        moment
        for moment in candidates
        if moment >= not_before
        and cap_day(moment, zone) == day
        and broken_rule(rules, zone, taken, moment) is None
    ]
    if not fitting:
        return None
    return min(fitting, key=lambda moment: (abs(moment - wanted), moment < wanted))


def _grid(day: date, rules: AccountRules, zone: ZoneInfo) -> list[datetime]:
    """Every quarter hour of posting hours on ``day`` that exists on the clock (UTC)."""
    moments: list[datetime] = []
    local = datetime.combine(day, rules.hours.start)
    while local.date() == day:
        if rules.hours.contains(local.time()):
            moment = local.replace(tzinfo=zone).astimezone(UTC)
            # A wall time skipped by a DST change does not come back as itself.
            if moment.astimezone(zone).replace(tzinfo=None) == local:
                moments.append(moment)
        local += GRID
    return moments


def next_free_slot(
    rules: AccountRules,
    zone: ZoneInfo,
    taken: Taken,
    *,
    earliest: datetime,
    latest: datetime | None = None,
) -> Slot:
    """The earliest moment >= ``earliest`` (and < ``latest``) that keeps every rule."""
    candidate = earliest.astimezone(UTC)
    limit = latest if latest is not None else earliest + HORIZON
    why: list[str] = []
    holders: list[str] = []
    while candidate < limit:
        local = candidate.astimezone(zone)
        if local.time() < rules.hours.start:
            why.append(f"{local:%H:%M} is before posting hours {hours_text(rules)}")
            candidate = _start_of_hours(local.date(), rules, zone)
            continue
        if not rules.hours.contains(local.time()):
            why.append(f"{local:%a %H:%M} is after posting hours {hours_text(rules)}")
            candidate = _start_of_hours(local.date() + timedelta(days=1), rules, zone)
            continue
        if rules.daily_cap is not None:
            same_day = taken.count_on(local.date(), zone)
            if same_day >= rules.daily_cap:
                full = [holder for _, holder in taken.on(local.date(), zone)]
                holders.extend(full)
                why.append(
                    f"{local:%a %Y-%m-%d} is full ({same_day} of daily_cap"
                    f"{': ' + ', '.join(full) if full else ''})"
                )
                candidate = _start_of_hours(local.date() + timedelta(days=1), rules, zone)
                continue
        close = taken.closer_than(candidate, rules.min_gap)
        if close:
            at, holder = close[-1]
            holders.append(holder)
            why.append(
                f"too close to {holder} at {at.astimezone(zone):%a %H:%M} "
                f"(min_gap {format_duration(rules.min_gap)})"
            )
            candidate = at + rules.min_gap
            continue
        return Slot(at=candidate, why=tuple(why), holders=tuple(dict.fromkeys(holders)))
    return Slot(
        at=None,
        why=(*why, "no free slot before the end of its window"),
        holders=tuple(dict.fromkeys(holders)),
    )


def _start_of_hours(day: date, rules: AccountRules, zone: ZoneInfo) -> datetime:
    """The start of posting hours on ``day``, in UTC (a DST gap moves it forward)."""
    moment = datetime.combine(day, rules.hours.start, zone)
    return moment.astimezone(UTC)


def hours_text(rules: AccountRules) -> str:
    end = rules.hours.end
    shown = "24:00" if end == time.max else format(end, "%H:%M")
    return f"{rules.hours.start:%H:%M}-{shown}"
