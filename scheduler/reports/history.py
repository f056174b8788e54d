"""``relais history DELIVERY``: every state change and every attempt of one delivery.

State changes come from ``delivery_event``, attempts from ``attempt``. Dispatch writes an
attempt in the same transaction as the ``-> sending`` change it belongs to, so the n-th
attempt is shown right after the n-th ``-> sending`` change: the order is exact even when
both carry the same time (a fast send, or a test clock that does not move).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from scheduler.db.models import Attempt, Delivery, DeliveryEvent
from scheduler.delivery.editor import SelectionError, select_deliveries
from scheduler.delivery.states import State
from scheduler.delivery.transitions import transaction


@dataclass(frozen=True, kw_only=True)
class StateChange:
    at: datetime
    from_state: str | None  # None: the delivery was created in ``to_state``
    to_state: str
    actor: str
    reason: str | None


@dataclass(frozen=True, kw_only=True)
class AttemptRecord:
    number: int
    started_at: datetime
    finished_at: datetime | None  # None: no answer recorded (in flight, or a crash)
    outcome: str | None
    http_status: int | None
    error_class: str | None
    message: str | None
    wait_seconds: int | None

    @property
    def at(self) -> datetime:
        return self.started_at


@dataclass(frozen=True, kw_only=True)
class History:
    delivery_id: str
    post_key: str
    library: str
    account: str
    state: str
    due_at: datetime | None
    attempts: int
    platform_id: str | None
    url: str | None
    last_error: str | None
    entries: tuple[StateChange | AttemptRecord, ...]  # oldest first


def delivery_history(sessions: sessionmaker[Session], reference: str) -> History:
    """The history of the one delivery ``reference`` names (id, 6+ character prefix, or a
    post id with a single delivery); SelectionError otherwise."""
    with transaction(sessions) as session:
        chosen = select_deliveries(session, [reference])
        if len(chosen) != 1:
            accounts = ", ".join(sorted(d.account for d in chosen))
            raise SelectionError(
                f"{reference!r} names {len(chosen)} deliveries ({accounts}); give one "
                "delivery id (`relais list` shows them)"
            )
        [delivery] = chosen
        return History(
            delivery_id=delivery.id,
            post_key=delivery.post.key,
            library=delivery.post.library,
            account=delivery.account,
            state=delivery.state,
            due_at=delivery.due_at,
            attempts=delivery.attempts,
            platform_id=delivery.platform_id,
            url=delivery.url,
            last_error=delivery.last_error,
            entries=_merged(_changes(session, delivery), _attempts(session, delivery)),
        )


def _changes(session: Session, delivery: Delivery) -> list[StateChange]:
    return [
        StateChange(
            at=event.at,
            from_state=event.from_state,
            to_state=event.to_state,
            actor=event.actor,
            reason=event.reason,
        )
        for event in session.scalars(
            select(DeliveryEvent)
            .where(DeliveryEvent.delivery_id == delivery.id)
            .order_by(DeliveryEvent.id)
        )
    ]


def _attempts(session: Session, delivery: Delivery) -> list[AttemptRecord]:
    return [
        AttemptRecord(
            number=attempt.number,
            started_at=attempt.started_at,
            finished_at=attempt.finished_at,
            outcome=attempt.outcome,
            http_status=attempt.http_status,
            error_class=attempt.error_class,
            message=attempt.message,
            wait_seconds=attempt.wait_seconds,
        )
        for attempt in session.scalars(
            select(Attempt).where(Attempt.delivery_id == delivery.id).order_by(Attempt.id)
        )
    ]


def _merged(
    changes: list[StateChange], attempts: list[AttemptRecord]
) -> tuple[StateChange | AttemptRecord, ...]:
    merged: list[StateChange | AttemptRecord] = []
    pending = list(attempts)
    for change in changes:
        # An attempt written without its change (a database from before events were kept)
        # still lands in time order.
        while pending and pending[0].started_at < change.at:
            merged.append(pending.pop(0))
        merged.append(change)
        if change.to_state == State.SENDING and pending:
            merged.append(pending.pop(0))
    merged.extend(pending)
    return tuple(merged)


def render_history(history: History, zone: ZoneInfo) -> str:
    """Plain text for a terminal: a summary, then one line per change or attempt."""
    lines = [
        f"{history.delivery_id}  {history.post_key} -> {history.account}  ({history.library})",
        f"  state {history.state}, due {_local(history.due_at, zone)} {zone.key}, "
        f"{history.attempts} attempt{'s' if history.attempts != 1 else ''} counted",
    ]
    if history.url or history.platform_id:
        lines.append(f"  published as {history.platform_id or '?'} {history.url or ''}".rstrip())
    if history.last_error:
        lines.append(f"  last error: {history.last_error}")
    lines.append("")
    for entry in history.entries:
        if isinstance(entry, StateChange):
            change = (
                f"{entry.from_state} -> {entry.to_state}"
                if entry.from_state
                else f"created as {entry.to_state}"
            )
            lines.append(
                f"  {_local(entry.at, zone)}  {change:<34} by {entry.actor}"
                + (f": {entry.reason}" if entry.reason else "")
            )
        else:
            lines.append(f"  {_local(entry.at, zone)}    {_attempt(entry)}")
    return "\n".join(lines) + "\n"


def _attempt(attempt: AttemptRecord) -> str:
    if attempt.finished_at is None:
        return f"attempt {attempt.number}: no answer recorded"
    took = (attempt.finished_at - attempt.started_at).total_seconds()
    result = attempt.outcome or "?"
    if attempt.error_class:
        result = attempt.error_class
    if attempt.http_status is not None:
        result += f" (HTTP {attempt.http_status})"
    text = f"attempt {attempt.number}: {result} after {took:.1f} s"
    if attempt.message:
        text += f": {attempt.message}"
    if attempt.wait_seconds is not None:
        text += f"; wait {attempt.wait_seconds} s"
    return text


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    # Seconds shown: an attempt and its outcome are often within the same minute.
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if moment else "-"
