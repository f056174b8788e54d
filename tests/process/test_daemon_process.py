"""The real ``relais run`` process: publishes, stops cleanly, and survives SIGKILL.

These tests wait for a process to reach a point it announces in its log (a failpoint, a
published line), never for a schedule.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler.app import build_app
from scheduler.config import load_config
from scheduler.db.models import Delivery
from scheduler.delivery.transitions import transaction
from tests.databases import migrate
from tests.support import drop, queue_delivery, write_config

pytestmark = pytest.mark.slow

POST = """\
library: redaction
author: communication
title: Bienvenue
text: Le blog des bibliothèques ouvre aujourd'hui.
to: [facebook]
"""


class Daemon:
    """A ``relais`` child process whose log lines the test can wait for."""

    def __init__(
        self,
        directory: Path,
        *args: str,
        failpoints: str = "",
        environment: dict[str, str] | None = None,
    ) -> None:
        environment = {**os.environ, "RELAIS_FAILPOINTS": failpoints, **(environment or {})}
        environment.pop("RELAIS_DATABASE_URL", None)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scheduler", "--config", str(directory / "config.yaml"), *args],
            cwd=directory,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 30) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(line)
            if text in line:
                return json.loads(line)  # type: ignore[no-any-return]
        raise AssertionError(f"no log line with {text!r}; saw:\n{''.join(self.seen)}")

    def finish(self, timeout: float = 30) -> int:
        code = self.process.wait(timeout=timeout)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return code


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    write_config(tmp_path, intake={"settle": "1s", "scan_interval": "1s"})
    migrate(load_config(tmp_path / "config.yaml").database_url)
    yield tmp_path


def sent(project: Path) -> list[dict[str, object]]:
    path = project / "out" / "facebook.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def state_of(project: Path, delivery_id: str) -> str:
    app = build_app(load_config(project / "config.yaml"))
    with transaction(app.sessions) as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        return delivery.state


def queued(project: Path) -> str:
    return queue_delivery(build_app(load_config(project / "config.yaml")))


def test_the_daemon_publishes_a_dropped_file_and_stops_cleanly_on_sigterm(project: Path) -> None:
    daemon = Daemon(project, "run")
    daemon.wait_for("relais started")
    drop(load_config(project / "config.yaml"), "redaction/bienvenue.yaml", POST, age=0)
    published = daemon.wait_for('"to_state": "published"')
    assert published["account"] == "facebook"
    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.finish() == 0
    assert any("relais stopped" in line for line in daemon.seen)
    assert len(sent(project)) == 1


def test_a_second_daemon_on_the_same_sqlite_queue_is_refused(project: Path) -> None:
    first = Daemon(project, "run")
    first.wait_for("relais started")
    second = Daemon(project, "run", "--once")
    assert second.finish() == 78
    assert any("another relais daemon" in line for line in second.seen)
    first.process.send_signal(signal.SIGINT)
    assert first.finish() == 0


def test_the_daemon_refuses_an_old_schema_and_names_the_fix(tmp_path: Path) -> None:
    write_config(tmp_path)
    daemon = Daemon(tmp_path, "run")
    assert daemon.finish() == 78
    assert any("relais db upgrade" in line for line in daemon.seen)


def test_killed_while_claimed_it_is_published_exactly_once_after_restart(project: Path) -> None:
    delivery_id = queued(project)
    daemon = Daemon(project, "run", failpoints="after_claim")
    daemon.wait_for("failpoint reached")
    daemon.process.kill()
    daemon.finish()
    assert state_of(project, delivery_id) == "claimed"
    assert sent(project) == []

    restarted = Daemon(project, "run", "--once")
    assert restarted.finish() == 0, "".join(restarted.seen)
    assert state_of(project, delivery_id) == "published"
    assert [line["delivery_id"] for line in sent(project)] == [delivery_id]


def test_killed_while_sending_it_is_unknown_after_restart_and_not_resent(project: Path) -> None:
    delivery_id = queued(project)
    daemon = Daemon(project, "run", failpoints="after_sending")
    daemon.wait_for("failpoint reached")
    daemon.process.kill()
    daemon.finish()
    assert state_of(project, delivery_id) == "sending"

    restarted = Daemon(project, "run", "--once")
    assert restarted.finish() == 0, "".join(restarted.seen)
    assert state_of(project, delivery_id) == "unknown"
    assert sent(project) == []


def test_systemd_hears_ready_then_status_and_watchdog_pings_then_stopping(
    project: Path,
) -> None:
    address = project / "notify"
    systemd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    systemd.bind(str(address))
    systemd.settimeout(30)
    queued(project)
    # A two-second watchdog: the daemon checks the database and pings every second.
    daemon = Daemon(
        project, "run", environment={"NOTIFY_SOCKET": str(address), "WATCHDOG_USEC": "2000000"}
    )
    heard: list[str] = []
    while heard.count("WATCHDOG=1") < 2 or "READY=1" not in heard:
        heard.append(systemd.recv(4096).decode())
    statuses = [message for message in heard if message.startswith("STATUS=")]
    assert statuses and "unknown" in statuses[0] and "need attention" in statuses[0]
    daemon.process.send_signal(signal.SIGTERM)
    while not systemd.recv(4096).decode().startswith("STOPPING=1"):
        pass
    assert daemon.finish() == 0
    systemd.close()


def test_the_daemon_serves_health_and_metrics_when_asked(tmp_path: Path) -> None:
    import socket
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    write_config(tmp_path, http={"port": port}, intake={"settle": "1s", "scan_interval": "1s"})
    migrate(load_config(tmp_path / "config.yaml").database_url)
    daemon = Daemon(tmp_path, "run")
    daemon.wait_for("relais started")
    base = f"http://127.0.0.1:{port}"
    with urllib.request.urlopen(f"{base}/healthz", timeout=5) as answer:
        assert answer.status == 200 and answer.read().strip() == b"ok"
    with urllib.request.urlopen(f"{base}/metrics", timeout=5) as answer:
        assert b"relais_unknown_deliveries 0.0" in answer.read()
    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.finish() == 0
