"""What ``relais status`` says about notifications: waiting, failing, given up, unsure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduler.db.models import Notification, NotificationSend

# The states of a send (scheduler.notifications.sender), repeated here so that the report
# does not import the sender and its Apprise.
_WAITING = ("waiting", "retry_wait")


@dataclass(frozen=True, kw_only=True)
class NotificationSummary:
    unexpanded: int  # recorded, recipients not resolved yet
    waiting: int  # to send now or after a back-off
    failing: int  # among those waiting, how many failed at least once
    held_for_digest: int
    failed: int  # given up
    unknown: int  # interrupted mid-send: may or may not have arrived
    sent: int
    oldest_waiting: datetime | None
    last_error: str | None

    @property
    def quiet(self) -> bool:
        return not (self.unexpanded or self.waiting or self.failed or self.unknown)


def notification_summary(session: Session) -> NotificationSummary:
    by_state = dict(
        session.execute(
            select(NotificationSend.state, func.count()).group_by(NotificationSend.state)
        ).all()
    )
    failing, oldest = session.execute(
        select(
            func.count().filter(NotificationSend.attempts > 0),
            func.min(NotificationSend.created_at),
        ).where(NotificationSend.state.in_(_WAITING))
    ).one()
    last_error = session.scalar(
        select(NotificationSend.last_error)
        .where(NotificationSend.state.in_([*_WAITING, "failed"]))
        .where(NotificationSend.last_error.is_not(None))
        .order_by(NotificationSend.updated_at.desc())
        .limit(1)
    )
    unexpanded = session.scalar(select(func.count()).where(Notification.expanded_at.is_(None)))
    return NotificationSummary(
        unexpanded=unexpanded or 0,
        waiting=sum(by_state.get(state, 0) for state in _WAITING),
        failing=failing or 0,
        held_for_digest=by_state.get("digest", 0),
        failed=by_state.get("failed", 0),
        unknown=by_state.get("unknown", 0),
        sent=by_state.get("sent", 0),
        oldest_waiting=oldest,
        last_error=last_error,
    )


def render_summary(summary: NotificationSummary) -> list[str]:
    line = (
        f"notifications: {summary.waiting} waiting ({summary.failing} failing), "
        f"{summary.held_for_digest} held for digests, {summary.sent} sent, "
        f"{summary.failed} given up, {summary.unknown} interrupted"
    )
    out = [line]
    if summary.unexpanded:
        out.append(f"  {summary.unexpanded} not yet addressed (the daemon does it)")
    if summary.last_error and (summary.failing or summary.failed):
        out.append(f"  last error: {summary.last_error}")
    return out
