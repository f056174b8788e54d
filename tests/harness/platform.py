"""The fake WordPress blog of the crash harness, as a child process that outlives the kills
(``tests/harness/fake_platform.py``); ``created()`` asks it what it holds."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import requests

PLATFORM_MODULE = "tests.harness.fake_platform"


# -- the fake blog, in its own process ---------------------------------------------------


class Platform:
    """``tests/harness/fake_platform.py`` as a child process; ``created()`` asks what it holds."""

    def __init__(self, *, time_limit: float, latency: float, log: IO[str]) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                PLATFORM_MODULE,
                f"--time-limit={time_limit}",
                f"--latency={latency}",
            ],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        if not first:
            raise RuntimeError(f"the fake platform did not start (exit {self.process.wait()})")
        self.url: str = json.loads(first)["url"]

    def created(self) -> list[dict[str, Any]]:
        answer = requests.get(f"{self.url}/__relais/created", timeout=30)
        answer.raise_for_status()
        return answer.json()  # type: ignore[no-any-return]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def platform(
    directory: Path, *, time_limit: float = 3600, latency: float = 0.01
) -> Iterator[Platform]:
    with (directory / "platform.log").open("a", encoding="utf-8") as log:
        served = Platform(time_limit=time_limit, latency=latency, log=log)
        try:
            yield served
        finally:
            served.stop()
