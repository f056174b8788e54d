"""Does the desk slow the daemon down? Dispatch lateness with and without a busy desk.

The schedule of bench/dispatch_precision.py (posts due one after the other, sent through
dry-run accounts by the real ``relais run``) is run twice on fresh queues: once alone, once
with ``relais web`` on the same SQLite queue and an editor hammering it from another
thread (the month view, the queue, and an approval every second: a write that takes the
queue's lock). The desk runs with nice 5, as systemd/relais-web.service runs it. The
figure is the daemon's lateness (due to publish called), p50 and p99; the ratio is with
desk over without. Target: the desk adds nothing beyond noise (p99 ratio under 1.5).

    .venv/bin/python bench/desk_dispatch.py [--posts 60] [--interval 0.5]
"""

from __future__ import annotations

import argparse
import http.cookiejar
import re
import socket
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import (
    ACCOUNTS,
    Child,
    Outcome,
    json_lines,
    percentile,
    print_header,
    print_outcomes,
    relais,
    write_project,
)
from bench.dispatch_precision import schedule
from scheduler.app import build_app
from scheduler.config import load_config
from scheduler.people.directory import Directory
from scheduler.people.person import Role
from tests.support import queue_delivery

PASSWORD = "bench password"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Editor(threading.Thread):
    """Reads the calendar and the queue without pause and approves one post a second."""

    def __init__(self, url: str, pending: list[str]) -> None:
        super().__init__(daemon=True)
        self.url, self.pending, self.stop = url, list(pending), threading.Event()
        self.requests = 0
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def get(self, path: str) -> str:
        with self.opener.open(self.url + path, timeout=30) as answer:
            self.requests += 1
            return str(answer.read().decode())

    def post(self, path: str, fields: dict[str, str]) -> None:
        data = urllib.parse.urlencode(fields).encode()
        with self.opener.open(self.url + path, data=data, timeout=30):
            self.requests += 1

    def run(self) -> None:
        csrf = CSRF.search(self.get("/login"))
        assert csrf
        self.post("/login", {"name": "paul", "password": PASSWORD, "csrf": csrf.group(1)})
        last_approval = 0.0
        while not self.stop.is_set():
            self.get("/calendar")
            page = self.get("/queue")
            if self.pending and time.monotonic() - last_approval > 1.0:
                token = CSRF.search(page)
                assert token
                self.post("/act/approve", {"ref": self.pending.pop(), "csrf": token.group(1)})
                last_approval = time.monotonic()


def sent_count(folder: Path) -> int:
    return sum(len(json_lines(folder / "out" / f"{account}.jsonl")) for account in ACCOUNTS)


def lateness(
    folder: Path, posts: int, interval: float, lead: float, with_desk: bool
) -> tuple[list[float], int]:
    config_path = write_project(folder, web={"secure_cookies": False})
    app = build_app(load_config(config_path))
    pending = []
    if with_desk:
        people = Directory(sessions=app.sessions, clock=app.clock, known_libraries=["redaction"])
        people.add("paul", role=Role.EDITOR)
        people.set_password("paul", PASSWORD)
        later = datetime.now(UTC) + timedelta(days=20)
        for number in range(200):  # the calendar's and the queue's content
            delivery = queue_delivery(
                app, account="facebook", due_at=later + timedelta(hours=number)
            )
            pending.append(delivery)
        from scheduler.db.models import Delivery
        from scheduler.delivery.transitions import transaction

        with transaction(app.sessions) as session:
            for row in session.query(Delivery).filter(Delivery.id.in_(pending)):
                row.state = "pending_approval"
    app.engine.dispose()
    desk = editor = None
    if with_desk:
        port = free_port()
        # Nice=5, as systemd/relais-web.service runs it.
        desk = Child(
            ["nice", "-n", "5", *relais(config_path, "web", "--port", str(port))], cwd=folder
        )
        desk.wait_for("Uvicorn running")
        editor = Editor(f"http://127.0.0.1:{port}", pending)
        editor.start()
    # Scheduled once the desk runs: its start-up is not the daemon's lead time.
    app = build_app(load_config(config_path))
    due = schedule(posts, interval, lead)
    for number, moment in enumerate(due):
        queue_delivery(
            app, account=ACCOUNTS[number % len(ACCOUNTS)],
            due_at=datetime.fromtimestamp(moment, UTC),
        )  # fmt: skip
    app.engine.dispose()
    daemon = Child(relais(config_path, "run"), cwd=folder)
    try:
        daemon.wait_for("relais started")
        if time.time() > due[0] - 1:
            raise RuntimeError(
                "the daemon started too close to the first post; give a longer --lead"
            )
        time.sleep(max(0.0, due[-1] - time.time()) + 2.0)
        deadline = time.monotonic() + 120  # a loaded machine may still be sending
        while sent_count(folder) < posts and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        daemon.stop()
        if editor is not None:
            editor.stop.set()
            editor.join(timeout=30)
        if desk is not None:
            desk.stop()
    late: list[float] = []
    for account in ACCOUNTS:
        for record in json_lines(folder / "out" / f"{account}.jsonl"):
            sent = datetime.fromisoformat(record["sent_at"])
            late.append((sent - datetime.fromisoformat(record["due_at"])).total_seconds())
    if len(late) != posts:
        raise RuntimeError(f"{len(late)} of {posts} posts were sent")
    return late, editor.requests if editor else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=60)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--lead", type=float, default=20.0)
    arguments = parser.parse_args()
    print_header(f"dispatch with and without a busy desk: {arguments.posts} posts")
    results = {}
    for with_desk in (False, True):
        with tempfile.TemporaryDirectory(prefix="relais-bench-") as folder:
            results[with_desk] = lateness(
                Path(folder), arguments.posts, arguments.interval, arguments.lead, with_desk
            )
    alone, (busy, requests) = results[False][0], results[True]

    def ms(values: list[float], fraction: float) -> str:
        return f"{percentile(values, fraction) * 1000:.1f} ms"

    for name, values in (("daemon alone", alone), ("daemon + busy desk", busy)):
        print(f"{name:<20} p50 {ms(values, 0.5)}  p99 {ms(values, 0.99)}  max {ms(values, 1.0)}")
    print(f"desk requests served meanwhile: {requests}")
    ratio = percentile(busy, 0.99) / percentile(alone, 0.99)
    outcome = Outcome(
        benchmark=f"dispatch lateness with a busy desk ({requests} desk requests)",
        figure=f"p50 {ms(busy, 0.5)}, p99 {ms(busy, 0.99)}",
        baseline=f"daemon alone p50 {ms(alone, 0.5)}, p99 {ms(alone, 0.99)}",
        ratio=f"{ratio:.2f}x (p99)",
        target="p99 ratio < 1.5 and p99 < 50 ms",
        met=ratio < 1.5 and percentile(busy, 0.99) < 0.05,
    )
    print_outcomes([outcome])


if __name__ == "__main__":
    main()
