"""Dispatch: the state machine's outcomes, on a real SQLite queue with an injected clock."""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from connectors.base import Published
from connectors.errors import Ambiguous, AuthExpired, Permanent, RateLimited, Retryable
from scheduler.app import App
from scheduler.db.models import AccountState, Attempt, DeliveryEvent
from scheduler.delivery.dispatcher import Dispatcher
from scheduler.delivery.editor import resume_account
from scheduler.delivery.transitions import transaction
from tests.support import FakeClock, ScriptedConnector, delivery_state, queue_delivery


@pytest.fixture
def platform() -> ScriptedConnector:
    return ScriptedConnector()


@pytest.fixture
def scripted(any_app: App, platform: ScriptedConnector) -> App:
    """Every dispatch test runs on SQLite and on PostgreSQL."""
    return dataclasses.replace(any_app, connectors={"facebook": platform})


def dispatcher(app: App) -> Dispatcher:
    return app.dispatcher(rng=random.Random(7))


def test_a_due_delivery_is_published_once_with_its_platform_id(
    scripted: App, platform: ScriptedConnector
) -> None:
    delivery_id = queue_delivery(scripted)
    assert dispatcher(scripted).run_due() == 1
    assert dispatcher(scripted).run_due() == 0
    delivery = delivery_state(scripted, delivery_id)
    assert delivery.state == "published"
    assert delivery.platform_id == "id-1"
    assert len(platform.sent) == 1
    with transaction(scripted.sessions) as session:
        path = session.scalars(
            select(DeliveryEvent.to_state)
            .where(DeliveryEvent.delivery_id == delivery_id)
            .order_by(DeliveryEvent.id)
        ).all()
    assert path == ["scheduled", "claimed", "sending", "published"]


def test_nothing_is_sent_before_its_time_and_dispatch_knows_when_to_wake(
    scripted: App, platform: ScriptedConnector, clock: FakeClock
) -> None:
    due = clock.now() + timedelta(hours=2)
    queue_delivery(scripted, due_at=due)
    assert dispatcher(scripted).run_due() == 0
    assert platform.sent == []
    assert dispatcher(scripted).next_wake() == due
    clock.moment = due
    assert dispatcher(scripted).run_due() == 1


def retry_until_settled(app: App, clock: FakeClock, delivery_id: str) -> list[timedelta]:
    """Run dispatch at each retry time until the delivery leaves retry_wait; the waits."""
    waits = []
    while True:
        dispatcher(app).run_due()
        delivery = delivery_state(app, delivery_id)
        if delivery.state != "retry_wait":
            return waits
        waits.append(delivery.due_at - clock.now())
        clock.moment = delivery.due_at


def test_a_platform_down_for_hours_delays_the_post_it_does_not_fail_it(
    scripted: App, platform: ScriptedConnector, clock: FakeClock
) -> None:
    platform.answers = [Retryable("server error", http_status=503) for _ in range(40)]
    start = clock.now()
    delivery_id = queue_delivery(scripted)
    waits = retry_until_settled(scripted, clock, delivery_id)
    delivery = delivery_state(scripted, delivery_id)
    assert delivery.state == "published" and len(platform.sent) == 41
    assert delivery.retrying_since is None
    assert clock.now() - start > timedelta(hours=2)  # five tries used to fail in minutes
    # Full jitter under a doubling ceiling, capped by backoff_max (15 min).
    for number, wait in enumerate(waits, start=1):
        assert (
            timedelta(seconds=1)
            <= wait
            <= min(timedelta(seconds=30 * 2 ** (number - 1)), timedelta(minutes=15))
        )


def test_transient_failures_fail_after_the_retry_horizon_with_the_last_error(
    scripted: App, platform: ScriptedConnector, clock: FakeClock
) -> None:
    platform.answers = [Retryable(f"server error {n}", http_status=503) for n in range(1000)]
    start = clock.now()
    delivery_id = queue_delivery(scripted)
    retry_until_settled(scripted, clock, delivery_id)
    delivery = delivery_state(scripted, delivery_id)
    assert delivery.state == "failed"
    # The last try starts at the horizon, 24 h after the first failure, not later.
    assert clock.now() - start == timedelta(hours=24)
    with transaction(scripted.sessions) as session:
        reason = session.scalars(
            select(DeliveryEvent.reason)
            .where(DeliveryEvent.delivery_id == delivery_id)
            .order_by(DeliveryEvent.id.desc())
        ).first()
    last = platform.sent[-1] and f"server error {len(platform.sent) - 1}"
    assert reason is not None and "still failing after" in reason and "24 h 00 min" in reason
    assert reason.endswith(f"the last error: {last}")


