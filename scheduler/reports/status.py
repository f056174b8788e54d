"""``relais status``: the queue at a glance for ops, and whether a person has to act.

Exit status, Nagios-style, so a monitoring script can tell how urgent it is:

- 0: nothing needs a person;
- 1 (warning): held deliveries, ``unknown`` ones waiting for reconciliation, a series
  occurrence without an episode inside its alert window;
- 2 (critical): the daemon is not running, deliveries overdue, ``needs_attention``, a paused
  account, deliveries failed in the last 24 hours, a series occurrence passed without one;
- 3 (unknown): the status itself could not be read (the command's wiring says why).

Every query is an aggregate or LIMITed and walks an index (``ix_delivery_state_due``
mostly). The count by state and account reads every delivery: an index on
``(state, account)`` makes that an index-only scan (0.15 s for a million deliveries).
Reports read through :func:`reader_sessions`, which never takes SQLite's write lock, so
looking at the queue never delays the daemon's next send.
"""

from __future__ import annotations

import fcntl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, create_engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from scheduler.clock import Clock
from scheduler.config import SeriesConfig
from scheduler.db.engines import make_engine
from scheduler.db.models import AccountState, Delivery, DeliveryEvent, Post, SeriesOccurrence
from scheduler.delivery.states import State
from scheduler.delivery.transitions import transaction
from scheduler.notifications.report import (
    NotificationSummary,
    notification_summary,
    render_summary,
)
from scheduler.rules.series import MISSED, OPEN
from scheduler.service.heartbeat import LiveDaemon, live_daemons
from scheduler.service.instance_lock import sqlite_path
from scheduler.service.queue_health import QueueFault

# Dispatch wakes at the due time; a delivery due a moment ago is normally being sent.
OVERDUE_AFTER = timedelta(minutes=2)
FAILED_WITHIN = timedelta(hours=24)
# Deliveries retrying this long make a warning: a platform is likely down.
LONG_RETRY = timedelta(hours=1)
SHOWN = 5  # deliveries listed per section; the counts are always complete
WAITING = (State.SCHEDULED, State.RETRY_WAIT)


class Level(IntEnum):
    OK = 0
    WARNING = 1
    CRITICAL = 2


@dataclass(frozen=True, kw_only=True)
class StateCount:
    state: str
    account: str
    count: int


@dataclass(frozen=True, kw_only=True)
class DeliveryLine:
    id: str
    post_key: str
    account: str
    state: str
    due_at: datetime | None
    changed_at: datetime
    reason: str | None
    retrying_since: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class Listing:
    """The first ``SHOWN`` deliveries of a kind, and how many there are in all."""

    count: int
    shown: tuple[DeliveryLine, ...]


@dataclass(frozen=True, kw_only=True)
class AccountLine:
    account: str
    paused: bool
    paused_reason: str | None
    paused_at: datetime | None
    rate_limited_until: datetime | None
    last_success_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class OpenOccurrence:
    series: str
    occurrence_date: str
    at: datetime
    passed: bool  # its time is over and it never got an episode


@dataclass(frozen=True, kw_only=True)
class Attention:
    level: Level
    message: str


