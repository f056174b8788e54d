"""Footprint: the idle daemon's CPU and resident memory.

The real `relais run` on a temp project with a few posts scheduled weeks ahead (nothing to
do but keep its clock, scan the empty inbox and watch it), measured from outside through
/proc/<pid>/stat (utime + stime, every thread) and /proc/<pid>/status (VmRSS, VmHWM) over
``--seconds``, once it has logged "relais started" and settled. The baseline is an idle
``python -c "import time; time.sleep(...)"`` measured the same way, at the same time.
Targets: CPU under 1 % of one core, resident memory under 60 MB (issue 16).

    .venv/bin/python bench/footprint.py [--seconds 60] [--posts 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.common import (
    ACCOUNTS,
    CLOCK_TICKS,
    Child,
    Outcome,
    ProcessSample,
    megabytes,
    print_header,
    print_outcomes,
    relais,
    sample,
    utc_now,
    write_project,
)
from scheduler.app import build_app
from scheduler.config import load_config
from tests.support import queue_delivery

TARGET_CPU = 0.01
TARGET_RSS = 60 * 2**20  # issue 16, point 2
SETTLE = 5.0  # the first inbox scan and dispatch pass are start-up, not idling


def watch(children: dict[str, Child], seconds: float) -> dict[str, tuple[float, ProcessSample]]:
    """CPU share of one core over the window, and the last sample, for each child."""
    first = {name: sample(child.pid) for name, child in children.items()}
    started = time.monotonic()
    peak = dict(first)
    while time.monotonic() - started < seconds:
        time.sleep(min(1.0, seconds))
        for name, child in children.items():
            now = sample(child.pid)
            if now.rss_bytes > peak[name].rss_bytes:
                peak[name] = now
    elapsed = time.monotonic() - started
    result: dict[str, tuple[float, ProcessSample]] = {}
    for name, child in children.items():
        last = sample(child.pid)
        share = (last.cpu_seconds - first[name].cpu_seconds) / elapsed
        result[name] = (share, last)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="the measured window")
    parser.add_argument("--posts", type=int, default=5, help="posts scheduled weeks ahead")
    arguments = parser.parse_args()
    seconds = arguments.seconds
    print_header(f"footprint: the idle daemon over {seconds:.0f} s")
    with tempfile.TemporaryDirectory(prefix="relais-bench-") as folder:
        config_path = write_project(Path(folder))
        app = build_app(load_config(config_path))
        for number in range(arguments.posts):
            due = utc_now() + timedelta(days=14 + number)
            queue_delivery(app, account=ACCOUNTS[number % len(ACCOUNTS)], due_at=due)
        app.engine.dispose()
        daemon = Child(relais(config_path, "run"), cwd=Path(folder))
        # Started once the daemon is up: on a loaded machine its start-up may take longer
        # than the sleeper's margin.
        daemon.wait_for("relais started")
        sleeper = Child(
            [sys.executable, "-c", f"import time; print('ready', flush=True); "
             f"time.sleep({seconds + SETTLE + 30})"]
        )  # fmt: skip
        try:
            sleeper.wait_for("ready")
            time.sleep(SETTLE)
            figures = watch({"relais": daemon, "sleep": sleeper}, seconds)
        finally:
            code = daemon.stop()
            sleeper.process.kill()
            sleeper.process.wait()
    if code != 0:
        raise RuntimeError(f"relais run exited with {code}:\n{''.join(daemon.seen[-20:])}")
    cpu, memory = figures["relais"]
    base_cpu, base_memory = figures["sleep"]
    tick = 1 / CLOCK_TICKS
    base_rss = megabytes(base_memory.rss_bytes)
    print(f"idle python (baseline): CPU {base_cpu * 100:6.3f} %  RSS {base_rss}")
    print(
        f"relais run (idle):      CPU {cpu * 100:6.3f} %  RSS {megabytes(memory.rss_bytes)} "
        f"(peak {megabytes(memory.peak_rss_bytes)})"
    )
    rss_ratio = memory.rss_bytes / base_memory.rss_bytes
    # utime+stime count in clock ticks: a baseline of zero ticks has no meaningful ratio.
    cpu_ratio = f"{cpu / base_cpu:.0f}x" if base_cpu > 0 else f"n/a (baseline 0 ticks of {tick}s)"
    print(f"ratio CPU: {cpu_ratio}   ratio RSS: {rss_ratio:.1f}x")
    print(
        f"targets: CPU < 1 %: {'met' if cpu < TARGET_CPU else 'MISSED'}; "
        f"RSS < 60 MB: {'met' if memory.rss_bytes < TARGET_RSS else 'MISSED'}"
    )
    print_outcomes(
        [
            Outcome(
                benchmark=f"footprint: idle daemon CPU over {seconds:.0f} s",
                figure=f"{cpu * 100:.2f} % of a core",
                baseline=f"idle python {base_cpu * 100:.2f} %",
                ratio=cpu_ratio,
                target="< 1 %",
                met=cpu < TARGET_CPU,
            ),
            Outcome(
                benchmark="footprint: idle daemon resident memory",
                figure=f"{megabytes(memory.rss_bytes)} (peak {megabytes(memory.peak_rss_bytes)})",
                baseline=f"idle python {megabytes(base_memory.rss_bytes)}",
                ratio=f"{rss_ratio:.1f}x",
                target="< 60 MB",
                met=memory.rss_bytes < TARGET_RSS,
            ),
        ]
    )


if __name__ == "__main__":
    main()
