"""Turning a parsed post file into queue rows: create, update, cancel, idempotently.

The post's identity is its key (explicit ``id:`` or its path in the inbox). The same
bytes twice are one post; changed bytes update the post while nothing of it has been
sent; ``cancel: true`` withdraws what has not been sent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.config import Config
from scheduler.db.models import Delivery, Post, SeriesOccurrence
from scheduler.delivery.states import TOUCHED, UNSENT, State
from scheduler.delivery.transitions import change_state, record_creation
from scheduler.delivery.withdrawal import withdraw
from scheduler.intake.file_names import shown
from scheduler.intake.media_store import MediaStore
from scheduler.intake.post_file import PlannedDelivery, PostContent, PostFile, Timing
from scheduler.rules.series import SeriesCalendar

ACTOR = "intake"


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    CANCELLED = "cancelled"
    REFUSED = "refused"


@dataclass(frozen=True, kw_only=True)
class IngestResult:
    outcome: Outcome
    post_id: str | None
    message: str


def ingest_post(
    session: Session,
    post_file: PostFile,
    *,
    config: Config,
    store: MediaStore,
    now: datetime,
    series: SeriesCalendar | None = None,
) -> IngestResult:
    post = session.scalars(select(Post).where(Post.key == post_file.key)).one_or_none()
    if post is None:
        if post_file.cancel:
            return IngestResult(
                outcome=Outcome.REFUSED,
                post_id=None,
                message=f"there is no post with id {post_file.key!r} to cancel; "
                "check the id (or the file name) of the post you want to withdraw",
            )
        return _create(session, post_file, config=config, store=store, now=now, series=series)
    if post.sha256 == post_file.sha256:
        return IngestResult(
            outcome=Outcome.UNCHANGED, post_id=post.id, message="same content as already queued"
        )
    if post_file.cancel:
        return _cancel(session, post, now=now)
    if post.cancelled_at is not None:
        return IngestResult(
            outcome=Outcome.REFUSED,
            post_id=post.id,
            message=f"post {post.key!r} was cancelled; to post it again, give the file "
            "a new name or a new `id:`",
        )
    touched = [d for d in post.deliveries if State(d.state) in TOUCHED]
    if touched:
        where = ", ".join(f"{d.account} ({d.state})" for d in touched)
        return IngestResult(
            outcome=Outcome.REFUSED,
            post_id=post.id,
            message=f"post {post.key!r} has already gone out, or is going out, on {where}; "
            "the change was not applied. Correct a published post on the platform itself",
        )
    return _update(session, post, post_file, config=config, store=store, now=now, series=series)


def _create(
    session: Session,
    post_file: PostFile,
    *,
    config: Config,
    store: MediaStore,
    now: datetime,
    series: SeriesCalendar | None,
) -> IngestResult:
    post = Post(
        id=str(uuid.uuid4()),
        key=post_file.key,
        source_path=shown(str(post_file.source)),
        sha256=post_file.sha256,
        library=post_file.library,
        author=post_file.author,
        title=post_file.title,
        created_at=now,
        updated_at=now,
    )
    session.add(post)
    session.flush()  # the occurrence points at the post
    try:
        series_at = _series_time(session, post_file, post.id, series, now)
    except LookupError as error:
        session.delete(post)
        return IngestResult(outcome=Outcome.REFUSED, post_id=None, message=str(error))
    for planned in post_file.deliveries:
        delivery = Delivery(
            id=str(uuid.uuid4()),
            post_id=post.id,
            account=planned.account,
            state=_first_state(config, post_file, planned.account),
            attempts=0,
            created_at=now,
            updated_at=now,
        )
        _apply_plan(
            delivery, planned, post_file, config=config, store=store, now=now, series_at=series_at
        )
        session.add(delivery)
        record_creation(session, delivery, actor=ACTOR, now=now, reason=_approval_note(delivery))
    session.flush()
    accounts = ", ".join(planned.account for planned in post_file.deliveries)
    return IngestResult(outcome=Outcome.CREATED, post_id=post.id, message=f"queued for {accounts}")


def _update(
    session: Session,
    post: Post,
    post_file: PostFile,
    *,
    config: Config,
    store: MediaStore,
    now: datetime,
    series: SeriesCalendar | None,
) -> IngestResult:
    try:
        series_at = _series_time(session, post_file, post.id, series, now)
    except LookupError as error:
        return IngestResult(outcome=Outcome.REFUSED, post_id=post.id, message=str(error))
    post.sha256 = post_file.sha256
    post.source_path = shown(str(post_file.source))
    post.library = post_file.library
    post.author = post_file.author
    post.title = post_file.title
    post.updated_at = now
    by_account = {delivery.account: delivery for delivery in post.deliveries}
    wanted = {planned.account: planned for planned in post_file.deliveries}
    for account, dropped in by_account.items():
        if account not in wanted and State(dropped.state) in UNSENT:
            change_state(
                session, dropped, State.CANCELLED, actor=ACTOR, now=now,
                reason="account removed from the post file",
            )  # fmt: skip
    for account, planned in wanted.items():
        delivery = by_account.get(account)
        first = _first_state(config, post_file, account)
        if delivery is None:
            delivery = Delivery(
                id=str(uuid.uuid4()), post_id=post.id, account=account, state=first,
                attempts=0, created_at=now, updated_at=now,
            )  # fmt: skip
            _apply_plan(
                delivery,
                planned,
                post_file,
                config=config,
                store=store,
                now=now,
                series_at=series_at,
            )
            session.add(delivery)
            record_creation(session, delivery, actor=ACTOR, now=now, reason="post file updated")
            continue
        _apply_plan(
            delivery, planned, post_file, config=config, store=store, now=now, series_at=series_at
        )
        current = State(delivery.state)
        # A changed post goes back to the editor, unless a rule approves it anyway; a post
        # the editor rejected always goes back to the editor.
        back_to_editor = current == State.REJECTED or first == State.PENDING_APPROVAL
        reopenable = UNSENT | {State.REJECTED}
        if back_to_editor and current in reopenable and current != State.PENDING_APPROVAL:
            delivery.approved_by = None
            delivery.approved_at = None
            change_state(
                session, delivery, State.PENDING_APPROVAL, actor=ACTOR, now=now,
                reason="post file updated",
            )  # fmt: skip
    session.flush()
    return IngestResult(outcome=Outcome.UPDATED, post_id=post.id, message="post updated")


def _cancel(session: Session, post: Post, *, now: datetime) -> IngestResult:
    post.cancelled_at = now
    post.updated_at = now
    outcome = withdraw(
        session, post.deliveries, actor=ACTOR, now=now,
        reason="withdrawn by the post file (cancel: true)",
    )  # fmt: skip
    kept = [
        f"{item.delivery.account} ({item.delivery.state})"
        for item in outcome
        if State(item.delivery.state) in TOUCHED
    ]
    message = "withdrawn"
    if kept:
        message += "; already gone out, or going out, on " + ", ".join(kept)
    return IngestResult(outcome=Outcome.CANCELLED, post_id=post.id, message=message)


def _first_state(config: Config, post_file: PostFile, account: str) -> State:
    if config.needs_approval(library=post_file.library, account=account, author=post_file.author):
        return State.PENDING_APPROVAL
    return State.APPROVED


def _approval_note(delivery: Delivery) -> str | None:
    return "approved by a rule in config.yaml" if delivery.state == State.APPROVED else None


def _series_time(
    session: Session,
    post_file: PostFile,
    post_id: str,
    series: SeriesCalendar | None,
    now: datetime,
) -> datetime | None:
    """The occurrence an episode fills: the one it already has, else the next open one."""
    names = {p.timing.series for p in post_file.deliveries if p.timing.kind == "series"}
    if not names:
        return None
    (name,) = names
    assert name is not None
    held = session.scalars(
        select(SeriesOccurrence).where(
            SeriesOccurrence.post_id == post_id, SeriesOccurrence.series == name
        )
    ).first()
    if held is not None:
        return held.at
    if series is None:
        raise LookupError(f"series {name!r} cannot be placed here")
    SeriesCalendar.free(session, post_id)  # it may have belonged to another series
    return series.take_next(session, name, post_id, now)


def _apply_plan(
    delivery: Delivery,
    planned: PlannedDelivery,
    post_file: PostFile,
    *,
    config: Config,
    store: MediaStore,
    now: datetime,
    series_at: datetime | None,
) -> None:
    link = config.link_tagger().tag(
        planned.content.link, account=planned.account, campaign=post_file.campaign
    )
    delivery.payload = payload_of(planned.content, store, link=link)
    delivery.timing = timing_json(planned.timing) | {
        "announces": post_file.announces,
        "campaign": post_file.campaign,
        "priority": post_file.priority,
        "latest": post_file.latest.isoformat() if post_file.latest else None,
    }
    if planned.timing.kind == "series" and series_at is not None:
        delivery.due_at = series_at
        # Placement keeps the occurrence's time as the time asked for, even after a move.
        delivery.timing = delivery.timing | {"at": series_at.isoformat()}
    else:
        delivery.due_at = due_at_of(planned.timing, now)
    delivery.window_end = planned.timing.window_end


def payload_of(content: PostContent, store: MediaStore, *, link: str | None) -> dict[str, Any]:
    return {
        "title": content.title,
        "text": content.text,
        "link": link,
        "tags": list(content.tags),
        "media": [
            {
                "file": store.store(ref),
                "name": ref.source.name,
                "alt": ref.alt,
                "mime_type": ref.mime_type,
                "size": ref.size,
                "sha256": ref.sha256,
            }
            for ref in content.media
        ],
    }


def timing_json(timing: Timing) -> dict[str, Any]:
    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "kind": timing.kind,
        "at": iso(timing.at),
        "window_start": iso(timing.window_start),
        "window_end": iso(timing.window_end),
        "series": timing.series,
    }


def due_at_of(timing: Timing, now: datetime) -> datetime:
    """Where the post goes: its fixed time, the start of its window, or as soon as possible.

    The house rules (caps, gaps, hours, series) will refine ``next_free`` and windows.
    """
    if timing.kind == "at" and timing.at is not None:
        return timing.at
    if timing.kind == "window" and timing.window_start is not None:
        return max(timing.window_start, now)
    return now
