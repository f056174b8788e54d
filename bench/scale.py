"""Scale: `relais plan --days 30` and `relais status` with a million deliveries in the queue.

The queue (SQLite, migrated like production) is filled with ``--deliveries`` rows through
SQLAlchemy Core executemany, six accounts, due times spread over a year (300 days back, 65
ahead): the past mostly published, some failed, cancelled, missed, needing attention; the
future mostly scheduled, some waiting for approval, held, unknown. Each command is timed
end to end (a fresh process, as a person runs it) and in process (the query and the
rendering only); the baseline is ``SELECT count(*) FROM delivery`` on the same database.
Target: each under 1 s. The claim query of dispatch is captured while
``Dispatcher.claim_next()`` runs and its ``EXPLAIN QUERY PLAN`` shown: it must use an index.

    .venv/bin/python bench/scale.py [--deliveries 1000000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from bench.common import (
    Outcome,
    bulk_fill,
    print_header,
    print_outcomes,
    relais,
    write_project,
)
from scheduler.app import App, build_app
from scheduler.config import load_config
from scheduler.delivery.editor import list_deliveries
from scheduler.delivery.states import State
from scheduler.reports.plan import build_plan, render_plan
from scheduler.reports.status import build_status, daemon_alive, render_status

TARGET_SECONDS = 1.0
CLAIM_INDEX = "ix_delivery_state_due"
PAST, AHEAD = timedelta(days=300), timedelta(days=65)


def state_picker(now: datetime) -> Callable[[datetime], str]:
    chance = random.Random(1)

    def state_of(due_at: datetime) -> str:
        roll = chance.random()
        if due_at < now:
            if roll < 0.0001:
                return State.SCHEDULED  # overdue
            if roll < 0.0002:
                return State.NEEDS_ATTENTION
            if roll < 0.01:
                return State.FAILED
            if roll < 0.03:
                return State.MISSED
            return State.CANCELLED if roll < 0.08 else State.PUBLISHED
        if roll < 0.0002:
            return State.UNKNOWN
        if roll < 0.02:
            return State.HELD
        return State.PENDING_APPROVAL if roll < 0.10 else State.SCHEDULED

    return state_of


def timed(action: Callable[[], object], runs: int = 3) -> float:
    """The median of ``runs`` timings, after one untimed run (warm caches, as in use)."""
    action()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def command_seconds(config: Path, *arguments: str, exit_codes: tuple[int, ...] = (0,)) -> float:
    def run() -> None:
        done = subprocess.run(
            relais(config, *arguments), stdout=subprocess.DEVNULL, cwd=config.parent
        )
        if done.returncode not in exit_codes:
            raise RuntimeError(f"relais {' '.join(arguments)} exited with {done.returncode}")

    return timed(run, runs=3)


def plan_text(app: App) -> str:
    zone = app.config.zone
    days = build_plan(
        app.sessions,
        zone=zone,
        rules=app.config.rules(),
        accounts=sorted(app.config.accounts),
        start=app.clock.now().astimezone(zone).date(),
        days=30,
    )
    return render_plan(days, zone=zone)


def status_text(app: App) -> str:
    """What `relais status` prints: the report is built and rendered."""
    status = build_status(
        app.sessions,
        clock=app.clock,
        zone=app.config.zone,
        accounts=sorted(app.config.accounts),
        series=app.config.series,
        daemon_alive=daemon_alive(app.config.database_url),
    )
    return render_status(status, app.config.zone)


def claim_query_plan(app: App) -> tuple[str, list[str], float]:
    """The claim SELECT as dispatch sends it, its query plan, and the claim's seconds."""
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, parameters))

    event.listen(app.engine, "before_cursor_execute", capture)
    started = time.perf_counter()
    app.dispatcher().claim_next()
    elapsed = time.perf_counter() - started
    event.remove(app.engine, "before_cursor_execute", capture)
    claims = [
        (statement, parameters)
        for statement, parameters in captured
        if statement.lstrip().startswith("SELECT")
        and "FROM delivery" in statement
        and "ORDER BY delivery.due_at" in statement
    ]
    if not claims:
        raise RuntimeError("no claim SELECT seen during claim_next()")
    statement, parameters = claims[0]
    with app.engine.connect() as connection:
        driver = connection.connection.dbapi_connection
        assert driver is not None
        rows = driver.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
    return statement, [str(row[-1]) for row in rows], elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=1_000_000)
    arguments = parser.parse_args()
    count = arguments.deliveries
    print_header(f"scale: {count:,} deliveries in the queue")
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="relais-bench-") as folder:
        config_path = write_project(Path(folder))
        config = load_config(config_path)
        now = datetime.now(UTC)
        filled = bulk_fill(
            config.database_url,
            deliveries=count,
            start=now - PAST,
            span=PAST + AHEAD,
            state_of=state_picker(now),
        )
        size = Path(folder, "queue.db").stat().st_size
        print(f"filled {count:,} deliveries in {filled:.1f} s ({size / 2**20:.0f} MB on disk)")
        app = build_app(config)

        def count_all() -> None:
            with app.engine.connect() as connection:
                connection.execute(text("SELECT count(*) FROM delivery")).scalar_one()

        baseline = timed(count_all)
        # The floor of any command: the interpreter and relais' imports, nothing queried.
        start_up = command_seconds(config_path, "--help")
        plan_lines = plan_text(app).count("\n")
        measured: dict[str, tuple[float, float]] = {
            "relais plan --days 30": (
                command_seconds(config_path, "plan", "--days", "30"),
                timed(lambda: plan_text(app)),
            ),
            "relais list --state unknown": (
                command_seconds(config_path, "list", "--state", "unknown"),
                timed(lambda: list_deliveries(app.sessions, zone=config.zone, states=["unknown"])),
            ),
        }
        # Exits non-zero by design when something needs a person (this queue has overdue
        # and failed deliveries), so any of its three exit statuses is a success here.
        measured["relais status"] = (
            command_seconds(config_path, "status", exit_codes=(0, 1, 2)),
            timed(lambda: status_text(app)),
        )
        statement, plan, claim_seconds = claim_query_plan(app)
        app.engine.dispose()
    print(f"\nbaseline SELECT count(*) FROM delivery: {baseline * 1000:8.1f} ms")
    print(f"start-up of a relais command (`relais --help`): {start_up * 1000:8.0f} ms")
    print(f"(the plan of 30 days lists {plan_lines:,} lines)")
    for name, (end_to_end, in_process) in measured.items():
        print(
            f"{name:<30} {end_to_end * 1000:8.0f} ms end to end   {in_process * 1000:8.0f} ms "
            f"in process   ratio {in_process / baseline:6.1f}x count(*)"
        )
        outcomes.append(
            Outcome(
                benchmark=f"scale, {count:,} deliveries: `{name}`",
                figure=f"{end_to_end:.2f} s end to end, {in_process:.2f} s in process",
                baseline=f"count(*) {baseline * 1000:.0f} ms; `relais --help` {start_up:.2f} s",
                ratio=f"{in_process / baseline:.1f}x",
                target="< 1 s",
                met=end_to_end < TARGET_SECONDS,
            )
        )
    print(f"\nclaim query (Dispatcher.claim_next() took {claim_seconds * 1000:.1f} ms):")
    print("  " + " ".join(statement.split()))
    print("EXPLAIN QUERY PLAN:")
    for line in plan:
        print(f"  {line}")
    uses_index = any(CLAIM_INDEX in line for line in plan)
    print(f"uses {CLAIM_INDEX}: {'yes' if uses_index else 'NO'}")
    outcomes.append(
        Outcome(
            benchmark=f"scale, {count:,} deliveries: claim query",
            figure=f"{claim_seconds * 1000:.1f} ms, {'; '.join(plan)}",
            baseline=f"count(*) {baseline * 1000:.0f} ms",
            ratio=f"{claim_seconds / baseline:.2f}x",
            target=f"uses {CLAIM_INDEX}",
            met=uses_index,
        )
    )
    print_outcomes(outcomes)
    assert uses_index, f"the claim query does not use {CLAIM_INDEX}"


if __name__ == "__main__":
    main()
