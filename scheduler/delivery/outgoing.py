"""A queued delivery turned back into the frozen object a connector receives."""

from __future__ import annotations

from pathlib import Path

from connectors.base import DeliveryNotes, MediaItem, Outgoing
from scheduler.db.models import Delivery


def outgoing_of(delivery: Delivery, media_root: Path, notes: DeliveryNotes) -> Outgoing:
    payload = delivery.payload
    assert delivery.due_at is not None, "only placed deliveries go out"
    return Outgoing(
        delivery_id=delivery.id,
        post_id=delivery.post_id,
        account=delivery.account,
        library=delivery.post.library,
        author=delivery.post.author,
        title=payload.get("title"),
        text=payload["text"],
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
            for item in payload.get("media", ())
        ),
        due_at=delivery.due_at,
        notes=notes,
    )
