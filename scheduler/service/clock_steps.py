"""Noticing that the system clock stepped (NTP correction, a VM restored, a person).

APScheduler keeps its timers in wall-clock time. After the clock steps back an hour, every
job's next run lies an hour ahead and the scheduler sleeps that long: no intake, no
dispatch, no watchdog ping, and systemd kills relais mid-send. The daemon's main thread
wakes every few seconds on the monotonic clock anyway; it compares how far each clock
moved, and when they disagree by more than a tolerance it logs the step once and re-arms
every timer from the new wall-clock time. A step forward needs no re-arming (the jobs are
simply due) but is logged too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

# NTP slews small errors; a difference this large between the clocks is a step.
STEP_TOLERANCE_SECONDS = 10.0


@dataclass(kw_only=True)
class ClockStepWatch:
    wall: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    tolerance: float = STEP_TOLERANCE_SECONDS
    _last: tuple[float, float] = field(init=False)

    def __post_init__(self) -> None:
        self._last = (self.wall(), self.monotonic())

    def check(self) -> float | None:
        """The step since the last check in seconds (negative: backwards), or None."""
        wall, monotonic = self.wall(), self.monotonic()
        last_wall, last_monotonic = self._last
        self._last = (wall, monotonic)
        step = (wall - last_wall) - (monotonic - last_monotonic)
        return step if abs(step) >= self.tolerance else None


def describe_step(seconds: float) -> str:
    direction = "back" if seconds < 0 else "forward"
    span = abs(seconds)
    amount = f"{span / 3600:.1f} h" if span >= 3600 else f"{span:.0f} s"
    return f"the system clock stepped {direction} by {amount}"
