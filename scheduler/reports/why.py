"""``relais why ID``: for each delivery of a post, where it stands and what would move it.

The reference is a delivery id, a post id (key), or a unique prefix of either; a post with
several accounts gives one explanation per account. Each names the rule that placed or
moved the delivery (from its history), the posts that compete for the same local day on
its account (ids and titles), and what would release it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from scheduler.db.models import AccountState, Delivery, DeliveryEvent, Post
from scheduler.delivery.editor import SelectionError, select_deliveries
from scheduler.delivery.states import State
from scheduler.delivery.transitions import transaction
from scheduler.rules.occupancy import OCCUPYING, cap_day, day_bounds
from scheduler.rules.planner import Rule

PLACEMENT_ACTOR = "placement"


@dataclass(frozen=True, kw_only=True)
class Competitor:
    delivery_id: str
    post_key: str
    title: str | None
    state: str
    due_at: datetime


@dataclass(frozen=True, kw_only=True)
class Event:
    at: datetime
    before: str | None
    after: str
    actor: str
    reason: str | None


@dataclass(frozen=True, kw_only=True)
class Why:
    delivery_id: str
    post_key: str
    title: str | None
    library: str
    account: str
    state: str
    due_at: datetime | None
    reason: str | None  # what the delivery row says now (a wait, a move, an error)
    placed_by: str | None  # the last decision of placement (or dispatch handing it back)
    competitors: tuple[Competitor, ...]
    release: str
    events: tuple[Event, ...]


def explain_post(sessions: sessionmaker[Session], reference: str, *, zone: ZoneInfo) -> list[Why]:
    """One explanation per delivery that ``reference`` names; SelectionError if none."""
    with transaction(sessions) as session:
        deliveries = _resolve(session, reference)
        paused = set(
            session.scalars(select(AccountState.account).where(AccountState.paused.is_(True)))
        )
        deliveries.sort(key=lambda d: (d.post.key, d.account))
        return [_why(session, delivery, zone, paused) for delivery in deliveries]


def _resolve(session: Session, reference: str) -> list[Delivery]:
    try:
        return select_deliveries(session, [reference])
    except SelectionError:
        posts = session.scalars(
            select(Post).where(Post.key.startswith(reference, autoescape=True)).limit(2)
        ).all()
        if len(posts) == 1:
            return list(posts[0].deliveries)
        raise


def _why(session: Session, delivery: Delivery, zone: ZoneInfo, paused: set[str]) -> Why:
    events = tuple(
        Event(at=e.at, before=e.from_state, after=e.to_state, actor=e.actor, reason=e.reason)
        for e in session.scalars(
            select(DeliveryEvent)
            .where(DeliveryEvent.delivery_id == delivery.id)
            .order_by(DeliveryEvent.id)
        )
    )
    decisions = [
        e.reason
        for e in events
        if e.reason and (e.actor == PLACEMENT_ACTOR or "handed back to placement" in e.reason)
    ]
    return Why(
        delivery_id=delivery.id,
        post_key=delivery.post.key,
        title=delivery.post.title,
        library=delivery.post.library,
        account=delivery.account,
        state=delivery.state,
        due_at=delivery.due_at,
        reason=delivery.reason or delivery.last_error,
        placed_by=_placed_by(delivery.reason, decisions),
        competitors=_competitors(session, delivery, zone),
        release=_release(delivery, zone, paused),
        events=events,
    )


def _placed_by(reason: str | None, decisions: list[str]) -> str | None:
    """The current plan's words when the row carries them, else the last decision."""
    if reason and reason.startswith(tuple(rule.value for rule in Rule)):
        return reason
    return decisions[-1] if decisions else None


