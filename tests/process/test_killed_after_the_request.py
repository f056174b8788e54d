"""A real ``relais run`` killed after the platform took the post, before its answer was
recorded: the one crash where sending again would publish twice.

The daemon freezes at the ``after_publish`` failpoint (the request done, nothing committed
yet) and is killed with SIGKILL. A new daemon must find the post by reconciliation and mark
it published, without sending it again.
"""

from __future__ import annotations

import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from scheduler.app import build_app
from scheduler.config import load_config
from scheduler.db.models import DeliveryEvent
from scheduler.delivery.transitions import transaction
from tests.databases import migrate
from tests.invariants import assert_project_sound
from tests.process.test_daemon_process import Daemon, queued, sent, state_of
from tests.support import write_config

pytestmark = pytest.mark.slow


def history(project: Path, delivery_id: str) -> list[str]:
    app = build_app(load_config(project / "config.yaml"))
    with transaction(app.sessions) as session:
        path = session.scalars(
            select(DeliveryEvent.to_state)
            .where(DeliveryEvent.delivery_id == delivery_id)
            .order_by(DeliveryEvent.id)
        ).all()
    app.engine.dispose()
    return list(path)


def test_killed_after_the_request_it_is_published_once_after_reconciliation(
    tmp_path: Path,
) -> None:
    # An interrupted send is looked for a second after it became unknown.
    write_config(
        tmp_path,
        intake={"settle": "1s", "scan_interval": "1s"},
        dispatch={"reconcile_after": "1s"},
    )
    migrate(load_config(tmp_path / "config.yaml").database_url)
    delivery_id = queued(tmp_path)

    frozen = Daemon(tmp_path, "run", failpoints="after_publish")
    frozen.wait_for("failpoint reached")
    frozen.process.kill()
    frozen.finish()
    assert state_of(tmp_path, delivery_id) == "sending"
    assert [line["delivery_id"] for line in sent(tmp_path)] == [delivery_id]  # it went out

    restarted = Daemon(tmp_path, "run")
    restarted.wait_for('"to_state": "published"')
    restarted.process.send_signal(signal.SIGTERM)
    assert restarted.finish() == 0, "".join(restarted.seen)
    assert state_of(tmp_path, delivery_id) == "published"
    assert [line["delivery_id"] for line in sent(tmp_path)] == [delivery_id]  # once
    assert history(tmp_path, delivery_id) == [
        "scheduled",
        "claimed",
        "sending",
        "unknown",
        "published",
    ]
    assert any("found by reconciliation" in line for line in restarted.seen)
    assert_project_sound(tmp_path / "config.yaml", datetime.now(UTC))
