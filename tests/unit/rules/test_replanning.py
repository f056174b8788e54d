"""Placement on a real queue: the same plan whatever the order and batching of approvals,
re-planning idempotent, and a full day at claim time handed back to placement."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from scheduler.app import App
from scheduler.db.models import DailyUsage, Delivery, DeliveryEvent, Post
from scheduler.delivery.editor import approve
from scheduler.delivery.retry import RetryPolicy
from scheduler.delivery.transitions import record_creation, transaction
from tests.support import FakeClock, ScriptedConnector, make_app

NOW = datetime(2027, 3, 12, 18, 0, tzinfo=UTC)  # Friday 19:00 in Geneva
RULES = {
    "facebook": {"kind": "dry_run", "log": "out/f.jsonl",
                 "rules": {"daily_cap": 3, "min_gap": "2h", "hours": "08:00-20:00"}},
    "twitter": {"kind": "dry_run", "log": "out/t.jsonl",
                "rules": {"daily_cap": 2, "min_gap": "1h", "hours": "07:00-22:00"}},
}  # fmt: skip

post_strategy = st.fixed_dictionaries(
    {
        "accounts": st.sampled_from([("facebook",), ("twitter",), ("facebook", "twitter")]),
        "kind": st.sampled_from(["at", "at", "window", "next_free"]),
        "day": st.integers(min_value=1, max_value=4),
        "hour": st.integers(min_value=6, max_value=21),
        "urgent": st.booleans(),
        "latest_days": st.none() | st.integers(min_value=1, max_value=2),
    }
)


def queue_posts(app: App, posts: list[dict[str, Any]]) -> list[str]:
    """The posts as pending approval, as intake leaves them; returns their keys."""
    keys = []
    with transaction(app.sessions) as session:
        for number, spec in enumerate(posts):
            key = f"post-{number:03d}"
            keys.append(key)
            wanted = NOW.replace(hour=0, minute=0) + timedelta(days=spec["day"], hours=spec["hour"])
            timing: dict[str, Any] = {"kind": spec["kind"], "priority": "normal"}
            window_end = None
            if spec["kind"] == "at":
                timing["at"] = wanted.isoformat()
                if spec["latest_days"]:
                    timing["latest"] = (wanted + timedelta(days=spec["latest_days"])).isoformat()
            elif spec["kind"] == "window":
                timing["window_start"] = wanted.isoformat()
                window_end = wanted + timedelta(hours=30)
            if spec["urgent"]:
                timing["priority"] = "urgent"
            post = Post(
                id=str(uuid.uuid4()), key=key, source_path="x", sha256="0",
                library="redaction", author="a", title=f"Titre {number}",
                created_at=NOW, updated_at=NOW,
            )  # fmt: skip
            session.add(post)
            for account in spec["accounts"]:
                delivery = Delivery(
                    id=str(uuid.uuid4()), post_id=post.id, account=account,
                    state="pending_approval", due_at=wanted, window_end=window_end,
                    timing=timing, payload={"text": "x", "media": []}, attempts=0,
                    created_at=NOW, updated_at=NOW,
                )  # fmt: skip
                session.add(delivery)
                record_creation(session, delivery, actor="test", now=NOW)
    return keys


def the_plan(app: App) -> dict[tuple[str, str], tuple[str, datetime | None]]:
    with transaction(app.sessions) as session:
        rows = session.execute(select(Post.key, Delivery).join(Delivery.post)).all()
        return {(key, d.account): (d.state, d.due_at) for key, d in rows}


def empty(app: App) -> None:
    with transaction(app.sessions) as session:
        for table in (DeliveryEvent, Delivery, Post, DailyUsage):
            session.execute(delete(table))


@pytest.fixture
def planned_app(tmp_path: Path, database: str) -> Iterator[App]:
    app = make_app(tmp_path, FakeClock(NOW), database=database, accounts=RULES)
    yield app
    app.engine.dispose()


@settings(
    max_examples=15, deadline=None, phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)  # fmt: skip
@given(
    posts=st.lists(post_strategy, min_size=2, max_size=14),
    seed=st.integers(min_value=0, max_value=10_000),
    batches=st.integers(min_value=1, max_value=5),
)
def test_the_plan_is_the_same_whatever_the_order_and_batching_of_approvals(
    planned_app: App, posts: list[dict[str, Any]], seed: int, batches: int
) -> None:
    # Shrinking is off: each example runs on a real database, and the failing example is
    # printed whole anyway.
    app = planned_app
    if True:
        empty(app)
        keys = queue_posts(app, posts)
        approve(app.sessions, app.clock, keys, by="editor", placement=app.placement())
        at_once = the_plan(app)
        empty(app)
        keys = queue_posts(app, posts)
        random.Random(seed).shuffle(keys)
        size = max(1, len(keys) // batches)
        for start in range(0, len(keys), size):
            batch = keys[start : start + size]
            approve(app.sessions, app.clock, batch, by="editor", placement=app.placement())
        assert the_plan(app) == at_once
        events = event_count(app)
        assert app.placement().replan() == 0  # planning a plan again changes nothing
        assert event_count(app) == events and the_plan(app) == at_once


def event_count(app: App) -> int:
    with transaction(app.sessions) as session:
        return session.scalar(select(func.count()).select_from(DeliveryEvent)) or 0


def test_a_full_day_at_claim_time_goes_back_to_placement_with_the_reason(
    tmp_path: Path, database: str
) -> None:
    app = make_app(tmp_path, FakeClock(NOW), database=database, accounts=RULES)
    keys = queue_posts(
        app,
        [{"accounts": ("facebook",), "kind": kind, "day": 1, "hour": 9, "urgent": False,
          "latest_days": None} for kind in ("at", "window")],
    )  # fmt: skip
    approve(app.sessions, app.clock, keys, by="editor", placement=app.placement())
    saturday = "2027-03-13"
    with transaction(app.sessions) as session:  # another daemon filled Saturday meanwhile
        session.add(DailyUsage(account="facebook", local_day=saturday, used=3))
    app.clock.moment = datetime(2027, 3, 13, 9, 0, tzinfo=UTC)  # Saturday 10:00
    dispatcher = app.dispatcher()
    dispatcher.connectors = {"facebook": ScriptedConnector()}
    dispatcher.policy = RetryPolicy(max_attempts=3, base=timedelta(seconds=1),
                                    cap=timedelta(seconds=1), rng=random.Random(1))  # fmt: skip
    assert dispatcher.claim_next() is None
    with transaction(app.sessions) as session:
        fixed = session.scalars(
            select(Delivery).join(Delivery.post).where(Post.key == keys[0])
        ).one()
        assert fixed.state == "approved"
        [event] = session.scalars(
            select(DeliveryEvent)
            .where(DeliveryEvent.delivery_id == fixed.id)
            .order_by(DeliveryEvent.id.desc())
            .limit(1)
        ).all()
        assert event.to_state == "approved" and "handed back to placement" in (event.reason or "")
    app.placement().place_approved()
    plan = the_plan(app)
    assert plan[(keys[0], "facebook")][0] == "held"  # a fixed time is not moved to Sunday
    state, due = plan[(keys[1], "facebook")]
    assert state == "scheduled" and due is not None and due.date().isoformat() == "2027-03-14"
    app.engine.dispose()


def test_offline_a_dry_run_blog_gives_the_article_a_permalink_that_announcements_link_to(
    tmp_path: Path,
) -> None:
    from tests.support import drop

    site = {"output": "public/blog", "site_url": "https://blog.example.org/"}
    blog = {"kind": "dry_run", "log": "out/blog.jsonl", "like": "static_blog", "like_options": site}
    app = make_app(
        tmp_path, FakeClock(NOW), accounts={**RULES, "blog": blog},
        approval={"auto": [{"library": "redaction"}]},
    )  # fmt: skip
    head = "library: redaction\nauthor: a\n"
    article_file = "title: Le Printemps des poètes\ntext: Tout le programme.\nto: [blog]\n"
    announcement_file = "text: Lisez-le !\nto: [facebook]\nannounces: redaction/article\n"
    drop(app.config, "redaction/article.yaml", head + article_file)
    drop(app.config, "redaction/annonce.yaml", head + announcement_file)
    app.intake().scan()
    app.clock.moment = datetime(2027, 3, 13, 8, 0, tzinfo=UTC)  # type: ignore[attr-defined]
    dispatcher = app.dispatcher()
    for _ in range(3):
        app.placement().place_approved()
        dispatcher.run_due()
    plan = the_plan(app)
    assert plan[("redaction/article", "blog")][0] == "published"
    assert plan[("redaction/annonce", "facebook")][0] == "published"
    with transaction(app.sessions) as session:
        article, announcement = (
            session.scalars(select(Delivery).join(Delivery.post).where(Post.key == key)).one()
            for key in ("redaction/article", "redaction/annonce")
        )
        assert article.url is not None
        assert article.url.startswith("https://blog.example.org/le-printemps-des-poetes-")
        assert announcement.payload["link"] == article.url
    app.engine.dispose()
