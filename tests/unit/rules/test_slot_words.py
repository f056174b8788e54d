"""What the slot finder says about a moment: the local day, and the hours in its reasons."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from scheduler.rules.house_rules import AccountRules
from scheduler.rules.slots import hours_text, local_day

ZURICH = ZoneInfo("Europe/Zurich")


def test_the_local_day_is_the_accounts_not_utcs() -> None:
    late = datetime(2026, 12, 9, 23, 30, tzinfo=UTC)  # 00:30 the next day in Zurich
    assert local_day(late, ZURICH) == date(2026, 12, 10)
    assert local_day(late, ZoneInfo("America/New_York")) == date(2026, 12, 9)


def test_posting_hours_are_written_as_configured() -> None:
    def hours(text: str) -> str:
        return hours_text(AccountRules.model_validate({"hours": text}))

    assert hours("09:00-17:30") == "09:00-17:30"
    assert hours("08:15-24:00") == "08:15-24:00"
    assert hours("07:00-23:30") == "07:00-23:30"
    assert hours("07:00-18:59") == "07:00-18:59"
    assert hours_text(AccountRules()) == "00:00-24:00"