def test_a_delivery_with_a_window_retries_until_the_window_closes(
    scripted: App, platform: ScriptedConnector, clock: FakeClock
) -> None:
    platform.answers = [Retryable("server error", http_status=503) for _ in range(1000)]
    end = clock.now() + timedelta(hours=2)
    delivery_id = queue_delivery(scripted, window_end=end)
    retry_until_settled(scripted, clock, delivery_id)
    assert delivery_state(scripted, delivery_id).state == "failed"
    assert clock.now() == end


def test_permanent_errors_still_fail_at_once(scripted: App, platform: ScriptedConnector) -> None:
    platform.answers = [Permanent("text too long", http_status=400)]
    delivery_id = queue_delivery(scripted)
    dispatcher(scripted).run_due()
    assert delivery_state(scripted, delivery_id).state == "failed"
    assert len(platform.sent) == 1


def test_status_shows_the_deliveries_in_retry_and_since_when(
    scripted: App, platform: ScriptedConnector, clock: FakeClock
) -> None:
    from scheduler.reports.status import build_status, reader_sessions, render_status

    platform.answers = [Retryable("server error", http_status=503) for _ in range(1000)]
    delivery_id = queue_delivery(scripted)
    first = clock.now()
    while clock.now() - first < timedelta(hours=1):
        dispatcher(scripted).run_due()
        clock.moment = delivery_state(scripted, delivery_id).due_at
    status = build_status(
        reader_sessions(scripted.config.database_url),
        clock=clock,
        zone=scripted.config.zone,
        accounts=["facebook"],
        series={},
        daemon_alive=True,
    )
    assert status.retrying.count == 1 and status.longest_retry_since == first
    text = render_status(status, scripted.config.zone)
    assert "in retry (1):" in text and "retrying since 2026-12-09 10:00" in text
    assert any("in retry, the longest for" in item.message for item in status.attention)


def test_the_platforms_wait_wins_over_backoff(
    scripted: App, platform: ScriptedConnector, clock: FakeClock
) -> None:
    platform.answers = [Retryable("busy", retry_after=timedelta(minutes=7))]
    delivery_id = queue_delivery(scripted)
    dispatcher(scripted).run_due()
    assert delivery_state(scripted, delivery_id).due_at == clock.now() + timedelta(minutes=7)


def test_rate_limits_wait_until_the_reset_and_do_not_count_as_attempts(
    scripted: App, platform: ScriptedConnector, clock: FakeClock
) -> None:
    until = clock.now() + timedelta(minutes=15)
    platform.answers = [RateLimited("too many requests", until=until, http_status=429)]
    delivery_id = queue_delivery(scripted)
    other = queue_delivery(scripted, due_at=clock.now() + timedelta(seconds=1))
    clock.advance(seconds=1)
    dispatcher(scripted).run_due()
    delivery = delivery_state(scripted, delivery_id)
    assert (delivery.state, delivery.attempts, delivery.due_at) == ("retry_wait", 0, until)
    # The whole account waits: the second post was not tried into the limit.
    assert delivery_state(scripted, other).state == "scheduled"
    assert len(platform.sent) == 1
    clock.moment = until
    assert dispatcher(scripted).run_due() == 2
    assert delivery_state(scripted, delivery_id).state == "published"