@dataclass(frozen=True, kw_only=True)
class Status:
    now: datetime
    zone: ZoneInfo
    daemon_alive: bool | None  # None: cannot be told
    counts: tuple[StateCount, ...]
    overdue: Listing
    oldest_overdue_due: datetime | None
    unknown: Listing
    needs_attention: Listing
    held: Listing
    failed_recently: Listing
    next_due: tuple[DeliveryLine, ...]
    accounts: tuple[AccountLine, ...]
    open_occurrences: tuple[OpenOccurrence, ...]
    daemons: tuple[LiveDaemon, ...] = ()  # by their heartbeat rows (PostgreSQL)
    queue_fault: QueueFault | None = None
    # In a platform's own schedule (Facebook, YouTube, WordPress), not yet seen live.
    handed_over: Listing = Listing(count=0, shown=())
    retrying: Listing = Listing(count=0, shown=())
    longest_retry_since: datetime | None = None
    notifications: NotificationSummary | None = None

    @property
    def oldest_overdue_age(self) -> timedelta | None:
        return None if self.oldest_overdue_due is None else self.now - self.oldest_overdue_due

    @property
    def attention(self) -> tuple[Attention, ...]:
        """What needs a person, most urgent first."""
        found: list[Attention] = []

        def add(level: Level, message: str) -> None:
            found.append(Attention(level=level, message=message))

        if self.daemon_alive is False:
            add(Level.CRITICAL, "the daemon is not running: start it (systemctl start relais)")
        if self.queue_fault is not None and self.daemon_alive is not False:
            add(
                Level.CRITICAL,
                f"{self.queue_fault.describe()}: free disk space or end what holds the "
                "database; post files wait in the inbox meanwhile",
            )
        if self.overdue.count:
            age = self.oldest_overdue_age or timedelta(0)
            add(Level.CRITICAL, f"{self.overdue.count} overdue, the oldest by {_span(age)}")
        if self.needs_attention.count:
            add(
                Level.CRITICAL,
                f"{self.needs_attention.count} need attention: look on the platform whether "
                "each went out (`relais history ID` tells what happened)",
            )
        for account in self.accounts:
            if account.paused:
                add(
                    Level.CRITICAL,
                    f"account {account.account} is paused ({account.paused_reason or 'no reason'})"
                    f": renew its credentials, then `relais accounts resume {account.account}`",
                )
        if self.failed_recently.count:
            add(Level.CRITICAL, f"{self.failed_recently.count} failed in the last 24 hours")
        for occurrence in self.open_occurrences:
            if occurrence.passed:
                add(Level.CRITICAL, f"series {occurrence.series} {occurrence.occurrence_date} "
                    "passed without an episode: tell the audience if needed, then "
                    f"`relais series noted {occurrence.series} {occurrence.occurrence_date}` "
                    "ends this alert")  # fmt: skip
            else:
                add(Level.WARNING, f"series {occurrence.series} {occurrence.occurrence_date} has "
                    f"no episode yet: drop one with `series: {occurrence.series}`")  # fmt: skip
        if self.unknown.count:
            add(Level.WARNING, f"{self.unknown.count} unknown, waiting for reconciliation")
        retry_age = self.now - (self.longest_retry_since or self.now)
        if retry_age >= LONG_RETRY:
            add(
                Level.WARNING,
                f"{self.retrying.count} in retry, the longest for {_span(retry_age)}: is a "
                "platform down? (`relais history ID` shows the errors)",
            )
        told = self.notifications
        if told is not None and told.failing:
            add(Level.WARNING, f"{told.failing} notifications failing, retried with back-off: "
                "check the mail server or the URLs (last error below)")  # fmt: skip
        if told is not None and told.failed:
            add(Level.WARNING, f"{told.failed} notifications could not be sent at all")
        if told is not None and told.unknown:
            add(Level.WARNING, f"{told.unknown} notifications interrupted mid-send: they may "
                "not have arrived (never sent twice)")  # fmt: skip
        if self.held.count:
            add(Level.WARNING, f"{self.held.count} held: see the reasons below")
        return tuple(sorted(found, key=lambda item: -item.level))


