"""Handed-over deliveries: seen live, or brought to a person.

A delivery the platform took into its own scheduling is ``handed_over`` with the platform's
id and its time in ``due_at``. ``confirm_after`` past that time relais asks the connector
whether it is live: live makes it ``published`` with its public address; "it will not go
live" (YouTube's private lock, a rejected video, a deleted post) makes it
``needs_attention`` with the platform's reason; "not yet" asks again ``confirm_after``
later, and gives up to a person ``confirm_within`` after its time.

``lease_until`` of a handed-over delivery is the moment before which it is not asked
again (no owner: the look only reads, two daemons asking at once do no harm).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from connectors.base import Connector, DeliveryNotes, Outgoing
from connectors.errors import PublishError, RateLimited, Retryable
from connectors.handover import Confirmation, ConfirmsLive, Liveness
from scheduler.clock import Clock
from scheduler.db.models import Delivery
from scheduler.delivery.outgoing import outgoing_of
from scheduler.delivery.platform_changes import pending_changes
from scheduler.delivery.states import State
from scheduler.delivery.transitions import change_state, transaction
from scheduler.logs import fields

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ConfirmationTiming:
    confirm_after: timedelta
    confirm_within: timedelta


class HandoverConfirmer:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        clock: Clock,
        connectors: Mapping[str, Connector],
        timing: ConfirmationTiming,
        media_root: Path,
        notes: Callable[[str], DeliveryNotes],
        hold_account: Callable[[str, datetime], None],
        owner: str,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.connectors = connectors
        self.timing = timing
        self.media_root = media_root
        self.notes = notes
        self.hold_account = hold_account
        self.owner = owner

    def next_wake(self, session: Session, blocked: set[str]) -> list[datetime]:
        """When the next handed-over delivery is to be looked at."""
        waiting = (Delivery.state == State.HANDED_OVER, Delivery.account.not_in(blocked))
        wakes: list[datetime] = []
        first = session.scalar(
            select(func.min(Delivery.due_at)).where(*waiting, Delivery.lease_until.is_(None))
        )
        if first is not None:
            wakes.append(first + self.timing.confirm_after)
        again = session.scalar(
            select(func.min(Delivery.lease_until)).where(
                *waiting, Delivery.lease_until.is_not(None)
            )
        )
        if again is not None:
            wakes.append(again)
        return wakes

    def confirm_due(self, blocked: set[str]) -> int:
        """Ask about every handed-over delivery whose time has come; returns how many."""
        now = self.clock.now()
        root = self.media_root
        with transaction(self.sessions) as session:
            ready = session.scalars(
                select(Delivery).where(
                    Delivery.state == State.HANDED_OVER,
                    Delivery.due_at <= now - self.timing.confirm_after,
                    or_(Delivery.lease_until.is_(None), Delivery.lease_until <= now),
                    Delivery.account.not_in(blocked),
                )
            ).all()
            changing = pending_changes(session)  # a cancel or move goes first
            asked = [
                (d.id, d.platform_id or "", outgoing_of(d, root, self.notes(d.id)))
                for d in ready
                if d.id not in changing
            ]
        for delivery_id, platform_id, outgoing in asked:
            if outgoing.account in blocked:
                continue  # a rate limit met earlier in this pass: not before it resets
            self._confirm_one(delivery_id, platform_id, outgoing, now, blocked)
        return len(asked)

    def _confirm_one(
        self,
        delivery_id: str,
        platform_id: str,
        outgoing: Outgoing,
        now: datetime,
        blocked: set[str],
    ) -> None:
        connector = self.connectors.get(outgoing.account)
        ids = fields(delivery_id=delivery_id, account=outgoing.account, platform_id=platform_id)
        wait = self.timing.confirm_after
        if not isinstance(connector, ConfirmsLive):
            answer = Confirmation(
                liveness=Liveness.NOT_LIVE,
                reason=f"account {outgoing.account!r} can no longer say whether the post "
                "went live; look on the platform",
            )
        else:
            try:
                answer = connector.confirm(outgoing, platform_id)
            except (Retryable, RateLimited) as error:
                log.info("could not ask whether it is live: %s", error.message, extra=ids)
                platform_wait = (
                    error.until - now if isinstance(error, RateLimited) else error.retry_after
                )
                answer = Confirmation(liveness=Liveness.PENDING, reason=error.message)
                if platform_wait is not None:
                    # The platform asked for a pause: the whole account waits, as for sends.
                    self.hold_account(outgoing.account, now + platform_wait)
                    blocked.add(outgoing.account)
                    wait = max(wait, platform_wait)
            except PublishError as error:
                answer = Confirmation(liveness=Liveness.PENDING, reason=error.message)
        with transaction(self.sessions) as session:
            delivery = session.get(Delivery, delivery_id, with_for_update=True)
            if delivery is None or delivery.state != State.HANDED_OVER:
                return  # a person or another daemon settled it meanwhile
            assert delivery.due_at is not None
            if answer.liveness == Liveness.LIVE:
                delivery.url = answer.url or delivery.url
                delivery.lease_until = None
                delivery.last_error = None
                change_state(
                    session, delivery, State.PUBLISHED, actor=self.owner, now=now,
                    reason="seen live on the platform", platform_id=delivery.platform_id,
                    url=delivery.url,
                )  # fmt: skip
                return
            overdue = now >= delivery.due_at + self.timing.confirm_within
            if answer.liveness == Liveness.PENDING and not overdue:
                delivery.lease_until = now + wait
                log.info("not live yet: %s", answer.reason or "the platform is not done", extra=ids)
                return
            reason = answer.reason or "not live on the platform"
            if answer.liveness == Liveness.PENDING:
                reason = (
                    f"still not live {_hours(self.timing.confirm_within)} after its time: {reason}"
                )
            delivery.last_error = reason[:2000]
            delivery.lease_until = None
            change_state(
                session, delivery, State.NEEDS_ATTENTION, actor=self.owner, now=now,
                reason=reason, level=logging.ERROR,
            )  # fmt: skip


def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:g} hours" if hours != 1 else "1 hour"
