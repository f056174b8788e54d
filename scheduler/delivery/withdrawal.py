"""Withdrawing a post: one function for ``cancel: true`` in a post file and ``relais cancel``.

What has not been sent is cancelled; what went out, or may have, is left as it is and
named. A series episode gives its date back only when nothing of it went out and
nothing of it will: a date whose episode is (partly) published is not free for another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from scheduler.db.models import Delivery, Post
from scheduler.delivery.states import UNSENT, State
from scheduler.delivery.transitions import change_state
from scheduler.rules.series import SeriesCalendar

# A post whose deliveries are all in these states never went out and never will.
_NOTHING_OUT = frozenset({State.CANCELLED, State.REJECTED})


@dataclass(frozen=True, kw_only=True)
class Withdrawn:
    delivery: Delivery
    done: bool
    note: str  # "cancelled", or the state it was left in


def withdraw(
    session: Session,
    deliveries: Sequence[Delivery],
    *,
    actor: str,
    now: datetime,
    reason: str | None,
) -> list[Withdrawn]:
    """Cancel each delivery not yet sent; free the series dates of posts left with nothing."""
    outcome: list[Withdrawn] = []
    for delivery in deliveries:
        if State(delivery.state) not in UNSENT:
            outcome.append(
                Withdrawn(delivery=delivery, done=False, note=f"left as {delivery.state}")
            )
            continue
        delivery.reason = reason
        change_state(session, delivery, State.CANCELLED, actor=actor, now=now, reason=reason)
        outcome.append(Withdrawn(delivery=delivery, done=True, note="cancelled"))
    posts = {delivery.post_id: delivery.post for delivery in deliveries}
    for post in posts.values():
        free_series_date(session, post)
    return outcome


def free_series_date(session: Session, post: Post) -> bool:
    """Give the post's series date back if nothing of the episode went out or will."""
    if all(State(delivery.state) in _NOTHING_OUT for delivery in post.deliveries):
        SeriesCalendar.free(session, post.id)
        return True
    return False
