"""The sd_notify client against a real AF_UNIX datagram socket, and the status line."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from scheduler.app import App
from scheduler.db.models import AccountState, Delivery
from scheduler.delivery.transitions import transaction
from scheduler.service.systemd_notify import (
    MAX_STATUS_CHARS,
    QueueSummary,
    SystemdNotifier,
    render_status,
    status_line,
)
from tests.support import FakeClock, queue_delivery


class Listener:
    """What systemd does: a datagram socket that collects the messages sent to it."""

    def __init__(self, address: str | bytes) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(2)

    def receive(self) -> str:
        return self.sock.recv(4096).decode("utf-8")

    def nothing_waiting(self) -> bool:
        self.sock.setblocking(False)
        try:
            self.sock.recv(4096)
        except BlockingIOError:
            return True
        finally:
            self.sock.settimeout(2)
        return False


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[Listener, SystemdNotifier]]:
    path = tmp_path / "notify"
    listening = Listener(str(path))
    yield listening, SystemdNotifier({"NOTIFY_SOCKET": str(path)})
    listening.sock.close()


def test_each_message_arrives_as_systemd_expects_it(
    listener: tuple[Listener, SystemdNotifier],
) -> None:
    systemd, notifier = listener
    assert notifier.enabled
    assert notifier.ready()
    assert systemd.receive() == "READY=1"
    assert notifier.ready(status="3 scheduled")
    assert systemd.receive() == "READY=1\nSTATUS=3 scheduled"
    assert notifier.watchdog()
    assert systemd.receive() == "WATCHDOG=1"
    assert notifier.status("2 scheduled, next 10:00 facebook")
    assert systemd.receive() == "STATUS=2 scheduled, next 10:00 facebook"
    assert notifier.stopping()
    assert systemd.receive() == "STOPPING=1\nSTATUS=stopping"
    assert systemd.nothing_waiting()


def test_a_status_is_one_bounded_line(listener: tuple[Listener, SystemdNotifier]) -> None:
    systemd, notifier = listener
    notifier.status("first line\nSTOPPING=1\n  third")
    # A newline would start a new assignment: STATUS must not smuggle in STOPPING=1.
    assert systemd.receive() == "STATUS=first line STOPPING=1 third"
    notifier.status("x" * 1000)
    received = systemd.receive()
    assert len(received) == len("STATUS=") + MAX_STATUS_CHARS
    assert received.endswith("…")


def test_an_abstract_socket_name_starts_with_an_at_sign() -> None:
    name = f"relais-test-{uuid.uuid4().hex}"
    systemd = Listener(b"\0" + name.encode())
    try:
        assert SystemdNotifier({"NOTIFY_SOCKET": "@" + name}).ready()
        assert systemd.receive() == "READY=1"
    finally:
        systemd.sock.close()


def test_without_notify_socket_every_call_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = SystemdNotifier()
    assert not notifier.enabled
    assert not notifier.ready()
    assert not notifier.watchdog()
    assert not notifier.status("anything")
    assert not notifier.stopping()


def test_the_environment_is_read_when_none_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "notify"
    systemd = Listener(str(path))
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    try:
        assert SystemdNotifier().watchdog()
        assert systemd.receive() == "WATCHDOG=1"
    finally:
        systemd.sock.close()


def test_a_failure_to_notify_is_logged_once_and_never_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")})
    with caplog.at_level(logging.WARNING, logger="scheduler.service.systemd_notify"):
        assert not notifier.ready()
        assert not notifier.watchdog()
        assert not notifier.stopping()
    warnings = [
        record for record in caplog.records if record.name == "scheduler.service.systemd_notify"
    ]
    assert len(warnings) == 1
    assert "cannot notify systemd" in warnings[0].getMessage()


def test_a_socket_that_went_away_does_not_stop_the_daemon(
    listener: tuple[Listener, SystemdNotifier], tmp_path: Path
) -> None:
    systemd, notifier = listener
    assert notifier.watchdog()
    systemd.sock.close()
    (tmp_path / "notify").unlink()
    assert not notifier.watchdog()


def test_an_unsupported_socket_kind_is_ignored() -> None:
    notifier = SystemdNotifier({"NOTIFY_SOCKET": "vsock:2:1234"})
    assert not notifier.enabled
    assert not notifier.ready()


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"WATCHDOG_USEC": "60000000"}, timedelta(seconds=60)),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid())}, timedelta(seconds=60)),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_the_watchdog_interval_comes_from_systemd(
    environment: dict[str, str], expected: timedelta | None
) -> None:
    assert SystemdNotifier(environment).watchdog_interval() == expected


# -- the status line -----------------------------------------------------------------


def test_an_empty_queue_says_so(app: App, clock: FakeClock) -> None:
    line = status_line(app.sessions, clock, app.config.zone)
    assert line == "0 scheduled; 0 unknown, 0 need attention"


def test_the_status_line_counts_what_ops_watch(app: App, clock: FakeClock) -> None:
    # START is 09:00 UTC in December: 10:00 in Zurich.
    queue_delivery(app, account="twitter", due_at=clock.now() + timedelta(hours=3))
    queue_delivery(app, account="facebook", due_at=clock.now() + timedelta(hours=1))
    queue_delivery(app, account="facebook", due_at=clock.now() + timedelta(days=2))
    unknown = queue_delivery(app, account="facebook", due_at=clock.now() - timedelta(hours=1))
    attention = queue_delivery(app, account="twitter", due_at=clock.now() - timedelta(hours=2))
    retrying = queue_delivery(app, account="twitter", due_at=clock.now() + timedelta(minutes=5))
    with transaction(app.sessions) as session:
        for delivery_id, state in [
            (unknown, "unknown"),
            (attention, "needs_attention"),
            (retrying, "retry_wait"),
        ]:
            session.execute(update(Delivery).where(Delivery.id == delivery_id).values(state=state))
        session.add(AccountState(account="twitter", paused=True, paused_reason="token expired"))

    line = status_line(app.sessions, clock, app.config.zone)

    assert line == (
        "3 scheduled, 1 waiting to retry, next 10:05 twitter; "
        "1 unknown, 1 need attention, 1 account paused"
    )


def test_the_next_delivery_shows_its_date_when_it_is_not_today(app: App, clock: FakeClock) -> None:
    queue_delivery(app, account="facebook", due_at=clock.now() + timedelta(days=1, hours=1))
    line = status_line(app.sessions, clock, app.config.zone)
    assert line == "1 scheduled, next 2026-12-10 11:00 facebook; 0 unknown, 0 need attention"


def test_the_status_line_reads_the_database(app: App, clock: FakeClock) -> None:
    # The daemon pings the watchdog only after this succeeds: a broken database must raise.
    app.engine.dispose()
    db_file = Path(app.engine.url.database or "")
    db_file.unlink()
    db_file.mkdir()  # nothing SQLite can open
    with pytest.raises(Exception, match="unable to open database file"):
        status_line(app.sessions, clock, app.config.zone)


def test_render_status_pluralises_paused_accounts(clock: FakeClock) -> None:
    summary = QueueSummary(
        scheduled=0,
        retry_wait=0,
        unknown=2,
        needs_attention=0,
        paused=2,
        next_due=None,
        next_account=None,
    )
    line = render_status(summary, clock.now(), ZoneInfo("Europe/Zurich"))
    assert line == "0 scheduled; 2 unknown, 0 need attention, 2 accounts paused"


def test_the_daemon_pings_the_watchdog_only_after_the_database_answered(
    app: App, listener: tuple[Listener, SystemdNotifier]
) -> None:
    from scheduler.service.daemon import Daemon

    systemd, notifier = listener
    daemon = Daemon(app, notifier=notifier)
    daemon._health_job()
    assert systemd.receive() == "STATUS=0 scheduled; 0 unknown, 0 need attention"
    assert systemd.receive() == "WATCHDOG=1"

    app.engine.dispose()
    db_file = Path(app.engine.url.database or "")
    db_file.unlink()
    db_file.mkdir()
    daemon._health_job()
    assert systemd.nothing_waiting()
