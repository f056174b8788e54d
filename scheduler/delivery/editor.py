"""What the editor does from the command line: approve, reject, list, resume an account.

Every decision records who made it and when (``delivery_event`` and the delivery row).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from scheduler.clock import Clock
from scheduler.db.models import AccountState, Delivery, DeliveryEvent, Post
from scheduler.delivery.states import UNSENT, State
from scheduler.delivery.transitions import change_state, transaction
from scheduler.delivery.withdrawal import withdraw
from scheduler.rules.placement import Placement

log = logging.getLogger(__name__)
MIN_PREFIX = 6


class SelectionError(Exception):
    """An id on the command line names nothing, or more than one thing."""


@dataclass(frozen=True, kw_only=True)
class DeliveryRow:
    id: str
    post_key: str
    library: str
    author: str
    account: str
    state: str
    due_at: datetime | None
    title: str | None
    approved_by: str | None
    approved_at: datetime | None
    reason: str | None
    url: str | None


@dataclass(frozen=True, kw_only=True)
class Decision:
    delivery_id: str
    account: str
    post_key: str
    done: bool
    note: str


def select_deliveries(session: Session, references: Sequence[str]) -> list[Delivery]:
    """A delivery id, a unique prefix of one (at least 6 characters), or a post's id/key."""
    chosen: dict[str, Delivery] = {}
    for reference in references:
        post = session.scalars(select(Post).where(Post.key == reference)).one_or_none()
        if post is not None:
            chosen.update({d.id: d for d in post.deliveries})
            continue
        if len(reference) < MIN_PREFIX:
            raise SelectionError(
                f"{reference!r} is no post id, and too short for a delivery id "
                f"(give at least {MIN_PREFIX} characters)"
            )
        matches = session.scalars(
            select(Delivery).where(Delivery.id.startswith(reference, autoescape=True))
        ).all()
        if not matches:
            raise SelectionError(f"no post or delivery {reference!r}; `relais list` shows them")
        if len(matches) > 1:
            raise SelectionError(f"{reference!r} matches {len(matches)} deliveries; give more")
        chosen[matches[0].id] = matches[0]
    return list(chosen.values())


def approve(
    sessions: sessionmaker[Session],
    clock: Clock,
    references: Sequence[str],
    *,
    by: str,
    placement: Placement,
) -> list[Decision]:
    """Approve, then place what was approved (the house rules pick each slot)."""
    decisions = _decide(sessions, clock, references, by=by, to=State.APPROVED, reason=None)
    placement.place_approved()
    return decisions


def reject(
    sessions: sessionmaker[Session],
    clock: Clock,
    references: Sequence[str],
    *,
    by: str,
    reason: str,
) -> list[Decision]:
    return _decide(sessions, clock, references, by=by, to=State.REJECTED, reason=reason)


def _decide(
    sessions: sessionmaker[Session],
    clock: Clock,
    references: Sequence[str],
    *,
    by: str,
    to: State,
    reason: str | None,
) -> list[Decision]:
    """The editor's decision on each pending delivery; others are left as they are."""
    now = clock.now()
    decisions: list[Decision] = []
    with transaction(sessions) as session:
        for delivery in select_deliveries(session, references):
            if delivery.state != State.PENDING_APPROVAL:
                decisions.append(_decision(delivery, False, f"left as {delivery.state}"))
                continue
            delivery.approved_by = by
            delivery.approved_at = now
            delivery.reason = reason
            change_state(session, delivery, to, actor=by, now=now, reason=reason)
            decisions.append(_decision(delivery, True, str(to)))
    return decisions


def resume_account(
    sessions: sessionmaker[Session],
    clock: Clock,
    account: str,
    *,
    by: str,
    placement: Placement,
) -> int:
    """Unpause an account; its held posts are placed again under the house rules."""
    now = clock.now()
    with transaction(sessions) as session:
        state = session.get(AccountState, account)
        if state is not None:
            state.paused = False
            state.paused_reason = None
            state.paused_at = None
        held = session.scalars(
            select(Delivery).where(Delivery.account == account, Delivery.state == State.HELD)
        ).all()
        for delivery in held:
            change_state(
                session, delivery, State.APPROVED, actor=by, now=now, reason="account resumed"
            )
    placement.place_approved()
    return len(held)


def list_deliveries(
    sessions: sessionmaker[Session],
    *,
    zone: ZoneInfo,
    states: Sequence[str] = (),
    libraries: Sequence[str] = (),
    accounts: Sequence[str] = (),
    day: date | None = None,
) -> list[DeliveryRow]:
    """Deliveries in any of ``states``, of any of ``libraries``, on any of ``accounts``
    (an empty filter keeps everything), due on ``day`` if given."""
    query = select(Delivery, Post).join(Post, Delivery.post_id == Post.id)
    if states:
        query = query.where(Delivery.state.in_(states))
    if libraries:
        query = query.where(Post.library.in_(libraries))
    if accounts:
        query = query.where(Delivery.account.in_(accounts))
    if day:
        start = datetime.combine(day, time(0), zone)
        query = query.where(Delivery.due_at >= start, Delivery.due_at < start + timedelta(days=1))
    query = query.order_by(Delivery.due_at.is_(None), Delivery.due_at, Post.key, Delivery.account)
    with transaction(sessions) as session:
        return [_row(delivery, post) for delivery, post in session.execute(query).all()]


