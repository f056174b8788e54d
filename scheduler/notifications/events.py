"""Recording what people must hear about, inside the transaction of the change itself.

Each function adds at most one ``notification`` row to the caller's session, so the row
commits or rolls back with the state change that caused it: no notification for a change
that did not happen, none lost for one that did. The row is inserted with
``ON CONFLICT (dedupe_key) DO NOTHING``; the key names the event (a delivery's version, a
post's content, an account and a local day), so an event seen twice, by a retry or by a
second daemon, is told once, and an account still paused is told at most once a day.

Sessions record only when the outbox is on (``notifications:`` in config.yaml): see
:func:`outbox_enabled`; without it nothing is written and nothing is sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from scheduler.db.models import Delivery, Notification, Post
from scheduler.notifications.kinds import Kind

OUTBOX_INFO_KEY = "relais_outbox"

# A delivery reaching one of these states is news for someone.
_STATE_KINDS = {
    "published": Kind.PUBLISHED,
    "failed": Kind.FAILED,
    "cancelled": Kind.CANCELLED,
    "missed": Kind.MISSED,
    "rejected": Kind.POST_REJECTED,
    "needs_attention": Kind.NEEDS_ATTENTION,
}
# Changes a contributor makes themselves (re-dropping a file) are not news to them.
_SELF_MADE = {"intake"}


def outbox_enabled(session: Session) -> bool:
    return bool(session.info.get(OUTBOX_INFO_KEY))


def record(
    session: Session,
    kind: Kind,
    *,
    key: str,
    now: datetime,
    post_id: str | None = None,
    delivery_id: str | None = None,
    account: str | None = None,
    library: str | None = None,
    author: str | None = None,
    details: dict[str, Any] | None = None,
) -> int | None:
    """Add the notification unless one with the same key exists; its id if added."""
    if not outbox_enabled(session):
        return None
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(Notification)
        .values(
            kind=str(kind),
            dedupe_key=f"{kind}:{key}"[:255],
            created_at=now,
            post_id=post_id,
            delivery_id=delivery_id,
            account=account,
            library=library,
            author=author,
            details=details or {},
            expanded_at=None,
        )
        .on_conflict_do_nothing(index_elements=[Notification.dedupe_key])
        .returning(Notification.id)
    )
    return session.execute(statement).scalar_one_or_none()


def on_delivery_change(
    session: Session,
    delivery: Delivery,
    to_state: str,
    *,
    actor: str,
    now: datetime,
    reason: str | None,
) -> None:
    """Called by ``change_state`` for every change (and creation) of a delivery."""
    if not outbox_enabled(session):
        return
    kind = _STATE_KINDS.get(to_state)
    if to_state != "pending_approval" and kind is None:
        return  # most changes (claimed, sending...) are news for nobody: no query at all
    # A delivery just created is pending: its post is found in the session, not loaded.
    post = delivery.post or session.get(Post, delivery.post_id)
    about = {
        "post_id": delivery.post_id,
        "delivery_id": delivery.id,
        "account": delivery.account,
        "library": post.library if post else None,
        "author": post.author if post else None,
    }
    title = post.title if post else None
    if to_state == "pending_approval":
        # One message per post and content, however many accounts wait.
        sha = post.sha256 if post else delivery.id
        record(
            session,
            Kind.APPROVAL_WAITING,
            key=f"{delivery.post_id}:{sha}",
            now=now,
            details={"title": title, "post_key": post.key if post else None},
            **about,
        )
        return
    if kind is None or (kind == Kind.CANCELLED and actor in _SELF_MADE):
        return
    details: dict[str, Any] = {
        "title": title,
        "post_key": post.key if post else None,
        "reason": reason,
        "actor": actor,
        "url": delivery.url,
    }
    # version is bumped on flush: the key differs for each change of the same delivery.
    record(
        session,
        kind,
        key=f"{delivery.id}:{delivery.version or 0}",
        now=now,
        details=details,
        **about,
    )


def local_day_key(now: datetime, zone: Any) -> str:
    return str(now.astimezone(zone).date().isoformat())