def test_expired_credentials_pause_the_account_and_hold_its_posts_until_resumed(
    scripted: App, platform: ScriptedConnector, clock: FakeClock
) -> None:
    platform.answers = [AuthExpired("token expired", http_status=401)]
    first = queue_delivery(scripted)
    second = queue_delivery(scripted, due_at=clock.now() + timedelta(minutes=1))
    dispatcher(scripted).run_due()
    assert delivery_state(scripted, first).state == "held"
    assert delivery_state(scripted, second).state == "held"
    with transaction(scripted.sessions) as session:
        account = session.get(AccountState, "facebook")
        assert account is not None and account.paused
    clock.advance(minutes=5)
    assert dispatcher(scripted).run_due() == 0
    resumed = resume_account(
        scripted.sessions, clock, "facebook", by="ops", placement=scripted.placement()
    )
    assert resumed == 2
    assert dispatcher(scripted).run_due() == 2
    assert delivery_state(scripted, first).state == "published"


def test_a_permanent_refusal_fails_with_the_platforms_message(
    scripted: App, platform: ScriptedConnector
) -> None:
    platform.answers = [Permanent("(#100) Invalid link", http_status=400)]
    delivery_id = queue_delivery(scripted)
    dispatcher(scripted).run_due()
    delivery = delivery_state(scripted, delivery_id)
    assert (delivery.state, delivery.last_error) == ("failed", "(#100) Invalid link")
    with transaction(scripted.sessions) as session:
        attempt = session.scalars(select(Attempt).where(Attempt.delivery_id == delivery_id)).one()
    assert (attempt.http_status, attempt.error_class) == (400, "permanent")


def test_an_ambiguous_answer_is_never_resent_but_reconciled(
    scripted: App, platform: ScriptedConnector, clock: FakeClock
) -> None:
    platform.answers = [Ambiguous("read timeout after the body was sent")]
    delivery_id = queue_delivery(scripted)
    # The request did reach the platform before the answer was lost.
    dispatcher(scripted).run_due()
    assert delivery_state(scripted, delivery_id).state == "unknown"
    platform.on_platform[delivery_id] = Published(platform_id="found-1")
    clock.advance(minutes=1)
    dispatcher(scripted).run_due()
    assert delivery_state(scripted, delivery_id).state == "unknown"  # too early to look
    clock.advance(minutes=2)
    dispatcher(scripted).run_due()
    delivery = delivery_state(scripted, delivery_id)
    assert (delivery.state, delivery.platform_id) == ("published", "found-1")
    assert len(platform.sent) == 1


def test_an_unknown_delivery_not_found_goes_to_a_person(
    scripted: App, platform: ScriptedConnector, clock: FakeClock
) -> None:
    platform.answers = [Ambiguous("connection reset")]
    delivery_id = queue_delivery(scripted)
    dispatcher(scripted).run_due()
    clock.advance(minutes=3)
    dispatcher(scripted).run_due()
    delivery = delivery_state(scripted, delivery_id)
    assert delivery.state == "needs_attention"
    assert "not found on the platform" in delivery.last_error
    assert len(platform.sent) == 1


def reasons(app: App, delivery_id: str) -> list[str | None]:
    with transaction(app.sessions) as session:
        return list(
            session.scalars(
                select(DeliveryEvent.reason)
                .where(DeliveryEvent.delivery_id == delivery_id)
                .order_by(DeliveryEvent.id)
            )
        )


def test_an_authoritative_never_created_is_sent_again_once_by_itself(
    scripted: App, platform: ScriptedConnector, clock: FakeClock
) -> None:
    platform.find_is_authoritative = True
    platform.answers = [Ambiguous("connection reset")]
    delivery_id = queue_delivery(scripted)
    dispatcher(scripted).run_due()
    clock.advance(minutes=1)
    dispatcher(scripted).run_due()
    assert delivery_state(scripted, delivery_id).state == "unknown"  # the quiet period
    clock.advance(minutes=2)
    dispatcher(scripted).run_due()
    delivery = delivery_state(scripted, delivery_id)
    assert (delivery.state, delivery.resent_at) == ("published", clock.now())
    assert len(platform.sent) == 2
    assert any(
        "sent again by relais, once" in (reason or "") for reason in reasons(scripted, delivery_id)
    )


