from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from scheduler.intake.times import Role, TimeSpecError, describe_local, parse_time

ZURICH = ZoneInfo("Europe/Zurich")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 10:00 in Zurich


def parse(text: str, *, role: Role = "at", now: datetime = NOW) -> datetime:
    return parse_time(text, zone=ZURICH, now=now, role=role)


def error(text: str, *, role: Role = "at", now: datetime = NOW) -> str:
    with pytest.raises(TimeSpecError) as caught:
        parse(text, role=role, now=now)
    return str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-11 16:00", datetime(2026, 12, 11, 15, 0, tzinfo=UTC)),
        ("2026-12-11 16:00:30", datetime(2026, 12, 11, 15, 0, 30, tzinfo=UTC)),
        ("2026-12-11T16:00", datetime(2026, 12, 11, 15, 0, tzinfo=UTC)),
        ("  2026-12-11   16:00 ", datetime(2026, 12, 11, 15, 0, tzinfo=UTC)),
        ("2026-12-11 16:00+02:00", datetime(2026, 12, 11, 14, 0, tzinfo=UTC)),
        ("2026-12-11 16:00 -05:00", datetime(2026, 12, 11, 21, 0, tzinfo=UTC)),
        ("2026-12-11T16:00Z", datetime(2026, 12, 11, 16, 0, tzinfo=UTC)),
    ],
)
def test_absolute_times_are_local_unless_an_offset_is_given(text: str, expected: datetime) -> None:
    result = parse(text)

    assert result == expected
    assert result.tzinfo is UTC


def test_local_times_follow_summer_time() -> None:
    june = datetime(2026, 6, 1, tzinfo=UTC)

    assert parse("2026-07-01 16:00", now=june) == datetime(2026, 7, 1, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("Now", NOW),
        ("today 16:00", datetime(2026, 12, 1, 15, 0, tzinfo=UTC)),
        ("tomorrow 10:00", datetime(2026, 12, 2, 9, 0, tzinfo=UTC)),
        ("in 10 minutes", datetime(2026, 12, 1, 9, 10, tzinfo=UTC)),
        ("in 1 minute", datetime(2026, 12, 1, 9, 1, tzinfo=UTC)),
        ("in 2 hours", datetime(2026, 12, 1, 11, 0, tzinfo=UTC)),
        ("in 3 days", datetime(2026, 12, 4, 9, 0, tzinfo=UTC)),
    ],
)
def test_relative_forms_resolve_against_now(text: str, expected: datetime) -> None:
    assert parse(text) == expected


def test_in_days_keeps_the_wall_clock_time_across_a_dst_change() -> None:
    saturday_ten = datetime(2026, 3, 28, 9, 0, tzinfo=UTC)  # 10:00 CET

    assert parse("in 2 days", now=saturday_ten) == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)


def test_date_only_window_bounds_cover_whole_local_days() -> None:
    assert parse("2026-12-10", role="from") == datetime(2026, 12, 9, 23, 0, tzinfo=UTC)
    assert parse("2026-12-12", role="until") == datetime(2026, 12, 12, 23, 0, tzinfo=UTC)


def test_a_date_only_at_needs_a_time_of_day() -> None:
    assert error("2026-12-11") == (
        "2026-12-11 has no time of day; write it like 2026-12-11 16:00 "
        "(or use a window to let relais pick the time)"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-02-30 10:00", "2026-02-30 10:00 is not a date: February 2026 has 28 days"),
        ("2026-13-01 10:00", "2026-13-01 10:00 is not a date: there is no month 13"),
        ("2026-12-11 24:00", "2026-12-11 24:00: 24:00 is not a time of day (00:00 to 23:59)"),
    ],
)
def test_impossible_dates_and_times_are_refused(text: str, message: str) -> None:
    assert error(text) == message


def test_a_time_skipped_by_daylight_saving_is_refused() -> None:
    message = error("2026-03-29 02:30", now=datetime(2026, 3, 1, tzinfo=UTC))

    assert message == (
        "2026-03-29 02:30 does not exist in Europe/Zurich: the clocks are put forward that "
        "night (daylight saving time); choose another time, such as 03:30"
    )


def test_a_time_that_happens_twice_asks_for_the_offset() -> None:
    message = error("2026-10-25 02:30", now=datetime(2026, 10, 1, tzinfo=UTC))

    assert message == (
        "2026-10-25 02:30 happens twice in Europe/Zurich: the clocks are put back that night; "
        "write the offset to say which, 2026-10-25 02:30+02:00 (the first) or "
        "2026-10-25 02:30+01:00 (the second)"
    )


def test_an_offset_settles_a_repeated_time() -> None:
    october = datetime(2026, 10, 1, tzinfo=UTC)

    first = parse("2026-10-25 02:30+02:00", now=october)
    second = parse("2026-10-25 02:30+01:00", now=october)

    assert first == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert second == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)


def test_a_little_in_the_past_is_fine_but_more_than_an_hour_is_not() -> None:
    assert parse("today 9:30") == datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    assert error("today 08:30") == (
        "today 08:30 is in the past (it is now Tue 2026-12-01 10:00 in Europe/Zurich); "
        "give a time still to come"
    )


def test_a_window_may_have_opened_already_but_not_closed() -> None:
    assert parse("2026-11-20", role="from") == datetime(2026, 11, 19, 23, 0, tzinfo=UTC)
    assert "is in the past" in error("2026-11-20", role="until")


def test_more_than_400_days_ahead_asks_about_the_year() -> None:
    assert error("2028-01-10 10:00") == (
        "2028-01-10 10:00 is more than 400 days ahead; is the year right?"
    )


@pytest.mark.parametrize("text", ["next friday", "16:00", "11.12.2026 16:00", "in a while", ""])
def test_unparseable_text_shows_the_accepted_forms(text: str) -> None:
    message = error(text)

    assert "is not a time; write it like 2026-12-11 16:00" in message
    assert "tomorrow 10:00" in message and "in 2 hours" in message


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse("now", now=datetime(2026, 12, 1, 9, 0))


def test_describe_local_shows_the_weekday_in_the_zone() -> None:
    assert describe_local(datetime(2026, 12, 11, 15, 0, tzinfo=UTC), ZURICH) == (
        "Fri 2026-12-11 16:00"
    )
