"""Dispatch: claim what is due, send it once, record what happened.

A delivery goes ``scheduled -> claimed`` (a lease, committed), then ``claimed -> sending``
(committed *before* the request leaves), then to the outcome. Result updates are fenced on
the row version taken with ``sending``: if anything else changed the row meanwhile (the
lease reaper, a person), the stale result does not overwrite it. A crash between
``sending`` and the outcome leaves ``sending``, which the reaper turns into ``unknown``;
``unknown`` is settled by the connector's ``find``, never by sending again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from connectors.base import Connector, Published, find_is_authoritative
from connectors.errors import (
    Ambiguous,
    AuthExpired,
    Permanent,
    PublishError,
    RateLimited,
    Retryable,
)
from connectors.handover import HandedOver
from connectors.redaction import nothing_to_redact
from scheduler.clock import Clock
from scheduler.config import DispatchConfig
from scheduler.db.models import AccountState, Attempt, Delivery
from scheduler.delivery.confirmation import ConfirmationTiming, HandoverConfirmer
from scheduler.delivery.notes import StoredNotes
from scheduler.delivery.outgoing import outgoing_of
from scheduler.delivery.platform_changes import PlatformChanges, pending_changes
from scheduler.delivery.retry import RetryPolicy
from scheduler.delivery.states import State
from scheduler.delivery.transitions import change_state, transaction
from scheduler.failpoints import failpoint
from scheduler.intake.media_store import MediaStore
from scheduler.logs import fields
from scheduler.notifications.events import record
from scheduler.notifications.kinds import Kind
from scheduler.rules.daily_cap import release, reserve
from scheduler.rules.house_rules import AccountRules
from scheduler.rules.occupancy import cap_day

log = logging.getLogger(__name__)
_UTC_ZONE = ZoneInfo("UTC")


@dataclass(frozen=True, kw_only=True)
class Claim:
    delivery_id: str
    version: int


class Dispatcher:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        clock: Clock,
        connectors: Mapping[str, Connector],
        settings: DispatchConfig,
        policy: RetryPolicy,
        store: MediaStore,
        owner: str,
        exclusive: bool,
        stopping: threading.Event | None = None,
        rules: Mapping[str, AccountRules] | None = None,
        zone: ZoneInfo = _UTC_ZONE,
        redact: Callable[[str], str] = nothing_to_redact,
    ) -> None:
        self.sessions = sessions
        # A platform's answer may echo the request, credentials and all: every message
        # from a connector goes through this before a row or a log (connectors.redaction).
        self.redact = redact
        self.clock = clock
        self.connectors = connectors
        self.settings = settings
        self.policy = policy
        self.store = store
        self.owner = owner
        # Exclusive: no other daemon can be alive on this queue, so claims of any other
        # owner belong to a dead process and are recovered without waiting for the lease.
        self.exclusive = exclusive
        self.stopping = stopping or threading.Event()
        self.rules = rules or {}
        self.zone = zone
        self.confirmer = HandoverConfirmer(
            sessions=sessions,
            clock=clock,
            connectors=connectors,
            timing=ConfirmationTiming(
                confirm_after=settings.confirm_after, confirm_within=settings.confirm_within
            ),
            media_root=store.root,
            notes=self._notes,
            hold_account=self._hold_account_until,
            owner=owner,
        )
        self.platform_changes = PlatformChanges(
            sessions=sessions, clock=clock, connectors=connectors, media_root=store.root
        )

    # -- the cycle -------------------------------------------------------------------

    def run_due(self) -> int:
        """Do everything that is due now; returns how many deliveries were sent or tried."""
        self.promote_retries()
        self.reap()
        self.reconcile_unknown()
        # A cancel or move the CLI could not finish first: before any confirmation.
        self.platform_changes.apply_pending()
        self.confirm_handed_over()
        handled = 0
        while not self.stopping.is_set():
            claim = self.claim_next()
            if claim is None:
                break
            self.send(claim)
            handled += 1
        return handled

    def next_wake(self) -> datetime | None:
        """The earliest moment something becomes due; dispatch sleeps until then."""
        now = self.clock.now()
        candidates: list[datetime] = []
        with transaction(self.sessions) as session:
            blocked = self._blocked_accounts(session, now)
            for account, connector in self.connectors.items():
                if account in blocked:
                    continue
                candidates.extend(self._account_wake(session, account, connector, now))
            lease = session.scalar(
                select(func.min(Delivery.lease_until)).where(
                    Delivery.state.in_([State.CLAIMED, State.SENDING])
                )
            )
            if lease is not None:
                candidates.append(lease)
            # An unknown delivery is looked for reconcile_after its last change, and not
            # while another daemon holds it for reconciliation.
            for changed, lease in session.execute(
                select(Delivery.updated_at, Delivery.lease_until).where(
                    Delivery.state == State.UNKNOWN, Delivery.account.not_in(blocked)
                )
            ):
                due = changed + self.settings.reconcile_after
                candidates.append(max(due, lease) if lease is not None else due)
            limited = session.scalar(
                select(func.min(AccountState.rate_limited_until)).where(
                    AccountState.rate_limited_until > self.clock.now()
                )
            )
            if limited is not None:
                candidates.append(limited)
            candidates.extend(self.confirmer.next_wake(session, blocked))
            if pending_changes(session):  # a cancel or move to make again on the platform
                candidates.append(now + self.settings.reconcile_after)
        return min(candidates) if candidates else None

    @staticmethod
    def _account_wake(
        session: Session, account: str, connector: Connector, now: datetime
    ) -> list[datetime]:
        def earliest(*conditions: ColumnElement[bool]) -> datetime | None:
            return session.scalar(
                select(func.min(Delivery.due_at)).where(Delivery.account == account, *conditions)
            )

        wakes: list[datetime] = []
        scheduled = Delivery.state == State.SCHEDULED
        lead, min_lead = connector.lead_time, connector.min_lead_time
        # Far enough ahead for native scheduling: handed over `lead` before it is due.
        ahead = earliest(scheduled, Delivery.due_at >= now + min_lead)
        if ahead is not None:
            wakes.append(max(ahead - lead, now) if lead else ahead)
        # Too close for native scheduling: handed over when due.
        close = earliest(scheduled, Delivery.due_at < now + min_lead)
        retry = earliest(Delivery.state == State.RETRY_WAIT)
        wakes.extend(moment for moment in (close, retry) if moment is not None)
        return wakes

    @staticmethod
    def _eligible(account: str, connector: Connector, now: datetime) -> ColumnElement[bool]:
        """Due now, or inside the window in which the platform schedules natively."""
        due = Delivery.due_at <= now
        lead, min_lead = connector.lead_time, connector.min_lead_time
        if lead > min_lead:
            due = or_(due, Delivery.due_at.between(now + min_lead, now + lead))
        return and_(Delivery.account == account, due)

    @staticmethod
    def _blocked_accounts(session: Session, now: datetime) -> set[str]:
        """Paused accounts, and accounts waiting for a platform's rate limit to reset."""
        return set(
            session.scalars(
                select(AccountState.account).where(
                    or_(AccountState.paused.is_(True), AccountState.rate_limited_until > now)
                )
            )
        )

    # -- steps -----------------------------------------------------------------------

    def promote_retries(self) -> None:
        now = self.clock.now()
        with transaction(self.sessions) as session:
            waiting = session.scalars(
                select(Delivery)
                .where(Delivery.state == State.RETRY_WAIT, Delivery.due_at <= now)
                .with_for_update(skip_locked=True)
            ).all()
            for delivery in waiting:
                change_state(session, delivery, State.SCHEDULED, actor=self.owner, now=now)

    def confirm_handed_over(self) -> int:
        """Look whether posts handed to a platform's own scheduling went live."""
        with transaction(self.sessions) as session:
            blocked = self._blocked_accounts(session, self.clock.now())
        return self.confirmer.confirm_due(blocked)

    def owner_alive(self, owner: str) -> bool:
        return owner == self.owner or not self.exclusive

    def release_claims(self) -> None:
        """On shutdown: what this daemon claimed but has not started sending goes back."""
        now = self.clock.now()
        with transaction(self.sessions) as session:
            mine = session.scalars(
                select(Delivery).where(
                    Delivery.state == State.CLAIMED, Delivery.lease_owner == self.owner
                )
            ).all()
            for delivery in mine:
                self._release_cap(session, delivery)
                delivery.lease_owner = None
                delivery.lease_until = None
                change_state(
                    session, delivery, State.SCHEDULED, actor=self.owner, now=now,
                    reason="daemon stopping",
                )  # fmt: skip

    def reap(self) -> None:
        """Claims whose lease ran out or whose owner is gone: nothing was sent for
        ``claimed`` (back to ``scheduled``); ``sending`` may have reached the platform
        (``unknown``)."""
        now = self.clock.now()
        with transaction(self.sessions) as session:
            # Rows another daemon is changing right now are skipped, not waited for.
            stale = session.scalars(
                select(Delivery)
                .where(Delivery.state.in_([State.CLAIMED, State.SENDING]))
                .with_for_update(skip_locked=True)
            ).all()
            interrupted: dict[str, int] = {}
            for delivery in stale:
                owner = delivery.lease_owner or ""
                expired = delivery.lease_until is None or delivery.lease_until <= now
                if not expired and self.owner_alive(owner):
                    continue
                if delivery.state == State.SENDING:
                    interrupted[owner] = interrupted.get(owner, 0) + 1
                why = "lease expired" if expired else "its daemon is gone"
                if delivery.state == State.CLAIMED:
                    target, level = State.SCHEDULED, logging.INFO
                    self._release_cap(session, delivery)
                else:
                    target, level = State.UNKNOWN, logging.WARNING
                delivery.lease_owner = None
                delivery.lease_until = None
                change_state(
                    session, delivery, target, actor=self.owner, now=now, level=level,
                    reason=f"{why} while {delivery.state} (owner {owner})",
                )  # fmt: skip
            for owner, count in interrupted.items():
                # Operations hear of it once per daemon that died mid-send.
                record(
                    session, Kind.DAEMON_RECOVERED, key=owner or "unknown", now=now,
                    details={"count": count, "owner": owner},
                )  # fmt: skip

    def reconcile_unknown(self) -> None:
        now = self.clock.now()
        with transaction(self.sessions) as session:
            blocked = self._blocked_accounts(session, now)
            ready = session.scalars(
                select(Delivery).where(
                    Delivery.state == State.UNKNOWN,
                    Delivery.updated_at <= now - self.settings.reconcile_after,
                    Delivery.account.not_in(blocked),
                )
            ).all()
            outgoing = {d.id: outgoing_of(d, self.store.root, self._notes(d.id)) for d in ready}
        for delivery_id, item in outgoing.items():
            if item.account in blocked:
                continue  # a rate limit met earlier in this pass: not before it resets
            if not self._take_reconciliation(delivery_id, now):
                continue  # another daemon is looking for it right now
            connector = self.connectors.get(item.account)
            try:
                if connector is None:
                    raise LookupError(f"account {item.account!r} is no longer in config.yaml")
                found = connector.find(item)
            except (Retryable, RateLimited) as error:
                error.message = self.redact(error.message)
                wait = _platform_wait(error, now)
                log.info(
                    "reconciliation postponed: %s",
                    error.message,
                    extra=fields(delivery_id=delivery_id, account=item.account, wait=wait),
                )
                self._postpone_reconciliation(delivery_id, now, wait)
                if wait is not None:
                    # The platform asked for a pause (a rate limit, an overloaded server):
                    # the whole account waits, sends and look-ups alike.
                    self._hold_account_until(item.account, now + wait)
                    blocked.add(item.account)
                continue
            except AuthExpired as error:
                error.message = self.redact(error.message)
                # The credentials, not the delivery, need a person: the account is paused
                # as for a send, and the delivery stays unknown, looked for again once the
                # account is resumed (a needs_attention one could be re-sent blindly).
                self._pause_for_lookup(delivery_id, item.account, error.message, now)
                blocked.add(item.account)
                continue
            except Exception as error:  # a bug or a refusal: a person must look
                found, proven_absent = None, False
                note = self.redact(f"reconciliation failed ({type(error).__name__}: {error})")
            else:
                proven_absent = found is None and find_is_authoritative(connector)
                note = (
                    "not found on the platform after an interrupted send; check the "
                    "account, and if it is missing there, `relais retry` sends it again"
                )
            with transaction(self.sessions) as session:
                delivery = session.get(Delivery, delivery_id, with_for_update=True)
                if delivery is None or delivery.state != State.UNKNOWN:
                    continue
                if found is not None:
                    self._mark_published(session, delivery, found, now, "found by reconciliation")
                elif proven_absent and delivery.resent_at is None:
                    self._resend_once(session, delivery, now)
                else:
                    if proven_absent:
                        resent = f"{delivery.resent_at:%Y-%m-%d %H:%M} UTC"
                        note = (
                            "not found on the platform after a second interrupted send (relais "
                            f"sent it again by itself once, at {resent}); check the account, "
                            "and if it is missing there, `relais retry` sends it again"
                        )
                    delivery.last_error = note
                    delivery.lease_owner = None
                    delivery.lease_until = None
                    change_state(
                        session, delivery, State.NEEDS_ATTENTION, actor=self.owner, now=now,
                        reason=note, level=logging.ERROR,
                    )  # fmt: skip

    def _resend_once(self, session: Session, delivery: Delivery, now: datetime) -> None:
        """The platform's authoritative look-up says the interrupted send created nothing
        (after ``reconcile_after``, which covers a request still in flight): send it again
        now, once. A second interruption goes to a person (``resent_at`` is set)."""
        self._release_cap(session, delivery)  # nothing went out; the claim reserves again
        delivery.resent_at = now
        delivery.due_at = now
        delivery.lease_owner = None
        delivery.lease_until = None
        change_state(
            session, delivery, State.SCHEDULED, actor=self.owner, now=now, level=logging.WARNING,
            reason="never created on the platform (its look-up is authoritative) after an "
            "interrupted send: sent again by relais, once",
        )  # fmt: skip

    @contextmanager
    def _lease_kept_alive(self, delivery_id: str) -> Iterator[None]:
        """Renew the lease while a send runs, so a long upload is not taken for a dead
        daemon's; the renewal is fenced on the owner and the ``sending`` state."""
        stop = threading.Event()
        period = max(self.settings.lease.total_seconds() / 3, 0.05)

        def renew() -> None:
            while not stop.wait(period):
                try:
                    with transaction(self.sessions) as session:
                        session.execute(
                            update(Delivery)
                            .where(
                                Delivery.id == delivery_id,
                                Delivery.state == State.SENDING,
                                Delivery.lease_owner == self.owner,
                            )
                            .values(lease_until=self.clock.now() + self.settings.lease)
                            .execution_options(synchronize_session=False)
                        )
                except Exception:  # the next renewal tries again; the send goes on
                    log.warning(
                        "lease renewal failed", exc_info=True, extra=fields(delivery_id=delivery_id)
                    )

        renewer = threading.Thread(target=renew, name=f"lease-{delivery_id[:8]}", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join()

    def _take_reconciliation(self, delivery_id: str, now: datetime) -> bool:
        """A lease on an ``unknown`` delivery, so one daemon at a time looks for it (a
        YouTube reconciliation resumes an upload: two at once would send bytes twice)."""
        with transaction(self.sessions) as session:
            taken = session.execute(
                update(Delivery)
                .where(
                    Delivery.id == delivery_id,
                    Delivery.state == State.UNKNOWN,
                    or_(
                        Delivery.lease_until.is_(None),
                        Delivery.lease_until <= now,
                        Delivery.lease_owner == self.owner,
                    ),
                )
                .values(lease_owner=self.owner, lease_until=now + self.settings.lease)
                .execution_options(synchronize_session=False)
            )
            return bool(taken.rowcount)  # type: ignore[attr-defined]

    def _postpone_reconciliation(
        self, delivery_id: str, now: datetime, wait: timedelta | None
    ) -> None:
        """Look again after ``reconcile_after``, or after the platform's wait if longer (the
        wake time counts from ``updated_at`` and is never before ``lease_until``)."""
        with transaction(self.sessions) as session:
            delivery = session.get(Delivery, delivery_id)
            if delivery is not None and delivery.state == State.UNKNOWN:
                delivery.updated_at = now
                delivery.lease_owner = None
                delivery.lease_until = now + wait if wait else None

    def _hold_account_until(self, account: str, until: datetime) -> None:
        with transaction(self.sessions) as session:
            state = self._account(session, account)
            state.rate_limited_until = max(until, state.rate_limited_until or until)

    def claim_next(self) -> Claim | None:
        """Claim the most overdue delivery. One whose window closed becomes missed; one
        whose day is full goes back to placement; the next one is tried then."""
        while True:
            outcome = self._claim_once()
            if outcome is not _Passed.OVER:
                break
        if isinstance(outcome, Claim):
            failpoint("after_claim", delivery_id=outcome.delivery_id)
            return outcome
        return None

    def _claim_once(self) -> Claim | _Passed | None:
        now = self.clock.now()
        with transaction(self.sessions) as session:
            blocked = self._blocked_accounts(session, now)
            due_clauses = [
                self._eligible(account, connector, now)
                for account, connector in self.connectors.items()
                if account not in blocked
            ]
            if not due_clauses:
                return None
            delivery = session.scalars(
                select(Delivery)
                .where(Delivery.state == State.SCHEDULED, or_(*due_clauses))
                .order_by(Delivery.due_at, Delivery.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if delivery is None:
                return None
            if delivery.window_end is not None and now > delivery.window_end:
                change_state(
                    session, delivery, State.MISSED, actor=self.owner, now=now,
                    reason="its window closed before it could be sent", level=logging.WARNING,
                )  # fmt: skip
                return _Passed.OVER
            if not self._reserve_cap(session, delivery, now):
                return _Passed.OVER
            delivery.lease_owner = self.owner
            delivery.lease_until = now + self.settings.lease
            change_state(session, delivery, State.CLAIMED, actor=self.owner, now=now)
            session.flush()
            return Claim(delivery_id=delivery.id, version=delivery.version)

    def send(self, claim: Claim) -> None:
        now = self.clock.now()
        with transaction(self.sessions) as session:
            delivery = session.get(Delivery, claim.delivery_id, with_for_update=True)
            if (
                delivery is None
                or delivery.version != claim.version
                or delivery.state != State.CLAIMED
                or delivery.lease_owner != self.owner
            ):
                log.warning(
                    "claim lost before sending; nothing sent",
                    extra=fields(delivery_id=claim.delivery_id, owner=self.owner),
                )
                return
            connector = self.connectors[delivery.account]
            outgoing = outgoing_of(delivery, self.store.root, self._notes(delivery.id))
            delivery.attempts += 1
            attempt = Attempt(delivery=delivery, number=delivery.attempts, started_at=now)
            session.add(attempt)
            change_state(
                session, delivery, State.SENDING, actor=self.owner, now=now,
                attempt=delivery.attempts,
            )  # fmt: skip
            session.flush()
            sent = _Sent(version=delivery.version, attempt_id=attempt.id, number=attempt.number)
        failpoint("after_sending", delivery_id=claim.delivery_id)
        outcome: Published | PublishError
        try:
            with self._lease_kept_alive(claim.delivery_id):
                outcome = connector.publish(outgoing)
        except PublishError as error:
            outcome = error
        except Exception as error:
            # An unexpected failure may have happened after the request left: never resend.
            log.exception(
                "connector failed unexpectedly",
                extra=fields(delivery_id=claim.delivery_id, account=outgoing.account),
            )
            outcome = Ambiguous(f"unexpected {type(error).__name__} in the connector")
            outcome.__cause__ = error
        failpoint("after_publish", delivery_id=claim.delivery_id)
        self._record(claim.delivery_id, sent, outcome)

    # -- outcomes --------------------------------------------------------------------

    def _record(self, delivery_id: str, sent: _Sent, outcome: Published | PublishError) -> None:
        now = self.clock.now()
        if isinstance(outcome, PublishError):
            outcome.message = self.redact(outcome.message)
        with transaction(self.sessions) as session:
            attempt = session.get(Attempt, sent.attempt_id)
            if attempt is not None:
                attempt.finished_at = now
                attempt.outcome = "published" if isinstance(outcome, Published) else "error"
                if isinstance(outcome, PublishError):
                    attempt.error_class = outcome.error_class
                    attempt.http_status = outcome.http_status
                    attempt.message = outcome.message[:2000]
            delivery = session.get(Delivery, delivery_id, with_for_update=True)
            if delivery is None:
                return
            if delivery.version != sent.version or delivery.state != State.SENDING:
                self._record_late(session, delivery, outcome, now)
                return
            delivery.lease_owner = None
            delivery.lease_until = None
            if isinstance(outcome, Published):
                self._mark_published(session, delivery, outcome, now, None, attempt=sent.number)
                return
            delivery.last_error = outcome.message[:2000]
            delivery.last_error_class = outcome.error_class
            if not isinstance(outcome, Ambiguous):
                self._release_cap(session, delivery)  # nothing went out
            ids: dict[str, Any] = {"attempt": sent.number, "error_class": outcome.error_class}
            if isinstance(outcome, RateLimited):
                delivery.attempts -= 1  # the platform's limit is not this post's fault
                self._account(session, delivery.account).rate_limited_until = outcome.until
                if attempt is not None:
                    attempt.wait_seconds = int((outcome.until - now).total_seconds())
                delivery.due_at = outcome.until
                change_state(
                    session, delivery, State.RETRY_WAIT, actor=self.owner, now=now,
                    reason=f"rate limited until {outcome.until.isoformat()}", **ids,
                )  # fmt: skip
            elif isinstance(outcome, Retryable):
                # Retried for a time: until its window closes or the horizon has passed
                # since the first failure of this run (scheduler.delivery.retry).
                since = delivery.retrying_since or now
                decision = self.policy.decide(
                    attempts=delivery.attempts,
                    now=now,
                    since=since,
                    not_after=delivery.window_end,
                    platform_wait=outcome.retry_after,
                )
                if decision.retry and decision.at is not None:
                    if attempt is not None:
                        attempt.wait_seconds = int((decision.at - now).total_seconds())
                    delivery.due_at = decision.at
                    delivery.retrying_since = since
                    change_state(
                        session, delivery, State.RETRY_WAIT, actor=self.owner, now=now,
                        reason=f"{outcome.message}; {decision.reason}", level=logging.WARNING,
                        **ids,
                    )  # fmt: skip
                else:
                    delivery.retrying_since = None
                    change_state(
                        session, delivery, State.FAILED, actor=self.owner, now=now,
                        reason=f"{decision.reason}; the last error: {outcome.message}",
                        level=logging.ERROR, **ids,
                    )  # fmt: skip
            elif isinstance(outcome, AuthExpired):
                self._pause(session, delivery, outcome.message, now)
            elif isinstance(outcome, Permanent):
                delivery.retrying_since = None
                change_state(
                    session, delivery, State.FAILED, actor=self.owner, now=now,
                    reason=outcome.message, level=logging.ERROR, **ids,
                )  # fmt: skip
            else:  # Ambiguous, or any other PublishError: it may have gone out
                delivery.retrying_since = None
                change_state(
                    session, delivery, State.UNKNOWN, actor=self.owner, now=now,
                    reason=outcome.message, level=logging.WARNING, **ids,
                )  # fmt: skip

    def _record_late(
        self, session: Session, delivery: Delivery, outcome: Published | PublishError, now: datetime
    ) -> None:
        """The row moved on while we were sending (lease reaped, a person acted)."""
        if isinstance(outcome, Published) and delivery.state in (
            State.UNKNOWN,
            State.NEEDS_ATTENTION,
        ):
            self._mark_published(session, delivery, outcome, now, "result arrived after the lease")
            return
        log.warning(
            "stale result not recorded: the delivery changed while it was being sent",
            extra=fields(
                delivery_id=delivery.id,
                account=delivery.account,
                state=delivery.state,
                outcome=type(outcome).__name__,
            ),
        )

    def _mark_published(
        self,
        session: Session,
        delivery: Delivery,
        result: Published,
        now: datetime,
        reason: str | None,
        attempt: int | None = None,
    ) -> None:
        delivery.platform_id = result.platform_id
        delivery.url = result.url
        # It went out: an error of an earlier attempt no longer describes it.
        delivery.last_error = None
        delivery.last_error_class = None
        delivery.retrying_since = None
        delivery.lease_owner = None
        delivery.lease_until = None
        self._account(session, delivery.account).last_success_at = now
        if isinstance(result, HandedOver):
            # In the platform's schedule: published once seen live (even when found by
            # reconciliation after its time: scheduled is not live).
            delivery.due_at = result.live_at
            change_state(
                session, delivery, State.HANDED_OVER, actor=self.owner, now=now,
                reason=reason or f"in {delivery.account}'s own schedule for "
                f"{result.live_at.isoformat()}",
                platform_id=result.platform_id, url=result.url, attempt=attempt,
            )  # fmt: skip
            return
        change_state(
            session, delivery, State.PUBLISHED, actor=self.owner, now=now, reason=reason,
            platform_id=result.platform_id, url=result.url, attempt=attempt,
        )  # fmt: skip

    def _pause(self, session: Session, delivery: Delivery, message: str, now: datetime) -> None:
        change_state(
            session, delivery, State.HELD, actor=self.owner, now=now,
            reason=f"account paused: {message}", level=logging.WARNING,
        )  # fmt: skip
        self._pause_account(session, delivery.account, message, now)

    def _pause_for_lookup(
        self, delivery_id: str, account: str, message: str, now: datetime
    ) -> None:
        """``find`` met dead credentials: pause the account, keep the delivery unknown."""
        with transaction(self.sessions) as session:
            delivery = session.get(Delivery, delivery_id, with_for_update=True)
            if delivery is not None and delivery.state == State.UNKNOWN:
                delivery.updated_at = now
                delivery.lease_owner = None
                delivery.lease_until = None
            self._pause_account(session, account, message, now)

    def _pause_account(self, session: Session, name: str, message: str, now: datetime) -> None:
        """Pause ``name`` and hold what waits to be sent on it."""
        account = self._account(session, name)
        account.paused = True
        account.paused_reason = message
        account.paused_at = now
        log.error(
            "account paused: its credentials no longer work; renew them, then run "
            "`relais accounts resume %s`",
            name,
            extra=fields(account=name, reason=message),
        )
        # The same key as the daily reminder (scheduler.notifications.watch): told once a day.
        record(
            session, Kind.ACCOUNT_PAUSED, now=now, account=name,
            key=f"{name}:{now.astimezone(self.zone).date().isoformat()}",
            details={"reason": message},
        )  # fmt: skip
        waiting = session.scalars(
            select(Delivery).where(
                Delivery.account == name,
                Delivery.state.in_([State.SCHEDULED, State.RETRY_WAIT]),
            )
        ).all()
        for other in waiting:
            change_state(
                session, other, State.HELD, actor=self.owner, now=now, reason="account paused"
            )

    # -- the daily cap -----------------------------------------------------------------

    def _cap_day(self, delivery: Delivery) -> str:
        assert delivery.due_at is not None
        return cap_day(delivery.due_at, self.zone).isoformat()

    def _reserve_cap(self, session: Session, delivery: Delivery, now: datetime) -> bool:
        """Reserve the cap unit in the claim's transaction. A full day (another daemon, a
        manual move) hands the delivery back to placement, which alone decides a time."""
        rules = self.rules.get(delivery.account)
        if rules is None or rules.daily_cap is None:
            return True
        day = self._cap_day(delivery)
        if reserve(session, delivery.account, day, rules.daily_cap):
            return True
        reason = (
            f"{day} was full on {delivery.account} when it came to be sent "
            f"(daily_cap {rules.daily_cap}); handed back to placement"
        )
        delivery.reason = reason
        change_state(
            session, delivery, State.APPROVED, actor=self.owner, now=now, reason=reason,
            level=logging.WARNING,
        )  # fmt: skip
        return False

    def _release_cap(self, session: Session, delivery: Delivery) -> None:
        rules = self.rules.get(delivery.account)
        if rules is not None and rules.daily_cap is not None and delivery.due_at is not None:
            release(session, delivery.account, self._cap_day(delivery))

    def _notes(self, delivery_id: str) -> StoredNotes:
        return StoredNotes(self.sessions, self.clock, delivery_id)

    @staticmethod
    def _account(session: Session, name: str) -> AccountState:
        """The account's row, created if missing; two daemons may create it at once."""
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        session.execute(
            insert(AccountState)
            .values(account=name, paused=False)
            .on_conflict_do_nothing(index_elements=[AccountState.account])
        )
        state = session.get(AccountState, name, with_for_update=True, populate_existing=True)
        assert state is not None
        return state


def _platform_wait(error: Retryable | RateLimited, now: datetime) -> timedelta | None:
    if isinstance(error, RateLimited):
        return error.until - now
    return error.retry_after


@dataclass(frozen=True, kw_only=True)
class _Sent:
    version: int
    attempt_id: int
    number: int


class _Passed(Enum):
    """A claim attempt that took nothing but settled a delivery: try the next one."""

    OVER = "over"
