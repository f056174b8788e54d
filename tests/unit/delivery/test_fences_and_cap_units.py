"""The exactly-once core where mutations of it survived the older tests (issue 18).

Each test here failed with one hand-made mutation of the dispatcher applied: the outcome
fence without its version check, a cap unit given back on an ambiguous answer or twice on
recovery, ``send`` without its lease-owner check, a lease renewal not limited to its owner.
The daily-cap bookkeeping is checked with the queue invariants after every step.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from connectors.base import Outgoing, Published
from connectors.errors import (
    Ambiguous,
    AuthExpired,
    Permanent,
    PublishError,
    RateLimited,
    Retryable,
)
from scheduler.app import App
from scheduler.db.models import Delivery
from scheduler.delivery.dispatcher import Claim, Dispatcher
from scheduler.delivery.editor import retry
from scheduler.delivery.transitions import change_state, transaction
from tests.invariants import assert_sound, cap_units
from tests.support import FakeClock, ScriptedConnector, delivery_state, make_app, queue_delivery

DAY = "2026-12-09"  # the local day of tests.support.START in Europe/Zurich


@pytest.fixture
def platform() -> ScriptedConnector:
    return ScriptedConnector()


@pytest.fixture
def capped(
    tmp_path: Path, clock: FakeClock, database: str, platform: ScriptedConnector
) -> Iterator[App]:
    """facebook with ``daily_cap: 3``, on SQLite and on PostgreSQL."""
    app = make_app(
        tmp_path,
        clock,
        database=database,
        accounts={"facebook": {"kind": "dry_run", "log": "out/f.jsonl", "rules": {"daily_cap": 3}}},
    )
    yield dataclasses.replace(app, connectors={"facebook": platform})
    app.engine.dispose()


def dispatcher(app: App, owner: str | None = None, *, exclusive: bool | None = None) -> Dispatcher:
    built = app.dispatcher(rng=random.Random(7))
    if owner is not None:
        built.owner = owner
    if exclusive is not None:
        built.exclusive = exclusive
    return built


def used(app: App) -> dict[tuple[str, str], int]:
    with transaction(app.sessions) as session:
        return cap_units(session)


def sound(app: App) -> None:
    assert_sound(app.sessions, rules=app.config.rules(), zone=app.config.zone, now=app.clock.now())


def one_published(app: App) -> str:
    """A delivery already out: it holds one unit of the day, so a double release shows."""
    delivery_id = queue_delivery(app)
    dispatcher(app).run_due()
    assert delivery_state(app, delivery_id).state == "published"
    assert used(app) == {("facebook", DAY): 1}
    return delivery_id


def claimed_by(app: App, owner: str) -> Claim:
    queue_delivery(app)
    claim = dispatcher(app, owner, exclusive=False).claim_next()
    assert claim is not None
    assert used(app) == {("facebook", DAY): 2}
    return claim


def to_sending(app: App, delivery_id: str) -> None:
    """What a daemon that died right after its ``sending`` commit leaves behind."""
    with transaction(app.sessions) as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None
        change_state(session, row, "sending", actor=row.lease_owner or "", now=app.clock.now())  # type: ignore[arg-type]


# -- the daily cap on every recovery path ------------------------------------------------


@pytest.mark.parametrize("recovery", ["lease expired", "owner dead", "daemon stopping"])
def test_a_recovered_claim_gives_its_cap_unit_back_exactly_once(
    capped: App, clock: FakeClock, recovery: str
) -> None:
    one_published(capped)
    claim = claimed_by(capped, "claimer")
    for _pass in range(2):  # a second pass must not give the unit back again
        if recovery == "lease expired":
            clock.advance(minutes=6)
            dispatcher(capped, "other", exclusive=False).reap()
        elif recovery == "owner dead":
            dispatcher(capped, "survivor", exclusive=True).reap()
        else:
            dispatcher(capped, "claimer").release_claims()
        assert delivery_state(capped, claim.delivery_id).state == "scheduled"
        assert used(capped) == {("facebook", DAY): 1}
        sound(capped)
    dispatcher(capped).run_due()
    assert delivery_state(capped, claim.delivery_id).state == "published"
    assert used(capped) == {("facebook", DAY): 2}
    sound(capped)


def test_a_recovered_send_keeps_its_cap_unit_through_reconciliation(
    capped: App, platform: ScriptedConnector, clock: FakeClock
) -> None:
    one_published(capped)
    claim = claimed_by(capped, "dead")
    to_sending(capped, claim.delivery_id)
    survivor = dispatcher(capped, "survivor", exclusive=True)
    survivor.reap()
    survivor.reap()
    assert delivery_state(capped, claim.delivery_id).state == "unknown"
    assert used(capped) == {("facebook", DAY): 2}  # it may have gone out
    sound(capped)
    clock.advance(minutes=3)
    survivor.reconcile_unknown()
    assert delivery_state(capped, claim.delivery_id).state == "needs_attention"
    assert used(capped) == {("facebook", DAY): 2}  # a person decides; until then it counts
    sound(capped)


@pytest.mark.parametrize(
    "answer",
    [
        Retryable("503 Service Unavailable", http_status=503),
        Permanent("refused", http_status=400),
        AuthExpired("token expired", http_status=401),
        "rate limited",
    ],
    ids=["retryable", "permanent", "auth-expired", "rate-limited"],
)
def test_a_refusal_gives_its_cap_unit_back_once(
    capped: App, platform: ScriptedConnector, clock: FakeClock, answer: PublishError | str
) -> None:
    one_published(capped)
    if answer == "rate limited":
        answer = RateLimited("slow down", until=clock.now() + timedelta(hours=1), http_status=429)
    assert isinstance(answer, PublishError)
    platform.answers = [answer]
    refused = queue_delivery(capped)
    dispatcher(capped).run_due()
    assert delivery_state(capped, refused).state in {"retry_wait", "failed", "held"}
    assert used(capped) == {("facebook", DAY): 1}  # nothing went out
    sound(capped)


def test_an_ambiguous_answer_keeps_its_cap_unit_until_reconciliation_decides(
    tmp_path: Path, clock: FakeClock, database: str, platform: ScriptedConnector
) -> None:
    app = make_app(
        tmp_path,
        clock,
        database=database,
        accounts={"facebook": {"kind": "dry_run", "log": "out/f.jsonl", "rules": {"daily_cap": 1}}},
    )
    capped = dataclasses.replace(app, connectors={"facebook": platform})
    platform.answers = [Ambiguous("connection reset after the request was sent")]
    maybe_out = queue_delivery(capped)
    next_one = queue_delivery(capped, due_at=clock.now() + timedelta(seconds=1))
    clock.advance(seconds=1)
    dispatcher(capped).run_due()
    assert delivery_state(capped, maybe_out).state == "unknown"
    # The post may be on the platform: the day is full, the next one is handed back to
    # placement (which alone decides where it goes) instead of being sent.
    assert used(capped) == {("facebook", DAY): 1}
    assert [outgoing.delivery_id for outgoing in platform.sent] == [maybe_out]
    handed_back = delivery_state(capped, next_one)
    assert handed_back.state == "approved" and "full" in (handed_back.reason or "")
    sound(capped)
    # It had gone out after all: reconciliation finds it, and it keeps its unit.
    platform.on_platform[maybe_out] = Published(platform_id="late-1", url=None)
    clock.advance(minutes=3)
    dispatcher(capped).run_due()
    assert delivery_state(capped, maybe_out).state == "published"
    assert used(capped) == {("facebook", DAY): 1}
    sound(capped)
    app.engine.dispose()


# -- fences: version, lease owner ------------------------------------------------------


class HeldConnector(ScriptedConnector):
    """The first send (daemon A's) runs ``during_first`` before it answers; the second (B's)
    waits in the request until the test lets it answer."""

    def __init__(self) -> None:
        super().__init__()
        self.during_first: Any = None
        self.second_in_flight = threading.Event()
        self.let_second_answer = threading.Event()

    def publish(self, outgoing: Outgoing) -> Published:
        if not self.sent:
            self.sent.append(outgoing)
            self.during_first()
            raise Permanent("refused: the first request's late, stale answer")
        self.second_in_flight.set()
        assert self.let_second_answer.wait(30), "the test never let the second send answer"
        return super().publish(outgoing)


def test_a_stale_outcome_after_a_newer_send_is_refused_by_the_version_fence(
    any_app: App, clock: FakeClock
) -> None:
    platform = HeldConnector()
    app = dataclasses.replace(any_app, connectors={"facebook": platform})
    delivery_id = queue_delivery(app)
    a = dispatcher(app, "daemon-a", exclusive=False)
    b = dispatcher(app, "daemon-b", exclusive=False)
    claim_a = a.claim_next()
    assert claim_a is not None
    seen: dict[str, Any] = {}
    resend = threading.Thread(target=lambda: b.run_due())

    def meanwhile() -> None:
        # A's request hangs past its lease: B takes it to unknown, does not find it, a
        # person sends it again, and B is sending it (same state, newer version) when
        # A's answer finally arrives.
        clock.advance(minutes=6)
        b.reap()
        clock.advance(minutes=3)
        b.reconcile_unknown()
        assert delivery_state(app, delivery_id).state == "needs_attention"
        retry(app.sessions, clock, [delivery_id], by="lea", placement=app.placement())
        resend.start()
        assert platform.second_in_flight.wait(30)
        row = delivery_state(app, delivery_id)
        seen["resent"] = (row.state, row.lease_owner, row.version)

    platform.during_first = meanwhile
    try:
        a.send(claim_a)
        row = delivery_state(app, delivery_id)
        assert seen["resent"][:2] == ("sending", "daemon-b")
        # A's refusal is not B's: the row is untouched.
        assert (row.state, row.lease_owner, row.version) == seen["resent"]
    finally:
        platform.let_second_answer.set()
        resend.join(30)
    assert delivery_state(app, delivery_id).state == "published"
    assert [outgoing.delivery_id for outgoing in platform.sent] == [delivery_id, delivery_id]
    sound(app)


def test_only_the_lease_owner_sends_even_with_the_current_version(
    scripted_app: App, platform: ScriptedConnector
) -> None:
    queue_delivery(scripted_app)
    claim = dispatcher(scripted_app, "owner", exclusive=False).claim_next()
    assert claim is not None
    # Another daemon holding a claim with the same id and version (a stale or borrowed
    # one) must not send what it does not hold.
    dispatcher(scripted_app, "intruder", exclusive=False).send(
        Claim(delivery_id=claim.delivery_id, version=claim.version)
    )
    assert platform.sent == []
    assert delivery_state(scripted_app, claim.delivery_id).state == "claimed"
    dispatcher(scripted_app, "owner", exclusive=False).send(claim)
    assert delivery_state(scripted_app, claim.delivery_id).state == "published"
    sound(scripted_app)


@pytest.fixture
def scripted_app(any_app: App, platform: ScriptedConnector) -> App:
    return dataclasses.replace(any_app, connectors={"facebook": platform})


def test_a_lease_renewal_never_extends_another_daemons_lease(
    scripted_app: App, clock: FakeClock
) -> None:
    delivery_id = queue_delivery(scripted_app)
    assert dispatcher(scripted_app, "daemon-b", exclusive=False).claim_next() is not None
    to_sending(scripted_app, delivery_id)
    before = delivery_state(scripted_app, delivery_id).lease_until
    clock.advance(minutes=1)
    # Daemon A still believes it sends this delivery (its request hangs): its renewer
    # ticks every 50 ms, and must leave daemon B's lease alone.
    short = scripted_app.config.dispatch.model_copy(update={"lease": timedelta(milliseconds=150)})
    a = dispatcher(scripted_app, "daemon-a", exclusive=False)
    a.settings = short
    renewals = threading.Semaphore(0)

    def count(_connection: object, _cursor: object, statement: str, *_rest: object) -> None:
        if threading.current_thread().name.startswith("lease-") and statement.startswith("UPDATE"):
            renewals.release()

    event.listen(scripted_app.engine, "after_cursor_execute", count)
    try:
        with a._lease_kept_alive(delivery_id):
            for _tick in range(3):
                assert renewals.acquire(timeout=10), "the renewer never ran"
    finally:
        event.remove(scripted_app.engine, "after_cursor_execute", count)
    row = delivery_state(scripted_app, delivery_id)
    assert (row.lease_owner, row.lease_until) == ("daemon-b", before)