def test_a_second_interruption_after_the_automatic_resend_goes_to_a_person(
    scripted: App, platform: ScriptedConnector, clock: FakeClock
) -> None:
    platform.find_is_authoritative = True
    platform.answers = [Ambiguous("connection reset"), Ambiguous("connection reset")]
    delivery_id = queue_delivery(scripted)
    dispatcher(scripted).run_due()
    clock.advance(minutes=3)
    dispatcher(scripted).run_due()  # found absent: sent again, interrupted again
    assert delivery_state(scripted, delivery_id).state == "unknown"
    clock.advance(minutes=3)
    dispatcher(scripted).run_due()
    delivery = delivery_state(scripted, delivery_id)
    assert delivery.state == "needs_attention"
    assert "after a second interrupted send" in delivery.last_error
    assert len(platform.sent) == 2


def test_dead_credentials_during_reconciliation_pause_the_account_and_keep_looking(
    scripted: App, platform: ScriptedConnector, clock: FakeClock
) -> None:
    """Connector.find raising AuthExpired: the account is paused (a person renews the
    credentials), the delivery stays unknown, and is looked for again once resumed."""
    platform.answers = [Ambiguous("connection reset")]
    delivery_id = queue_delivery(scripted)
    dispatcher(scripted).run_due()

    asked: list[str] = []

    def token_dead(outgoing):  # type: ignore[no-untyped-def]
        asked.append(outgoing.delivery_id)
        raise AuthExpired("the access token no longer works")

    platform.find = token_dead  # type: ignore[method-assign]
    clock.advance(minutes=3)
    dispatcher(scripted).run_due()
    delivery = delivery_state(scripted, delivery_id)
    assert delivery.state == "unknown" and delivery.lease_owner is None
    with transaction(scripted.sessions) as session:
        account = session.get(AccountState, "facebook")
        assert account is not None and account.paused
        assert account.paused_reason == "the access token no longer works"
    clock.advance(hours=1)
    dispatcher(scripted).run_due()
    assert asked == [delivery_id]  # paused: nobody asks the platform meanwhile
    assert delivery_state(scripted, delivery_id).state == "unknown"

    del platform.find  # the credentials were renewed
    platform.on_platform[delivery_id] = Published(platform_id="found-1")
    resume_account(scripted.sessions, clock, "facebook", by="ops", placement=scripted.placement())
    clock.advance(minutes=3)
    dispatcher(scripted).run_due()
    delivery = delivery_state(scripted, delivery_id)
    assert (delivery.state, delivery.platform_id) == ("published", "found-1")
    assert len(platform.sent) == 1


def test_a_connector_bug_is_treated_as_ambiguous(
    scripted: App, platform: ScriptedConnector
) -> None:
    class Broken(ScriptedConnector):
        def publish(self, outgoing):  # type: ignore[no-untyped-def]
            raise KeyError("id")

    app = dataclasses.replace(scripted, connectors={"facebook": Broken()})
    delivery_id = queue_delivery(app)
    dispatcher(app).run_due()
    assert delivery_state(app, delivery_id).state == "unknown"


def test_a_closed_window_makes_the_delivery_missed(
    scripted: App, platform: ScriptedConnector, clock: FakeClock
) -> None:
    delivery_id = queue_delivery(
        scripted,
        due_at=clock.now() - timedelta(hours=3),
        window_end=clock.now() - timedelta(hours=1),
    )
    on_time = queue_delivery(scripted)
    assert dispatcher(scripted).run_due() == 1
    assert delivery_state(scripted, delivery_id).state == "missed"
    assert delivery_state(scripted, on_time).state == "published"


def test_claims_of_a_dead_daemon_are_recovered_and_sending_becomes_unknown(
    scripted: App, platform: ScriptedConnector, clock: FakeClock
) -> None:
    claimed = queue_delivery(scripted)
    sending = queue_delivery(scripted, due_at=clock.now() + timedelta(seconds=1))
    dead = dataclasses.replace(scripted, owner="dead-daemon")
    dead_dispatcher = dispatcher(dead)
    claim = dead_dispatcher.claim_next()
    assert claim is not None and claim.delivery_id == claimed
    clock.advance(seconds=1)
    # The second one got as far as `sending` when its daemon died.
    claim2 = dead_dispatcher.claim_next()
    assert claim2 is not None
    from scheduler.db.models import Delivery
    from scheduler.delivery.transitions import change_state

    with transaction(dead.sessions) as session:
        row = session.get(Delivery, sending)
        assert row is not None
        change_state(session, row, "sending", actor="dead-daemon", now=clock.now())  # type: ignore[arg-type]
    # A daemon that holds the queue alone (SQLite's instance lock) knows the others are dead.
    alive = dispatcher(scripted)
    alive.exclusive = True
    alive.run_due()
    assert delivery_state(scripted, claimed).state == "published"
    assert delivery_state(scripted, sending).state == "unknown"
    assert [o.delivery_id for o in platform.sent] == [claimed]


