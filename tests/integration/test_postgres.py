"""Several daemons on one PostgreSQL database: each post goes out once, whoever sends it."""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from scheduler.app import App, build_app
from scheduler.config import load_config
from scheduler.delivery.dispatcher import Dispatcher
from scheduler.delivery.editor import list_deliveries
from scheduler.delivery.retry import RetryPolicy
from tests.databases import fresh_postgres_database
from tests.support import FakeClock, ScriptedConnector, drop, make_app, queue_delivery, write_config

pytestmark = pytest.mark.postgresql


class CountingPlatform(ScriptedConnector):
    """One platform shared by every daemon: counts what each delivery created."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()

    def publish(self, outgoing):  # type: ignore[no-untyped-def]
        with self.lock:
            return super().publish(outgoing)


def daemon(app: App, number: int, platform: CountingPlatform) -> Dispatcher:
    return Dispatcher(
        sessions=app.sessions,
        clock=app.clock,
        connectors={"facebook": platform},
        settings=app.config.dispatch,
        policy=RetryPolicy(
            max_attempts=3, base=timedelta(seconds=1), cap=timedelta(seconds=1),
            rng=random.Random(number),
        ),
        store=app.store,
        owner=f"daemon-{number}",
        exclusive=False,  # others may be alive: leases are respected
    )  # fmt: skip


def test_four_daemons_send_every_post_exactly_once(tmp_path: Path) -> None:
    with fresh_postgres_database() as url:
        clock = FakeClock()
        first = make_app(tmp_path, clock, database=url)
        given = [queue_delivery(first) for _ in range(80)]
        platform = CountingPlatform()
        config = load_config(write_config(tmp_path, database=url))
        apps = [build_app(config, clock=clock) for _ in range(4)]
        barrier = threading.Barrier(len(apps))

        def run(number: int) -> None:
            barrier.wait()
            daemon(apps[number], number, platform).run_due()

        threads = [threading.Thread(target=run, args=(n,)) for n in range(len(apps))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        sent = Counter(outgoing.delivery_id for outgoing in platform.sent)
        assert set(sent) == set(given)
        assert max(sent.values()) == 1
        states = Counter(
            row.state for row in list_deliveries(first.sessions, zone=first.config.zone)
        )
        assert states == {"published": 80}
        for app in (first, *apps):
            app.engine.dispose()


def test_two_daemons_sharing_an_inbox_queue_a_file_once(tmp_path: Path) -> None:
    post = "library: redaction\nauthor: a\ntext: Bonjour\nto: [facebook]\n"
    with fresh_postgres_database() as url:
        clock = FakeClock()
        first = make_app(tmp_path, clock, database=url)
        drop(first.config, "redaction/bonjour.yaml", post)
        second = build_app(load_config(write_config(tmp_path, database=url)), clock=clock)
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def scan(app: App) -> None:
            barrier.wait()
            try:
                app.intake().scan()
            except BaseException as error:  # the test fails below with the cause
                errors.append(error)

        threads = [threading.Thread(target=scan, args=(app,)) for app in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        first.intake().scan()  # a file left by the loser of the race is now "unchanged"
        rows = list_deliveries(first.sessions, zone=first.config.zone)
        assert len(rows) == 1
        assert not (first.config.inbox_dir / "redaction/bonjour.yaml").exists()
        first.engine.dispose()
        second.engine.dispose()
