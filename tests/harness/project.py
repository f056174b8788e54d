"""A crash-harness project: config.yaml for one WordPress account, its queue (SQLite or a
fresh PostgreSQL database), the post files dropped into its inbox."""

from __future__ import annotations

import functools
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from scheduler.db.engines import make_engine, upgrade
from scheduler.db.models import Delivery, DeliveryEvent
from scheduler.delivery.states import State
from tests.fakes.wordpress import APPLICATION_PASSWORD, USERNAME

# The fake blog's only user and its Application Password.
BLOG_USERNAME = USERNAME
BLOG_PASSWORD = APPLICATION_PASSWORD
ZONE = "Europe/Zurich"
# Nothing more will happen to these without a person.
# A post handed to WordPress' own scheduling (a day past the cap) is on the blog, scheduled:
# settled for a crash run, which ends long before that day comes.
SETTLED = frozenset(
    {
        State.PUBLISHED,
        State.HANDED_OVER,
        State.NEEDS_ATTENTION,
        State.FAILED,
        State.MISSED,
        State.CANCELLED,
    }
)
WITH_A_PERSON = frozenset(
    {State.NEEDS_ATTENTION, State.FAILED, State.HELD, State.MISSED, State.CANCELLED}
)
# Something may be on its way to the blog: never a legitimate end state.
IN_FLIGHT = frozenset({State.CLAIMED, State.SENDING, State.UNKNOWN})
POST_FILE = """\
library: redaction
author: harness
title: "{title}"
text: |
  Message {number} du banc d'essai des pannes (graine {seed}).
to: [blog]
"""


# -- a project: config, database, inbox ---------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Project:
    directory: Path
    config: Path
    database_url: str
    cap: int | None

    def sessions(self) -> sessionmaker[Session]:
        return _sessions(self.database_url)


@functools.cache
def _sessions(database_url: str) -> sessionmaker[Session]:
    # One engine per database for the whole run; the harness only reads the queue.
    return sessionmaker(make_engine(database_url), expire_on_commit=False)


def dispose(database_url: str) -> None:
    _sessions(database_url).kw["bind"].dispose()


@contextmanager
def fresh_database(directory: Path, server: str | None, *, keep: bool = False) -> Iterator[str]:
    """A SQLite file in ``directory``, or a new database on the PostgreSQL ``server``
    (dropped afterwards, even when a daemon still holds a connection, unless ``keep``)."""
    if server is None:
        directory.mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{directory / 'queue.db'}"
        return
    name = f"relais_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(make_url(server), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        if not keep:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_project(directory: Path, *, blog_url: str, database_url: str, cap: int | None) -> Project:
    """config.yaml for one WordPress account, short leases and reconciliation, migrated."""
    directory.mkdir(parents=True, exist_ok=True)
    blog: dict[str, Any] = {
        "kind": "wordpress",
        "base_url": blog_url,
        "username": BLOG_USERNAME,
        "timeout": 10,
    }
    if cap is not None:
        blog["rules"] = {"daily_cap": cap}
    settings: dict[str, Any] = {
        "timezone": ZONE,
        "database": database_url,
        "libraries": {"redaction": {"name": "Rédaction"}},
        "accounts": {"blog": blog},
        "approval": {"auto": [{"library": "redaction"}]},
        # A dead daemon's claims come back within seconds, an `unknown` is looked for a
        # second after the crash: the run is about what happens, not about waiting.
        "dispatch": {
            "lease": "5s",
            "reconcile_after": "1s",
            "backoff_base": "1s",
            "backoff_max": "5s",
            "shutdown_deadline": "5s",
        },
        "intake": {"settle": "1s", "scan_interval": "1s"},
    }
    config = directory / "config.yaml"
    config.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    (directory / "inbox").mkdir(exist_ok=True)
    upgrade(database_url)
    return Project(directory=directory, config=config, database_url=database_url, cap=cap)


def title_of(number: int) -> str:
    return f"Essai {number:05d}"


def drop_posts(project: Project, count: int, *, seed: int, first: int = 1) -> list[str]:
    """``count`` post files in the inbox, already settled; returns their (unique) titles."""
    folder = project.directory / "inbox" / "redaction"
    folder.mkdir(parents=True, exist_ok=True)
    settled = time.time() - 60
    titles = []
    for number in range(first, first + count):
        path = folder / f"essai-{number:05d}.yaml"
        path.write_text(
            POST_FILE.format(title=title_of(number), number=number, seed=seed), encoding="utf-8"
        )
        os.utime(path, (settled, settled))
        titles.append(title_of(number))
    return titles


def state_of(project: Project, delivery_id: str) -> str:
    with project.sessions()() as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None, delivery_id
        return delivery.state


def history(project: Project, delivery_id: str) -> list[tuple[str | None, str, str | None]]:
    """The delivery's state changes (from, to, reason), oldest first."""
    with project.sessions()() as session:
        return [
            (row.from_state, row.to_state, row.reason)
            for row in session.execute(
                select(DeliveryEvent.from_state, DeliveryEvent.to_state, DeliveryEvent.reason)
                .where(DeliveryEvent.delivery_id == delivery_id)
                .order_by(DeliveryEvent.id)
            )
        ]