def daemon_alive(database_url: str) -> bool | None:
    """Whether a daemon holds the instance lock beside a SQLite queue; None elsewhere.

    A shared lock is tried, not an exclusive one, so two ``relais status`` running at once
    do not take each other for the daemon. The lock file is only opened for reading: a
    status never creates it. On PostgreSQL several daemons share the queue and none holds
    a lock a reader could test, so the answer is None (unknown).
    """
    path = sqlite_path(database_url)
    if path is None:
        return None
    path = path.resolve()  # as the daemon keys its lock (a link to the queue finds it)
    lock = path.with_name(path.name + ".lock")
    try:
        handle = lock.open("r", encoding="utf-8")
    except FileNotFoundError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def reader_sessions(database_url: str) -> sessionmaker[Session]:
    """Sessions for reports: one consistent snapshot per transaction, and no write lock.

    The daemon's engine opens every SQLite transaction with ``BEGIN IMMEDIATE`` (writers
    queue up at the start); a report through it would hold the daemon's claims back for as
    long as its queries run. Here a plain ``BEGIN`` takes a WAL read snapshot instead, which
    writers do not wait for, and ``query_only`` refuses any write made by mistake.
    PostgreSQL readers never block writers: its usual engine serves.
    """
    if not database_url.startswith("sqlite"):
        return sessionmaker(make_engine(database_url), expire_on_commit=False)
    engine = create_engine(database_url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # BEGIN is ours, as in scheduler.db.engines
        dbapi_connection.execute("PRAGMA query_only=ON")
        dbapi_connection.execute("PRAGMA busy_timeout=30000")

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")

    return sessionmaker(engine, expire_on_commit=False)


def build_status(
    sessions: sessionmaker[Session],
    *,
    clock: Clock,
    zone: ZoneInfo,
    accounts: Sequence[str],
    series: Mapping[str, SeriesConfig],
    daemon_alive: bool | None,
    queue_fault: QueueFault | None = None,
) -> Status:
    """``daemon_alive`` None (PostgreSQL): told by the daemons' heartbeat rows."""
    now = clock.now()
    cutoff = now - OVERDUE_AFTER
    overdue_where = (Delivery.state.in_(WAITING), Delivery.due_at < cutoff)
    failed_where = (Delivery.state == State.FAILED, Delivery.updated_at >= now - FAILED_WITHIN)
    with transaction(sessions) as session:
        counts = tuple(
            StateCount(state=state, account=account, count=count)
            for state, account, count in session.execute(
                select(Delivery.state, Delivery.account, func.count())
                .group_by(Delivery.state, Delivery.account)
                .order_by(Delivery.account, Delivery.state)
            )
        )
        overdue_count, oldest = session.execute(
            select(func.count(), func.min(Delivery.due_at)).where(*overdue_where)
        ).one()
        # One query per state, so each is read in the index's own order (no sort of the range).
        overdue = sorted(
            (
                line
                for state in WAITING
                for line in _lines(session, state, Delivery.due_at < cutoff)
            ),
            key=lambda line: (line.due_at, line.id),
        )[:SHOWN]
        by_state = _sum_by_state(counts)

        def listing(state: State) -> Listing:
            return Listing(count=by_state.get(state, 0), shown=_lines(session, state))

        failed_count = session.scalar(select(func.count()).where(*failed_where)) or 0
        failed = _lines(session, State.FAILED, failed_where[1], order=Delivery.updated_at.desc())
        daemons = live_daemons(session, now=now) if daemon_alive is None else ()
        longest_retry = session.scalar(
            select(func.min(Delivery.retrying_since)).where(Delivery.state == State.RETRY_WAIT)
        )
        status = Status(
            now=now,
            zone=zone,
            daemon_alive=bool(daemons) if daemon_alive is None else daemon_alive,
            daemons=daemons,
            queue_fault=queue_fault,
            retrying=Listing(
                count=by_state.get(State.RETRY_WAIT, 0),
                shown=_lines(session, State.RETRY_WAIT, order=Delivery.retrying_since.asc()),
            ),
            longest_retry_since=longest_retry,
            counts=counts,
            overdue=Listing(count=overdue_count, shown=tuple(overdue)),
            oldest_overdue_due=oldest,
            unknown=listing(State.UNKNOWN),
            needs_attention=listing(State.NEEDS_ATTENTION),
            held=listing(State.HELD),
            handed_over=listing(State.HANDED_OVER),
            failed_recently=Listing(count=failed_count, shown=failed),
            next_due=_lines(session, State.SCHEDULED, Delivery.due_at >= cutoff),
            accounts=_accounts(session, accounts),
            open_occurrences=_open_occurrences(session, series, now),
            notifications=notification_summary(session),
        )
    return status


def _lines(
    session: Session,
    state: State,
    *where: ColumnElement[bool],
    order: ColumnElement[Any] | None = None,
) -> tuple[DeliveryLine, ...]:
    # Why a delivery is where it is: the reason given when it entered its state, else its own.
    last_reason = (
        select(DeliveryEvent.reason)
        .where(DeliveryEvent.delivery_id == Delivery.id)
        .order_by(DeliveryEvent.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            Delivery.id,
            Post.key,
            Delivery.account,
            Delivery.state,
            Delivery.due_at,
            Delivery.updated_at,
            func.coalesce(last_reason, Delivery.reason, Delivery.last_error),
            Delivery.retrying_since,
        )
        .join(Post, Delivery.post_id == Post.id)
        .where(Delivery.state == state, *where)
        .order_by(Delivery.due_at if order is None else order, Delivery.id)
        .limit(SHOWN)
    )
    return tuple(
        DeliveryLine(
            id=id_,
            post_key=key,
            account=account,
            state=state_,
            due_at=due_at,
            changed_at=changed_at,
            reason=reason,
            retrying_since=retrying_since,
        )
        for id_, key, account, state_, due_at, changed_at, reason, retrying_since in rows
    )


def _sum_by_state(counts: Sequence[StateCount]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for item in counts:
        totals[item.state] = totals.get(item.state, 0) + item.count
    return totals


def _accounts(session: Session, configured: Sequence[str]) -> tuple[AccountLine, ...]:
    """Every configured account, and any other that still has a state row."""
    rows = {row.account: row for row in session.scalars(select(AccountState))}
    return tuple(
        AccountLine(
            account=name,
            paused=bool(row and row.paused),
            paused_reason=row.paused_reason if row else None,
            paused_at=row.paused_at if row else None,
            rate_limited_until=row.rate_limited_until if row else None,
            last_success_at=row.last_success_at if row else None,
        )
        for name in sorted(set(configured) | set(rows))
        for row in [rows.get(name)]
    )


def _open_occurrences(
    session: Session, series: Mapping[str, SeriesConfig], now: datetime
) -> tuple[OpenOccurrence, ...]:
    """Open occurrences inside their alert window, and passed ones no person has noted."""
    widest = max((config.alert_before for config in series.values()), default=timedelta(0))
    found: list[OpenOccurrence] = []
    for occurrence in session.scalars(
        select(SeriesOccurrence)
        .where(SeriesOccurrence.state.in_((OPEN, MISSED)), SeriesOccurrence.at <= now + widest)
        .order_by(SeriesOccurrence.at, SeriesOccurrence.series)
    ):
        config = series.get(occurrence.series)
        alert_before = config.alert_before if config else timedelta(0)
        if occurrence.at - alert_before <= now:
            found.append(
                OpenOccurrence(
                    series=occurrence.series,
                    occurrence_date=occurrence.occurrence_date,
                    at=occurrence.at,
                    passed=occurrence.at <= now,
                )
            )
    return tuple(found)


def status_exit_code(status: Status) -> int:
    """0 when nothing needs a person, 1 for a warning, 2 when something is critical."""
    return max((int(item.level) for item in status.attention), default=int(Level.OK))


def _span(age: timedelta) -> str:
    minutes = int(age.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{hours // 24} days"


# -- rendering -----------------------------------------------------------------------


def render_status(status: Status, zone: ZoneInfo) -> str:
    """The status as plain text for a terminal; local times in ``zone``."""
    out: list[str] = [f"relais status at {_local(status.now, zone)} {zone.key}", ""]
    alive = {True: "running", False: "NOT RUNNING", None: "unknown"}
    out.append(f"daemon: {alive[status.daemon_alive]}")
    out.extend(
        f"  {daemon.host} pid {daemon.pid}, last heartbeat {_local(daemon.beat_at, zone)}"
        for daemon in status.daemons
    )
    if status.queue_fault is not None:
        out.append(f"queue: {status.queue_fault.describe()}")
    attention = status.attention
    if attention:
        out.append("needs a person:")
        out.extend(f"  {item.level.name:<9} {item.message}" for item in attention)
    else:
        out.append("nothing needs a person")
    out.extend(["", *_counts_table(status.counts)])
    for title, listing, hint in (
        ("overdue", status.overdue, "relais list --state scheduled"),
        ("needs attention", status.needs_attention, "relais list --state needs_attention"),
        ("unknown", status.unknown, "relais list --state unknown"),
        ("held", status.held, "relais list --state held"),
        ("in retry", status.retrying, "relais list --state retry_wait"),
        (
            "handed over, in the platform's own schedule, not yet seen live",
            status.handed_over,
            "relais list --state handed_over",
        ),
        ("failed in the last 24 hours", status.failed_recently, "relais list --state failed"),
    ):
        if listing.count:
            out.extend(["", f"{title} ({listing.count}):"])
            out.extend(_delivery(line, zone) for line in listing.shown)
            if listing.count > len(listing.shown):
                out.append(f"  ... and {listing.count - len(listing.shown)} more: `{hint}`")
    if status.open_occurrences:
        out.extend(["", "series occurrences without an episode:"])
        out.extend(
            f"  {o.series:<16} {_local(o.at, zone)}  {'PASSED' if o.passed else 'in alert window'}"
            for o in status.open_occurrences
        )
    if status.notifications is not None and not status.notifications.quiet:
        out.extend(["", *render_summary(status.notifications)])
    out.extend(["", "accounts:"])
    out.extend(_account(account, status.now, zone) for account in status.accounts)
    out.extend(["", "next due:"])
    out.extend(_delivery(line, zone) for line in status.next_due)
    if not status.next_due:
        out.append("  nothing scheduled")
    return "\n".join(out) + "\n"


def _counts_table(counts: Sequence[StateCount]) -> list[str]:
    if not counts:
        return ["queue: empty"]
    present = {item.state for item in counts}
    states: list[str] = [state.value for state in State if state.value in present]
    states += sorted(present - set(states))  # a state this version does not know of
    table: dict[str, dict[str, int]] = {}
    for item in counts:
        table.setdefault(item.account, {})[item.state] = item.count
    width = max(12, *(len(account) for account in table))
    lines = ["queue (deliveries by state and account):"]
    lines.append(f"  {'':<{width}}" + "".join(f" {state:>{len(state)}}" for state in states))
    for account in sorted(table):
        row = table[account]
        lines.append(
            f"  {account:<{width}}"
            + "".join(f" {row.get(state, 0) or '-':>{len(state)}}" for state in states)
        )
    return lines


def _delivery(line: DeliveryLine, zone: ZoneInfo) -> str:
    text = (
        f"  {line.id[:8]}  {_local(line.due_at, zone)}  {line.state:<16} {line.account:<12} "
        f"{line.post_key}"
    )
    if line.retrying_since is not None:
        text += f"  retrying since {_local(line.retrying_since, zone)}"
    return text + (f"  {line.reason}" if line.reason else "")


def _account(account: AccountLine, now: datetime, zone: ZoneInfo) -> str:
    notes: list[str] = []
    if account.paused:
        notes.append(
            f"PAUSED since {_local(account.paused_at, zone)}: {account.paused_reason or '?'}"
        )
    if account.rate_limited_until is not None and account.rate_limited_until > now:
        notes.append(f"rate limited until {_local(account.rate_limited_until, zone)}")
    notes.append(f"last success {_local(account.last_success_at, zone)}")
    return f"  {account.account:<12} " + "; ".join(notes)


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else "-"
