"""The alternative a user might pick: one APScheduler job per post in its SQLAlchemy job store.

Both sides hold ``--posts`` posts due over the coming year, on a SQLite file, and each step
runs in a process of its own so its memory is measured alone (VmRSS from /proc):

- APScheduler 3: ``add_job`` of a date job per post into ``SQLAlchemyJobStore`` (one
  committed INSERT each, as a user's loop does); then a fresh ``BackgroundScheduler`` on
  that store: time from spawn until ``start()`` returned, its RSS, and the time and RSS
  of ``get_jobs()`` (every job unpickled: what listing the schedule costs).
- relais: the deliveries queued (Core executemany in batches, as ``bench/scale.py``), and
  the rate of ``queue_delivery`` (one committed transaction each, like intake) on a sample;
  then `relais run` on that queue: time from spawn to "relais started", and its RSS once
  its first inbox scan and dispatch pass are done.

``add_job`` commits one job at a time (about 600 a second on a 2-core VM with synchronous
SQLite), so by default only ``--sample`` jobs go through it and the rest are written into
the job store's table directly, in one transaction, as the same pickled job states; the
time to add every post is extrapolated from the sample. ``--add-all`` adds every job
through ``add_job``.

    .venv/bin/python bench/apscheduler_alternative.py [--posts 100000] [--add-all]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import (
    ACCOUNTS,
    Child,
    Outcome,
    bulk_fill,
    megabytes,
    print_header,
    print_outcomes,
    relais,
    sample,
    utc_now,
    write_project,
)

SETTLE = 5.0
# A job's function is imported when its state is unpickled: a stdlib one, so the APScheduler
# process imports nothing of relais (abs(number) stands for "publish post number").
JOB_FUNCTION = "builtins:abs"
YEAR = timedelta(days=365)


def _rss_now() -> int:
    return sample(os.getpid()).rss_bytes


def _due(number: int, posts: int, first: datetime) -> datetime:
    return first + YEAR * number / posts


# -- the child processes -------------------------------------------------------------------


def apscheduler_fill(store: Path, posts: int, through_add_job: int) -> dict[str, Any]:
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.date import DateTrigger
    from sqlalchemy import create_engine, insert

    url = f"sqlite:///{store}"
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=url)}, timezone=UTC
    )
    scheduler.start(paused=True)  # jobs go to the store at once, nothing runs
    first = utc_now() + timedelta(days=1)
    started = time.perf_counter()
    for number in range(through_add_job):
        scheduler.add_job(
            JOB_FUNCTION,
            "date",
            run_date=_due(number, posts, first),
            args=(number,),
            id=str(number),
        )
    added = time.perf_counter() - started
    scheduler.shutdown()
    if through_add_job < posts:
        # The same rows add_job writes: (id, next_run_time as a timestamp, pickled state).
        engine = create_engine(url)
        table = SQLAlchemyJobStore(engine=engine).jobs_t
        with engine.begin() as connection:
            state = pickle.loads(
                connection.execute(table.select().where(table.c.id == "0")).one().job_state
            )
            rows = []
            for number in range(through_add_job, posts):
                due = _due(number, posts, first)
                job = {
                    **state,
                    "id": str(number),
                    "args": (number,),
                    "trigger": DateTrigger(run_date=due),
                    "next_run_time": due,
                }
                rows.append(
                    {
                        "id": str(number),
                        "next_run_time": due.timestamp(),
                        "job_state": pickle.dumps(job, pickle.HIGHEST_PROTOCOL),
                    }
                )
            connection.execute(insert(table), rows)
        engine.dispose()
    return {"added": through_add_job, "seconds": added}


def apscheduler_start(store: Path) -> None:
    """Prints "started" once start() returned, then the figures as JSON."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    started = time.perf_counter()
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{store}")}, timezone=UTC
    )
    scheduler.start()
    start_seconds = time.perf_counter() - started
    print("started", flush=True)
    time.sleep(SETTLE)
    settled_rss = _rss_now()
    listed = time.perf_counter()
    jobs = scheduler.get_jobs()
    list_seconds = time.perf_counter() - listed
    figures = {
        "start_seconds": start_seconds,
        "rss": settled_rss,
        "jobs": len(jobs),
        "list_seconds": list_seconds,
        "rss_after_list": _rss_now(),
    }
    scheduler.shutdown()
    print(json.dumps(figures), flush=True)


def relais_fill(config_path: Path, posts: int, sample_size: int) -> dict[str, Any]:
    from scheduler.app import build_app
    from scheduler.config import load_config
    from scheduler.delivery.states import State
    from tests.support import queue_delivery

    config = load_config(config_path)
    first = utc_now() + timedelta(days=1)
    seconds = bulk_fill(
        config.database_url,
        deliveries=posts,
        start=first,
        span=YEAR,
        state_of=lambda _due: State.SCHEDULED,
    )
    # One committed transaction per delivery, as intake queues a post file (on a copy of
    # the queue's schema, so the queue itself holds exactly ``posts``).
    app = build_app(config)
    started = time.perf_counter()
    for number in range(sample_size):
        queue_delivery(app, account=ACCOUNTS[number % len(ACCOUNTS)], due_at=first + YEAR)
    one_by_one = time.perf_counter() - started
    app.engine.dispose()
    return {"bulk_seconds": seconds, "sample": sample_size, "sample_seconds": one_by_one}


