"""When to try a failed delivery again: a policy object that returns a decision.

Transient failures are retried for a time, not a count: a platform down for an hour or a
night is ordinary, and five quick tries would turn every due post into ``failed`` within
minutes. The waits grow by exponential backoff with full jitter (AWS architecture blog,
"Exponential Backoff And Jitter") up to a ceiling, so a post goes out within about that
ceiling once the platform is back; the platform's own wait wins when it gave one. Retrying
stops when the delivery's own window closes (``not_after``, the end of its window), or,
for a post without one, ``horizon`` after its first failure; the delivery then fails and
a person is told, with the last error. An optional ``max_attempts`` still bounds the
count where a config asks for it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, kw_only=True)
class RetryDecision:
    retry: bool
    at: datetime | None = None
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    base: timedelta
    cap: timedelta
    rng: random.Random
    horizon: timedelta = timedelta(hours=24)
    max_attempts: int | None = None

    def deadline(self, *, since: datetime, not_after: datetime | None) -> datetime:
        """The last moment a try may start: the window's end, else ``horizon`` after the
        first failure."""
        return not_after if not_after is not None else since + self.horizon

    def decide(
        self,
        *,
        attempts: int,
        now: datetime,
        since: datetime | None = None,
        not_after: datetime | None = None,
        platform_wait: timedelta | None = None,
    ) -> RetryDecision:
        """``attempts`` counts the tries made so far, the failed one included; ``since`` is
        the first failure of this run of retries (``now`` if this is it)."""
        since = since or now
        deadline = self.deadline(since=since, not_after=not_after)
        if self.max_attempts is not None and attempts >= self.max_attempts:
            return RetryDecision(retry=False, reason=f"gave up after {attempts} attempts")
        if now >= deadline:
            return RetryDecision(retry=False, reason=_gave_up(since, now, not_after, attempts))
        if platform_wait is not None:
            wait, reason = platform_wait, "the platform asked to wait"
        else:
            ceiling = min(self.cap, self.base * (2 ** min(attempts - 1, 30)))
            # At least a second, so a zero draw does not turn into a hot loop.
            wait = max(timedelta(seconds=1), ceiling * self.rng.random())
            reason = f"backoff after attempt {attempts}"
        # One last try at the deadline rather than none after a long wait.
        at = min(now + wait, deadline)
        return RetryDecision(
            retry=True, at=at, reason=f"{reason}; retrying until {deadline:%Y-%m-%d %H:%M} UTC"
        )


def _gave_up(since: datetime, now: datetime, not_after: datetime | None, attempts: int) -> str:
    span = _span(now - since)
    if not_after is not None:
        return f"its window closed after {attempts} attempts over {span}"
    return f"still failing after {attempts} attempts over {span}"


def _span(age: timedelta) -> str:
    minutes = int(age.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"
