"""Commands answer at once: `relais status`, `list`, `why`, `plan --days 14` and `check`
on one file, end to end, on the bundled config and its queue.

The bundled config.yaml and inbox/ are copied into a temporary folder, the queue is made
(`relais db upgrade`) and filled by one daemon pass (`relais run --once`) from the bundled
post files. Each command then runs ``--repeat`` times as a fresh process; the median is
printed beside two baselines measured in the same run and in the same way: `python -c pass`
(the interpreter's own start) and `python -c "import sqlalchemy"` (the floor of any command
that reads the queue).

    .venv/bin/python bench/commands.py
    .venv/bin/python bench/commands.py --repeat 20 --importtime   # where start-up goes
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.common import Outcome, print_header, print_outcomes
from tests.paths import REPOSITORY

TARGET = 0.3  # seconds, end to end (issue 16, point 2)


def timed(arguments: Sequence[str], *, cwd: Path) -> float:
    """The wall time of one run; a run that fails stops the benchmark."""
    environment = {**os.environ}
    environment.pop("RELAIS_DATABASE_URL", None)
    started = time.perf_counter()
    done = subprocess.run(arguments, cwd=cwd, env=environment, capture_output=True)
    seconds = time.perf_counter() - started
    # `check` exits 1 on a file with problems, `status` 1 or 2 when no daemon runs.
    if done.returncode not in (0, 1, 2):
        raise RuntimeError(f"{' '.join(arguments)} failed:\n{done.stderr.decode()}")
    return seconds


def bundled_queue(folder: Path) -> tuple[Path, str, Path]:
    """The bundled config and inbox in ``folder``, queued; (config, a post id, a post file)."""
    shutil.copy(REPOSITORY / "config.yaml", folder / "config.yaml")
    shutil.copytree(REPOSITORY / "inbox", folder / "inbox")
    one_file = folder / "check" / "bienvenue.yaml"
    one_file.parent.mkdir()
    shutil.copy(REPOSITORY / "inbox" / "redaction" / "bienvenue.yaml", one_file)
    config = folder / "config.yaml"
    relais = [sys.executable, "-m", "scheduler", "--config", str(config)]
    for step in (["db", "upgrade"], ["run", "--once"]):
        subprocess.run([*relais, *step], cwd=folder, check=True, capture_output=True)
    listed = subprocess.run(
        [*relais, "list"], cwd=folder, check=True, capture_output=True, text=True
    ).stdout.split()
    reference = next(word for word in listed if len(word) == 8 and word.isalnum())
    return config, reference, one_file


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--importtime", action="store_true", help="print -X importtime's top")
    options = parser.parse_args(argv)
    print_header("commands: end to end on the bundled config and queue")
    with tempfile.TemporaryDirectory(prefix="relais-bench-commands-") as temporary:
        folder = Path(temporary)
        config, reference, one_file = bundled_queue(folder)
        relais = [sys.executable, "-m", "scheduler", "--config", str(config)]
        baselines = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "python -c 'import sqlalchemy'": [sys.executable, "-c", "import sqlalchemy"],
        }
        commands = {
            "relais status": [*relais, "status"],
            "relais list": [*relais, "list"],
            f"relais why {reference}": [*relais, "why", reference],
            "relais plan --days 14": [*relais, "plan", "--days", "14"],
            "relais check (one file)": [*relais, "check", str(one_file)],
        }
        # Interleaved rounds, so that a burst of load from other jobs spreads over all.
        rounds: dict[str, list[float]] = {name: [] for name in {**baselines, **commands}}
        for _ in range(options.repeat):
            for name, arguments in {**baselines, **commands}.items():
                rounds[name].append(timed(arguments, cwd=folder))
        measured = {name: statistics.median(values) for name, values in rounds.items()}
        bare, floor = (measured[name] for name in baselines)
        print(f"load average at the end: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
        print(f"median of {options.repeat} runs each\n")
        for name in baselines:
            print(f"{name:32} {measured[name]:6.3f} s (baseline)")
        outcomes = []
        for name in commands:
            seconds = measured[name]
            print(
                f"{name:32} {seconds:6.3f} s  {seconds / bare:5.1f}x pass  "
                f"{seconds / floor:4.2f}x import sqlalchemy"
            )
            outcomes.append(
                Outcome(
                    benchmark=f"commands: `{name}`, bundled queue",
                    figure=f"{seconds:.3f} s",
                    baseline=f"`python -c pass` {bare:.3f} s; `import sqlalchemy` {floor:.3f} s",
                    ratio=f"{seconds / bare:.1f}x pass, {seconds / floor:.2f}x sqlalchemy",
                    target=f"< {TARGET} s",
                    met=seconds < TARGET,
                )
            )
        if options.importtime:
            probe = subprocess.run(
                [sys.executable, "-X", "importtime", "-c", "import scheduler.cli"],
                capture_output=True,
                text=True,
                check=True,
            )
            rows = [line.split("|") for line in probe.stderr.splitlines()[1:]]
            rows.sort(key=lambda row: -int(row[1]))
            print("\nimport scheduler.cli, cumulative microseconds (top 25):")
            for row in rows[:25]:
                print(f"{int(row[1]):>9}  {row[2].rstrip()}")
        print_outcomes(outcomes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
