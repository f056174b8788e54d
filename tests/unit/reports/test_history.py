"""``relais history``: every state change and attempt of a delivery, in the order they happened."""

from __future__ import annotations

import dataclasses
import random
from datetime import timedelta

import pytest

from connectors.base import Outgoing, Published
from connectors.errors import Retryable
from scheduler.app import App
from scheduler.delivery.editor import SelectionError
from scheduler.reports.history import (
    AttemptRecord,
    History,
    StateChange,
    delivery_history,
    render_history,
)
from tests.support import FakeClock, ScriptedConnector, queue_delivery


def with_platform(app: App, platform: ScriptedConnector) -> App:
    return dataclasses.replace(app, connectors={"facebook": platform})


def run_due(app: App) -> None:
    app.dispatcher(rng=random.Random(5)).run_due()


def steps(history: History) -> list[str]:
    return [
        f"{entry.from_state} -> {entry.to_state}"
        if isinstance(entry, StateChange)
        else f"attempt {entry.number} {entry.error_class or entry.outcome}"
        for entry in history.entries
    ]


def test_a_retried_then_published_delivery_shows_each_attempt_after_its_send(
    app: App, clock: FakeClock
) -> None:
    platform = ScriptedConnector(answers=[Retryable("Service Unavailable", http_status=503)])
    sender = with_platform(app, platform)
    delivery_id = queue_delivery(sender, key="redaction/escalade")
    run_due(sender)
    clock.advance(hours=2)  # past any backoff
    run_due(sender)
    history = delivery_history(app.sessions, delivery_id[:8])
    assert steps(history) == [
        "None -> scheduled",
        "scheduled -> claimed",
        "claimed -> sending",
        "attempt 1 retryable",
        "sending -> retry_wait",
        "retry_wait -> scheduled",
        "scheduled -> claimed",
        "claimed -> sending",
        "attempt 2 published",
        "sending -> published",
    ]
    first = history.entries[3]
    assert isinstance(first, AttemptRecord)
    assert (first.http_status, first.message) == (503, "Service Unavailable")
    assert first.wait_seconds is not None and first.wait_seconds > 0
    assert (history.state, history.attempts, history.platform_id) == ("published", 2, "id-2")


def test_the_rendered_history_has_times_actors_errors_and_waits(app: App, clock: FakeClock) -> None:
    platform = ScriptedConnector(answers=[Retryable("Service Unavailable", http_status=503)])
    sender = with_platform(app, platform)
    delivery_id = queue_delivery(sender, key="redaction/escalade")
    run_due(sender)
    text = render_history(delivery_history(app.sessions, delivery_id), app.config.zone)
    lines = text.splitlines()
    assert lines[0] == f"{delivery_id}  redaction/escalade -> facebook  (redaction)"
    assert "state retry_wait" in lines[1] and "Europe/Zurich" in lines[1]
    assert "last error: Service Unavailable" in text
    assert any(
        line.startswith("  2026-12-09 10:00:00    attempt 1: retryable (HTTP 503) after 0.0 s: "
                        "Service Unavailable; wait ")
        for line in lines
    )  # fmt: skip
    assert "  2026-12-09 10:00:00  created as scheduled" in text
    assert f"by {app.owner}: Service Unavailable" in text


def test_an_attempt_still_in_flight_has_no_answer_yet(app: App) -> None:
    seen: list[History] = []

    class Watching(ScriptedConnector):
        def publish(self, outgoing: Outgoing) -> Published:
            seen.append(delivery_history(app.sessions, outgoing.delivery_id))
            return super().publish(outgoing)

    delivery_id = queue_delivery(app)
    run_due(with_platform(app, Watching()))
    [during] = seen
    attempt = during.entries[-1]
    assert isinstance(attempt, AttemptRecord) and attempt.finished_at is None
    assert during.state == "sending"
    assert "attempt 1: no answer recorded" in render_history(during, app.config.zone)
    after = delivery_history(app.sessions, delivery_id)
    assert after.state == "published"


def test_a_post_id_with_one_delivery_names_it(app: App, clock: FakeClock) -> None:
    delivery_id = queue_delivery(app, key="redaction/seul")
    assert delivery_history(app.sessions, "redaction/seul").delivery_id == delivery_id


def test_a_reference_naming_several_or_none_is_refused(app: App) -> None:
    first = queue_delivery(app, key="redaction/double")
    # A second delivery of the same post, on another account.
    from scheduler.db.models import Delivery
    from scheduler.delivery.transitions import transaction

    with transaction(app.sessions) as session:
        original = session.get(Delivery, first)
        assert original is not None
        session.add(
            Delivery(
                id="0" * 8 + first[8:],
                post_id=original.post_id,
                account="twitter",
                state="scheduled",
                due_at=original.due_at,
                timing={},
                payload={},
                attempts=0,
                created_at=original.created_at,
                updated_at=original.updated_at,
            )
        )
    with pytest.raises(SelectionError, match=r"2 deliveries \(facebook, twitter\)"):
        delivery_history(app.sessions, "redaction/double")
    with pytest.raises(SelectionError, match="no post or delivery"):
        delivery_history(app.sessions, "ffffffffff")


def test_entries_without_a_matching_send_still_come_in_time_order() -> None:
    from datetime import UTC, datetime

    from scheduler.reports.history import _merged

    start = datetime(2026, 12, 9, 9, 0, tzinfo=UTC)

    def change(minutes: int, to: str) -> StateChange:
        return StateChange(
            at=start + timedelta(minutes=minutes), from_state="x", to_state=to, actor="a",
            reason=None,
        )  # fmt: skip

    orphan = AttemptRecord(
        number=1, started_at=start + timedelta(minutes=5), finished_at=None, outcome=None,
        http_status=None, error_class=None, message=None, wait_seconds=None,
    )  # fmt: skip
    merged = _merged([change(0, "scheduled"), change(10, "held")], [orphan])
    assert merged == (change(0, "scheduled"), orphan, change(10, "held"))
