"""What holds a slot on an account, and on which day: defined once, for every rule.

Placement, the claim-time cap check and the plan report all count the same deliveries
against the same local day, so they can never disagree about whether a day is full.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from scheduler.delivery.states import State

# States whose ``due_at`` holds a slot on the account: what will go out, is going out, or
# went out. A post waiting on the editor (pending, approved, held) holds nothing yet.
OCCUPYING = frozenset(
    {
        State.SCHEDULED,
        State.CLAIMED,
        State.SENDING,
        State.HANDED_OVER,
        State.PUBLISHED,
        State.RETRY_WAIT,
        State.UNKNOWN,
        State.NEEDS_ATTENTION,
    }
)


def cap_day(moment: datetime, zone: ZoneInfo) -> date:
    """The day a post counts on for the daily cap: its local day in the configured zone."""
    return moment.astimezone(zone).date()


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Local midnight to local midnight in UTC (a DST day has 23 or 25 hours)."""
    start = datetime.combine(day, time(0), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    return start, end


@dataclass
class Taken:
    """The moments already taken on one account, sorted, each with the post that holds it.

    ``floor`` is the claim-time cap counter per local day: a day the counter already
    calls full is full for placement too, even if the deliveries that filled it moved.
    """

    moments: list[datetime] = field(default_factory=list)
    holders: list[str] = field(default_factory=list)
    floor: dict[date, int] = field(default_factory=dict)

    def add(self, moment: datetime, holder: str) -> None:
        index = bisect_right(self.moments, moment)
        self.moments.insert(index, moment)
        self.holders.insert(index, holder)

    def count_on(self, day: date, zone: ZoneInfo) -> int:
        start, end = day_bounds(day, zone)
        counted = bisect_left(self.moments, end) - bisect_left(self.moments, start)
        return max(counted, self.floor.get(day, 0))

    def on(self, day: date, zone: ZoneInfo) -> list[tuple[datetime, str]]:
        start, end = day_bounds(day, zone)
        low, high = bisect_left(self.moments, start), bisect_left(self.moments, end)
        return list(zip(self.moments[low:high], self.holders[low:high], strict=True))

    def closer_than(self, moment: datetime, gap: timedelta) -> list[tuple[datetime, str]]:
        """The taken moments strictly less than ``gap`` away from ``moment``."""
        if not gap:
            return []
        low = bisect_right(self.moments, moment - gap)
        high = bisect_left(self.moments, moment + gap)
        return list(zip(self.moments[low:high], self.holders[low:high], strict=True))
