"""Notifications never slow publishing: dispatch with the outbox on and a dead mail server.

The same burst of deliveries is dispatched twice on SQLite through the dry-run connector:
once without ``notifications:`` (the baseline, measured in the same run), once with it,
each published delivery writing its outbox row in its own transaction, while a notifier
thread runs a pass every ``--interval`` (15 s, the daemon's default; 1 s to stress it), every send
meeting an SMTP port that refuses connections (each message retried with the default
back-off). The figure is the throughput ratio,
with / without; the target is at least 0.8 (the outbox row costs an insert inside a commit
that is made anyway, and the notifier's own commits compete for SQLite's one writer).

    .venv/bin/python bench/notify_overhead.py [--deliveries 400]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import Outcome, print_header, print_outcomes
from scheduler.app import build_app
from scheduler.config import load_config
from scheduler.db.engines import upgrade
from scheduler.logs import configure_logging
from scheduler.people.person import Role
from tests.mailservers import free_port
from tests.support import queue_delivery, write_config

TARGET_RATIO = 0.8


def delivery_rate(
    folder: Path, deliveries: int, *, notify: bool, interval: float
) -> tuple[float, int]:
    overrides: dict[str, Any] = {}
    if notify:
        smtp = {"host": "127.0.0.1", "port": free_port(), "security": "none",
                "from": "relais@bibliotheques.example", "timeout": "2s"}  # fmt: skip
        overrides["notifications"] = {"smtp": smtp, "interval": f"{interval}s"}
    config = load_config(write_config(folder, **overrides))
    upgrade(config.database_url)
    app = build_app(config)
    if notify:
        # queue_delivery's posts are by "test": the author hears of each one.
        app.directory().add("test", role=Role.EDITOR, email="test@example.org")
    for _ in range(deliveries):
        queue_delivery(app, account="facebook")
    dispatcher = app.dispatcher(rng=random.Random(1))
    notifier = app.notifier(rng=random.Random(1))
    stop = threading.Event()
    tried = [0]

    def notify_loop() -> None:
        while notifier is not None and not stop.is_set():
            tried[0] += notifier.run_pass()
            stop.wait(interval)

    worker = threading.Thread(target=notify_loop)
    worker.start()
    started = time.perf_counter()
    sent = dispatcher.run_due()
    elapsed = time.perf_counter() - started
    stop.set()
    worker.join()
    assert sent == deliveries, f"sent {sent} of {deliveries}"
    return deliveries / elapsed, tried[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=400)
    parser.add_argument(
        "--interval", type=float, default=15.0, help="seconds between passes (the daemon's default)"
    )
    arguments = parser.parse_args()
    print_header(f"notify_overhead: {arguments.deliveries} deliveries due at once")
    with (
        tempfile.TemporaryDirectory() as plain_dir,
        tempfile.TemporaryDirectory() as told_dir,
        open(os.devnull, "w", encoding="utf-8") as sink,
    ):
        configure_logging(sink)
        baseline, _ = delivery_rate(
            Path(plain_dir), arguments.deliveries, notify=False, interval=arguments.interval
        )
        rate, tried = delivery_rate(
            Path(told_dir), arguments.deliveries, notify=True, interval=arguments.interval
        )
    ratio = rate / baseline
    print(f"without notifications:                {baseline:8.1f} deliveries/s (baseline)")
    print(f"with the outbox, mail server down:    {rate:8.1f} deliveries/s ({tried} sends tried)")
    print(f"ratio: {ratio:.3f} (target >= {TARGET_RATIO})")
    print_outcomes(
        [
            Outcome(
                benchmark=f"notify_overhead, {arguments.deliveries} deliveries, SMTP down, "
                f"a pass every {arguments.interval:g} s",
                figure=f"{rate:.0f} deliveries/s",
                baseline=f"{baseline:.0f} deliveries/s without notifications",
                ratio=f"{ratio:.3f}",
                target=f">= {TARGET_RATIO}",
                met=ratio >= TARGET_RATIO,
            )
        ]
    )


if __name__ == "__main__":
    main()
