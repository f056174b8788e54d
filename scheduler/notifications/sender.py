"""The daemon's side of the outbox: expand notifications into sends, and send each once.

A send goes ``waiting -> sending`` in one committed transaction that also takes a lease
(``FOR UPDATE SKIP LOCKED``, so several daemons on PostgreSQL never take the same row),
then Apprise is called, then the outcome is recorded: ``sent``; ``retry_wait`` with
backoff when the server refused or was unreachable (``waiting`` again when due); ``failed``
after the last attempt; ``unknown`` when the call was cut off in flight.

The guarantee after a crash is **at most once**. A daemon that dies after committing
``sending`` leaves the row ``sending``; when its lease runs out (at once on SQLite, where
no other daemon can be alive) the row becomes ``unknown`` and is never sent again by
itself: ``relais status`` counts it for a person to look at. SMTP gives no way to ask a
server whether it accepted a message, and a chat webhook none either, so the other choice,
sending again, would give the reader a second copy every time the crash falls after the
server's "250 OK"; a duplicate is what relais is built to avoid, and the window (between
the server's answer and our commit, a few milliseconds) is the only place a message can be
lost. Everything before ``sending`` (expanding, digests) is idempotent and repeated freely.

A pass is bounded in time (``budget``) and runs in its own scheduler job, never inside
dispatch; each send is bounded by the SMTP timeout, so a dead mail server never holds up
publishing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from scheduler.clock import Clock
from scheduler.config import Config
from scheduler.db.models import Notification, NotificationSend
from scheduler.delivery.retry import RetryPolicy
from scheduler.delivery.transitions import transaction
from scheduler.failpoints import failpoint
from scheduler.logs import fields
from scheduler.notifications.channels import (
    Channels,
    ChannelUnusable,
    Message,
    Outcome,
    SendResult,
    Target,
    send,
)
from scheduler.notifications.events import record
from scheduler.notifications.kinds import Kind
from scheduler.notifications.messages import About, Words, compose
from scheduler.notifications.recipients import Reachable, addresses, next_digest, recipients

log = logging.getLogger(__name__)

WAITING, SENDING, SENT = "waiting", "sending", "sent"
RETRY_WAIT, FAILED, UNKNOWN = "retry_wait", "failed", "unknown"
DIGEST_WAIT, DIGESTED = "digest", "digested"  # held for the daily digest; folded into one


@dataclass(frozen=True, kw_only=True)
class _Claim:
    send_id: int
    person: str
    channel: str
    attempts: int
    about: About
    items: tuple[About, ...]


class Notifier:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        clock: Clock,
        config: Config,
        people: Callable[[], Sequence[Reachable]],
        channels: Channels,
        words: Callable[[str], Words],
        policy: RetryPolicy,
        owner: str,
        exclusive: bool,
        stopping: threading.Event | None = None,
        send_message: Callable[[Target, Message], SendResult] | None = None,
        readers: sessionmaker[Session] | None = None,
    ) -> None:
        assert config.notifications is not None
        self.sessions = sessions
        self.clock = clock
        self.config = config
        self.settings = config.notifications
        self.people = people
        self.channels = channels
        self.words = words
        self.policy = policy
        self.owner = owner
        self.exclusive = exclusive
        self.stopping = stopping or threading.Event()
        # Read-only sessions (no write lock on SQLite) for the "anything to do?" look.
        self.readers = readers
        timeout = self.settings.smtp.timeout if self.settings.smtp else timedelta(seconds=10)
        self.deadline = max(timeout.total_seconds() * 3, 5.0)
        self.lease = timedelta(seconds=self.deadline) + timedelta(minutes=1)
        self._send = send_message or (lambda target, m: send(target, m, deadline=self.deadline))

    # -- a pass ----------------------------------------------------------------------

    def run_pass(self, budget: timedelta = timedelta(seconds=30)) -> int:
        """Everything due now, for at most ``budget``; returns how many sends were tried."""
        started = time.monotonic()
        steps = self.has_work()
        if "reap" in steps:
            self.reap()
        if "expand" in steps:
            self.expand()
            steps.add("send")
        if "fold" in steps:
            self.fold_digests()
            steps.add("send")
        if "send" not in steps:
            return 0
        tried = 0
        # The mail server refused or was unreachable: the other e-mails of this pass would
        # meet the same; they wait for the next pass instead of each trying (and failing).
        resting: set[str] = set()
        while not self.stopping.is_set() and time.monotonic() - started < budget.total_seconds():
            claim = self.claim_next(skip_channels=resting)
            if claim is None:
                break
            outcome = self.deliver(claim)
            if claim.channel == "email" and outcome == Outcome.RETRY:
                resting.add("email")
            tried += 1
        return tried

    def has_work(self) -> set[str]:
        """Which steps a pass needs (reap, expand, fold, send), read without taking
        SQLite's write lock, so an idle pass never makes dispatch wait."""
        if self.readers is None:
            return {"reap", "expand", "fold", "send"}
        now = self.clock.now()
        send = NotificationSend
        stale = send.lease_until <= now
        if self.exclusive:
            stale = or_(stale, send.lease_owner != self.owner)
        due = send.due_at <= now
        checks = {
            "reap": exists().where(send.state == SENDING, stale),
            "expand": exists().where(Notification.expanded_at.is_(None)),
            "fold": exists().where(send.state == DIGEST_WAIT, due),
            "send": exists().where(send.state.in_([WAITING, RETRY_WAIT]), due),
        }
        with self.readers() as session:
            row = session.execute(select(*checks.values())).one()
        return {step for step, needed in zip(checks, row, strict=True) if needed}

    # -- expanding -------------------------------------------------------------------

    def expand(self, batch: int = 200) -> int:
        """Give every new notification one send per recipient and channel."""
        now = self.clock.now()
        people = list(self.people())
        email_possible = self.settings.smtp is not None
        made = 0
        with transaction(self.sessions) as session:
            fresh = session.scalars(
                select(Notification)
                .where(Notification.expanded_at.is_(None))
                .order_by(Notification.id)
                .limit(batch)
                .with_for_update(skip_locked=True)
            ).all()
            for notification in fresh:
                kind = Kind(notification.kind)
                chosen = recipients(
                    kind,
                    config=self.config,
                    people=people,
                    author=notification.author,
                    library=notification.library,
                    person=notification.details.get("person"),
                )
                for someone in chosen:
                    held = someone.digest and kind not in (Kind.DIGEST, Kind.TEST)
                    due = (
                        next_digest(now, self.settings.digest_at, self.config.zone) if held else now
                    )
                    for address in addresses(someone, email_possible=email_possible):
                        made += _insert_send(
                            session,
                            notification.id,
                            address.person,
                            address.channel,
                            DIGEST_WAIT if held else WAITING,
                            due,
                            now,
                        )
                notification.expanded_at = now
        return made

    def fold_digests(self) -> int:
        """Each person's held notifications whose digest time came become one digest."""
        now = self.clock.now()
        made = 0
        with transaction(self.sessions) as session:
            due = session.execute(
                select(NotificationSend.person, NotificationSend.due_at)
                .where(NotificationSend.state == DIGEST_WAIT, NotificationSend.due_at <= now)
                .distinct()
            ).all()
            for person, at in due:
                day = at.astimezone(self.config.zone).date().isoformat()
                rows = session.scalars(
                    select(NotificationSend)
                    .where(
                        NotificationSend.state == DIGEST_WAIT,
                        NotificationSend.person == person,
                        NotificationSend.due_at == at,
                    )
                    .with_for_update()
                ).all()
                items = sorted({row.notification_id for row in rows})
                added = record(
                    session,
                    Kind.DIGEST,
                    key=f"{person}:{day}:{at.isoformat()}",
                    now=now,
                    details={"person": person, "day": day, "items": items},
                )
                if added is None:
                    continue  # another daemon folded them
                for row in rows:
                    row.state = DIGESTED
                    row.updated_at = now
                made += 1
        return made

    # -- sending ---------------------------------------------------------------------

    def claim_next(
        self, notification_id: int | None = None, skip_channels: Collection[str] = ()
    ) -> _Claim | None:
        now = self.clock.now()
        only = (
            ()
            if notification_id is None
            else (NotificationSend.notification_id == notification_id,)
        )
        if skip_channels:
            only = (*only, NotificationSend.channel.not_in(list(skip_channels)))
        with transaction(self.sessions) as session:
            row = session.scalars(
                select(NotificationSend)
                .where(
                    NotificationSend.state.in_([WAITING, RETRY_WAIT]),
                    NotificationSend.due_at <= now,
                    *only,
                )
                .order_by(NotificationSend.due_at, NotificationSend.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if row is None:
                return None
            row.state = SENDING
            row.attempts += 1
            row.lease_owner = self.owner
            row.lease_until = now + self.lease
            row.updated_at = now
            about = _about(row.notification)
            items: tuple[About, ...] = ()
            if about.kind == Kind.DIGEST:
                ids = about.details.get("items", [])
                items = tuple(
                    _about(n)
                    for n in session.scalars(
                        select(Notification)
                        .where(Notification.id.in_(ids))
                        .order_by(Notification.id)
                    )
                )
            return _Claim(
                send_id=row.id,
                person=row.person,
                channel=row.channel,
                attempts=row.attempts,
                about=about,
                items=items,
            )

    def deliver(self, claim: _Claim) -> Outcome:
        """Send one claimed row (``sending`` is committed) and record what happened."""
        ids = fields(
            notification_id=claim.about.id,
            send_id=claim.send_id,
            person=claim.person,
            channel=claim.channel,
            kind=str(claim.about.kind),
        )
        result = self._attempt(claim)
        failpoint("notification_after_send", send_id=str(claim.send_id))
        now = self.clock.now()
        with transaction(self.sessions) as session:
            row = session.get(NotificationSend, claim.send_id, with_for_update=True)
            if row is None or row.state != SENDING or row.lease_owner != self.owner:
                log.warning("notification changed while it was sent; not recorded", extra=ids)
                return result.outcome
            row.lease_owner = None
            row.lease_until = None
            row.updated_at = now
            row.last_error = result.error
            if result.outcome == Outcome.SENT:
                row.state = SENT
                row.sent_at = now
                log.info("notification sent", extra=ids)
                return result.outcome
            if result.outcome == Outcome.AMBIGUOUS:
                row.state = UNKNOWN
                log.warning("notification may or may not have arrived: %s", result.error, extra=ids)
                return result.outcome
            decision = self.policy.decide(attempts=row.attempts, now=now)
            if result.outcome == Outcome.RETRY and decision.retry and decision.at is not None:
                row.state = RETRY_WAIT
                row.due_at = decision.at
                log.warning(
                    "notification not sent, trying again at %s: %s",
                    decision.at.isoformat(),
                    result.error,
                    extra=ids,
                )
                return result.outcome
            row.state = FAILED
            log.error("notification not sent, given up: %s", result.error, extra=ids)
            return result.outcome

    def _attempt(self, claim: _Claim) -> SendResult:
        someone = next((p for p in self.people() if p.name == claim.person), None)
        if someone is None:
            return SendResult(
                outcome=Outcome.PERMANENT, error=f"{claim.person} is no longer in the directory"
            )
        try:
            if claim.channel == "email":
                if not someone.email:
                    raise ChannelUnusable(f"{someone.name} has no e-mail address any more")
                target = self.channels.email(someone.email)
            else:
                if not someone.notify_url:
                    raise ChannelUnusable(f"{someone.name} has no notification URL any more")
                target = self.channels.url(someone.notify_url)
        except ChannelUnusable as error:
            return SendResult(outcome=Outcome.RETRY, error=str(error))
        desk = self.config.web.public_url
        message = compose(claim.about, self.words(someone.language), desk=desk, items=claim.items)
        return self._send(target, message)

    # -- after a crash -----------------------------------------------------------------

    def reap(self) -> int:
        """Sends left ``sending`` by a dead daemon become ``unknown``: never sent again."""
        now = self.clock.now()
        with transaction(self.sessions) as session:
            gone = NotificationSend.lease_until <= now
            if self.exclusive:  # no other daemon can be alive: its sends were interrupted
                gone = or_(gone, NotificationSend.lease_owner != self.owner)
            stale = session.scalars(
                select(NotificationSend)
                .where(NotificationSend.state == SENDING, gone)
                .with_for_update(skip_locked=True)
            ).all()
            for row in stale:
                log.warning(
                    "notification interrupted while sending; not sent again (it may have arrived)",
                    extra=fields(send_id=row.id, person=row.person, owner=row.lease_owner),
                )
                row.state = UNKNOWN
                row.last_error = f"interrupted while sending (daemon {row.lease_owner} gone)"
                row.lease_owner = None
                row.lease_until = None
                row.updated_at = now
            return len(stale)

    # -- relais notify test ------------------------------------------------------------

    def send_test(self, person: str) -> list[tuple[str, str, str | None]]:
        """A test message to ``person`` on each of their channels, through the outbox like
        any other, sent now; each channel's (name, state, error)."""
        now = self.clock.now()
        with transaction(self.sessions) as session:
            notification_id = record(
                session,
                Kind.TEST,
                key=f"{person}:{now.isoformat()}",
                now=now,
                details={"person": person},
            )
        assert notification_id is not None
        self.expand()
        while (claim := self.claim_next(notification_id)) is not None:
            self.deliver(claim)
        with transaction(self.sessions) as session:
            rows = session.scalars(
                select(NotificationSend).where(NotificationSend.notification_id == notification_id)
            ).all()
            return [(row.channel, row.state, row.last_error) for row in rows]


def _insert_send(
    session: Session,
    notification_id: int,
    person: str,
    channel: str,
    state: str,
    due: datetime,
    now: datetime,
) -> int:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(NotificationSend)
        .values(
            notification_id=notification_id,
            person=person,
            channel=channel,
            state=state,
            due_at=due,
            attempts=0,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["notification_id", "person", "channel"])
        .returning(NotificationSend.id)
    )
    return len(session.execute(statement).all())


def _about(row: Notification) -> About:
    return About(
        id=row.id,
        kind=Kind(row.kind),
        created_at=row.created_at,
        post_id=row.post_id,
        delivery_id=row.delivery_id,
        account=row.account,
        library=row.library,
        author=row.author,
        details=dict(row.details),
    )
