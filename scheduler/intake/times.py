"""Times as contributors write them in post files, turned into aware UTC datetimes.

Accepted forms (case and extra spaces do not matter):

- local wall-clock time in the configured zone: ``2026-12-11 16:00``,
  ``2026-12-11 16:00:30``, ``2026-12-11T16:00``;
- the same with an explicit offset, which wins over the zone: ``2026-12-11 16:00+01:00``,
  ``2026-12-11T15:00Z``;
- relative to the injected ``now``: ``now``, ``today 16:00``, ``tomorrow 10:00``,
  ``in 10 minutes``, ``in 2 hours``, ``in 3 days``;
- for window bounds only, a bare date: ``from: 2026-12-10`` is the start of that local day,
  ``until: 2026-12-12`` its end (the start of the next local day: windows are half-open).

A local time the zone skips (spring forward) or repeats (fall back) is refused rather
than guessed: a post going out an hour early or late is the kind of mistake nobody notices
until it is too late.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo

Role = Literal["at", "from", "until"]

MAX_PAST = timedelta(hours=1)
MAX_AHEAD = timedelta(days=400)

FORMS = (
    "2026-12-11 16:00, 2026-12-11 16:00+01:00, now, today 16:00, tomorrow 10:00, "
    "in 10 minutes, in 2 hours or in 3 days"
)

_ABSOLUTE = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})"
    r"(?:[ t]+(?P<clock>\d{1,2}:\d{2}(?::\d{2})?))?"
    r"\s*(?P<offset>z|[+-]\d{2}(?::?\d{2})?)?"
)
_DAY_AND_CLOCK = re.compile(r"(?P<day>today|tomorrow)\s+(?P<clock>\d{1,2}:\d{2}(?::\d{2})?)")
_IN = re.compile(r"in\s+(?P<count>\d+)\s+(?P<unit>minute|hour|day)s?")
_CLOCK = re.compile(r"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?")
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class TimeSpecError(ValueError):
    """The text is not a usable time; the message is a sentence for the contributor."""


def parse_time(
    text: str, *, zone: ZoneInfo, now: datetime, role: Role = "at", past_ok: bool = False
) -> datetime:
    """Resolve ``text`` to an aware UTC datetime, or raise :class:`TimeSpecError`.

    ``role`` says where the time stands: an ``at`` needs a time of day; window bounds
    (``from``/``until``) may be bare dates. ``at`` and ``until`` may not lie more than
    :data:`MAX_PAST` in the past; a window that opened earlier is fine as long as it has
    not closed (``past_ok`` lifts that, for a post being withdrawn). Nothing may lie more
    than :data:`MAX_AHEAD` ahead.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    spoken = " ".join(text.split())
    try:
        moment = _resolve(spoken.lower(), spoken, zone=zone, now=now, role=role)
    except TimeSpecError:
        raise
    except (OverflowError, ValueError):
        # Years 0 or 9999+, "in 99999999999 days": outside what a calendar can hold.
        raise TimeSpecError(f"{spoken} is out of range; is the year right?") from None
    if role != "from" and not past_ok and moment < now - MAX_PAST:
        raise TimeSpecError(
            f"{spoken} is in the past (it is now {describe_local(now, zone)} in {zone.key}); "
            "give a time still to come"
        )
    if moment > now + MAX_AHEAD:
        raise TimeSpecError(
            f"{spoken} is more than {MAX_AHEAD.days} days ahead; is the year right?"
        )
    return moment.astimezone(UTC)


def describe_local(moment: datetime, zone: ZoneInfo) -> str:
    """``Fri 2026-12-11 16:00`` in ``zone``: how times are shown back to people."""
    local = moment.astimezone(zone)
    seconds = ":%S" if local.second else ""
    return f"{_WEEKDAYS[local.weekday()]} {local.strftime('%Y-%m-%d %H:%M' + seconds)}"


