"""Intake: valid post files validated and queued, against bare YAML parsing of the same files.

An inbox of ``--files`` valid post files (two accounts each, fixed times, settled: their
mtime a minute old) is taken by one ``Intake.scan``, as the daemon's periodic scan does:
each file is parsed with line numbers, validated (schema, house rules, every connector's
offline check), queued in its own committed transaction, logged (JSON, to /dev/null) and
moved to ``processed/``. The baseline reads and parses the same files with
``yaml.load(..., Loader=yaml.CSafeLoader)`` and nothing else. Target: at most 3x.

    .venv/bin/python bench/intake.py [--files 10000] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import yaml

from bench.common import Outcome, print_header, print_outcomes, write_project
from scheduler.app import build_app
from scheduler.config import load_config
from scheduler.logs import configure_logging

TARGET_RATIO = 3.0
FIRST_DAY = date.today() + timedelta(days=30)

POST = """\
library: redaction
author: marie
title: "Goûter de l'Escalade n° {number}"
text: |
  Trois collègues déguisées pour le goûter de l'Escalade !
  Venez nombreux à la bibliothèque, numéro {number}.
link: https://www.example.org/agenda/escalade-{number}
to: [facebook, twitter]
at: {at}
"""


def write_inbox(inbox: Path, files: int) -> list[Path]:
    """``files`` post files, one minute apart, their mtime old enough to be settled."""
    folder = inbox / "redaction"
    folder.mkdir(parents=True, exist_ok=True)
    settled = time.time() - 60
    paths: list[Path] = []
    for number in range(files):
        moment = FIRST_DAY + timedelta(days=number // 600)
        minutes = 8 * 60 + number % 600
        at = f"{moment.isoformat()} {minutes // 60:02d}:{minutes % 60:02d}"
        path = folder / f"post-{number:05d}.yaml"
        path.write_text(POST.format(number=number, at=at), encoding="utf-8")
        os.utime(path, (settled, settled))
        paths.append(path)
    return paths


def bare_yaml(paths: list[Path]) -> float:
    started = time.perf_counter()
    for path in paths:
        document = yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)
        assert isinstance(document, dict)
    return time.perf_counter() - started


def intake(config_path: Path, files: int, profile: bool) -> float:
    app = build_app(load_config(config_path))
    scanner = app.intake()
    # Placement runs once, after every file is queued: timed apart, as it grows with the
    # square of the files (each placement reads every occupied slot of its account).
    place = scanner.placement.place_approved
    placing: list[float] = []

    def timed_place() -> int:
        started = time.perf_counter()
        try:
            return place()
        finally:
            placing.append(time.perf_counter() - started)

    scanner.placement.place_approved = timed_place  # type: ignore[method-assign]
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    report = scanner.scan()
    if profiler is not None:
        profiler.disable()
    elapsed = time.perf_counter() - started
    if len(report.queued) != files:
        problems = report.rejected[:3] or report.waiting[:3]
        raise RuntimeError(f"queued {len(report.queued)} of {files} files: {problems}")
    if profiler is not None:
        print("\nintake hot spots (cumulative):")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
        print("intake hot spots (own time):")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
    queueing = elapsed - sum(placing)
    print(
        f"of which placement: {sum(placing):.2f} s; validating and queueing each file: "
        f"{queueing:.2f} s ({files / queueing:.0f} files/s)"
    )
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--profile", action="store_true", help="cProfile the intake side")
    arguments = parser.parse_args()
    files = arguments.files
    print_header(f"intake: {files} valid post files")
    with tempfile.TemporaryDirectory(prefix="relais-bench-") as folder:
        config_path = write_project(Path(folder))
        paths = write_inbox(load_config(config_path).inbox_dir, files)
        bare_yaml(paths)  # warm the page cache for both sides
        baseline = bare_yaml(paths)
        # The daemon logs every queued file; its cost is part of intake.
        with open(os.devnull, "w", encoding="utf-8") as sink:
            configure_logging(sink)
            elapsed = intake(config_path, files, arguments.profile)
    ratio = elapsed / baseline
    print(f"yaml.load CSafeLoader (baseline): {baseline:7.2f} s  {files / baseline:8.0f} files/s")
    print(f"Intake.scan (validate + queue):   {elapsed:7.2f} s  {files / elapsed:8.0f} files/s")
    print(f"ratio: {ratio:.1f}x (target <= {TARGET_RATIO:.0f}x)")
    print_outcomes(
        [
            Outcome(
                benchmark=f"intake, {files} post files validated and queued",
                figure=f"{files / elapsed:.0f} files/s ({elapsed:.1f} s)",
                baseline=f"yaml.load CSafeLoader {files / baseline:.0f} files/s",
                ratio=f"{ratio:.1f}x",
                target="<= 3x",
                met=ratio <= TARGET_RATIO,
            )
        ]
    )


if __name__ == "__main__":
    main()
