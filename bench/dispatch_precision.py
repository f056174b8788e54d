"""Dispatch precision: one post due at T, time from T to the start of its send.

The real daemon (`relais run`: APScheduler as the clock, a SQLite queue with WAL and
synchronous=FULL) publishes posts due one after the other, every ``--interval`` seconds,
through dry-run accounts. The dry-run connector writes ``sent_at`` (the clock when its
``publish`` was called) beside ``due_at``: their difference is the lateness measured.

Baselines, same schedule, same run: a bare ``threading.Timer`` per post doing nothing (the
floor of timer precision on this machine), and a bare APScheduler date job per post (the
clock relais uses, without relais). The ratio is relais' p99 over the Timer's p99.
Target: p99 under 50 ms.

    .venv/bin/python bench/dispatch_precision.py [--posts 200] [--interval 0.1]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler

from bench.common import (
    ACCOUNTS,
    Child,
    Outcome,
    json_lines,
    percentile,
    print_header,
    print_outcomes,
    relais,
    write_project,
)
from scheduler.app import build_app
from scheduler.config import load_config
from tests.support import queue_delivery

TARGET_P99 = 0.050
STALL = 0.2  # a send this late waited for something else, not for its own work


def schedule(posts: int, interval: float, lead: float) -> list[float]:
    """Wall-clock due times (time.time() seconds), the first ``lead`` seconds from now."""
    first = time.time() + lead
    return [first + number * interval for number in range(posts)]


def timer_lateness(due: Sequence[float]) -> list[float]:
    lateness: list[float] = []
    lock = threading.Lock()

    def fire(moment: float) -> None:
        late = time.time() - moment
        with lock:
            lateness.append(late)

    timers: list[threading.Timer] = []
    for moment in due:
        # The interval is counted from start(), so each timer starts as soon as it is made.
        timer = threading.Timer(moment - time.time(), fire, args=(moment,))
        timer.start()
        timers.append(timer)
    for timer in timers:
        timer.join()
    return lateness


def apscheduler_lateness(due: Sequence[float]) -> list[float]:
    lateness: list[float] = []
    scheduler = BackgroundScheduler(timezone=UTC)
    done = threading.Event()

    def fire(moment: float) -> None:
        lateness.append(time.time() - moment)
        if len(lateness) == len(due):
            done.set()

    for moment in due:
        run_date = datetime.fromtimestamp(moment, UTC)
        scheduler.add_job(fire, "date", run_date=run_date, args=(moment,), misfire_grace_time=None)
    scheduler.start()
    done.wait(timeout=due[-1] - time.time() + 30)
    scheduler.shutdown(wait=True)
    return lateness


def relais_lateness(folder: Path, posts: int, interval: float, lead: float) -> list[float]:
    config_path = write_project(folder)
    app = build_app(load_config(config_path))
    due = schedule(posts, interval, lead)
    for number, moment in enumerate(due):
        queue_delivery(
            app,
            account=ACCOUNTS[number % len(ACCOUNTS)],
            due_at=datetime.fromtimestamp(moment, UTC),
        )
    app.engine.dispose()
    daemon = Child(relais(config_path, "run"), cwd=folder)
    try:
        started = daemon.wait_for("relais started")
        if time.time() > due[0] - 1:
            raise RuntimeError(
                f"the daemon took {started:.1f}s to start, too close to the first post; "
                "give a longer --lead"
            )
        time.sleep(max(0.0, due[-1] - time.time()) + 2.0)  # the schedule runs its course
    finally:
        code = daemon.stop()
    if code != 0:
        raise RuntimeError(f"relais run exited with {code}:\n{''.join(daemon.seen[-20:])}")
    lateness: list[float] = []
    for account in ACCOUNTS:
        for record in json_lines(folder / "out" / f"{account}.jsonl"):
            sent = datetime.fromisoformat(record["sent_at"])
            lateness.append((sent - datetime.fromisoformat(record["due_at"])).total_seconds())
    if len(lateness) != posts:
        raise RuntimeError(f"{len(lateness)} of {posts} posts were sent")
    return lateness


def describe(name: str, lateness: Sequence[float]) -> str:
    def ms(value: float) -> str:
        return f"{value * 1000:7.2f}"

    p50, p99 = percentile(lateness, 0.5), percentile(lateness, 0.99)
    return (
        f"{name:<26} p50 {ms(p50)} ms  p99 {ms(p99)} ms  max {ms(max(lateness))} ms"
        f"  min {ms(min(lateness))} ms  (n={len(lateness)})"
    )


def measure(what: Callable[[], list[float]], name: str) -> list[float]:
    print(f"measuring {name} ...", flush=True)
    return what()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between two posts")
    parser.add_argument("--lead", type=float, default=10.0, help="seconds before the first post")
    arguments = parser.parse_args()
    posts, interval = arguments.posts, arguments.interval
    print_header(f"dispatch precision: {posts} posts, one every {interval * 1000:.0f} ms")
    timer = measure(lambda: timer_lateness(schedule(posts, interval, 1.0)), "threading.Timer")
    aps = measure(lambda: apscheduler_lateness(schedule(posts, interval, 1.0)), "APScheduler")
    with tempfile.TemporaryDirectory(prefix="relais-bench-") as folder:
        ours = measure(
            lambda: relais_lateness(Path(folder), posts, interval, arguments.lead), "relais run"
        )
    print()
    print(describe("threading.Timer (baseline)", timer))
    print(describe("APScheduler date job", aps))
    print(describe("relais run", ours))
    stalls = sorted((late for late in ours if late > STALL), reverse=True)
    if stalls:
        shown = ", ".join(f"{late * 1000:.0f}" for late in stalls[:10])
        print(f"relais posts later than {STALL * 1000:.0f} ms: {len(stalls)} ({shown} ms)")
    p99, floor = percentile(ours, 0.99), percentile(timer, 0.99)
    print(f"\nratio p99 relais / p99 Timer: {p99 / floor:.1f}")
    print(f"target p99 < {TARGET_P99 * 1000:.0f} ms: {'met' if p99 < TARGET_P99 else 'MISSED'}")
    print_outcomes(
        [
            Outcome(
                benchmark=f"dispatch precision, {posts} posts (T to publish called)",
                figure=f"p50 {percentile(ours, 0.5) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms",
                baseline=f"threading.Timer p99 {floor * 1000:.2f} ms "
                f"(APScheduler alone p99 {percentile(aps, 0.99) * 1000:.2f} ms)",
                ratio=f"{p99 / floor:.0f}x",
                target="p99 < 50 ms",
                met=p99 < TARGET_P99,
            )
        ]
    )


if __name__ == "__main__":
    main()
