"""Placement: the only place that decides when a delivery goes out.

Whenever the set of deliveries to place changes (an approval, an edit, a delivery handed
back by dispatch), everything not yet claimed is planned again from scratch by
:func:`scheduler.rules.planner.make_plan`: approved deliveries, scheduled ones, and those
waiting for the editor on an account that is not paused. What is claimed, being sent,
was sent or waits for a retry is a fixed point (claims and placement lock the same rows,
so a delivery is either claimed first or moved first, never both). Planning the same set
twice changes nothing, and a delivery whose time changes gets an event saying why.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from scheduler.clock import Clock
from scheduler.db.models import AccountState, DailyUsage, Delivery, Post
from scheduler.delivery.states import State
from scheduler.delivery.transitions import change_state, record_move, transaction
from scheduler.rules.house_rules import AccountRules
from scheduler.rules.links import LinkTagger
from scheduler.rules.occupancy import OCCUPYING, Taken, cap_day
from scheduler.rules.planner import Kind, Placed, Priority, Request, Rule, make_plan

ACTOR = "placement"
PLACEMENT_LOCK = 0x72656C61  # any fixed key: "rela"
_MOVES = frozenset({Rule.SAME_DAY, Rule.LATER_DAY})


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
        """Plan again if approved deliveries are ready to place; how many got a time."""
        return self._plan(always=False)

    def replan(self) -> int:
        """Plan again whatever changed (a cancellation frees room); how many moved."""
        return self._plan(always=True)

    def _plan(self, *, always: bool) -> int:
        now = self.clock.now()
        with transaction(self.sessions) as session:
            if session.get_bind().dialect.name == "postgresql":
                # Daemons plan one at a time: each must see the slots the others take
                # (SQLite's BEGIN IMMEDIATE serialises this already).
                session.execute(select(func.pg_advisory_xact_lock(PLACEMENT_LOCK)))
            approved = session.scalars(
                select(Delivery).where(Delivery.state == State.APPROVED).with_for_update()
            ).all()
            ready = [d for d in approved if self._announced_article_ready(session, d)]
            if not ready and not always:
                return 0
            movable = [*ready, *self._movable(session, now)]
            requests = [self._request(delivery, now) for delivery in movable]
            plan = make_plan(
                requests,
                taken=self._fixed_points(session, now),
                rules=self.rules,
                zone=self.zone,
                now=now,
            )
            wanted = {request.delivery_id: request.wanted for request in requests}
            return sum(self._apply(session, d, plan[d.id], wanted[d.id], now) for d in movable)

    def _movable(self, session: Session, now: datetime) -> list[Delivery]:
        """Scheduled and not claimed yet, or waiting for the editor on a live account."""
        paused = select(AccountState.account).where(AccountState.paused.is_(True))
        return list(
            session.scalars(
                select(Delivery)
                .where(
                    or_(
                        Delivery.state == State.SCHEDULED,
                        and_(Delivery.state == State.HELD, Delivery.account.not_in(paused)),
                    )
                )
                .with_for_update()
            ).all()
        )

    def _fixed_points(self, session: Session, now: datetime) -> dict[str, Taken]:
        """What placement may not move, per account, with the cap counter's days."""
        taken: dict[str, Taken] = {}
        rows = session.execute(
            select(Delivery.account, Delivery.due_at, Post.key, Delivery.timing)
            .join(Post, Delivery.post_id == Post.id)
            .where(
                Delivery.state.in_(OCCUPYING),
                Delivery.due_at.is_not(None),
                Delivery.state != State.SCHEDULED,
            )
            .order_by(Delivery.due_at)
        )
        for account, due_at, key, timing in rows:
            label = f"{key} (urgent)" if timing.get("priority") == Priority.URGENT else key
            taken.setdefault(account, Taken()).add(due_at, label)
        today = cap_day(now, self.zone).isoformat()
        for usage in session.scalars(select(DailyUsage).where(DailyUsage.local_day >= today)):
            day = datetime.fromisoformat(usage.local_day).date()
            taken.setdefault(usage.account, Taken()).floor[day] = usage.used
        return taken

    def _request(self, delivery: Delivery, now: datetime) -> Request:
        timing = delivery.timing
        kind = timing.get("kind")
        priority = Priority(timing.get("priority") or Priority.NORMAL)

        def request(kind: Kind, wanted: datetime, latest: datetime | None) -> Request:
            return Request(
                delivery_id=delivery.id, account=delivery.account, post_key=delivery.post.key,
                kind=kind, wanted=wanted, latest=latest, priority=priority,
            )  # fmt: skip

        if kind in ("at", "series"):
            # The time the file asked for; due_at may hold where an earlier plan moved it.
            wanted = _moment(timing.get("at")) or delivery.due_at or now
            return request(
                "series" if kind == "series" else "at", wanted, _moment(timing.get("latest"))
            )
        if kind == "window":
            start = _moment(timing.get("window_start")) or delivery.due_at or now
            return request("window", start, delivery.window_end)
        return request("next_free", now, None)

    def _apply(
        self, session: Session, delivery: Delivery, placed: Placed, wanted: datetime, now: datetime
    ) -> int:
        """Write one decision; nothing is written when it is what the queue already says."""
        text = f"{placed.rule}: {placed.reason}"
        if placed.at is None:
            # A waiting delivery shows the time it asked for (the plan flags that day).
            delivery.due_at = wanted
            delivery.reason = text
            if delivery.state == State.HELD:
                return 0
            change_state(
                session, delivery, State.HELD, actor=ACTOR, now=now, reason=text,
                level=logging.WARNING,
            )  # fmt: skip
            return 0
        delivery.reason = text if placed.rule in _MOVES else None
        if delivery.state == State.SCHEDULED:
            if delivery.due_at == placed.at:
                return 0
            before = delivery.due_at
            delivery.due_at = placed.at
            record_move(session, delivery, actor=ACTOR, now=now, before=before, reason=text)
            return 1
        delivery.due_at = placed.at
        change_state(session, delivery, State.SCHEDULED, actor=ACTOR, now=now, reason=text)
        return 1

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


def _moment(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value)
