"""The editor's queue: each post waiting for approval, with exactly what each platform
will receive, rendered by the account's connector (the code ``relais check`` uses)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connectors.base import Connector, MediaItem, Outgoing, RenderedText
from scheduler.db.models import Delivery, Post
from scheduler.delivery.states import State
from scheduler.delivery.transitions import transaction


@dataclass(frozen=True, kw_only=True)
class MediaPreview:
    name: str  # the media store's name, served by /media/<name>
    alt: str | None
    mime_type: str


@dataclass(frozen=True, kw_only=True)
class DeliveryPreview:
    delivery_id: str
    account: str
    state: str
    due_at: datetime | None
    timing: str  # at, window, next_free, series
    window_end: datetime | None
    series: str | None
    rendered: RenderedText | None  # None: no connector for this account any more
    problems: tuple[str, ...]
    link: str | None
    media: tuple[MediaPreview, ...]
    reason: str | None


@dataclass(frozen=True, kw_only=True)
class PostPreview:
    post_key: str
    library: str
    author: str
    title: str | None
    deliveries: tuple[DeliveryPreview, ...]


class PreviewCache:
    """Previews already rendered, by (delivery id, version): a delivery's version changes
    with every change of the row, so a kept preview is never stale. Rendering is the
    connector's work (X's weighted length parses the whole text), done once per version."""

    def __init__(self, size: int = 5000) -> None:
        self.size = size
        self._kept: OrderedDict[tuple[str, int], DeliveryPreview] = OrderedDict()

    def get(
        self,
        delivery: Delivery,
        post: Post,
        connectors: Mapping[str, Connector],
        media_root: Path,
        now: datetime,
    ) -> DeliveryPreview:
        key = (delivery.id, delivery.version)
        kept = self._kept.get(key)
        if kept is not None:
            self._kept.move_to_end(key)
            return kept
        made = preview_delivery(delivery, post, connectors, media_root, now)
        self._kept[key] = made
        if len(self._kept) > self.size:
            self._kept.popitem(last=False)
        return made


def waiting_posts(
    sessions: sessionmaker[Session],
    *,
    connectors: Mapping[str, Connector],
    media_root: Path,
    now: datetime,
    cache: PreviewCache,
    libraries: frozenset[str] | None = None,
    limit: int = 500,
) -> list[PostPreview]:
    """Posts with deliveries waiting for approval, the earliest first."""
    query = (
        select(Delivery, Post)
        .join(Post, Delivery.post_id == Post.id)
        .where(Delivery.state == State.PENDING_APPROVAL)
        .order_by(Delivery.due_at, Post.key, Delivery.account)
        .limit(limit)
    )
    if libraries is not None:
        query = query.where(Post.library.in_(libraries))
    posts: dict[str, tuple[Post, list[DeliveryPreview]]] = {}
    with transaction(sessions) as session:
        for delivery, post in session.execute(query).all():
            preview = cache.get(delivery, post, connectors, media_root, now)
            posts.setdefault(post.key, (post, []))[1].append(preview)
        return [
            PostPreview(
                post_key=post.key,
                library=post.library,
                author=post.author,
                title=post.title,
                deliveries=tuple(previews),
            )
            for post, previews in posts.values()
        ]


def preview_delivery(
    delivery: Delivery,
    post: Post,
    connectors: Mapping[str, Connector],
    media_root: Path,
    now: datetime,
) -> DeliveryPreview:
    payload = delivery.payload
    media = tuple(payload.get("media", ()))
    outgoing = Outgoing(
        delivery_id=delivery.id,
        post_id=post.id,
        account=delivery.account,
        library=post.library,
        author=post.author,
        title=payload.get("title"),
        text=payload.get("text", ""),
        link=payload.get("link"),
        tags=tuple(payload.get("tags", ())),
        media=tuple(
            MediaItem(
                path=media_root / item["file"],
                alt=item.get("alt"),
                mime_type=item["mime_type"],
                size=item["size"],
                sha256=item["sha256"],
            )
            for item in media
        ),
        due_at=delivery.due_at or now,
    )
    connector = connectors.get(delivery.account)
    return DeliveryPreview(
        delivery_id=delivery.id,
        account=delivery.account,
        state=delivery.state,
        due_at=delivery.due_at,
        timing=str(delivery.timing.get("kind", "next_free")),
        window_end=delivery.window_end,
        series=delivery.timing.get("series"),
        rendered=connector.render(outgoing) if connector else None,
        problems=tuple(p.message for p in connector.check(outgoing)) if connector else (),
        link=outgoing.link,
        media=tuple(
            MediaPreview(name=item["file"], alt=item.get("alt"), mime_type=item["mime_type"])
            for item in media
        ),
        reason=delivery.reason,
    )