def _resolve(text: str, spoken: str, *, zone: ZoneInfo, now: datetime, role: Role) -> datetime:
    if text == "now":
        return now
    if match := _IN.fullmatch(text):
        count, unit = int(match["count"]), match["unit"]
        if unit == "day":
            # Days are calendar days: "in 3 days" keeps the wall-clock time across DST.
            local = now.astimezone(zone).replace(tzinfo=None) + timedelta(days=count)
            return _from_local(local, zone, spoken, lenient=True)
        return now + timedelta(**{unit + "s": count})
    if match := _DAY_AND_CLOCK.fullmatch(text):
        day = now.astimezone(zone).date()
        if match["day"] == "tomorrow":
            day += timedelta(days=1)
        clock = _clock(match["clock"], spoken)
        return _from_local(datetime.combine(day, clock), zone, spoken)
    if match := _ABSOLUTE.fullmatch(text):
        day = _date(int(match["year"]), int(match["month"]), int(match["day"]), spoken)
        if match["clock"] is None:
            if match["offset"] is not None:
                raise TimeSpecError(f"{spoken} has an offset but no time of day; add the time")
            return _date_bound(day, zone, spoken, role)
        local = datetime.combine(day, _clock(match["clock"], spoken))
        if match["offset"] is not None:
            return local.replace(tzinfo=_offset(match["offset"], spoken))
        return _from_local(local, zone, spoken)
    raise TimeSpecError(f"{spoken!r} is not a time; write it like {FORMS}")


def _date_bound(day: date, zone: ZoneInfo, spoken: str, role: Role) -> datetime:
    if role == "at":
        raise TimeSpecError(
            f"{spoken} has no time of day; write it like {spoken} 16:00 "
            "(or use a window to let relais pick the time)"
        )
    if role == "until":
        day += timedelta(days=1)
    # Lenient: in a zone that skips midnight, the day starts at the first minute it has.
    return _from_local(datetime.combine(day, time()), zone, spoken, lenient=True)


def _from_local(local: datetime, zone: ZoneInfo, spoken: str, *, lenient: bool = False) -> datetime:
    """Attach ``zone`` to a wall-clock time, refusing times the zone skips or repeats."""
    first, second = local.replace(tzinfo=zone, fold=0), local.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first
    round_trip = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    exists = round_trip == local
    if lenient:
        # fold=0 of a skipped time means the old offset, which lands just after the gap.
        return first if exists else first.astimezone(UTC).astimezone(zone)
    wall = local.strftime("%Y-%m-%d %H:%M")
    if not exists:
        raise TimeSpecError(
            f"{wall} does not exist in {zone.key}: the clocks are put forward that night "
            f"(daylight saving time); choose another time, such as {round_trip:%H:%M}"
        )
    earlier, later = _offset_text(first), _offset_text(second)
    raise TimeSpecError(
        f"{wall} happens twice in {zone.key}: the clocks are put back that night; write "
        f"the offset to say which, {wall}{earlier} (the first) or {wall}{later} (the second)"
    )


def _offset_text(moment: datetime) -> str:
    offset = moment.utcoffset() or timedelta()
    sign = "-" if offset < timedelta() else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _date(year: int, month: int, day: int, spoken: str) -> date:
    if not 1 <= month <= 12:
        raise TimeSpecError(f"{spoken} is not a date: there is no month {month}")
    days_in_month = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days_in_month:
        raise TimeSpecError(
            f"{spoken} is not a date: {calendar.month_name[month]} {year} has {days_in_month} days"
        )
    return date(year, month, day)


def _clock(text: str, spoken: str) -> time:
    match = _CLOCK.fullmatch(text)
    assert match is not None  # the callers' patterns only let valid shapes through
    hour, minute = int(match["hour"]), int(match["minute"])
    second = int(match["second"] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise TimeSpecError(f"{spoken}: {text} is not a time of day (00:00 to 23:59)")
    return time(hour, minute, second)


def _offset(text: str, spoken: str) -> tzinfo:
    if text == "z":
        return UTC
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise TimeSpecError(f"{spoken}: {text} is not a UTC offset such as +01:00")
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if text[0] == "-" else delta)
