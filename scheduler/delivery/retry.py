"""When to try a failed delivery again: a policy object that returns a decision.

Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And
Jitter"), capped; the platform's own wait wins when it gave one; a bounded number of
attempts, after which the delivery fails and a person is told.
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
    max_attempts: int
    base: timedelta
    cap: timedelta
    rng: random.Random

    def decide(
        self, *, attempts: int, now: datetime, platform_wait: timedelta | None = None
    ) -> RetryDecision:
        """``attempts`` counts the tries made so far, the failed one included."""
        if attempts >= self.max_attempts:
            return RetryDecision(retry=False, reason=f"gave up after {attempts} attempts")
        if platform_wait is not None:
            return RetryDecision(
                retry=True, at=now + platform_wait, reason="the platform asked to wait"
            )
        ceiling = min(self.cap, self.base * (2 ** (attempts - 1)))
        # At least a second, so a zero draw does not turn into a hot loop.
        wait = max(timedelta(seconds=1), ceiling * self.rng.random())
        return RetryDecision(retry=True, at=now + wait, reason=f"backoff after attempt {attempts}")
