"""Burst throughput: deliveries per second through the dry-run connector on SQLite.

Printed as a ratio to the raw rate of fsync'd SQLite commits on the same disk, measured in
the same run, so the figure means the same on a laptop and on the library's server.
A delivery costs about three commits (claim, sending, outcome); 0.3 or more is the target.

    .venv/bin/python bench/burst.py [--deliveries 500]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import tempfile
import time
from pathlib import Path

from scheduler.app import build_app
from scheduler.config import load_config
from scheduler.db import upgrade
from tests.support import queue_delivery, write_config


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


def delivery_rate(folder: Path, deliveries: int) -> float:
    config = load_config(write_config(folder))
    upgrade(config.database_url)
    app = build_app(config)
    for _ in range(deliveries):
        queue_delivery(app, account="facebook")
    dispatcher = app.dispatcher(rng=random.Random(1))
    started = time.perf_counter()
    sent = dispatcher.run_due()
    elapsed = time.perf_counter() - started
    assert sent == deliveries, f"sent {sent} of {deliveries}"
    return deliveries / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=500)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as raw_dir, tempfile.TemporaryDirectory() as queue_dir:
        baseline = raw_commit_rate(Path(raw_dir), arguments.deliveries * 3)
        rate = delivery_rate(Path(queue_dir), arguments.deliveries)
    print(f"raw fsync'd SQLite commits: {baseline:8.1f} /s (baseline)")
    print(f"deliveries through dry_run: {rate:8.1f} /s")
    print(f"ratio: {rate / baseline:.3f} (target >= 0.3)")


if __name__ == "__main__":
    main()
