"""Posts given to a platform's own scheduling, and the look that checks they went live.

Facebook (``scheduled_publish_time``), YouTube (``status.publishAt``) and WordPress
(``status: future``) take a post ahead and publish it themselves at its time. Being
accepted is not being live: YouTube keeps the uploads of an unaudited API project private,
rejects a video after processing; WordPress misses a schedule when its cron does not run.
So ``publish`` answers :class:`HandedOver` for such a post, dispatch records it as
``handed_over``, and after its time (plus a grace period) asks the connector's
``confirm`` whether it is live.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from connectors.base import Outgoing, Published


@dataclass(frozen=True, kw_only=True)
class HandedOver(Published):
    """The platform accepted the post and will publish it itself at ``live_at``.

    ``url`` is where it will be once live (a platform may only give it then).
    """

    live_at: datetime

    def __post_init__(self) -> None:
        if self.live_at.tzinfo is None:
            raise ValueError("HandedOver.live_at must be timezone-aware")


class Liveness(StrEnum):
    LIVE = "live"  # public now: the delivery is published
    PENDING = "pending"  # not yet, and nothing says it will not be: look again later
    NOT_LIVE = "not_live"  # it will not go live by itself: a person must act


@dataclass(frozen=True, kw_only=True)
class Confirmation:
    """What the platform says of a handed-over post; ``reason`` in the platform's terms
    and with what a person can do about it, when it is not live."""

    liveness: Liveness
    url: str | None = None
    reason: str | None = None


@runtime_checkable
class ConfirmsLive(Protocol):
    """A connector that hands posts over and can tell whether one went live.

    ``confirm`` reads, never writes; it may raise ``Retryable`` or ``RateLimited`` when the
    platform cannot be asked now (dispatch asks again later).
    """

    def confirm(self, outgoing: Outgoing, platform_id: str) -> Confirmation: ...


@runtime_checkable
class ChangesSchedule(Protocol):
    """A connector that can withdraw or move a post it handed over.

    ``change_problem`` says, before anything is done, why the platform cannot make this
    change (``at`` None: withdraw), or None. ``withdraw`` and ``reschedule`` are idempotent
    (a post already withdrawn, or already at ``at``, is success): after a crash the same
    change is made again. They raise ``connectors.errors`` like ``publish``.
    """

    def change_problem(self, outgoing: Outgoing, at: datetime | None) -> str | None: ...

    def withdraw(self, outgoing: Outgoing, platform_id: str) -> None: ...

    def reschedule(self, outgoing: Outgoing, platform_id: str, at: datetime) -> None: ...
