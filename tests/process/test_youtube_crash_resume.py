"""A daemon killed mid-upload: the restarted daemon resumes the same YouTube upload session.

The fake YouTube serves on loopback and holds its answer to the first chunk; the test waits
for that chunk (an event, not a sleep), SIGKILLs the daemon, then runs ``relais run --once``:
the delivery goes ``sending -> unknown``, and reconciliation (``find``) finishes the upload
from where the platform's session stands.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from scheduler.app import build_app
from scheduler.config import load_config
from scheduler.db.models import Delivery
from scheduler.delivery.transitions import transaction
from tests.connectors.cases.youtube import environment
from tests.connectors.contract import mp4_bytes
from tests.databases import migrate
from tests.fakes.wsgi import serve
from tests.fakes.youtube import YouTubeFake
from tests.process.test_daemon_process import Daemon
from tests.support import drop, write_config

pytestmark = pytest.mark.slow

UNIT = 256 * 1024
POST = """\
library: redaction
author: communication
title: L'heure du conte - épisode 12
text: Chaque mercredi, une histoire lue par les bibliothécaires.
media:
  - file: conte.mp4
    alt: Une bibliothécaire lit une histoire
to: [youtube]
"""


@pytest.fixture
def fake() -> Iterator[YouTubeFake]:
    fake = YouTubeFake()
    with serve(fake) as url:
        fake.base_url = url
        yield fake
        fake.release.set()  # never leave a request thread waiting


def youtube_delivery(project: Path) -> Delivery:
    app = build_app(load_config(project / "config.yaml"))
    with transaction(app.sessions) as session:
        delivery = session.scalars(select(Delivery).where(Delivery.account == "youtube")).one()
        session.expunge(delivery)
        return delivery


def test_a_daemon_killed_mid_upload_resumes_the_session_after_restart(
    tmp_path: Path, fake: YouTubeFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in environment(fake).items():
        monkeypatch.setenv(name, value)
    write_config(
        tmp_path,
        accounts={
            "youtube": {
                "kind": "youtube",
                "api_base": fake.base_url + "/",
                "token_uri": fake.base_url + "/token",
                "chunk_size": UNIT,
                "timeout": 20,
            }
        },
        dispatch={"reconcile_after": "0s"},
        intake={"settle": "1s", "scan_interval": "1s"},
    )
    config = load_config(tmp_path / "config.yaml")
    migrate(config.database_url)
    video = mp4_bytes(3 * UNIT)  # four chunks: three whole units and a short last one
    (config.inbox_dir / "redaction").mkdir(parents=True)
    (config.inbox_dir / "redaction" / "conte.mp4").write_bytes(video)
    fake.hold_after_first_chunk()

    daemon = Daemon(tmp_path, "run")
    drop(config, "redaction/conte.yaml", POST)
    if not fake.first_chunk.wait(timeout=60):
        daemon.process.kill()
        daemon.finish()
        pytest.fail("the fake never received a chunk; daemon log:\n" + "".join(daemon.seen))
    daemon.process.kill()
    daemon.finish()
    fake.release.set()

    assert youtube_delivery(tmp_path).state == "sending"
    (session,) = fake.sessions.values()
    assert session.chunks == [(0, UNIT - 1)]
    assert fake.created() == []

    restarted = Daemon(tmp_path, "run", "--once")
    assert restarted.finish() == 0, "".join(restarted.seen)

    assert list(fake.sessions.values()) == [session], "a second upload session was opened"
    assert session.chunks == [
        (0, UNIT - 1),
        (UNIT, 2 * UNIT - 1),
        (2 * UNIT, 3 * UNIT - 1),
        (3 * UNIT, len(video) - 1),
    ]
    [created] = fake.created()
    assert created["bytes"] == video
    delivery = youtube_delivery(tmp_path)
    assert delivery.state == "published", "".join(restarted.seen)
    assert delivery.platform_id == created["id"]
    assert any("found by reconciliation" in line for line in restarted.seen)
