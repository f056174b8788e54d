"""Crash harness: the real ``relais run`` killed with SIGKILL while it publishes, then counted.

A fake WordPress blog runs over real HTTP on loopback in a process of its own
(``tests/harness/fake_platform.py``), so it outlives every daemon and records every post it creates.
The daemons use the real ``wordpress`` connector against it. The harness drops the post
files into the inbox (the daemon takes them itself: a kill may also land in the middle of an
inbox scan), then, ``--kills`` times, lets a daemon work a random short moment and kills it
with SIGKILL; it then lets the daemons finish (reap, reconcile ``unknown`` by slug, publish
the rest) and compares what the queue says with what the blog received.

    .venv/bin/python bench/crash_harness.py --posts 500 --kills 200 --seed 1
    .venv/bin/python bench/crash_harness.py --posts 2000 --kills 20 --daemons 4 --cap 500 \\
        --database postgresql+psycopg://postgres@127.0.0.1:5432/postgres

With ``--database`` (a PostgreSQL server's URL) a fresh database ``relais_bench_<hex>`` is
created on that server for each project and dropped at the end; several daemons may then
share it. Without it each project has its own SQLite file (one daemon per queue).
With ``--cap N`` the blog has ``daily_cap: N``: posts without a time are placed on the
following days, and WordPress's native scheduling (``schedule_ahead`` 7 days) takes them
at once as scheduled posts, so the run still finishes; the harness checks that no local
day received more than N posts.

It prints: posts given, published once, published twice (created more than once on the
blog), lost (neither published nor with a person), left to a person (with the reasons),
the kills, the wall time; and, with ``--stages``, one kill at each failpoint (after the
claim, after ``sending``, after the blog answered but before the commit) and its outcome.
Exit status 1 when any post was published twice or lost, or a queue invariant
(``tests/invariants.py``) is broken at the end.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tests.harness.daemons import KillLog, LogFile, finish, random_kills
from tests.harness.platform import platform
from tests.harness.project import dispose, drop_posts, fresh_database, make_project
from tests.harness.stages import STAGES, StageOutcome, kill_at_stage
from tests.harness.tally import Tally, tally, why
from tests.invariants import project_violations

# -- the whole run ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Settings:
    posts: int = 500
    kills: int = 200
    daemons: int = 1
    database: str | None = None  # a PostgreSQL server URL; None: SQLite
    seed: int = 1
    cap: int | None = None
    max_work: float = 1.5  # seconds a daemon works before its kill, at most
    latency: float = 0.01  # seconds the blog takes to answer
    final_timeout: float = 600
    stages: bool = True
    keep: bool = False  # keep the PostgreSQL databases for inspection


@dataclass(frozen=True, kw_only=True)
class Report:
    settings: Settings
    tally: Tally
    kills: KillLog
    wall_seconds: float
    stages: tuple[StageOutcome, ...]
    explanations: tuple[str, ...]  # `relais why` of a few posts published twice or lost
    database_url: str
    violations: tuple[str, ...]  # broken queue invariants at the end (tests/invariants.py)

    @property
    def ok(self) -> bool:
        return (
            self.tally.ok
            and not self.kills.ended_by_themselves
            and self.kills.finished
            and not self.violations
            and not any(stage.violations for stage in self.stages)
        )


def run(settings: Settings, workdir: Path) -> Report:
    if settings.daemons > 1 and settings.database is None:
        raise ValueError("several daemons need a PostgreSQL --database (SQLite takes one)")
    rng = random.Random(settings.seed)
    started = time.monotonic()
    with ExitStack() as stack:
        log = stack.enter_context(LogFile(workdir / "daemons.log"))
        blog = stack.enter_context(platform(workdir, latency=settings.latency))
        database_url = stack.enter_context(
            fresh_database(workdir / "run", settings.database, keep=settings.keep)
        )
        stack.callback(dispose, database_url)
        project = make_project(
            workdir / "run", blog_url=blog.url, database_url=database_url, cap=settings.cap
        )
        titles = drop_posts(project, settings.posts, seed=settings.seed)
        kills = random_kills(
            project,
            kills=settings.kills,
            daemons=settings.daemons,
            rng=rng,
            max_work=settings.max_work,
            log=log,
        )
        finish(
            project,
            given=len(titles),
            daemons=settings.daemons,
            timeout=settings.final_timeout,
            log=log,
            record=kills,
        )
        counted = tally(project, titles, blog.created())
        wall = time.monotonic() - started
        violations = tuple(project_violations(project.config, datetime.now(UTC)))
        problems = [item.split()[0] for item in counted.published_twice + counted.lost]
        explanations = tuple(why(project, delivery_id) for delivery_id in problems[:5])
        stages: list[StageOutcome] = []
        if settings.stages:
            stage_url = stack.enter_context(
                fresh_database(workdir / "stages", settings.database, keep=settings.keep)
            )
            stack.callback(dispose, stage_url)
            staged = make_project(
                workdir / "stages", blog_url=blog.url, database_url=stage_url, cap=None
            )
            stages = [kill_at_stage(staged, blog, stage, log=log) for stage in STAGES]
    return Report(
        settings=settings,
        tally=counted,
        kills=kills,
        wall_seconds=wall,
        stages=tuple(stages),
        explanations=explanations,
        database_url=database_url,
        violations=violations,
    )


def render(report: Report) -> str:
    s, t, k = report.settings, report.tally, report.kills
    where = "PostgreSQL" if s.database else "SQLite"
    cap = f", daily_cap {s.cap}" if s.cap else ""
    lines = [
        f"relais crash harness: {s.daemons} daemon(s) on {where}{cap}, seed {s.seed}",
        f"  {'posts given':<34}{t.given:>7}",
        f"  {'published once':<34}{t.published_once:>7}",
        f"  {'published twice':<34}{len(t.published_twice):>7}",
        f"  {'lost':<34}{len(t.lost):>7}",
        f"  {'left to a person':<34}{sum(t.with_a_person.values()):>7}",
    ]
    lines += [f"    {count:>5}  {reason}" for reason, count in t.with_a_person.most_common()]
    if t.on_blog_though_with_a_person:
        lines.append(f"    ({t.on_blog_though_with_a_person} of them are on the blog after all)")
    if t.waiting:
        lines.append(f"  {'held/rolled past the run':<34}{sum(t.waiting.values()):>7}")
        lines += [f"    {count:>5}  {what}" for what, count in sorted(t.waiting.items())]
    lines += [
        f"  {'creations on the blog':<34}{t.creations:>7}",
        f"  {'kills (SIGKILL)':<34}{k.kills:>7}",
        f"    {k.while_work_remained:>5}  with work left after the kill",
        f"    {k.before_started:>5}  before the daemon said it had started",
        f"  {'daemons that ended by themselves':<34}{len(k.ended_by_themselves):>7}"
        + (
            f"  (exit {', '.join(map(str, k.ended_by_themselves))})"
            if k.ended_by_themselves
            else ""
        ),
        f"  {'settled before the time limit':<34}{'yes' if k.finished else 'NO':>7}",
        f"  {'final stop (SIGTERM) exit codes':<34}{','.join(map(str, k.final_exit_codes)):>7}",
        f"  {'wall time':<34}{report.wall_seconds:>6.1f}s",
    ]
    if s.cap and t.busiest_day:
        day, count = t.busiest_day
        verdict = "kept" if count <= s.cap else "BROKEN"
        lines.append(f"  {'busiest local day on the blog':<34}{count:>7}  ({day}; cap {verdict})")
    if t.strangers:
        lines.append(f"  creations of posts nobody gave: {t.strangers}")
    lines.append(f"  {'queue invariants broken':<34}{len(report.violations):>7}")
    for item in t.published_twice + t.lost + list(report.violations):
        lines.append(f"  ! {item}")
    lines += report.explanations
    if s.keep:
        lines.append(f"  queue: {report.database_url}")
    if report.stages:
        lines.append("precise-stage kills (failpoint, SIGKILL, restart):")
        lines += [f"  {outcome.describe()}" for outcome in report.stages]
        lines += [f"  ! {item}" for outcome in report.stages for item in outcome.violations]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=500)
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--daemons", type=int, default=1)
    parser.add_argument("--database", help="a PostgreSQL server URL (a fresh database is made)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cap", type=int, help="the blog's daily_cap")
    parser.add_argument("--max-work", type=float, default=1.5, help="seconds before a kill")
    parser.add_argument("--latency", type=float, default=0.01, help="the blog's answer time")
    parser.add_argument("--final-timeout", type=float, default=600)
    parser.add_argument("--no-stages", action="store_true", help="skip the failpoint kills")
    parser.add_argument("--keep", action="store_true", help="keep the work folder and databases")
    arguments = parser.parse_args(argv)
    settings = Settings(
        posts=arguments.posts,
        kills=arguments.kills,
        daemons=arguments.daemons,
        database=arguments.database,
        seed=arguments.seed,
        cap=arguments.cap,
        max_work=arguments.max_work,
        latency=arguments.latency,
        final_timeout=arguments.final_timeout,
        stages=not arguments.no_stages,
        keep=arguments.keep,
    )
    workdir = Path(tempfile.mkdtemp(prefix="relais-crash-"))
    report = run(settings, workdir)
    print(render(report))
    if arguments.keep or not report.ok:
        print(f"work folder (logs, queue, configs): {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
