"""The plan as a function of the set: fixed times first and on their day, moves explained."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from scheduler.rules.house_rules import AccountRules
from scheduler.rules.occupancy import Taken
from scheduler.rules.planner import Placed, Priority, Request, Rule, make_plan

ZONE = ZoneInfo("Europe/Zurich")
NOW = datetime(2027, 3, 12, 19, 0, tzinfo=UTC)  # a Friday evening
FACEBOOK = AccountRules.model_validate({"daily_cap": 3, "min_gap": "2h", "hours": "08:00-20:00"})


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZONE).astimezone(UTC)


def fixed(key: str, at: str, **extra: object) -> Request:
    return Request(
        delivery_id=f"d-{key}", account="facebook", post_key=key, kind="at", wanted=local(at),
        **extra,  # type: ignore[arg-type]
    )  # fmt: skip


def flexible(key: str, **extra: object) -> Request:
    return Request(
        delivery_id=f"d-{key}", account="facebook", post_key=key, kind="next_free", wanted=NOW,
        **extra,  # type: ignore[arg-type]
    )  # fmt: skip


def plan(requests: list[Request], taken: dict[str, Taken] | None = None) -> dict[str, Placed]:
    return make_plan(requests, taken=taken or {}, rules={"facebook": FACEBOOK}, zone=ZONE, now=NOW)


def at(placed: Placed) -> str:
    assert placed.at is not None, placed.reason
    return f"{placed.at.astimezone(ZONE):%a %H:%M}"


def test_posts_without_a_time_never_take_the_time_a_workshop_asked_for() -> None:
    requests = [flexible("a-news"), flexible("b-news"), fixed("atelier", "2027-03-13 10:00")]
    for _ in range(5):
        random.shuffle(requests)
        result = plan(requests)
        assert at(result["d-atelier"]) == "Sat 10:00"
        assert result["d-atelier"].rule == Rule.FIXED_TIME
        assert {at(result["d-a-news"]), at(result["d-b-news"])} == {"Sat 08:00", "Sat 12:00"}


def test_a_day_wanted_twice_over_keeps_three_and_the_rest_wait_for_the_editor() -> None:
    tuesday = [fixed(f"tue-{n}", f"2027-03-16 {9 + n:02d}:00") for n in range(6)]
    wednesday = fixed("wed-bibliobus", "2027-03-17 09:00")
    result = plan([*tuesday, wednesday])
    kept = [r for r in tuesday if result[r.delivery_id].at is not None]
    waiting = [result[r.delivery_id] for r in tuesday if result[r.delivery_id].at is None]
    assert len(kept) == 3 and len(waiting) == 3
    assert {at(result[r.delivery_id])[:3] for r in kept} == {"Tue"}
    assert at(result["d-wed-bibliobus"]) == "Wed 09:00"  # its own day is untouched
    for placed in waiting:
        assert placed.rule == Rule.WAITS_FOR_EDITOR
        assert "Choices: move one of them" in placed.reason
        assert len(placed.holders) >= 3  # the posts that hold the Tuesday, by key


def test_a_fixed_time_breaking_the_gap_moves_to_the_nearest_time_that_day() -> None:
    result = plan([fixed("one", "2027-03-16 10:00"), fixed("two", "2027-03-16 11:00")])
    assert at(result["d-one"]) == "Tue 10:00"
    assert at(result["d-two"]) == "Tue 12:00"
    assert result["d-two"].rule == Rule.SAME_DAY
    assert result["d-two"].holders == ("one",)


def test_latest_lets_a_post_go_to_later_days_up_to_its_bound_and_never_past_it() -> None:
    full = [fixed(f"tue-{n}", f"2027-03-16 {8 + 2 * n:02d}:00") for n in range(3)]
    allowed = fixed("flexible-day", "2027-03-16 13:00", latest=local("2027-03-18 00:00"))
    tight = fixed("tight", "2027-03-16 14:00", latest=local("2027-03-16 23:00"))
    result = plan([*full, allowed, tight])
    assert result["d-flexible-day"].rule == Rule.LATER_DAY
    assert at(result["d-flexible-day"]) == "Wed 08:00"
    assert result["d-tight"].rule == Rule.WAITS_FOR_EDITOR


def test_an_urgent_post_takes_a_flexible_posts_slot_which_is_placed_after_it() -> None:
    normal = flexible("a-normal")
    urgent = flexible("z-closure", priority=Priority.URGENT)
    result = plan([normal, urgent])
    assert at(result["d-z-closure"]) == "Sat 08:00"
    assert at(result["d-a-normal"]) == "Sat 10:00"
    assert "z-closure (urgent)" in result["d-a-normal"].reason


def test_what_is_already_sent_or_due_is_a_fixed_point() -> None:
    taken = {"facebook": Taken()}
    for hour in (8, 10, 12):
        taken["facebook"].add(local(f"2027-03-16 {hour:02d}:00"), f"published-{hour}")
    result = plan([fixed("late", "2027-03-16 16:00")], taken)
    assert result["d-late"].rule == Rule.WAITS_FOR_EDITOR
    assert result["d-late"].holders == ("published-8", "published-10", "published-12")


def test_the_cap_counter_makes_a_day_full_even_when_its_posts_moved() -> None:
    taken = {"facebook": Taken(floor={local("2027-03-16 12:00").astimezone(ZONE).date(): 3})}
    result = plan([fixed("late", "2027-03-16 16:00")], taken)
    assert result["d-late"].at is None


def test_the_plan_does_not_depend_on_the_order_of_the_requests() -> None:
    requests = [fixed(f"f{n}", f"2027-03-{15 + n % 4} {8 + n % 11:02d}:30") for n in range(14)]
    requests += [flexible(f"x{n}") for n in range(8)]
    first = plan(requests)
    for seed in range(10):
        random.Random(seed).shuffle(requests)
        assert plan(requests) == first


def test_a_spring_forward_day_is_one_day_and_its_missing_hour_is_never_given() -> None:
    rules = AccountRules.model_validate({"daily_cap": 3, "min_gap": "30m", "hours": "00:00-24:00"})
    requests = [fixed(f"n{n}", "2027-03-28 01:45") for n in range(3)]
    result = make_plan(requests, taken={}, rules={"facebook": rules}, zone=ZONE, now=NOW)
    for placed in result.values():
        assert placed.at is not None
        moment = placed.at.astimezone(ZONE)
        assert moment.date().day == 28 and not (2 <= moment.hour < 3)
