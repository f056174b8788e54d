"""A real daemon killed with SIGKILL between the SMTP server's "250 OK" and the record of it:
every event is still received once, never twice (the at-most-once choice of
scheduler.notifications.sender), and the interrupted one is counted for a person."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from scheduler.app import build_app
from scheduler.config import load_config
from scheduler.db.engines import upgrade
from scheduler.db.models import Notification, NotificationSend
from scheduler.delivery.transitions import transaction
from scheduler.people.person import Role
from tests.mailservers import mail_server
from tests.process.test_daemon_process import Daemon
from tests.support import drop, write_config

pytestmark = pytest.mark.slow

POSTS = 6


def test_killed_between_send_and_record_each_event_is_received_once(tmp_path: Path) -> None:
    with mail_server() as smtp:
        write_config(
            tmp_path,
            intake={"settle": "1s", "scan_interval": "1s"},
            notifications={
                "interval": "1s",
                "smtp": {"host": "127.0.0.1", "port": smtp.port, "security": "none",
                         "from": "relais@bibliotheques.example", "timeout": "5s"},
            },
        )  # fmt: skip
        config = load_config(tmp_path / "config.yaml")
        upgrade(config.database_url)
        app = build_app(config)
        app.directory().add(
            "marie", role=Role.CONTRIBUTOR, libraries=["redaction"], email="marie@example.org"
        )
        for index in range(POSTS):
            drop(config, f"redaction/post-{index}.yaml", _post(index))

        first = Daemon(tmp_path, "run", failpoints="notification_after_send")
        first.wait_for("failpoint reached", timeout=60)
        first.process.kill()
        first.finish()
        assert len(smtp.received) == 1, "the server accepted the message before the kill"
        with transaction(app.sessions) as session:
            assert _states(session).get("sending") == 1

        restarted = Daemon(tmp_path, "run", "--once")
        assert restarted.finish(timeout=120) == 0, "".join(restarted.seen)

        subjects = sorted(mail.subject for mail in smtp.received)
        assert subjects == sorted(f"Publié sur facebook : Post {i}" for i in range(POSTS))
        with transaction(app.sessions) as session:
            states = _states(session)
            events = session.scalar(select(func.count()).select_from(Notification))
        assert events == POSTS
        assert states == {"sent": POSTS - 1, "unknown": 1}
        print(f"\ncrash test: {events} events, {len(smtp.received)} messages received, "
              f"rows {states}")  # fmt: skip
        app.engine.dispose()


def _states(session: object) -> dict[str, int]:
    from sqlalchemy.orm import Session

    assert isinstance(session, Session)
    return dict(
        session.execute(
            select(NotificationSend.state, func.count()).group_by(NotificationSend.state)
        ).all()
    )


def _post(index: int) -> str:
    return (
        "library: redaction\nauthor: marie\n"
        f"title: Post {index}\ntext: Publication numéro {index}.\nto: [facebook]\n"
    )
