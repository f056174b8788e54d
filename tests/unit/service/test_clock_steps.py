"""The daemon survives the system clock stepping back or forward.

The step is injected: ClockStepWatch reads clocks the test moves, and the daemon's timers
are left where a step back leaves them (an hour ahead) before it is told of the step.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from scheduler.app import App
from scheduler.service.clock_steps import ClockStepWatch
from scheduler.service.daemon import DISPATCH_JOB, HEALTH_JOB, INTAKE_JOB, Daemon


class Clocks:
    def __init__(self) -> None:
        self.wall_now = 1_000_000.0
        self.monotonic_now = 50.0

    def wall(self) -> float:
        return self.wall_now

    def monotonic(self) -> float:
        return self.monotonic_now

    def tick(self, seconds: float, *, step: float = 0.0) -> None:
        self.monotonic_now += seconds
        self.wall_now += seconds + step


def test_a_step_is_seen_once_in_either_direction_and_slewing_is_not_a_step() -> None:
    clocks = Clocks()
    watch = ClockStepWatch(wall=clocks.wall, monotonic=clocks.monotonic)
    clocks.tick(5, step=0.5)  # NTP slewing
    assert watch.check() is None
    clocks.tick(5, step=-3600)
    assert watch.check() == -3600
    clocks.tick(5)
    assert watch.check() is None  # told once
    clocks.tick(5, step=600)
    assert watch.check() == 600


@pytest.fixture
def daemon(app: App) -> Iterator[Daemon]:
    running = Daemon(app)
    running.prepare()
    yield running
    if running.scheduler.running:
        running.scheduler.shutdown(wait=False)
    running._release()


def test_after_a_step_back_the_timers_are_re_armed_and_work_goes_on_at_once(
    daemon: Daemon, caplog: pytest.LogCaptureFixture
) -> None:
    ran = {INTAKE_JOB: threading.Event(), HEALTH_JOB: threading.Event()}
    dispatched = threading.Event()
    # Where a step back of an hour leaves APScheduler's timers: an hour ahead.
    stalled = datetime.now(UTC) + timedelta(hours=1)
    for job_id, event in ran.items():
        daemon.scheduler.add_job(
            event.set, "interval", seconds=10, next_run_time=stalled, id=job_id
        )
    daemon.scheduler.add_job(dispatched.set, "date", run_date=stalled, id=DISPATCH_JOB)
    daemon._dispatch_job = dispatched.set  # type: ignore[method-assign]
    daemon.scheduler.start()
    assert not ran[INTAKE_JOB].wait(0.2)

    caplog.set_level(logging.WARNING)
    daemon.clock_stepped(-3600)

    assert ran[INTAKE_JOB].wait(5) and ran[HEALTH_JOB].wait(5) and dispatched.wait(5)
    assert [r.getMessage() for r in caplog.records] == [
        "the system clock stepped back by 1.0 h; timers re-armed"
    ]
    # Intervals go on from the new time, not from the stalled one.
    intake = daemon.scheduler.get_job(INTAKE_JOB)
    assert intake.next_run_time <= datetime.now(UTC) + timedelta(seconds=11)


def test_a_step_forward_is_told_and_changes_no_timer(
    daemon: Daemon, caplog: pytest.LogCaptureFixture
) -> None:
    moment = datetime.now(UTC) + timedelta(minutes=5)
    daemon.scheduler.add_job(print, "interval", seconds=10, next_run_time=moment, id=INTAKE_JOB)
    daemon.scheduler.start(paused=True)
    caplog.set_level(logging.WARNING)
    daemon.clock_stepped(600)
    assert daemon.scheduler.get_job(INTAKE_JOB).next_run_time == moment
    assert [r.getMessage() for r in caplog.records] == [
        "the system clock stepped forward by 600 s; what fell due meanwhile runs now"
    ]