def _row(delivery: Delivery, post: Post) -> DeliveryRow:
    return DeliveryRow(
        id=delivery.id,
        post_key=post.key,
        library=post.library,
        author=post.author,
        account=delivery.account,
        state=delivery.state,
        due_at=delivery.due_at,
        title=post.title,
        approved_by=delivery.approved_by,
        approved_at=delivery.approved_at,
        reason=delivery.reason or delivery.last_error,
        url=delivery.url,
    )


def _decision(delivery: Delivery, done: bool, note: str) -> Decision:
    return Decision(
        delivery_id=delivery.id,
        account=delivery.account,
        post_key=delivery.post.key,
        done=done,
        note=note,
    )


def move(
    sessions: sessionmaker[Session],
    clock: Clock,
    reference: str,
    when: datetime,
    *,
    by: str,
    placement: Placement,
) -> Delivery:
    """Give a delivery a new fixed time; the house rules are checked again by placement."""
    now = clock.now()
    with transaction(sessions) as session:
        [delivery] = _one(session, reference)
        if State(delivery.state) not in UNSENT:
            raise SelectionError(
                f"delivery {delivery.id[:8]} is {delivery.state}; only a delivery not yet "
                "sent can move"
            )
        delivery.timing = {**delivery.timing, "kind": "at", "at": when.isoformat()}
        delivery.due_at = when
        delivery.window_end = None
        reason = f"moved by {by} to {when.isoformat()}"
        if delivery.state != State.PENDING_APPROVAL and delivery.state != State.APPROVED:
            change_state(session, delivery, State.APPROVED, actor=by, now=now, reason=reason)
        delivery_id = delivery.id
    placement.place_approved()
    with transaction(sessions) as session:
        moved = session.get(Delivery, delivery_id)
        assert moved is not None
        session.expunge(moved)
        return moved


def retry(
    sessions: sessionmaker[Session],
    clock: Clock,
    references: Sequence[str],
    *,
    by: str,
    placement: Placement,
) -> list[Decision]:
    """A person decided that a failed or vanished delivery must be sent again.

    Only ``needs_attention`` (checked on the platform: it is not there) and ``failed``
    (the cause was fixed) may be retried; the attempts start again from zero.
    """
    now = clock.now()
    decisions: list[Decision] = []
    with transaction(sessions) as session:
        for delivery in select_deliveries(session, references):
            if delivery.state not in (State.NEEDS_ATTENTION, State.FAILED):
                decisions.append(_decision(delivery, False, f"left as {delivery.state}"))
                continue
            delivery.attempts = 0
            delivery.due_at = now
            delivery.timing = {**delivery.timing, "kind": "next_free"}
            change_state(
                session, delivery, State.APPROVED, actor=by, now=now,
                reason=f"sent again by {by} (was {delivery.state})",
            )  # fmt: skip
            decisions.append(_decision(delivery, True, "queued again"))
    placement.place_approved()
    return decisions


def cancel(
    sessions: sessionmaker[Session],
    clock: Clock,
    references: Sequence[str],
    *,
    by: str,
    reason: str | None,
    placement: Placement | None = None,
) -> list[Decision]:
    """Withdraw deliveries not yet sent (the same rules as ``cancel: true``); the room
    they leave is planned again."""
    now = clock.now()
    with transaction(sessions) as session:
        chosen = select_deliveries(session, references)
        outcome = withdraw(session, chosen, actor=by, now=now, reason=reason)
        decisions = [_decision(item.delivery, item.done, item.note) for item in outcome]
    if placement is not None and any(decision.done for decision in decisions):
        placement.replan()
    return decisions


@dataclass(frozen=True, kw_only=True)
class Explanation:
    delivery: DeliveryRow
    events: tuple[tuple[datetime, str | None, str, str, str | None], ...]


def explain(sessions: sessionmaker[Session], reference: str) -> Explanation:
    """Why a delivery is where it is: its history of state changes with their reasons."""
    with transaction(sessions) as session:
        [delivery] = _one(session, reference)
        events = session.execute(
            select(
                DeliveryEvent.at,
                DeliveryEvent.from_state,
                DeliveryEvent.to_state,
                DeliveryEvent.actor,
                DeliveryEvent.reason,
            )
            .where(DeliveryEvent.delivery_id == delivery.id)
            .order_by(DeliveryEvent.id)
        ).all()
        return Explanation(
            delivery=_row(delivery, delivery.post),
            events=tuple((e.at, e.from_state, e.to_state, e.actor, e.reason) for e in events),
        )


def _one(session: Session, reference: str) -> list[Delivery]:
    chosen = select_deliveries(session, [reference])
    if len(chosen) != 1:
        raise SelectionError(
            f"{reference!r} names {len(chosen)} deliveries; give one delivery id "
            "(`relais list` shows them)"
        )
    return chosen
