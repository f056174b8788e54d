"""Scale-out: 1, 2 and 4 daemons on one PostgreSQL database, a blog that takes 50 ms an answer.

The crash harness's pieces without the kills (tests/harness): the fake WordPress blog over
real HTTP in a process of its own with ``--latency`` added to every answer, a fresh
PostgreSQL database per run (created on the server given, dropped at the end), the real
``wordpress`` connector in real ``relais run`` daemons, and the harness's tally (published
once, twice, lost, the busiest local day against the daily cap). For each daemon count the
same post files are dropped into the inbox and the daemons started together; the blog's
creations are polled, and the rate is taken between 10 % and 90 % of them (start-up and
the inbox scan before, the last stragglers after, are not the steady state).

The baseline is the same run's one daemon: the figure is the 4-daemon rate over it
(target >= 2.5x), with 0 twice, 0 lost and the cap kept at every count.

    .venv/bin/python bench/scale_out.py
    .venv/bin/python bench/scale_out.py --posts 400 --latency 0.05 --cap 300 \\
        --database postgresql+psycopg://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.common import Outcome, print_header, print_outcomes
from tests.harness.daemons import DaemonProcess, LogFile, settled
from tests.harness.platform import platform
from tests.harness.project import dispose, drop_posts, fresh_database, make_project
from tests.harness.tally import Tally, tally, why

TARGET = 2.5  # 4 daemons over 1 (issue 16, point 7)
SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True, kw_only=True)
class Run:
    daemons: int
    rate: float  # creations per second between 10 % and 90 % of them
    wall: float  # seconds from the daemons' start to every post settled
    tally: Tally
    cap: int | None
    explanations: tuple[str, ...]  # `relais why` of a few posts published twice or lost

    @property
    def cap_kept(self) -> bool:
        return (
            self.tally.busiest_day is None
            or self.cap is None
            or (self.tally.busiest_day[1] <= self.cap)
        )


def steady_rate(moments: Sequence[float]) -> float:
    """Creations per second between the 10 % and the 90 % creation."""
    low, high = moments[len(moments) // 10], moments[(len(moments) * 9) // 10 - 1]
    count = (len(moments) * 9) // 10 - len(moments) // 10 - 1
    return count / (high - low) if high > low and count > 0 else float("nan")


def one_run(
    workdir: Path, *, daemons: int, posts: int, latency: float, cap: int | None, server: str
) -> Run:
    with (
        LogFile(workdir / "daemons.log") as log,
        platform(workdir, latency=latency) as blog,
        fresh_database(workdir / "run", server) as database_url,
    ):
        try:
            project = make_project(
                workdir / "run", blog_url=blog.url, database_url=database_url, cap=cap
            )
            titles = drop_posts(project, posts, seed=1)
            started = time.monotonic()
            running = [DaemonProcess(project, log) for _ in range(daemons)]
            moments: list[float] = []
            try:
                while time.monotonic() - started < 900:
                    seen = len(blog.created())
                    moments += [time.monotonic()] * (seen - len(moments))
                    if seen >= posts or settled(project, posts):
                        break
                    time.sleep(0.1)
                wall = time.monotonic() - started
            finally:
                for daemon in running:
                    daemon.stop()
            counted = tally(project, titles, blog.created())
            problems = [item.split()[0] for item in counted.published_twice + counted.lost]
            explanations = tuple(why(project, delivery_id) for delivery_id in problems[:3])
        finally:
            dispose(database_url)
    return Run(
        daemons=daemons,
        rate=steady_rate(moments),
        wall=wall,
        tally=counted,
        cap=cap,
        explanations=explanations,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.05, help="the blog's answer time")
    parser.add_argument("--cap", type=int, default=150, help="the blog's daily_cap")
    parser.add_argument("--database", default=SERVER, help="a PostgreSQL server URL")
    parser.add_argument("--counts", default="1,2,4", help="daemon counts, comma-separated")
    options = parser.parse_args(argv)
    print_header(
        f"scale-out: {options.posts} posts, blog answering in {options.latency * 1000:.0f} ms, "
        f"daily_cap {options.cap}, PostgreSQL"
    )
    runs: list[Run] = []
    for count in (int(item) for item in options.counts.split(",")):
        workdir = Path(tempfile.mkdtemp(prefix=f"relais-scale-out-{count}-"))
        run = one_run(
            workdir,
            daemons=count,
            posts=options.posts,
            latency=options.latency,
            cap=options.cap,
            server=options.database,
        )
        shutil.rmtree(workdir, ignore_errors=True)
        runs.append(run)
        t = run.tally
        busiest = f"{t.busiest_day[1]} on {t.busiest_day[0]}" if t.busiest_day else "-"
        print(
            f"{count} daemon(s): {run.rate:6.2f} posts/s steady, {run.wall:6.1f} s in all; "
            f"once {t.published_once}, twice {len(t.published_twice)}, lost {len(t.lost)}, "
            f"busiest day {busiest} (cap {'kept' if run.cap_kept else 'BROKEN'}); "
            f"load {os.getloadavg()[0]:.1f}"
        )
        for item in t.published_twice + t.lost:
            print(f"  ! {item}")
        for explanation in run.explanations:
            print(explanation)
    first, last = runs[0], runs[-1]
    ratio = last.rate / first.rate
    clean = all(not run.tally.published_twice and not run.tally.lost for run in runs)
    caps = all(run.cap_kept for run in runs)
    print(f"\n{last.daemons} daemons over {first.daemons}: {ratio:.2f}x (target >= {TARGET}x)")
    rates = ", ".join(f"{run.daemons}: {run.rate:.2f}/s" for run in runs)
    print_outcomes(
        [
            Outcome(
                benchmark=(
                    f"scale-out, {options.posts} posts, blog {options.latency * 1000:.0f} ms "
                    "an answer, PostgreSQL"
                ),
                figure=f"{rates}; twice/lost {'0/0' if clean else 'NOT 0'}, "
                f"cap {'kept' if caps else 'BROKEN'}",
                baseline=f"{first.daemons} daemon(s) {first.rate:.2f} posts/s",
                ratio=f"{ratio:.2f}x",
                target=f">= {TARGET}x, 0 twice, caps exact",
                met=ratio >= TARGET and clean and caps,
            )
        ]
    )
    return 0 if clean and caps else 1


if __name__ == "__main__":
    sys.exit(main())
