"""The house rules on the produced plan: property-based over random posts and rules."""

from __future__ import annotations

import itertools
import random
import tempfile
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Select, select

from scheduler.app import App
from scheduler.db.engines import make_engine
from scheduler.db.models import Base, DailyUsage, Delivery, Post
from scheduler.delivery.dispatcher import Claim, Dispatcher
from scheduler.delivery.retry import RetryPolicy
from scheduler.delivery.transitions import make_sessions, record_creation, transaction
from scheduler.rules.house_rules import AccountRules
from scheduler.rules.placement import Placement
from tests.support import FakeClock, ScriptedConnector, delivery_state, make_app

ZONE = ZoneInfo("Europe/Zurich")
START = datetime(2026, 10, 20, 6, 0, tzinfo=UTC)  # the DST change of 2026-10-25 inside


@st.composite
def account_rules(draw: st.DrawFn) -> AccountRules:
    start = draw(st.integers(min_value=0, max_value=12))
    end = draw(st.integers(min_value=start + 2, max_value=24))
    return AccountRules.model_validate(
        {
            "daily_cap": draw(st.none() | st.integers(min_value=1, max_value=4)),
            "min_gap": f"{draw(st.integers(min_value=0, max_value=16)) * 15}m",
            "hours": f"{start:02d}:00-{end:02d}:00",
            "on_cap": draw(st.sampled_from(["roll", "hold"])),
        }
    )


post_strategy = st.fixed_dictionaries(
    {
        "account": st.sampled_from(["facebook", "twitter"]),
        "kind": st.sampled_from(["at", "window", "next_free"]),
        "offset_minutes": st.integers(min_value=0, max_value=7 * 24 * 60),
        "window_hours": st.integers(min_value=1, max_value=72),
    }
)


def plan(
    rules: dict[str, AccountRules],
    posts: list[dict[str, Any]],
    reasons: dict[str, str | None] | None = None,
) -> dict[str, Any]:
    """Queue the posts as approved on a fresh SQLite file, place them, read the plan back
    (and each delivery's reason into ``reasons`` when given)."""
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'queue.db'}")
        Base.metadata.create_all(engine)
        sessions = make_sessions(engine)
        clock = FakeClock(START)
        with transaction(sessions) as session:
            for number, post in enumerate(posts):
                wanted = START + timedelta(minutes=post["offset_minutes"])
                window_end = wanted + timedelta(hours=post["window_hours"])
                row = Post(
                    id=f"post-{number:04d}", key=f"post-{number:04d}", source_path="x",
                    sha256="0", library="l", author="a", title=None,
                    created_at=START, updated_at=START,
                )  # fmt: skip
                delivery = Delivery(
                    id=f"delivery-{number:04d}",
                    post_id=row.id,
                    account=post["account"],
                    state="approved",
                    due_at=wanted,
                    window_end=window_end if post["kind"] == "window" else None,
                    timing={"kind": post["kind"]},
                    payload={"text": "x"},
                    attempts=0,
                    created_at=START,
                    updated_at=START,
                )
                session.add_all([row, delivery])
                record_creation(session, delivery, actor="test", now=START)
        Placement(sessions=sessions, clock=clock, rules=rules, zone=ZONE).place_approved()
        with transaction(sessions) as session:
            rows = session.scalars(select_all()).all()
            result = {d.id: (d.state, d.due_at, d.account, d.window_end) for d in rows}
            if reasons is not None:
                reasons.update({d.id: d.reason for d in rows})
        engine.dispose()
        return result


def select_all() -> Select[tuple[Delivery]]:
    return select(Delivery).order_by(Delivery.id)


def fixed_day_kept(due: datetime, post: dict[str, Any]) -> bool:
    wanted = START + timedelta(minutes=post["offset_minutes"])
    return due.astimezone(ZONE).date() == wanted.astimezone(ZONE).date()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rules=st.fixed_dictionaries({"facebook": account_rules(), "twitter": account_rules()}),
    posts=st.lists(post_strategy, min_size=1, max_size=20),
)
def test_the_plan_keeps_every_rule_and_is_deterministic(
    rules: dict[str, AccountRules], posts: list[dict[str, Any]]
) -> None:
    first = plan(rules, posts)
    assert plan(rules, posts) == first  # the same input gives the same plan
    scheduled = [
        (due, account, window_end, posts[int(key.split("-")[1])])
        for key, (state, due, account, window_end) in first.items()
        if state == "scheduled"
    ]
    per_day = Counter((account, due.astimezone(ZONE).date()) for due, account, _, _ in scheduled)
    for (account, _day), count in per_day.items():
        cap = rules[account].daily_cap
        assert cap is None or count <= cap
    for account in rules:
        times = sorted(due for due, acc, _, _ in scheduled if acc == account)
        for earlier, later in itertools.pairwise(times):
            assert later - earlier >= rules[account].min_gap
    for due, account, window_end, post in scheduled:
        assert rules[account].hours.contains(due.astimezone(ZONE).time())
        wanted = START + timedelta(minutes=post["offset_minutes"])
        if post["kind"] == "at":
            assert fixed_day_kept(due, post)  # moved within its day at most, never later
        elif post["kind"] == "window":
            assert due >= wanted
        else:
            assert due >= START  # no time: as soon as possible from now, whenever it came in
        if window_end is not None:
            assert due < window_end
    for state, _due, _account, _window_end in first.values():
        assert state in {"scheduled", "held"}


