"""Cancel and move for deliveries already handed to a platform's own scheduling.

A handed-over post goes out at its time whatever relais' queue says, so ``relais cancel``
and ``relais move`` must reach the platform. Each change is a recorded, crash-safe step:

1. the wanted change is noted (committed) on the delivery before the platform is asked;
2. the platform is asked (``withdraw`` / ``reschedule``, both idempotent);
3. on success the delivery becomes ``cancelled`` or takes its new time, and the note is
   cleared, in one transaction.

A crash or a transient failure between 1 and 3 leaves the note: the daemon makes the same
change again on its next cycle, and never confirms a delivery as published while a change
is pending. Where the platform cannot make the change (too close to its time, an account
that cannot withdraw), nothing is noted and the person is told why first.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connectors.base import Connector
from connectors.errors import PublishError, RateLimited, Retryable
from connectors.handover import ChangesSchedule
from scheduler.clock import Clock
from scheduler.db.models import Delivery, DeliveryNote
from scheduler.delivery.editor import Decision
from scheduler.delivery.notes import StoredNotes
from scheduler.delivery.outgoing import outgoing_of
from scheduler.delivery.states import State
from scheduler.delivery.transitions import change_state, transaction
from scheduler.logs import fields

log = logging.getLogger(__name__)

CHANGE_NOTE = "relais.platform_change"


@dataclass(frozen=True, kw_only=True)
class ChangeOutcome:
    done: bool
    note: str


class PlatformChanges:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        clock: Clock,
        connectors: Mapping[str, Connector],
        media_root: Path,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.connectors = connectors
        self.media_root = media_root

    # -- what a person asks ------------------------------------------------------------

    def cancel(self, delivery_id: str, *, by: str, reason: str | None) -> ChangeOutcome | None:
        """Withdraw a handed-over delivery from the platform; None: it is not handed over."""
        return self._request(delivery_id, at=None, by=by, reason=reason)

    def move(self, delivery_id: str, at: datetime, *, by: str) -> ChangeOutcome | None:
        """Move a handed-over delivery on the platform; None: it is not handed over."""
        return self._request(delivery_id, at=at, by=by, reason=None)

    def cancel_decisions(
        self, decisions: Sequence[Decision], *, by: str, reason: str | None
    ) -> list[Decision]:
        """``relais cancel``: what the queue could not withdraw because a platform has it
        is withdrawn on the platform."""
        out: list[Decision] = []
        for decision in decisions:
            outcome = (
                None if decision.done else self.cancel(decision.delivery_id, by=by, reason=reason)
            )
            out.append(
                decision
                if outcome is None
                else dataclasses.replace(decision, done=outcome.done, note=outcome.note)
            )
        return out

    def _request(
        self, delivery_id: str, *, at: datetime | None, by: str, reason: str | None
    ) -> ChangeOutcome | None:
        with transaction(self.sessions) as session:
            delivery = session.get(Delivery, delivery_id)
            if delivery is None or delivery.state != State.HANDED_OVER:
                return None
            outgoing = outgoing_of(delivery, self.media_root, self._notes(delivery_id))
        connector = self.connectors.get(outgoing.account)
        what = "withdraw it" if at is None else "move it"
        if not isinstance(connector, ChangesSchedule):
            return ChangeOutcome(
                done=False,
                note=f"{outgoing.account} cannot {what} from its own schedule; nothing was "
                "changed: do it on the platform, then tell relais (cancel it again)",
            )
        problem = connector.change_problem(outgoing, at)
        if problem is not None:
            return ChangeOutcome(done=False, note=f"nothing was changed: {problem}")
        change = {"at": at.isoformat() if at else None, "by": by, "reason": reason}
        self._notes(delivery_id).put(CHANGE_NOTE, json.dumps(change))
        return self.apply(delivery_id)

    # -- making it so (the CLI at once, the daemon for what is left) ------------------

    def pending(self) -> list[str]:
        with transaction(self.sessions) as session:
            return list(pending_changes(session))

    def apply_pending(self) -> None:
        for delivery_id in self.pending():
            self.apply(delivery_id)

    def apply(self, delivery_id: str) -> ChangeOutcome:
        notes = self._notes(delivery_id)
        raw = notes.get(CHANGE_NOTE)
        if not raw:
            return ChangeOutcome(done=False, note="no change pending")
        change = json.loads(raw)
        at = datetime.fromisoformat(change["at"]) if change["at"] else None
        with transaction(self.sessions) as session:
            delivery = session.get(Delivery, delivery_id)
            if delivery is None or delivery.state != State.HANDED_OVER:
                notes.put(CHANGE_NOTE, "")
                return ChangeOutcome(done=False, note="no longer handed over")
            platform_id = delivery.platform_id or ""
            outgoing = outgoing_of(delivery, self.media_root, notes)
        connector = self.connectors.get(outgoing.account)
        ids = fields(delivery_id=delivery_id, account=outgoing.account, platform_id=platform_id)
        try:
            if not isinstance(connector, ChangesSchedule):
                raise Retryable(f"account {outgoing.account} is not configured to change it")
            if at is None:
                connector.withdraw(outgoing, platform_id)
            else:
                connector.reschedule(outgoing, platform_id, at)
        except (Retryable, RateLimited) as error:
            log.warning("platform change postponed: %s", error.message, extra=ids)
            return ChangeOutcome(
                done=False,
                note=f"the platform could not be changed now ({error.message}); the daemon "
                "tries again, and does not let it count as published meanwhile",
            )
        except PublishError as error:
            notes.put(CHANGE_NOTE, "")
            log.error("platform change refused: %s", error.message, extra=ids)
            return ChangeOutcome(
                done=False, note=f"the platform refused: {error.message}; it stays handed over"
            )
        now = self.clock.now()
        with transaction(self.sessions) as session:
            delivery = session.get(Delivery, delivery_id, with_for_update=True)
            if delivery is None or delivery.state != State.HANDED_OVER:
                return ChangeOutcome(done=False, note="no longer handed over")
            by = str(change["by"])
            if at is None:
                delivery.reason = change["reason"]
                change_state(
                    session, delivery, State.CANCELLED, actor=by, now=now,
                    reason=change["reason"] or f"withdrawn from {delivery.account} by {by}",
                )  # fmt: skip
                note = f"withdrawn from {delivery.account}'s own schedule"
            else:
                delivery.due_at = at
                delivery.timing = {**delivery.timing, "kind": "at", "at": at.isoformat()}
                delivery.lease_until = None
                note = f"moved on {delivery.account} to {at.isoformat()}"
            _clear(session, delivery_id, now)
        log.info(note, extra=ids)
        return ChangeOutcome(done=True, note=note)

    def _notes(self, delivery_id: str) -> StoredNotes:
        return StoredNotes(self.sessions, self.clock, delivery_id)


def pending_changes(session: Session) -> set[str]:
    """Handed-over deliveries with a change noted and not yet made."""
    return set(
        session.scalars(
            select(DeliveryNote.delivery_id)
            .join(Delivery, Delivery.id == DeliveryNote.delivery_id)
            .where(
                DeliveryNote.key == CHANGE_NOTE,
                DeliveryNote.value != "",
                Delivery.state == State.HANDED_OVER,
            )
        )
    )


def _clear(session: Session, delivery_id: str, now: datetime) -> None:
    note = session.get(DeliveryNote, (delivery_id, CHANGE_NOTE))
    if note is not None:
        note.value = ""
        note.updated_at = now