def _last_json(child: Child) -> dict[str, Any]:
    child.process.wait(timeout=600)
    while not child.lines.empty():
        child.seen.append(child.lines.get()[1])
    for line in reversed(child.seen):
        if line.startswith("{"):
            return dict(json.loads(line))
    raise RuntimeError("no figures from the child:\n" + "".join(child.seen[-20:]))


def _self(*arguments: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), *arguments]


# -- the parent ---------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=5_000, help="jobs added through add_job")
    parser.add_argument("--add-all", action="store_true", help="every job through add_job")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        kind, path, *rest = arguments.child
        numbers = [int(value) for value in rest]
        if kind == "aps-fill":
            print(json.dumps(apscheduler_fill(Path(path), *numbers)), flush=True)
        elif kind == "aps-start":
            apscheduler_start(Path(path))
        elif kind == "relais-fill":
            print(json.dumps(relais_fill(Path(path), *numbers)), flush=True)
        return
    posts = arguments.posts
    through = posts if arguments.add_all else min(arguments.sample, posts)
    print_header(f"APScheduler job store vs relais queue: {posts:,} scheduled posts")
    with tempfile.TemporaryDirectory(prefix="relais-bench-") as folder:
        store = Path(folder, "jobs.db")
        print("APScheduler: adding jobs ...", flush=True)
        aps_fill = _last_json(
            Child(_self("--child", "aps-fill", str(store), str(posts), str(through)))
        )
        starter = Child(_self("--child", "aps-start", str(store)))
        aps_spawn_to_start = starter.wait_for("started")
        aps = _last_json(starter)

        print("relais: queueing deliveries ...", flush=True)
        project = Path(folder, "relais")
        project.mkdir()
        config_path = write_project(project)
        ours_fill = _last_json(
            Child(_self("--child", "relais-fill", str(config_path), str(posts), "1000"))
        )
        daemon = Child(relais(config_path, "run"), cwd=project)
        try:
            relais_spawn_to_start = daemon.wait_for("relais started")
            time.sleep(SETTLE)
            relais_memory = sample(daemon.pid)
        finally:
            daemon.stop()

    add_rate = aps_fill["added"] / aps_fill["seconds"]
    add_all = posts / add_rate
    queue_rate = ours_fill["sample"] / ours_fill["sample_seconds"]
    print(
        f"\nAPScheduler add_job: {add_rate:7.0f} jobs/s -> {add_all:6.1f} s for {posts:,} "
        f"({'measured' if through == posts else f'extrapolated from {through:,}'})"
    )
    bulk = ours_fill["bulk_seconds"]
    print(
        f"relais bulk queueing: {posts / bulk:7.0f} deliveries/s -> {bulk:6.1f} s; "
        f"one transaction each: {queue_rate:.0f}/s"
    )
    print(
        f"APScheduler start (spawn to start() returned): {aps_spawn_to_start:5.2f} s "
        f"(start() alone {aps['start_seconds'] * 1000:.0f} ms), RSS {megabytes(aps['rss'])}; "
        f"get_jobs() of {aps['jobs']:,}: {aps['list_seconds']:.1f} s, RSS then "
        f"{megabytes(aps['rss_after_list'])}"
    )
    print(
        f"relais run (spawn to 'relais started'):        {relais_spawn_to_start:5.2f} s, "
        f"RSS {megabytes(relais_memory.rss_bytes)} (peak {megabytes(relais_memory.peak_rss_bytes)})"
    )
    start_ratio = relais_spawn_to_start / aps_spawn_to_start
    rss_ratio = relais_memory.rss_bytes / aps["rss"]
    print(f"ratio relais / APScheduler: start-up {start_ratio:.2f}x, memory {rss_ratio:.2f}x")
    print_outcomes(
        [
            Outcome(
                benchmark=f"vs APScheduler job store, {posts:,} posts: start-up",
                figure=f"relais run {relais_spawn_to_start:.2f} s",
                baseline=f"APScheduler {aps_spawn_to_start:.2f} s (get_jobs() "
                f"{aps['list_seconds']:.1f} s)",
                ratio=f"{start_ratio:.2f}x",
                target="-",
                met=None,
            ),
            Outcome(
                benchmark=f"vs APScheduler job store, {posts:,} posts: memory",
                figure=f"relais run {megabytes(relais_memory.rss_bytes)}",
                baseline=f"APScheduler {megabytes(aps['rss'])} "
                f"({megabytes(aps['rss_after_list'])} after get_jobs())",
                ratio=f"{rss_ratio:.2f}x",
                target="-",
                met=None,
            ),
            Outcome(
                benchmark=f"vs APScheduler job store, {posts:,} posts: filling",
                figure=f"relais {ours_fill['bulk_seconds']:.1f} s bulk, {queue_rate:.0f}/s "
                "one transaction each",
                baseline=f"add_job {add_rate:.0f}/s, {add_all:.0f} s for all",
                ratio=f"{queue_rate / add_rate:.2f}x (one by one)",
                target="-",
                met=None,
            ),
        ]
    )


if __name__ == "__main__":
    main()
