"""`relais plan`: the deliveries of each local day, with the days under target or empty."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from scheduler.app import App
from scheduler.db.models import Delivery, Post
from scheduler.delivery.transitions import transaction
from scheduler.reports.plan import PlanDay, build_plan, render_plan
from scheduler.rules.house_rules import AccountRules
from tests.support import FakeClock, make_app, queue_delivery

ZONE = ZoneInfo("Europe/Zurich")
ACCOUNTS = ("blog", "facebook", "twitter")


@pytest.fixture
def app(tmp_path: Path) -> App:
    return make_app(tmp_path, FakeClock())


def queue(
    app: App,
    *,
    due_at: datetime,
    key: str,
    account: str = "facebook",
    state: str = "scheduled",
    library: str = "eaux-vives",
    title: str | None = "Titre",
) -> str:
    """A delivery in any state, for a post of any library (queue_delivery gives the rest)."""
    delivery_id = queue_delivery(app, account=account, due_at=due_at, key=key)
    with transaction(app.sessions) as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        # Set directly, not through change_state: the plan reads states, whatever the path.
        delivery.state = state
        post = session.get(Post, delivery.post_id)
        assert post is not None
        post.library = library
        post.title = title
    return delivery_id


def plan(
    app: App, start: date, days: int, rules: dict[str, AccountRules] | None = None
) -> list[PlanDay]:
    return build_plan(
        app.sessions, zone=ZONE, rules=rules or {}, accounts=ACCOUNTS, start=start, days=days
    )


def keys(day: PlanDay) -> list[str]:
    return [entry.post_key for account in day.accounts for entry in account.entries]


def test_a_post_belongs_to_its_local_day_not_the_utc_one(app: App) -> None:
    # 00:30 in Zurich on the 10th is still the 9th in UTC.
    queue(app, due_at=datetime(2026, 12, 9, 23, 30, tzinfo=UTC), key="early/10th")
    # 23:30 in Zurich on the 9th.
    queue(app, due_at=datetime(2026, 12, 9, 22, 30, tzinfo=UTC), key="late/9th")

    ninth, tenth = plan(app, date(2026, 12, 9), 2)

    assert (ninth.day, keys(ninth)) == (date(2026, 12, 9), ["late/9th"])
    assert (tenth.day, keys(tenth)) == (date(2026, 12, 10), ["early/10th"])


def test_the_25_hour_day_of_the_dst_change_has_all_its_entries(app: App) -> None:
    # 2026-10-25 in Zurich runs from 22:00 UTC on the 24th to 23:00 UTC on the 25th.
    queue(app, due_at=datetime(2026, 10, 24, 21, 30, tzinfo=UTC), key="a/23h30-on-24th")
    queue(app, due_at=datetime(2026, 10, 24, 22, 0, tzinfo=UTC), key="b/midnight")
    queue(app, due_at=datetime(2026, 10, 25, 0, 30, tzinfo=UTC), key="c/02h30-summer")
    queue(app, due_at=datetime(2026, 10, 25, 1, 30, tzinfo=UTC), key="d/02h30-winter")
    queue(app, due_at=datetime(2026, 10, 25, 22, 59, tzinfo=UTC), key="e/23h59")
    queue(app, due_at=datetime(2026, 10, 25, 23, 0, tzinfo=UTC), key="f/midnight-26th")

    before, change, after = plan(app, date(2026, 10, 24), 3)

    assert keys(before) == ["a/23h30-on-24th"]
    assert keys(change) == ["b/midnight", "c/02h30-summer", "d/02h30-winter", "e/23h59"]
    assert keys(after) == ["f/midnight-26th"]


def test_days_without_any_entry_are_flagged_empty(app: App) -> None:
    queue(app, due_at=datetime(2026, 12, 10, 9, 0, tzinfo=UTC), key="only/post")

    days = plan(app, date(2026, 12, 9), 3)

    assert [day.day for day in days] == [date(2026, 12, 9), date(2026, 12, 10), date(2026, 12, 11)]
    assert [day.empty for day in days] == [True, False, True]
    assert days[0].accounts == ()


def test_an_account_with_a_target_and_nothing_planned_is_under_target(app: App) -> None:
    rules = {"twitter": AccountRules(daily_target=2), "facebook": AccountRules(daily_cap=3)}

    (day,) = plan(app, date(2026, 12, 9), 1, rules)

    # facebook has no target: with no entries it is not worth a line.
    assert [account.account for account in day.accounts] == ["twitter"]
    (twitter,) = day.accounts
    assert (twitter.entries, twitter.target, twitter.under_target) == ((), 2, True)
    assert day.empty


def test_the_target_counts_only_what_will_or_did_go_out(app: App) -> None:
    at = datetime(2026, 12, 9, 9, 0, tzinfo=UTC)
    queue(app, due_at=at, key="a/published", account="twitter", state="published")
    queue(app, due_at=at, key="b/pending", account="twitter", state="pending_approval")
    queue(app, due_at=at, key="c/held", account="twitter", state="held")
    queue(app, due_at=at, key="d/approved", account="twitter", state="approved")
    queue(app, due_at=at, key="e/retry", account="twitter", state="retry_wait")

    (day,) = plan(app, date(2026, 12, 9), 1, {"twitter": AccountRules(daily_target=3)})

    (twitter,) = day.accounts
    assert [entry.state for entry in twitter.entries] == [
        "published",
        "pending_approval",
        "held",
        "approved",
        "retry_wait",
    ]
    assert twitter.under_target  # 2 counted of 3 wanted


def test_a_day_over_the_cap_is_flagged(app: App) -> None:
    for hour in (8, 9, 10):
        queue(app, due_at=datetime(2026, 12, 9, hour, 0, tzinfo=UTC), key=f"post/{hour}")

    (day,) = plan(app, date(2026, 12, 9), 1, {"facebook": AccountRules(daily_cap=2)})

    (facebook,) = day.accounts
    assert (facebook.over_cap, facebook.under_target) == (True, False)
    assert "  ! facebook: 3 posts, above daily_cap 2" in render_plan([day], zone=ZONE)


@pytest.mark.parametrize("state", ["cancelled", "rejected", "failed", "missed"])
def test_what_will_never_go_out_is_not_in_the_plan(app: App, state: str) -> None:
    queue(app, due_at=datetime(2026, 12, 9, 9, 0, tzinfo=UTC), key="gone/post", state=state)
    queue(app, due_at=datetime(2026, 12, 9, 10, 0, tzinfo=UTC), key="kept/post")

    (day,) = plan(app, date(2026, 12, 9), 1)

    assert keys(day) == ["kept/post"]


def test_entries_are_ordered_by_account_then_time_then_post_key(app: App) -> None:
    queue(app, due_at=datetime(2026, 12, 9, 15, 0, tzinfo=UTC), key="a/late", account="twitter")
    queue(app, due_at=datetime(2026, 12, 9, 9, 0, tzinfo=UTC), key="z/early", account="twitter")
    queue(app, due_at=datetime(2026, 12, 9, 9, 0, tzinfo=UTC), key="b/early", account="twitter")
    queue(app, due_at=datetime(2026, 12, 9, 16, 0, tzinfo=UTC), key="c/fb", account="facebook")

    (day,) = plan(app, date(2026, 12, 9), 1)

    assert [account.account for account in day.accounts] == ["facebook", "twitter"]
    assert keys(day) == ["c/fb", "b/early", "z/early", "a/late"]


def test_the_whole_plan_is_read_with_one_query(app: App) -> None:
    for day in range(9, 16):
        for account in ACCOUNTS:
            queue(
                app,
                due_at=datetime(2026, 12, day, 9, 0, tzinfo=UTC),
                key=f"{account}/{day}",
                account=account,
            )
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(app.engine, "before_cursor_execute", count)
    try:
        days = plan(app, date(2026, 12, 9), 7, {"twitter": AccountRules(daily_target=1)})
    finally:
        event.remove(app.engine, "before_cursor_execute", count)

    assert sum(len(keys(day)) for day in days) == 21
    # BEGIN IMMEDIATE (how the queue opens SQLite transactions) is no query of the plan.
    queries = [sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]
    assert len(queries) == 2  # the deliveries, and the series dates with no episode


def test_a_plan_covers_at_least_one_day(app: App) -> None:
    with pytest.raises(ValueError, match="at least one day"):
        plan(app, date(2026, 12, 9), 0)


def test_rendering_a_small_plan(app: App) -> None:
    queue(
        app,
        due_at=datetime(2026, 12, 9, 9, 0, tzinfo=UTC),
        key="eaux-vives/escalade",
        title="Goûter de l'Escalade",
    )
    queue(
        app,
        due_at=datetime(2026, 12, 9, 13, 30, tzinfo=UTC),
        key="redaction/horaires",
        account="twitter",
        library="redaction",
        title="Horaires des fêtes",
        state="pending_approval",
    )
    queue(
        app,
        due_at=datetime(2026, 12, 11, 7, 15, tzinfo=UTC),
        key="eaux-vives/conte",
        account="twitter",
        title=None,
        state="held",
    )
    rules = {"twitter": AccountRules(daily_target=1, daily_cap=2)}

    text = render_plan(plan(app, date(2026, 12, 9), 3, rules), zone=ZONE)

    assert text == (
        "Wed 2026-12-09\n"
        "  10:00  facebook   eaux-vives   eaux-vives/escalade   Goûter de l'Escalade\n"
        "  14:30  twitter    redaction    redaction/horaires    Horaires des fêtes"
        "  [pending approval]\n"
        "  ! twitter: 0 of 1 post (daily_target)\n"
        "Thu 2026-12-10 — nothing planned\n"
        "  ! twitter: 0 of 1 post (daily_target)\n"
        "Fri 2026-12-11\n"
        "  08:15  twitter    eaux-vives   eaux-vives/conte      (no title)  [held]\n"
        "  ! twitter: 0 of 1 post (daily_target)\n"
        "  ! 1 held post waits for the editor (relais why ID names what holds the day "
        "and the choices)\n"
    )


def test_rendering_shows_library_names_when_given(app: App) -> None:
    queue(app, due_at=datetime(2026, 12, 9, 9, 0, tzinfo=UTC), key="ev/a", title="A")

    text = render_plan(
        plan(app, date(2026, 12, 9), 1), zone=ZONE, libraries={"eaux-vives": "Eaux-Vives"}
    )

    assert text == "Wed 2026-12-09\n  10:00  facebook   Eaux-Vives   ev/a   A\n"
