"""Heartbeat rows: each running daemon writes its own every health cycle.

On SQLite the instance lock already tells whether the one daemon runs; on PostgreSQL
several daemons share the queue and no lock can be tested from another machine, so
``relais status`` reads these rows instead. Writing the row is also the daemon's probe of
whether the queue can be written at all (:mod:`scheduler.service.queue_health`).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from scheduler.db.models import DaemonHeartbeat
from scheduler.delivery.transitions import transaction

BEAT_EVERY = timedelta(seconds=15)
# A daemon whose row is older than this is taken for dead (a few missed beats).
ALIVE_WITHIN = timedelta(seconds=90)


@dataclass(frozen=True, kw_only=True)
class LiveDaemon:
    owner: str
    host: str
    pid: int
    beat_at: datetime


def beat(
    sessions: sessionmaker[Session], owner: str, *, now: datetime, started_at: datetime
) -> None:
    with transaction(sessions) as session:
        row = session.get(DaemonHeartbeat, owner)
        if row is None:
            session.add(
                DaemonHeartbeat(
                    owner=owner,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    started_at=started_at,
                    beat_at=now,
                )
            )
        else:
            row.beat_at = now


def forget(sessions: sessionmaker[Session], owner: str) -> None:
    """At a clean stop: this daemon no longer runs."""
    with transaction(sessions) as session:
        session.execute(delete(DaemonHeartbeat).where(DaemonHeartbeat.owner == owner))


def live_daemons(session: Session, *, now: datetime) -> tuple[LiveDaemon, ...]:
    rows = session.scalars(
        select(DaemonHeartbeat)
        .where(DaemonHeartbeat.beat_at >= now - ALIVE_WITHIN)
        .order_by(DaemonHeartbeat.host, DaemonHeartbeat.pid)
    )
    return tuple(
        LiveDaemon(owner=row.owner, host=row.host, pid=row.pid, beat_at=row.beat_at) for row in rows
    )
