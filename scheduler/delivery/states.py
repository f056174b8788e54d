"""The delivery state machine of DESIGN.md, as data.

``claimed -> scheduled`` is safe (nothing left). ``sending`` is committed before the
request leaves; after a crash or an ambiguous answer a delivery becomes ``unknown`` and
is settled by reconciliation, never by sending again. A post given to the platform's own
scheduling is ``handed_over`` until relais has seen it live (``published``) or learnt that
it will not go live by itself (``needs_attention``).
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    SCHEDULED = "scheduled"
    CLAIMED = "claimed"
    SENDING = "sending"
    HANDED_OVER = "handed_over"
    PUBLISHED = "published"
    RETRY_WAIT = "retry_wait"
    FAILED = "failed"
    UNKNOWN = "unknown"
    NEEDS_ATTENTION = "needs_attention"
    HELD = "held"
    MISSED = "missed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


S = State

TRANSITIONS: dict[State, frozenset[State]] = {
    S.PENDING_APPROVAL: frozenset({S.APPROVED, S.REJECTED, S.CANCELLED}),
    S.APPROVED: frozenset({S.SCHEDULED, S.HELD, S.CANCELLED, S.PENDING_APPROVAL}),
    S.SCHEDULED: frozenset(
        {S.CLAIMED, S.HELD, S.MISSED, S.CANCELLED, S.PENDING_APPROVAL, S.APPROVED}
    ),
    S.CLAIMED: frozenset({S.SENDING, S.SCHEDULED, S.HELD, S.MISSED, S.RETRY_WAIT}),
    S.SENDING: frozenset({S.PUBLISHED, S.HANDED_OVER, S.RETRY_WAIT, S.FAILED, S.UNKNOWN, S.HELD}),
    # Seen live, seen not to go live, or withdrawn from the platform's schedule.
    S.HANDED_OVER: frozenset({S.PUBLISHED, S.NEEDS_ATTENTION, S.CANCELLED}),
    S.RETRY_WAIT: frozenset({S.SCHEDULED, S.CANCELLED, S.PENDING_APPROVAL, S.APPROVED}),
    # Found, or not: a person looks, or, once, an authoritative "never created" sends again.
    S.UNKNOWN: frozenset({S.PUBLISHED, S.HANDED_OVER, S.NEEDS_ATTENTION, S.SCHEDULED}),
    S.HELD: frozenset({S.SCHEDULED, S.CANCELLED, S.PENDING_APPROVAL, S.APPROVED}),
    # A person decides: it is there (published), it is not (retry: approved), or drop it.
    S.NEEDS_ATTENTION: frozenset({S.PUBLISHED, S.CANCELLED, S.APPROVED, S.HANDED_OVER}),
    S.PUBLISHED: frozenset(),
    S.FAILED: frozenset({S.APPROVED}),  # a person fixed the cause and sends it again
    S.MISSED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REJECTED: frozenset({S.PENDING_APPROVAL}),  # the contributor re-drops a fixed file
}

# Nothing has left for these: a re-dropped file may still change them, cancel withdraws them.
UNSENT = frozenset({S.PENDING_APPROVAL, S.APPROVED, S.SCHEDULED, S.RETRY_WAIT, S.HELD})
# Something may have reached the platform: the post can no longer be edited.
TOUCHED = frozenset(
    {S.CLAIMED, S.SENDING, S.HANDED_OVER, S.PUBLISHED, S.UNKNOWN, S.NEEDS_ATTENTION}
)
# Nothing more happens to these unless a person acts (re-drops, retries).
FINAL = frozenset({S.PUBLISHED, S.FAILED, S.MISSED, S.CANCELLED, S.REJECTED})


class IllegalTransition(Exception):
    def __init__(self, delivery_id: str, current: State, wanted: State) -> None:
        super().__init__(f"delivery {delivery_id} cannot go from {current} to {wanted}")
        self.current = current
        self.wanted = wanted


def check_transition(delivery_id: str, current: State, wanted: State) -> None:
    if wanted not in TRANSITIONS[current]:
        raise IllegalTransition(delivery_id, current, wanted)
