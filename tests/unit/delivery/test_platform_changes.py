"""Cancel and move reach the platform for a delivery in its own schedule, crash-safely."""

from __future__ import annotations

import dataclasses
import random
from datetime import timedelta
from pathlib import Path

import pytest
from werkzeug.wrappers import Request

from scheduler.app import App
from scheduler.delivery.editor import cancel
from scheduler.delivery.platform_changes import CHANGE_NOTE
from tests.connectors.cases.facebook import build_facebook
from tests.fakes.graph import GraphFake
from tests.fakes.wsgi import ResetBeforeSending
from tests.support import FakeClock, delivery_state, queue_delivery


@pytest.fixture
def page(app: App, tmp_path: Path, clock: FakeClock) -> tuple[App, GraphFake]:
    connector, fake = build_facebook(tmp_path / "fb", clock)
    return dataclasses.replace(app, connectors={"facebook": connector}), fake


def handed_over(app: App, clock: FakeClock) -> str:
    delivery_id = queue_delivery(app, due_at=clock.now() + timedelta(hours=3))
    app.dispatcher(rng=random.Random(1)).run_due()
    assert delivery_state(app, delivery_id).state == "handed_over"
    return delivery_id


def test_cancel_deletes_the_scheduled_post_on_facebook(
    page: tuple[App, GraphFake], clock: FakeClock
) -> None:
    app, fake = page
    delivery_id = handed_over(app, clock)
    assert len(fake.scheduled()) == 1
    decisions = app.platform_changes().cancel_decisions(
        cancel(
            app.sessions,
            app.clock,
            [delivery_id],
            by="anne",
            reason="annulé",
            placement=app.placement(),
        ),
        by="anne",
        reason="annulé",
    )
    assert [d.done for d in decisions] == [True]
    assert "withdrawn" in decisions[0].note
    assert fake.posts == []
    assert delivery_state(app, delivery_id).state == "cancelled"


def test_move_changes_the_time_on_facebook_and_in_the_queue(
    page: tuple[App, GraphFake], clock: FakeClock
) -> None:
    app, fake = page
    delivery_id = handed_over(app, clock)
    later = clock.now() + timedelta(days=1)
    outcome = app.platform_changes().move(delivery_id, later, by="anne")
    assert outcome is not None and outcome.done
    assert fake.posts[0]["scheduled_publish_time"] == later
    delivery = delivery_state(app, delivery_id)
    assert (delivery.state, delivery.due_at) == ("handed_over", later)


def test_a_move_facebook_cannot_make_is_refused_before_anything_is_done(
    page: tuple[App, GraphFake], clock: FakeClock
) -> None:
    app, fake = page
    delivery_id = handed_over(app, clock)
    before = list(fake.requests)
    outcome = app.platform_changes().move(delivery_id, clock.now() + timedelta(minutes=3), by="a")
    assert outcome is not None and not outcome.done
    assert "10 minutes" in outcome.note
    assert fake.requests == before


def test_a_cancel_interrupted_is_finished_by_the_daemon_and_never_published(
    page: tuple[App, GraphFake], clock: FakeClock
) -> None:
    app, fake = page
    delivery_id = handed_over(app, clock)

    def unreachable(request: Request) -> None:
        raise ResetBeforeSending("network down")

    fake.before = unreachable
    outcome = app.platform_changes().cancel(delivery_id, by="anne", reason=None)
    assert outcome is not None and not outcome.done
    assert "tries again" in outcome.note
    assert app.platform_changes().pending() == [delivery_id]
    # The network comes back only after the post's time: the cancel goes first.
    fake.before = None
    clock.advance(hours=4)
    app.dispatcher(rng=random.Random(1)).run_due()
    assert delivery_state(app, delivery_id).state == "cancelled"
    assert app.platform_changes().pending() == []


def test_the_note_is_written_before_the_platform_is_asked(
    page: tuple[App, GraphFake], clock: FakeClock
) -> None:
    app, fake = page
    delivery_id = handed_over(app, clock)
    seen: list[str | None] = []

    def look(request: Request) -> None:
        if request.method == "DELETE":
            from scheduler.delivery.notes import StoredNotes

            seen.append(StoredNotes(app.sessions, app.clock, delivery_id).get(CHANGE_NOTE))

    fake.before = look
    app.platform_changes().cancel(delivery_id, by="anne", reason=None)
    assert seen and seen[0] and '"at": null' in seen[0]