def test_on_a_shared_queue_a_live_lease_is_respected_until_it_expires(
    scripted: App, platform: ScriptedConnector, clock: FakeClock
) -> None:
    delivery_id = queue_delivery(scripted)
    other = dataclasses.replace(scripted, owner="other-daemon")
    assert dispatcher(other).claim_next() is not None
    shared = Dispatcher(
        sessions=scripted.sessions,
        clock=clock,
        connectors=scripted.connectors,
        settings=scripted.config.dispatch,
        policy=dispatcher(scripted).policy,
        store=scripted.store,
        owner="me",
        exclusive=False,
    )
    shared.run_due()
    assert delivery_state(scripted, delivery_id).state == "claimed"
    clock.advance(minutes=6)
    shared.run_due()
    assert delivery_state(scripted, delivery_id).state == "published"


def test_a_stale_result_does_not_overwrite_a_newer_state(
    scripted: App, platform: ScriptedConnector, clock: FakeClock
) -> None:
    platform.answers = [Permanent("refused")]
    delivery_id = queue_delivery(scripted)
    d = dispatcher(scripted)
    claim = d.claim_next()
    assert claim is not None

    # While the request is out, the lease expires and another pass reaps it to unknown.
    original = platform.publish

    def slow_publish(outgoing):  # type: ignore[no-untyped-def]
        clock.advance(minutes=10)
        d.reap()
        return original(outgoing)

    platform.publish = slow_publish  # type: ignore[method-assign]
    d.send(claim)
    assert delivery_state(scripted, delivery_id).state == "unknown"


def test_times_are_stored_and_read_back_in_utc(scripted: App) -> None:
    due = datetime(2026, 12, 11, 16, 0, tzinfo=UTC)
    delivery_id = queue_delivery(scripted, due_at=due)
    assert delivery_state(scripted, delivery_id).due_at == due
    assert delivery_state(scripted, delivery_id).due_at.tzinfo is UTC


def test_native_scheduling_hands_a_post_over_within_the_lead_time_only(
    scripted: App, platform: ScriptedConnector, clock: FakeClock
) -> None:
    platform.lead_time = timedelta(hours=1)  # type: ignore[misc]
    platform.min_lead_time = timedelta(minutes=10)  # type: ignore[misc]
    far = queue_delivery(scripted, due_at=clock.now() + timedelta(hours=3))
    close = queue_delivery(scripted, due_at=clock.now() + timedelta(minutes=5))
    d = dispatcher(scripted)
    assert d.run_due() == 0
    # The close one waits for its time; the far one for its lead time.
    assert d.next_wake() == clock.now() + timedelta(minutes=5)
    clock.advance(minutes=5)
    assert d.run_due() == 1
    assert platform.sent[0].delivery_id == close
    assert d.next_wake() == delivery_state(scripted, far).due_at - timedelta(hours=1)
    clock.advance(hours=1, minutes=55)
    assert d.run_due() == 1
    # Handed over an hour ahead: the connector sees a due time in the future.
    assert platform.sent[1].delivery_id == far
    assert platform.sent[1].due_at - clock.now() == timedelta(hours=1)


def test_a_rate_limited_account_does_not_make_dispatch_spin(
    scripted: App, platform: ScriptedConnector, clock: FakeClock
) -> None:
    until = clock.now() + timedelta(minutes=15)
    platform.answers = [RateLimited("slow down", until=until)]
    queue_delivery(scripted)
    queue_delivery(scripted, due_at=clock.now() + timedelta(seconds=1))
    clock.advance(seconds=1)
    d = dispatcher(scripted)
    d.run_due()
    # Due work exists, but the account waits: wake at the reset, not now.
    assert d.next_wake() == until


