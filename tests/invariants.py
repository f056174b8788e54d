"""What must hold in a queue whenever nothing is in the middle of a transaction.

Checked at the end of every process and crash test (and by the tests of the daily cap), so
that a regression which keeps the visible outcome right but corrupts the bookkeeping (a cap
unit given back twice, a state change without its history row, a claim nobody holds) is
caught where it happens instead of on some later day:

1. For every account and local day, ``daily_usage.used`` equals the number of deliveries
   that hold a unit of that day's cap (accounts without a ``daily_cap`` have no rows).
2. No delivery is ``claimed`` or ``sending`` without a live lease (an owner, and
   ``lease_until`` after ``now``).
3. Every state change has its event row: each delivery's events form one chain from its
   creation (``from_state`` empty) to its current state.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from scheduler.config import load_config
from scheduler.db.engines import make_engine
from scheduler.db.models import DailyUsage, Delivery, DeliveryEvent
from scheduler.delivery.states import State
from scheduler.rules.house_rules import AccountRules
from scheduler.rules.slots import local_day

# A unit is reserved with the claim and given back only when nothing went out (claim
# recovered or released, a refusal, a wait); whatever may have reached the platform keeps it.
HOLDING_A_CAP_UNIT = frozenset(
    {
        State.CLAIMED,
        State.SENDING,
        State.HANDED_OVER,
        State.PUBLISHED,
        State.UNKNOWN,
        State.NEEDS_ATTENTION,
    }
)
LEASED = frozenset({State.CLAIMED, State.SENDING})


def cap_units(session: Session) -> dict[tuple[str, str], int]:
    """``daily_usage`` as {(account, local day): used}, days at zero left out."""
    return {
        (row.account, row.local_day): row.used
        for row in session.scalars(select(DailyUsage))
        if row.used != 0
    }


def units_held(
    session: Session, rules: Mapping[str, AccountRules], zone: ZoneInfo
) -> dict[tuple[str, str], int]:
    """What ``daily_usage`` should say, counted from the deliveries themselves."""
    capped = [name for name, rule in rules.items() if rule.daily_cap is not None]
    held: Counter[tuple[str, str]] = Counter()
    for account, due_at in session.execute(
        select(Delivery.account, Delivery.due_at).where(
            Delivery.account.in_(capped), Delivery.state.in_(HOLDING_A_CAP_UNIT)
        )
    ):
        assert due_at is not None, f"a delivery of {account} holds a cap unit without a time"
        held[(account, local_day(due_at, zone).isoformat())] += 1
    return dict(held)


def violations(
    session: Session, *, rules: Mapping[str, AccountRules], zone: ZoneInfo, now: datetime
) -> list[str]:
    """Every broken invariant, in words; empty when the queue is sound."""
    found: list[str] = []
    recorded, expected = cap_units(session), units_held(session, rules, zone)
    for account, day in sorted(recorded.keys() | expected.keys()):
        used, held = recorded.get((account, day), 0), expected.get((account, day), 0)
        if used != held:
            found.append(
                f"daily_usage of {account} on {day} is {used}, "
                f"but {held} deliveries hold a unit of it"
            )
    for delivery in session.scalars(select(Delivery).where(Delivery.state.in_(LEASED))):
        if (
            delivery.lease_owner is None
            or delivery.lease_until is None
            or delivery.lease_until <= now
        ):
            found.append(
                f"delivery {delivery.id} is {delivery.state} without a live lease "
                f"(owner {delivery.lease_owner}, until {delivery.lease_until})"
            )
    chains: defaultdict[str, list[tuple[str | None, str]]] = defaultdict(list)
    for delivery_id, from_state, to_state in session.execute(
        select(
            DeliveryEvent.delivery_id, DeliveryEvent.from_state, DeliveryEvent.to_state
        ).order_by(DeliveryEvent.id)
    ):
        chains[delivery_id].append((from_state, to_state))
    for delivery_id, state in session.execute(select(Delivery.id, Delivery.state)):
        found.extend(_chain_problems(delivery_id, state, chains.get(delivery_id, [])))
    return found


def _chain_problems(delivery_id: str, state: str, chain: list[tuple[str | None, str]]) -> list[str]:
    if not chain:
        return [f"delivery {delivery_id} ({state}) has no event row at all"]
    problems = []
    if chain[0][0] is not None:
        problems.append(f"delivery {delivery_id}: its first event is not its creation")
    for (_, before), (after, to) in itertools.pairwise(chain):
        if before != after:
            problems.append(
                f"delivery {delivery_id}: a change from {before} to {after} has no event "
                f"(the next event is {after} -> {to})"
            )
    if chain[-1][1] != state:
        problems.append(f"delivery {delivery_id} is {state} but its last event says {chain[-1][1]}")
    return problems


def assert_sound(
    sessions: sessionmaker[Session],
    *,
    rules: Mapping[str, AccountRules],
    zone: ZoneInfo,
    now: datetime,
) -> None:
    with sessions() as session:
        found = violations(session, rules=rules, zone=zone, now=now)
    assert not found, "queue invariants broken:\n  " + "\n  ".join(found)


def project_violations(config_path: Path, now: datetime) -> list[str]:
    """The invariants of the queue a ``config.yaml`` names (process and crash tests)."""
    config = load_config(config_path)
    engine = make_engine(config.database_url)
    try:
        with Session(engine) as session:
            return violations(session, rules=config.rules(), zone=config.zone, now=now)
    finally:
        engine.dispose()


def assert_project_sound(config_path: Path, now: datetime) -> None:
    found = project_violations(config_path, now)
    assert not found, "queue invariants broken:\n  " + "\n  ".join(found)