def test_a_fixed_time_post_that_breaks_a_rule_moves_within_its_day_or_is_held() -> None:
    posts = [
        {"account": "facebook", "kind": "at", "offset_minutes": 240, "window_hours": 1},
        {"account": "facebook", "kind": "at", "offset_minutes": 270, "window_hours": 1},
    ]
    roll = AccountRules.model_validate({"min_gap": "2h", "on_cap": "roll"})
    hold = AccountRules.model_validate({"min_gap": "2h", "on_cap": "hold"})
    rolled = plan({"facebook": roll, "twitter": roll}, posts)
    assert rolled["delivery-0001"][:2] == ("scheduled", START + timedelta(minutes=360))
    held = plan({"facebook": hold, "twitter": hold}, posts)
    assert held["delivery-0001"][0] == "held"


def test_a_window_without_room_is_held_with_the_reason(tmp_path: Path) -> None:
    posts = [
        {"account": "twitter", "kind": "window", "offset_minutes": 0, "window_hours": 1},
        {"account": "twitter", "kind": "window", "offset_minutes": 0, "window_hours": 1},
    ]
    rules = AccountRules.model_validate({"min_gap": "3h"})
    reasons: dict[str, str | None] = {}
    result = plan({"facebook": rules, "twitter": rules}, posts, reasons)
    assert result["delivery-0000"][0] == "scheduled"
    assert result["delivery-0001"][0] == "held"
    # The editor reads why: the rule in the way and that the window ran out.
    assert reasons["delivery-0001"] == (
        "no free slot in its window: too close to post-0000 at Tue 08:00 (min_gap 3h); "
        "no free slot before the end of its window"
    )


def test_ten_concurrent_claims_against_a_cap_of_three_send_three(
    tmp_path: Path, database: str
) -> None:
    clock = FakeClock(datetime(2026, 12, 9, 9, 0, tzinfo=UTC))
    app: App = make_app(
        tmp_path,
        clock,
        database=database,
        accounts={"facebook": {"kind": "dry_run", "log": "out/f.jsonl", "rules": {"daily_cap": 3}}},
    )
    rules = app.config.rules()
    with transaction(app.sessions) as session:
        for number in range(10):
            post = Post(
                id=str(uuid.uuid4()), key=f"p{number}", source_path="x", sha256="0",
                library="redaction", author="a", title=None,
                created_at=clock.now(), updated_at=clock.now(),
            )  # fmt: skip
            session.add(post)
            session.add(
                Delivery(
                    id=str(uuid.uuid4()),
                    post_id=post.id,
                    account="facebook",
                    state="scheduled",
                    due_at=clock.now(),
                    timing={"kind": "at"},
                    payload={"text": "x", "media": []},
                    attempts=0,
                    created_at=clock.now(),
                    updated_at=clock.now(),
                )
            )
    barrier = threading.Barrier(10)
    claims: list[Claim] = []

    def worker(number: int) -> None:
        dispatcher = Dispatcher(
            sessions=app.sessions,
            clock=clock,
            connectors={"facebook": ScriptedConnector()},
            settings=app.config.dispatch,
            policy=RetryPolicy(
                max_attempts=3, base=timedelta(seconds=1), cap=timedelta(seconds=1),
                rng=random.Random(number),
            ),
            store=app.store,
            owner=f"worker-{number}",
            exclusive=False,
            rules=rules,
            zone=app.config.zone,
        )  # fmt: skip
        barrier.wait()
        claim = dispatcher.claim_next()
        if claim is not None:
            claims.append(claim)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claims) == 3
    states = Counter(delivery_state(app, claim.delivery_id).state for claim in claims)
    assert states == {"claimed": 3}
    with transaction(app.sessions) as session:
        usage = session.get(DailyUsage, ("facebook", "2026-12-09"))
        assert usage is not None and usage.used == 3
        # The full day hands the others back to placement, with the reason recorded.
        handed_back = session.scalars(select_all().where(Delivery.state == "approved")).all()
        assert len(handed_back) == 7
        assert all("handed back to placement" in (d.reason or "") for d in handed_back)