def test_notes_written_during_a_send_survive_and_do_not_fence_the_outcome(
    scripted: App, platform: ScriptedConnector
) -> None:
    original = platform.publish

    def publish_with_a_marker(outgoing):  # type: ignore[no-untyped-def]
        outgoing.notes.put("session", "https://upload.example/session/1")
        return original(outgoing)

    platform.publish = publish_with_a_marker  # type: ignore[method-assign]
    delivery_id = queue_delivery(scripted)
    dispatcher(scripted).run_due()
    assert delivery_state(scripted, delivery_id).state == "published"
    from scheduler.delivery.notes import StoredNotes

    notes = StoredNotes(scripted.sessions, scripted.clock, delivery_id)
    assert notes.get("session") == "https://upload.example/session/1"


def test_an_overdue_delivery_wakes_dispatch_at_once(
    scripted: App, platform: ScriptedConnector, clock: FakeClock
) -> None:
    delivery_id = queue_delivery(scripted, due_at=clock.now() - timedelta(minutes=1))
    assert dispatcher(scripted).next_wake() == delivery_state(scripted, delivery_id).due_at


def test_a_postponed_reconciliation_waits_instead_of_spinning(
    scripted: App, platform: ScriptedConnector, clock: FakeClock
) -> None:
    platform.answers = [Ambiguous("read timeout")]
    delivery_id = queue_delivery(scripted)
    d = dispatcher(scripted)
    d.run_due()

    def platform_down(outgoing):  # type: ignore[no-untyped-def]
        raise Retryable("search unavailable")

    platform.find = platform_down  # type: ignore[method-assign]
    clock.advance(minutes=3)
    d.run_due()
    assert delivery_state(scripted, delivery_id).state == "unknown"
    assert d.next_wake() == clock.now() + scripted.config.dispatch.reconcile_after


def test_a_long_send_keeps_its_lease_so_no_other_daemon_takes_it(
    scripted: App, platform: ScriptedConnector, clock: FakeClock
) -> None:
    short = scripted.config.dispatch.model_copy(update={"lease": timedelta(milliseconds=150)})
    app = dataclasses.replace(
        scripted, config=scripted.config.model_copy(update={"dispatch": short})
    )
    delivery_id = queue_delivery(app)
    renewed = threading.Event()
    original = platform.publish

    def slow_upload(outgoing):  # type: ignore[no-untyped-def]
        # A long upload: the clock moves past the first lease, the renewer keeps it.
        clock.advance(seconds=1)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            lease = delivery_state(app, delivery_id).lease_until
            if lease is not None and lease > clock.now():
                renewed.set()
                break
            time.sleep(0.02)  # waiting for the renewer thread, not for a schedule
        other = app.dispatcher()
        other.owner, other.exclusive = "other-daemon", False
        other.reap()
        return original(outgoing)

    platform.publish = slow_upload  # type: ignore[method-assign]
    app.dispatcher().run_due()
    assert renewed.is_set()
    assert delivery_state(app, delivery_id).state == "published"


def test_a_person_can_send_again_what_failed_or_vanished(
    scripted: App, platform: ScriptedConnector, clock: FakeClock
) -> None:
    from scheduler.delivery.editor import retry

    platform.answers = [Ambiguous("connection reset"), Permanent("link refused")]
    vanished = queue_delivery(scripted)
    refused = queue_delivery(scripted, due_at=clock.now() + timedelta(seconds=1))
    dispatcher(scripted).run_due()
    clock.advance(minutes=3)
    dispatcher(scripted).run_due()
    assert delivery_state(scripted, vanished).state == "needs_attention"
    assert delivery_state(scripted, refused).state == "failed"
    decisions = retry(
        scripted.sessions, clock, [vanished, refused], by="lea", placement=scripted.placement()
    )
    assert [decision.done for decision in decisions] == [True, True]
    dispatcher(scripted).run_due()
    assert delivery_state(scripted, vanished).state == "published"
    assert delivery_state(scripted, refused).state == "published"
    again = retry(scripted.sessions, clock, [vanished], by="lea", placement=scripted.placement())
    assert again[0].note == "left as published"
