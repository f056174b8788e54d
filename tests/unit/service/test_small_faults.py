"""Smaller faults: a newer database, a second daemon through a symbolic link."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import text

from scheduler.app import App, build_app
from scheduler.db.engines import SchemaOutOfDate, require_head
from scheduler.service.daemon import Daemon
from scheduler.service.instance_lock import AlreadyRunning, sqlite_path


def test_a_newer_database_names_its_revision_and_what_to_do(app: App) -> None:
    with app.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    with pytest.raises(SchemaOutOfDate) as refused:
        require_head(app.engine)
    message = str(refused.value)
    assert "at revision 0099, newer than this relais knows" in message
    assert "relais db upgrade" not in message


def test_a_symbolic_link_to_the_queue_does_not_let_a_second_daemon_in(
    app: App, tmp_path: Path
) -> None:
    path = sqlite_path(app.config.database_url)
    assert path is not None
    link = tmp_path / "elsewhere.db"
    link.symlink_to(path)
    first = Daemon(app)
    first.prepare()
    try:
        config = app.config.model_copy(update={"database": f"sqlite:///{link}"})
        second = Daemon(dataclasses.replace(build_app(config, clock=app.clock)))
        with pytest.raises(AlreadyRunning):
            second.prepare()
    finally:
        first._release()


def test_the_endpoint_refuses_a_wider_address_unless_behind_an_authenticating_proxy() -> None:
    from pydantic import ValidationError

    from scheduler.config import HttpConfig

    assert HttpConfig(port=9187).host == "127.0.0.1"
    assert HttpConfig(host="::1", port=9187).host == "::1"
    with pytest.raises(ValidationError, match="not a loopback address"):
        HttpConfig(host="0.0.0.0", port=9187)
    assert HttpConfig(host="0.0.0.0", port=9187, behind_auth_proxy=True).behind_auth_proxy
