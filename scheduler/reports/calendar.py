"""The editorial calendar as iCalendar, for the editors' calendar application.

One event per delivery: the editors see each post on each account where it falls, and
what became of it (STATUS). Everything is written in UTC, so no VTIMEZONE is needed;
``X-WR-TIMEZONE`` tells the application which zone the network works in. The output
depends only on the queue (DTSTAMP is the delivery's last change, not the time of the
export), so a calendar application polling it sees no change when nothing changed.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from scheduler.db.models import Delivery, Post
from scheduler.delivery.states import State
from scheduler.delivery.transitions import transaction

PRODID = "-//relais//editorial calendar//EN"
DURATION = timedelta(minutes=15)
SUMMARY_TEXT_LENGTH = 60
# Withdrawn before they ever were in the plan: not in the calendar.
LEFT_OUT = (State.CANCELLED, State.REJECTED)
# Still waiting on the editor or on a rule: may not go out at that time.
TENTATIVE = frozenset({State.PENDING_APPROVAL, State.APPROVED, State.HELD})
# Did not and will not go out.
CANCELLED = frozenset({State.MISSED, State.FAILED})


def calendar_ics(
    sessions: sessionmaker[Session],
    *,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    name: str = "relais",
    libraries: Collection[str] | None = None,
    with_pending: bool = True,
) -> bytes:
    """A VCALENDAR with one VEVENT per delivery due in [start, end), as iCalendar bytes.

    ``start`` and ``end`` must be timezone-aware. Cancelled and rejected deliveries are left
    out. Events come in the order (due time, account, post key), so the same queue always
    gives the same bytes. ``libraries`` keeps only those libraries' posts; without
    ``with_pending``, posts waiting for the editor are left out (a contributor's feed).
    """
    for label, moment in (("start", start), ("end", end)):
        if moment.tzinfo is None:
            raise ValueError(f"calendar {label} {moment.isoformat()} has no time zone; give one")
    query = (
        select(Delivery, Post)
        .join(Post, Delivery.post_id == Post.id)
        .where(Delivery.state.not_in(LEFT_OUT), Delivery.due_at >= start, Delivery.due_at < end)
        .order_by(Delivery.due_at, Delivery.account, Post.key, Delivery.id)
    )
    if libraries is not None:
        query = query.where(Post.library.in_(libraries))
    if not with_pending:
        query = query.where(Delivery.state != State.PENDING_APPROVAL)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", zone.key)
    with transaction(sessions) as session:
        for delivery, post in session.execute(query).all():
            calendar.add_component(_event(delivery, post))
    ical: bytes = calendar.to_ical()  # typed Any by icalendar
    return ical


def _event(delivery: Delivery, post: Post) -> Event:
    assert delivery.due_at is not None  # the range filter excludes unplaced deliveries
    text = _text(delivery.payload)
    event = Event()
    event.add("uid", f"{delivery.id}@relais")
    event.add("dtstamp", delivery.updated_at)
    event.add("dtstart", delivery.due_at)
    event.add("duration", DURATION)
    event.add("summary", f"[{delivery.account}] {_headline(post.title, text)} ({post.library})")
    event.add("description", _description(delivery, post, text))
    event.add("categories", [post.library, delivery.account])
    event.add("status", _status(State(delivery.state)))
    if delivery.url:
        event.add("url", delivery.url)
    return event


def _headline(title: str | None, text: str) -> str:
    # Whitespace collapsed: a calendar shows the summary on one line.
    return title or " ".join(text.split())[:SUMMARY_TEXT_LENGTH]


def _description(delivery: Delivery, post: Post, text: str) -> str:
    lines = [
        f"Post: {post.key}",
        f"Library: {post.library}",
        f"Account: {delivery.account}",
        f"State: {delivery.state}",
    ]
    if delivery.url:
        lines.append(f"Published: {delivery.url}")
    return "\n".join([*lines, "", text]) if text else "\n".join(lines)


def _status(state: State) -> str:
    if state in TENTATIVE:
        return "TENTATIVE"
    if state in CANCELLED:
        return "CANCELLED"
    return "CONFIRMED"


def _text(payload: dict[str, Any]) -> str:
    text = payload.get("text")
    return text if isinstance(text, str) else ""
