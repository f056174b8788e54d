"""Handed over is not live: a post in a platform's own schedule is looked at after its time."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import select

from connectors.base import Outgoing, Published
from connectors.errors import Retryable
from connectors.handover import Confirmation, HandedOver, Liveness
from scheduler.app import App
from scheduler.db.models import DeliveryEvent
from scheduler.delivery.dispatcher import Dispatcher
from scheduler.delivery.transitions import transaction
from tests.support import FakeClock, ScriptedConnector, delivery_state, queue_delivery


@dataclass
class SchedulingPlatform(ScriptedConnector):
    """Takes posts into its own schedule; ``answers_on_confirm`` script what it says later."""

    confirmations: list[Confirmation | Retryable] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)
    lead_time = timedelta(hours=1)
    min_lead_time = timedelta(minutes=10)

    def publish(self, outgoing: Outgoing) -> Published:
        self.sent.append(outgoing)
        return HandedOver(
            platform_id=f"scheduled-{len(self.sent)}",
            url="https://platform.example/will-be-here",
            live_at=outgoing.due_at,
        )

    def confirm(self, outgoing: Outgoing, platform_id: str) -> Confirmation:
        self.asked.append(platform_id)
        answer = self.confirmations.pop(0)
        if isinstance(answer, Retryable):
            raise answer
        return answer


@pytest.fixture
def platform() -> SchedulingPlatform:
    return SchedulingPlatform()


@pytest.fixture
def scripted(any_app: App, platform: SchedulingPlatform) -> App:
    return dataclasses.replace(any_app, connectors={"facebook": platform})


def dispatcher(app: App) -> Dispatcher:
    return app.dispatcher(rng=random.Random(7))


def handed_over(app: App, clock: FakeClock) -> str:
    delivery_id = queue_delivery(app, due_at=clock.now() + timedelta(hours=1))
    assert dispatcher(app).run_due() == 1
    return delivery_id


def test_a_post_in_the_platforms_schedule_is_handed_over_not_published(
    scripted: App, platform: SchedulingPlatform, clock: FakeClock
) -> None:
    delivery_id = handed_over(scripted, clock)
    delivery = delivery_state(scripted, delivery_id)
    assert delivery.state == "handed_over"
    assert delivery.platform_id == "scheduled-1"
    assert delivery.due_at == clock.now() + timedelta(hours=1)
    # Nothing is asked before its time and the grace period; dispatch wakes for it.
    assert platform.asked == []
    assert dispatcher(scripted).next_wake() == clock.now() + timedelta(hours=1, minutes=15)


def test_seen_live_after_its_time_it_is_published_with_its_public_address(
    scripted: App, platform: SchedulingPlatform, clock: FakeClock
) -> None:
    delivery_id = handed_over(scripted, clock)
    platform.confirmations = [
        Confirmation(liveness=Liveness.LIVE, url="https://platform.example/p/1")
    ]
    clock.advance(hours=1, minutes=15)
    dispatcher(scripted).run_due()
    delivery = delivery_state(scripted, delivery_id)
    assert (delivery.state, delivery.url) == ("published", "https://platform.example/p/1")
    assert platform.asked == ["scheduled-1"]
    with transaction(scripted.sessions) as session:
        path = session.scalars(
            select(DeliveryEvent.to_state)
            .where(DeliveryEvent.delivery_id == delivery_id)
            .order_by(DeliveryEvent.id)
        ).all()
    assert path == ["scheduled", "claimed", "sending", "handed_over", "published"]


def test_not_live_goes_to_a_person_with_the_platforms_reason(
    scripted: App, platform: SchedulingPlatform, clock: FakeClock
) -> None:
    delivery_id = handed_over(scripted, clock)
    platform.confirmations = [
        Confirmation(liveness=Liveness.NOT_LIVE, reason="YouTube keeps the video private")
    ]
    clock.advance(hours=2)
    dispatcher(scripted).run_due()
    delivery = delivery_state(scripted, delivery_id)
    assert delivery.state == "needs_attention"
    assert delivery.last_error == "YouTube keeps the video private"


def test_pending_is_asked_again_then_given_to_a_person_when_it_never_comes(
    scripted: App, platform: SchedulingPlatform, clock: FakeClock
) -> None:
    delivery_id = handed_over(scripted, clock)
    due = delivery_state(scripted, delivery_id).due_at
    platform.confirmations = [
        Confirmation(liveness=Liveness.PENDING, reason="still processing"),
        Retryable("server error"),
        Confirmation(liveness=Liveness.PENDING, reason="WordPress has not published it"),
    ]
    clock.moment = due + timedelta(minutes=15)
    dispatcher(scripted).run_due()
    assert delivery_state(scripted, delivery_id).state == "handed_over"
    assert dispatcher(scripted).next_wake() == clock.now() + timedelta(minutes=15)
    dispatcher(scripted).run_due()
    assert len(platform.asked) == 1  # not before its next look
    clock.advance(minutes=15)
    dispatcher(scripted).run_due()
    assert delivery_state(scripted, delivery_id).state == "handed_over"
    clock.moment = due + timedelta(hours=6)
    dispatcher(scripted).run_due()
    delivery = delivery_state(scripted, delivery_id)
    assert delivery.state == "needs_attention"
    assert delivery.last_error == (
        "still not live 6 hours after its time: WordPress has not published it"
    )


def test_found_after_its_time_it_is_still_looked_at_before_it_counts_as_published(
    scripted: App, platform: SchedulingPlatform, clock: FakeClock
) -> None:
    platform.confirmations = [Confirmation(liveness=Liveness.LIVE, url="https://p.example/9")]
    # An answer that comes late (a slow upload, a reconciliation): its time has passed.
    delivery_id = queue_delivery(scripted, due_at=clock.now() - timedelta(hours=1))
    dispatcher(scripted).run_due()
    assert delivery_state(scripted, delivery_id).state == "handed_over"
    dispatcher(scripted).run_due()
    assert delivery_state(scripted, delivery_id).state == "published"


def test_status_and_plan_show_a_handed_over_post_apart_from_published(
    scripted: App, platform: SchedulingPlatform, clock: FakeClock
) -> None:
    from zoneinfo import ZoneInfo

    from scheduler.reports.plan import build_plan, render_plan
    from scheduler.reports.status import build_status, render_status

    delivery_id = handed_over(scripted, clock)
    zone = ZoneInfo("Europe/Zurich")
    status = build_status(
        scripted.sessions, clock=clock, zone=zone, accounts=["facebook"], series={},
        daemon_alive=True,
    )  # fmt: skip
    assert status.handed_over.count == 1
    text = render_status(status, zone)
    assert "handed over, in the platform's own schedule, not yet seen live (1):" in text
    assert f"{delivery_id[:8]}" in text
    due = delivery_state(scripted, delivery_id).due_at
    days = build_plan(
        scripted.sessions, zone=zone, rules={}, accounts=["facebook"],
        start=due.astimezone(zone).date(), days=1,
    )  # fmt: skip
    assert "[handed over]" in render_plan(days, zone=zone)


def test_a_delivery_published_after_a_retry_no_longer_shows_its_old_error(
    any_app: App, clock: FakeClock
) -> None:
    platform = ScriptedConnector(answers=[Retryable("HTTP 503 from the blog")])
    app = dataclasses.replace(any_app, connectors={"facebook": platform})
    delivery_id = queue_delivery(app)
    dispatcher(app).run_due()
    delivery = delivery_state(app, delivery_id)
    assert delivery.last_error is not None and "503" in delivery.last_error
    clock.moment = delivery.due_at
    dispatcher(app).run_due()
    delivery = delivery_state(app, delivery_id)
    assert delivery.state == "published"
    assert delivery.last_error is None
