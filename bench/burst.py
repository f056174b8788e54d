"""Burst throughput: deliveries per second through the dry-run connector on SQLite.

Printed as a ratio to the raw rate of fsync'd SQLite commits on the same disk, measured in
the same run, so the figure means the same on a laptop and on the library's server.
A delivery costs about three commits (claim, sending, outcome); 0.3 or more is the target.
The state-change log lines are written as the daemon writes them (JSON, here to /dev/null).

    .venv/bin/python bench/burst.py [--deliveries 500] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import sqlite3
import tempfile
import time
from pathlib import Path

from bench.common import Outcome, print_header, print_outcomes
from scheduler.app import build_app
from scheduler.config import load_config
from scheduler.db.engines import upgrade
from scheduler.logs import configure_logging
from tests.support import queue_delivery, write_config

TARGET_RATIO = 0.3


def raw_commit_rate(folder: Path, commits: int) -> float:
    """Commits per second of one-row transactions, WAL and synchronous=FULL like the queue."""
    connection = sqlite3.connect(folder / "raw.db", isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    started = time.perf_counter()
    for number in range(commits):
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO t (v) VALUES (?)", (str(number),))
        connection.execute("COMMIT")
    elapsed = time.perf_counter() - started
    connection.close()
    return commits / elapsed


def delivery_rate(folder: Path, deliveries: int, profile: bool) -> float:
    config = load_config(write_config(folder))
    upgrade(config.database_url)
    app = build_app(config)
    for _ in range(deliveries):
        queue_delivery(app, account="facebook")
    dispatcher = app.dispatcher(rng=random.Random(1))
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    sent = dispatcher.run_due()
    if profiler is not None:
        profiler.disable()
    elapsed = time.perf_counter() - started
    assert sent == deliveries, f"sent {sent} of {deliveries}"
    if profiler is not None:
        print("dispatch hot spots (cumulative):")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        print("dispatch hot spots (own time):")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(12)
    return deliveries / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=500)
    parser.add_argument("--profile", action="store_true", help="cProfile the dispatch side")
    arguments = parser.parse_args()
    print_header(f"burst: {arguments.deliveries} deliveries due at once")
    with (
        tempfile.TemporaryDirectory() as raw_dir,
        tempfile.TemporaryDirectory() as queue_dir,
        open(os.devnull, "w", encoding="utf-8") as sink,
    ):
        baseline = raw_commit_rate(Path(raw_dir), arguments.deliveries * 3)
        configure_logging(sink)
        rate = delivery_rate(Path(queue_dir), arguments.deliveries, arguments.profile)
    ratio = rate / baseline
    print(f"raw fsync'd SQLite commits: {baseline:8.1f} /s (baseline)")
    print(f"deliveries through dry_run: {rate:8.1f} /s")
    print(f"ratio: {ratio:.3f} (target >= {TARGET_RATIO})")
    print_outcomes(
        [
            Outcome(
                benchmark=f"burst, {arguments.deliveries} deliveries through dry_run",
                figure=f"{rate:.0f} deliveries/s",
                baseline=f"{baseline:.0f} fsync'd commits/s",
                ratio=f"{ratio:.3f}",
                target=">= 0.3",
                met=ratio >= TARGET_RATIO,
            )
        ]
    )


if __name__ == "__main__":
    main()
