"""``approved -> scheduled``: each delivery gets the slot the house rules give it.

Deliveries are placed one at a time in a fixed order (wanted time, post, account) against
what is already taken on their account, so the same queue always gives the same plan. A
fixed-time post that breaks a rule is rolled to the next free slot or held for the editor
(``on_cap``); a post with a window gets a slot inside it or is held with the reason.
"""

from __future__ import annotations

import logging
from bisect import insort
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from scheduler.clock import Clock
from scheduler.db.models import Delivery, Post
from scheduler.delivery.states import State
from scheduler.delivery.transitions import change_state, transaction
from scheduler.rules.house_rules import AccountRules, OnBrokenRule
from scheduler.rules.links import LinkTagger
from scheduler.rules.slots import Slot, broken_rule, next_free_slot

ACTOR = "placement"
PLACEMENT_LOCK = 0x72656C61  # any fixed key: "rela"
# States whose due_at holds a slot on the account.
OCCUPYING = (
    State.SCHEDULED,
    State.CLAIMED,
    State.SENDING,
    State.HANDED_OVER,
    State.PUBLISHED,
    State.RETRY_WAIT,
    State.UNKNOWN,
    State.NEEDS_ATTENTION,
)


class Placement:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        clock: Clock,
        rules: Mapping[str, AccountRules],
        zone: ZoneInfo,
        tagger: LinkTagger | None = None,
        blog_accounts: frozenset[str] = frozenset(),
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.rules = rules
        self.zone = zone
        self.tagger = tagger
        # Accounts whose published URL is a blog article that other posts may announce.
        self.blog_accounts = blog_accounts

    def place_approved(self) -> int:
        """Place every approved delivery that can be placed; returns how many were."""
        now = self.clock.now()
        with transaction(self.sessions) as session:
            if session.get_bind().dialect.name == "postgresql":
                # Daemons place one at a time: each must see the slots the others take
                # (SQLite's BEGIN IMMEDIATE serialises this already).
                session.execute(select(func.pg_advisory_xact_lock(PLACEMENT_LOCK)))
            approved = session.execute(
                select(Delivery, Post.key)
                .join(Post, Delivery.post_id == Post.id)
                .where(Delivery.state == State.APPROVED)
                .with_for_update(of=Delivery, skip_locked=True)
            ).all()
            ordered = sorted(
                approved, key=lambda row: (_wanted(row[0], now), row[1], row[0].account)
            )
            placed = 0
            # Each account's taken slots are read once per pass and kept sorted.
            taken: dict[str, list[datetime]] = {}
            for delivery, _key in ordered:
                if self._announced_article_ready(session, delivery):
                    self._place(session, delivery, now, taken)
                    placed += 1
            return placed

    def _announced_article_ready(self, session: Session, delivery: Delivery) -> bool:
        """Blog first, then social: a post announcing an article waits for its permalink."""
        announced = delivery.timing.get("announces")
        if not announced:
            return True
        url = session.scalar(
            select(Delivery.url)
            .join(Post, Delivery.post_id == Post.id)
            .where(
                Post.key == announced,
                Delivery.state == State.PUBLISHED,
                Delivery.url.is_not(None),
                Delivery.account.in_(self.blog_accounts),
            )
            .order_by(Delivery.account)
            .limit(1)
        )
        if url is None:
            delivery.reason = f"waits for the blog article of post {announced!r} to be published"
            return False
        link = url
        if self.tagger is not None:
            link = (
                self.tagger.tag(
                    url, account=delivery.account, campaign=delivery.timing.get("campaign")
                )
                or url
            )
        delivery.payload = {**delivery.payload, "link": link}
        delivery.reason = None
        return True

    def taken(self, session: Session, account: str, *, excluding: str) -> list[datetime]:
        return [
            moment
            for moment in session.scalars(
                select(Delivery.due_at).where(
                    Delivery.account == account,
                    Delivery.state.in_(OCCUPYING),
                    Delivery.id != excluding,
                    Delivery.due_at.is_not(None),
                )
            )
            if moment is not None
        ]

    def _place(
        self,
        session: Session,
        delivery: Delivery,
        now: datetime,
        taken_by_account: dict[str, list[datetime]],
    ) -> None:
        rules = self.rules.get(delivery.account, AccountRules())
        if rules.daily_cap is None and not rules.min_gap:
            taken: list[datetime] = []  # no rule looks at the other posts
        else:
            if delivery.account not in taken_by_account:
                taken_by_account[delivery.account] = sorted(
                    self.taken(session, delivery.account, excluding=delivery.id)
                )
            taken = taken_by_account[delivery.account]
        self._place_in(session, delivery, now, rules, taken)
        if delivery.state == State.SCHEDULED and delivery.account in taken_by_account:
            assert delivery.due_at is not None
            insort(taken, delivery.due_at)

    def _place_in(
        self,
        session: Session,
        delivery: Delivery,
        now: datetime,
        rules: AccountRules,
        taken: list[datetime],
    ) -> None:
        wanted = _wanted(delivery, now)
        kind = delivery.timing.get("kind")
        if kind in ("at", "series"):
            broken = broken_rule(rules, self.zone, taken, wanted)
            if broken is None:
                self._schedule(session, delivery, Slot(at=wanted, why=()), now, "its fixed time")
                return
            if rules.on_cap == OnBrokenRule.HOLD:
                self._hold(session, delivery, now, f"its fixed time breaks a rule: {broken}")
                return
            slot = next_free_slot(rules, self.zone, taken, earliest=wanted)
            self._schedule(session, delivery, slot, now, f"rolled: {broken}")
            return
        slot = next_free_slot(rules, self.zone, taken, earliest=wanted, latest=delivery.window_end)
        if slot.at is None:
            self._hold(session, delivery, now, "; ".join(slot.why))
            return
        what = "the first free slot in its window" if kind == "window" else "the next free slot"
        self._schedule(session, delivery, slot, now, what)

    def _schedule(
        self, session: Session, delivery: Delivery, slot: Slot, now: datetime, what: str
    ) -> None:
        assert slot.at is not None
        delivery.due_at = slot.at
        why = "; ".join(slot.why)
        reason = f"{what}{': ' + why if why else ''}"
        change_state(session, delivery, State.SCHEDULED, actor=ACTOR, now=now, reason=reason)

    def _hold(self, session: Session, delivery: Delivery, now: datetime, reason: str) -> None:
        delivery.reason = reason
        change_state(
            session, delivery, State.HELD, actor=ACTOR, now=now, reason=reason,
            level=logging.WARNING,
        )  # fmt: skip


def _wanted(delivery: Delivery, now: datetime) -> datetime:
    """The time the file asked for; "as soon as possible" means from now."""
    if delivery.timing.get("kind") in ("at", "series") and delivery.due_at is not None:
        return delivery.due_at
    return max(delivery.due_at or now, now)
