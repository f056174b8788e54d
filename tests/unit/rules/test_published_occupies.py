"""What already went out still counts: placement keeps ``daily_cap`` and ``min_gap`` against
published deliveries (a mutation dropping ``published`` from the occupying states survived
every other test)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from scheduler.app import App
from scheduler.db.models import Delivery, DeliveryEvent
from scheduler.delivery.states import State
from scheduler.delivery.transitions import change_state, transaction
from tests.invariants import assert_sound
from tests.support import FakeClock, ScriptedConnector, delivery_state, make_app, queue_delivery


def app_with(tmp_path: Path, clock: FakeClock, rules: dict[str, Any]) -> App:
    app = make_app(
        tmp_path,
        clock,
        accounts={"facebook": {"kind": "dry_run", "log": "out/f.jsonl", "rules": rules}},
    )
    return dataclasses.replace(app, connectors={"facebook": ScriptedConnector()})


def published_now(app: App) -> None:
    delivery_id = queue_delivery(app)
    app.dispatcher().run_due()
    assert delivery_state(app, delivery_id).state == "published"


def approved_at(app: App, hours_later: float) -> str:
    """A fixed-time post, approved, asking for ``hours_later`` from now."""
    delivery_id = queue_delivery(app, due_at=app.clock.now() + timedelta(hours=hours_later))
    with transaction(app.sessions) as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None
        change_state(session, row, State.APPROVED, actor="test", now=app.clock.now())
    return delivery_id


def placed(app: App, delivery_id: str) -> tuple[str, Any, str | None]:
    app.placement().place_approved()
    row = delivery_state(app, delivery_id)
    with transaction(app.sessions) as session:
        reason = session.scalars(
            select(DeliveryEvent.reason)
            .where(DeliveryEvent.delivery_id == delivery_id)
            .order_by(DeliveryEvent.id.desc())
            .limit(1)
        ).one()
    assert_sound(app.sessions, rules=app.config.rules(), zone=app.config.zone, now=app.clock.now())
    return row.state, row.due_at, reason


def test_a_published_post_counts_for_the_daily_cap(tmp_path: Path, clock: FakeClock) -> None:
    app = app_with(tmp_path, clock, {"daily_cap": 1})
    published_now(app)
    later_today = approved_at(app, 5)
    state, due_at, reason = placed(app, later_today)
    zone = app.config.zone
    # A fixed time is not moved to another day: it waits for the editor, the day named.
    assert state == "held"
    assert due_at.astimezone(zone).date() == clock.now().astimezone(zone).date()
    assert reason is not None and "is full (1 of daily_cap 1)" in reason


def test_a_published_post_counts_for_the_minimum_gap(tmp_path: Path, clock: FakeClock) -> None:
    app = app_with(tmp_path, clock, {"min_gap": "2h"})
    published_now(app)
    an_hour_later = approved_at(app, 1)
    state, due_at, reason = placed(app, an_hour_later)
    assert state == "scheduled"
    assert due_at == clock.now() + timedelta(hours=2)
    assert reason is not None and "closer than min_gap 2h" in reason
