"""State changes of deliveries: one committed transaction and one log line each.

Every change goes through :func:`change_state`, which checks the transition against the
state machine, bumps the row's version (the fence: ``version_id_col`` makes a concurrent
writer's stale update fail), records a ``delivery_event`` row, and queues the log line
that is written only once the transaction has committed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from scheduler.db.models import Delivery, DeliveryEvent
from scheduler.delivery.states import State, check_transition
from scheduler.logs import fields
from scheduler.notifications.events import OUTBOX_INFO_KEY, on_delivery_change

log = logging.getLogger("relais.state")

_PENDING = "relais_pending_log_lines"


@dataclass(frozen=True, kw_only=True)
class _LogLine:
    level: int
    message: str
    fields: dict[str, Any]


def make_sessions(engine: Engine, *, outbox: bool = False) -> sessionmaker[Session]:
    """Sessions whose state-change log lines appear after, and only after, commit.

    With ``outbox``, every state change a person must hear about also writes its
    notification row, in the same transaction (scheduler.notifications.events).
    """
    sessions = sessionmaker(engine, expire_on_commit=False, info={OUTBOX_INFO_KEY: outbox})

    @event.listens_for(sessions, "after_commit")
    def _emit(session: Session) -> None:
        for line in session.info.pop(_PENDING, []):
            log.log(line.level, line.message, extra={"fields": line.fields})

    @event.listens_for(sessions, "after_rollback")
    def _discard(session: Session) -> None:
        session.info.pop(_PENDING, None)

    return sessions


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: committed when the block ends, rolled back if it raises."""
    with sessions() as session, session.begin():
        yield session


def change_state(
    session: Session,
    delivery: Delivery,
    to: State,
    *,
    actor: str,
    now: datetime,
    reason: str | None = None,
    level: int = logging.INFO,
    **extra: Any,
) -> None:
    current = State(delivery.state)
    check_transition(delivery.id, current, to)
    delivery.state = to
    delivery.updated_at = now
    session.add(
        DeliveryEvent(
            delivery=delivery,
            at=now,
            from_state=current,
            to_state=to,
            actor=actor,
            reason=reason,
        )
    )
    on_delivery_change(session, delivery, to, actor=actor, now=now, reason=reason)
    _queue_log_line(
        session,
        level,
        f"delivery {current} -> {to}",
        event="state_change",
        from_state=str(current),
        to_state=str(to),
        actor=actor,
        reason=reason,
        post_id=delivery.post_id,
        delivery_id=delivery.id,
        account=delivery.account,
        **extra,
    )


def record_move(
    session: Session,
    delivery: Delivery,
    *,
    actor: str,
    now: datetime,
    before: datetime | None,
    reason: str,
) -> None:
    """A delivery keeps its state but gets another time: an event (same state on both
    sides) so that every move has a recorded reason."""
    state = State(delivery.state)
    delivery.updated_at = now
    session.add(
        DeliveryEvent(
            delivery=delivery, at=now, from_state=state, to_state=state, actor=actor,
            reason=reason,
        )
    )  # fmt: skip
    _queue_log_line(
        session,
        logging.INFO,
        "delivery moved",
        event="moved",
        state=str(state),
        before=before.isoformat() if before else None,
        due_at=delivery.due_at.isoformat() if delivery.due_at else None,
        actor=actor,
        reason=reason,
        post_id=delivery.post_id,
        delivery_id=delivery.id,
        account=delivery.account,
    )


def record_creation(
    session: Session, delivery: Delivery, *, actor: str, now: datetime, reason: str | None = None
) -> None:
    """A new delivery's first state is an event too (``from_state`` empty)."""
    session.add(
        DeliveryEvent(
            delivery=delivery,
            at=now,
            from_state=None,
            to_state=delivery.state,
            actor=actor,
            reason=reason,
        )
    )
    on_delivery_change(session, delivery, delivery.state, actor=actor, now=now, reason=reason)
    _queue_log_line(
        session,
        logging.INFO,
        f"delivery created as {delivery.state}",
        event="state_change",
        from_state=None,
        to_state=delivery.state,
        actor=actor,
        reason=reason,
        post_id=delivery.post_id,
        delivery_id=delivery.id,
        account=delivery.account,
    )


def _queue_log_line(session: Session, level: int, message: str, **values: Any) -> None:
    session.info.setdefault(_PENDING, []).append(
        _LogLine(level=level, message=message, fields=fields(**values)["fields"])
    )
