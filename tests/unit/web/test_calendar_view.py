"""The calendar's content on SQLite and PostgreSQL: days, marks, the text excerpt."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from scheduler.app import App
from scheduler.rules.house_rules import AccountRules
from scheduler.web.calendar_view import Filters, build_calendar, month_range
from tests.support import queue_delivery

ZURICH = ZoneInfo("Europe/Zurich")


def test_a_month_lists_deliveries_by_local_day_with_the_full_days(any_app: App) -> None:
    for hour in (9, 10):
        queue_delivery(
            any_app, account="facebook", text="Un <b>conte</b>",
            due_at=datetime(2026, 12, 10, hour, tzinfo=ZURICH),
        )  # fmt: skip
    queue_delivery(any_app, account="twitter", due_at=datetime(2026, 12, 11, 23, 30, tzinfo=ZURICH))
    start, days = month_range(date(2026, 12, 15))
    assert (start, days) == (date(2026, 11, 30), 35)
    calendar = build_calendar(
        any_app.sessions, zone=ZURICH, series={}, start=start, days=days,
        rules={"facebook": AccountRules(daily_cap=2), "twitter": AccountRules(daily_target=1)},
    )  # fmt: skip
    by_day = {day.day: day for day in calendar}
    tenth = by_day[date(2026, 12, 10)]
    assert [entry.account for entry in tenth.entries] == ["facebook", "facebook"]
    assert [mark.account for mark in tenth.at_cap] == ["facebook"]
    assert [mark.account for mark in tenth.under_target] == ["twitter"]
    assert [entry.account for entry in by_day[date(2026, 12, 11)].entries] == ["twitter"]
    only_twitter = build_calendar(
        any_app.sessions, zone=ZURICH, series={}, start=date(2026, 12, 10), days=1,
        rules={"facebook": AccountRules(daily_cap=2)}, filters=Filters(account="twitter"),
    )  # fmt: skip
    assert only_twitter[0].entries == () and only_twitter[0].at_cap  # marks count everything