def _competitors(session: Session, delivery: Delivery, zone: ZoneInfo) -> tuple[Competitor, ...]:
    """What takes (or waits for) the same local day on the same account: the day its file
    asked for (where the competition was), else the day it is on."""
    asked = delivery.timing.get("at")
    moment = datetime.fromisoformat(asked) if isinstance(asked, str) else delivery.due_at
    if moment is None:
        return ()
    start, end = day_bounds(cap_day(moment, zone), zone)
    rows = session.execute(
        select(Delivery, Post)
        .join(Post, Delivery.post_id == Post.id)
        .where(
            Delivery.account == delivery.account,
            Delivery.id != delivery.id,
            Delivery.state.in_([*OCCUPYING, State.HELD]),
            Delivery.due_at >= start,
            Delivery.due_at < end,
        )
        .order_by(Delivery.due_at, Post.key)
    ).all()
    return tuple(
        Competitor(
            delivery_id=other.id,
            post_key=post.key,
            title=post.title,
            state=other.state,
            due_at=other.due_at,
        )
        for other, post in rows
        if other.due_at is not None
    )


def _release(delivery: Delivery, zone: ZoneInfo, paused: set[str]) -> str:
    """What would let the delivery go (or what it is waiting for), in one sentence."""
    state = State(delivery.state)
    when = delivery.due_at.astimezone(zone).strftime("%a %Y-%m-%d %H:%M") if delivery.due_at else ""
    announced = delivery.timing.get("announces")
    if state == State.PENDING_APPROVAL:
        return f"the editor's approval: relais approve {delivery.id[:8]}"
    if state == State.APPROVED and announced:
        return f"the blog article of post {announced!r} being published (it gives the link)"
    if state == State.APPROVED:
        return "placement, at the daemon's next pass (or relais run --once)"
    if state == State.HELD and delivery.account in paused:
        return (
            f"the account resumed: renew its credentials, then relais accounts resume "
            f"{delivery.account}"
        )
    if state == State.HELD:
        return (
            "a free slot that day: move or cancel one of the competing posts, raise daily_cap, "
            f"or let it go later (latest: in its file, or relais move {delivery.id[:8]} TIME)"
        )
    if state == State.SCHEDULED:
        return f"nothing: it goes out at {when}"
    if state == State.RETRY_WAIT:
        return f"its next attempt at {when}"
    if state in (State.CLAIMED, State.SENDING):
        return "nothing: it is being sent"
    if state == State.HANDED_OVER:
        return "the platform publishing it at its time; relais then looks for it"
    if state == State.UNKNOWN:
        return "reconciliation looking for it on the platform (never sent twice)"
    if state == State.NEEDS_ATTENTION:
        return f"a person: check the platform, then relais retry or cancel {delivery.id[:8]}"
    return f"nothing: it is {state}"


def render_why(
    explanations: Sequence[Why], *, zone: ZoneInfo, rules: Mapping[str, str] | None = None
) -> str:
    """Terminal text, one block per delivery; ``rules`` gives each account's house rules
    in words. Ends with a newline."""
    lines: list[str] = []
    for why in explanations:
        when = why.due_at.astimezone(zone).strftime("%a %Y-%m-%d %H:%M") if why.due_at else "-"
        lines.append(
            f"{why.delivery_id}  {why.post_key} -> {why.account}  ({why.library})"
            + (f"  {why.title}" if why.title else "")
        )
        if rules is not None:
            lines.append(f"  rules    {rules.get(why.account, '{}')}")
        lines.append(f"  state    {why.state}, {when} {zone.key}")
        if why.placed_by:
            lines.append(f"  placed   {why.placed_by}")
        if why.reason and why.reason != why.placed_by:
            lines.append(f"  reason   {why.reason}")
        if why.competitors:
            lines.append(f"  competing on {why.account} that day:")
            for other in why.competitors:
                lines.append(
                    f"    {other.due_at.astimezone(zone):%H:%M}  {other.delivery_id[:8]}  "
                    f"{other.post_key}  {other.title or '(no title)'}  [{other.state}]"
                )
        lines.append(f"  release  {why.release}")
        lines.append("  history")
        for event in why.events:
            change = (
                f"{event.before} -> {event.after}" if event.before else f"created as {event.after}"
            )
            lines.append(
                f"    {event.at.astimezone(zone):%Y-%m-%d %H:%M}  {change:<30} by {event.actor}"
                + (f": {event.reason}" if event.reason else "")
            )
        lines.append("")
    return "\n".join(lines)
