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
from scheduler.models import AccountState, Delivery, Post
from scheduler.placement import Placement
from scheduler.queue import change_state, transaction
from scheduler.states import State

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


def resume_account(sessions: sessionmaker[Session], clock: Clock, account: str, *, by: str) -> int:
    """Unpause an account and put its held posts back in the queue."""
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
                session, delivery, State.SCHEDULED, actor=by, now=now, reason="account resumed"
            )
        return len(held)


def list_deliveries(
    sessions: sessionmaker[Session],
    *,
    zone: ZoneInfo,
    states: Sequence[str] = (),
    library: str | None = None,
    account: str | None = None,
    day: date | None = None,
) -> list[DeliveryRow]:
    query = select(Delivery, Post).join(Post, Delivery.post_id == Post.id)
    if states:
        query = query.where(Delivery.state.in_(states))
    if library:
        query = query.where(Post.library == library)
    if account:
        query = query.where(Delivery.account == account)
    if day:
        start = datetime.combine(day, time(0), zone)
        query = query.where(Delivery.due_at >= start, Delivery.due_at < start + timedelta(days=1))
    query = query.order_by(Delivery.due_at.is_(None), Delivery.due_at, Post.key, Delivery.account)
    with transaction(sessions) as session:
        return [
            DeliveryRow(
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
            for delivery, post in session.execute(query).all()
        ]


def _decision(delivery: Delivery, done: bool, note: str) -> Decision:
    return Decision(
        delivery_id=delivery.id,
        account=delivery.account,
        post_key=delivery.post.key,
        done=done,
        note=note,
    )
