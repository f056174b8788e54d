"""Telling systemd how the daemon is doing (``Type=notify``), without libsystemd.

The protocol is one datagram of ``KEY=VALUE`` lines sent to the AF_UNIX socket named by
``$NOTIFY_SOCKET`` (a name starting with ``@`` is in the abstract namespace). Outside
systemd the variable is unset and every call is a no-op, so the daemon calls the notifier
unconditionally. Notification is advisory: a failure to send is logged once and never
raised, because a daemon that stops publishing over a status message would be worse than
one whose status is stale (systemd's watchdog catches a daemon that is really stuck).

:func:`status_line` is the one-line summary shown by ``systemctl status relais``; the
queries it makes are also the database round trip that earns a watchdog ping.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from scheduler.clock import Clock
from scheduler.db.models import AccountState, Delivery
from scheduler.delivery.states import State
from scheduler.delivery.transitions import transaction

log = logging.getLogger(__name__)

NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET"
WATCHDOG_USEC_ENV = "WATCHDOG_USEC"
WATCHDOG_PID_ENV = "WATCHDOG_PID"
# systemd truncates STATUS= in `systemctl status`; a bound keeps the datagram small too.
MAX_STATUS_CHARS = 200


class SystemdNotifier:
    """sd_notify(3) for one process: ``ready``, ``watchdog``, ``status``, ``stopping``.

    Safe to call from any thread (the main thread sends READY and STOPPING, the scheduler's
    worker the watchdog pings). Every method returns whether a datagram was sent; none
    raises.
    """

    def __init__(self, environment: Mapping[str, str] | None = None) -> None:
        self._environment = dict(os.environ if environment is None else environment)
        self._address = _socket_address(self._environment.get(NOTIFY_SOCKET_ENV, ""))
        self._lock = threading.Lock()
        self._warned = False

    @property
    def enabled(self) -> bool:
        """Whether a service manager listens (``$NOTIFY_SOCKET`` is set and usable)."""
        return self._address is not None

    def ready(self, status: str | None = None) -> bool:
        """Start-up is over: systemd reports the unit as started (after the schema check)."""
        return self._send("READY=1", status)

    def watchdog(self) -> bool:
        """Still alive: send at least every :meth:`watchdog_interval`, or systemd restarts us."""
        return self._send("WATCHDOG=1")

    def status(self, text: str) -> bool:
        """The one-line status shown by ``systemctl status``."""
        return self._send(None, text)

    def stopping(self, status: str | None = "stopping") -> bool:
        """Shutdown has begun (in-flight sends are finishing)."""
        return self._send("STOPPING=1", status)

    def watchdog_interval(self) -> timedelta | None:
        """How often systemd expects a ping (``WatchdogSec=``), or None when it does not.

        ``$WATCHDOG_PID``, when set, names the process the watchdog is meant for; a child
        that inherited the environment must not ping on its parent's behalf.
        """
        pid = self._environment.get(WATCHDOG_PID_ENV)
        if pid and pid.strip() != str(os.getpid()):
            return None
        try:
            usec = int(self._environment.get(WATCHDOG_USEC_ENV, ""))
        except ValueError:
            return None
        return timedelta(microseconds=usec) if usec > 0 else None

    def _send(self, state: str | None, status: str | None = None) -> bool:
        if self._address is None:
            return False
        lines = [state] if state else []
        if status is not None:
            lines.append("STATUS=" + _one_line(status))
        message = "\n".join(lines).encode("utf-8")
        # One socket per message, as libsystemd does: nothing to keep open or reconnect.
        with self._lock:
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                    sock.sendto(message, self._address)
            except OSError as error:
                if not self._warned:
                    self._warned = True
                    log.warning(
                        "cannot notify systemd at %s (%s); carrying on without it "
                        "(further failures are not logged)",
                        self._environment.get(NOTIFY_SOCKET_ENV),
                        error.strerror or error,
                    )
                return False
        return True


def _socket_address(name: str) -> str | bytes | None:
    if name.startswith("@"):
        # Abstract namespace: a leading NUL byte instead of the '@'.
        return b"\0" + name[1:].encode("utf-8")
    if name.startswith("/"):
        return name
    if name:
        # e.g. systemd 254's "vsock:" addresses, meant for virtual machines; not ours.
        log.warning("ignoring NOTIFY_SOCKET=%s: only AF_UNIX socket paths are supported", name)
    return None


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_STATUS_CHARS else flat[: MAX_STATUS_CHARS - 1] + "…"


@dataclass(frozen=True, kw_only=True)
class QueueSummary:
    scheduled: int
    retry_wait: int
    unknown: int
    needs_attention: int
    paused: int
    next_due: datetime | None
    next_account: str | None


def summarise(session: Session) -> QueueSummary:
    """Counts of the states ops watch; each query is bounded by the (state, due_at) index,
    so the cost does not grow with the number of published deliveries."""
    watched = [State.SCHEDULED, State.RETRY_WAIT, State.UNKNOWN, State.NEEDS_ATTENTION]
    counts = dict(
        session.execute(
            select(Delivery.state, func.count())
            .where(Delivery.state.in_(watched))
            .group_by(Delivery.state)
        ).all()
    )
    upcoming: list[tuple[datetime, str]] = []
    for state in (State.SCHEDULED, State.RETRY_WAIT):
        row = session.execute(
            select(Delivery.due_at, Delivery.account)
            .where(Delivery.state == state, Delivery.due_at.is_not(None))
            .order_by(Delivery.due_at)
            .limit(1)
        ).first()
        if row is not None and row[0] is not None:
            upcoming.append((row[0], row[1]))
    first = min(upcoming) if upcoming else None
    paused = session.scalar(
        select(func.count()).select_from(AccountState).where(AccountState.paused.is_(True))
    )
    return QueueSummary(
        scheduled=counts.get(State.SCHEDULED, 0),
        retry_wait=counts.get(State.RETRY_WAIT, 0),
        unknown=counts.get(State.UNKNOWN, 0),
        needs_attention=counts.get(State.NEEDS_ATTENTION, 0),
        paused=paused or 0,
        next_due=first[0] if first else None,
        next_account=first[1] if first else None,
    )


def render_status(summary: QueueSummary, now: datetime, zone: ZoneInfo) -> str:
    """E.g. ``12 scheduled, next 10:00 facebook; 0 unknown, 0 need attention``."""
    head = f"{summary.scheduled} scheduled"
    if summary.retry_wait:
        head += f", {summary.retry_wait} waiting to retry"
    if summary.next_due is not None:
        local = summary.next_due.astimezone(zone)
        # The date only when it is not today, so the common case stays short.
        shown = (
            local.strftime("%H:%M")
            if local.date() == now.astimezone(zone).date()
            else local.strftime("%Y-%m-%d %H:%M")
        )
        head += f", next {shown} {summary.next_account}"
    tail = f"{summary.unknown} unknown, {summary.needs_attention} need attention"
    if summary.paused:
        tail += f", {summary.paused} account{'s' if summary.paused > 1 else ''} paused"
    return f"{head}; {tail}"


def status_line(sessions: sessionmaker[Session], clock: Clock, zone: ZoneInfo) -> str:
    """The daemon's one-line status, read from the database (raises if it cannot be read)."""
    with transaction(sessions) as session:
        summary = summarise(session)
    return render_status(summary, clock.now(), zone)
