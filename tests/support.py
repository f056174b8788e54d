"""Shared test helpers: an injected clock, a config on disk, a migrated queue."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from connectors.base import (
    Limits,
    Outgoing,
    Problem,
    Published,
    RenderedText,
    Verdict,
    plain_text,
)
from connectors.errors import PublishError
from scheduler.app import App, build_app
from scheduler.config import Config, load_config
from tests.databases import migrate

START = datetime(2026, 12, 9, 9, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, start: datetime = START) -> None:
        self.moment = start

    def now(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> datetime:
        self.moment += timedelta(**delta)
        return self.moment


def write_config(directory: Path, **overrides: Any) -> Path:
    settings: dict[str, Any] = {
        "timezone": "Europe/Zurich",
        "database": "sqlite:///queue.db",
        "libraries": {
            "eaux-vives": {"name": "Eaux-Vives"},
            "redaction": {"name": "Rédaction"},
        },
        "accounts": {
            "facebook": {"kind": "dry_run", "log": "out/facebook.jsonl"},
            "twitter": {"kind": "dry_run", "log": "out/twitter.jsonl", "max_text_length": 280},
            "blog": {
                "kind": "static_blog",
                "output": "public/blog",
                "site_url": "http://localhost:8000/blog/",
            },
        },
        "approval": {"auto": [{"library": "redaction"}]},
        "intake": {"settle": "2s"},
    }
    settings.update(overrides)
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    (directory / "inbox").mkdir(exist_ok=True)
    return path


def make_app(directory: Path, clock: FakeClock, **overrides: Any) -> App:
    config = load_config(write_config(directory, **overrides))
    migrate(config.database_url)  # a copy of the migrated template when it is new
    return build_app(config, clock=clock)


def drop(config: Config, relative: str, text: str, *, age: float = 60.0) -> Path:
    """Write a post file into the inbox, its mtime ``age`` seconds in the past (settled)."""
    path = config.inbox_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    moment = path.stat().st_mtime - age
    os.utime(path, (moment, moment))
    return path


@dataclass
class ScriptedConnector:
    """A connector whose answers the test scripts: a Published, or an error to raise."""

    answers: list[Published | PublishError] = field(default_factory=list)
    sent: list[Outgoing] = field(default_factory=list)
    on_platform: dict[str, Published] = field(default_factory=dict)
    # As a connector declares it (connectors.base.find_is_authoritative).
    find_is_authoritative: bool = False
    kind = "scripted"
    limits = Limits()
    lead_time = timedelta(0)
    min_lead_time = timedelta(0)

    def verify(self) -> Verdict:
        return Verdict(ok=True, message="scripted")

    def render(self, outgoing: Outgoing) -> RenderedText:
        return plain_text(outgoing, None)

    def check(self, outgoing: Outgoing) -> list[Problem]:
        return []

    def publish(self, outgoing: Outgoing) -> Published:
        self.sent.append(outgoing)
        answer = (
            self.answers.pop(0)
            if self.answers
            else Published(platform_id=f"id-{len(self.sent)}", url=None)
        )
        if isinstance(answer, PublishError):
            raise answer
        self.on_platform[outgoing.delivery_id] = answer
        return answer

    def find(self, outgoing: Outgoing) -> Published | None:
        return self.on_platform.get(outgoing.delivery_id)


def queue_delivery(
    app: App,
    *,
    account: str = "facebook",
    due_at: datetime | None = None,
    window_end: datetime | None = None,
    text: str = "Bonjour",
    key: str | None = None,
) -> str:
    """A scheduled delivery put straight into the queue (intake has its own tests)."""
    import uuid

    from scheduler.db.models import Delivery, Post
    from scheduler.delivery.transitions import record_creation, transaction

    now = app.clock.now()
    with transaction(app.sessions) as session:
        post = Post(
            id=str(uuid.uuid4()),
            key=key or f"test/{uuid.uuid4().hex[:8]}",
            source_path="test.yaml",
            sha256=uuid.uuid4().hex,
            library="redaction",
            author="test",
            title="Titre",
            created_at=now,
            updated_at=now,
        )
        delivery = Delivery(
            id=str(uuid.uuid4()),
            post_id=post.id,
            account=account,
            state="scheduled",
            due_at=due_at or now,
            window_end=window_end,
            timing={"kind": "at"},
            payload={"title": "Titre", "text": text, "link": None, "tags": [], "media": []},
            attempts=0,
            created_at=now,
            updated_at=now,
        )
        session.add_all([post, delivery])
        record_creation(session, delivery, actor="test", now=now)
        return delivery.id


def delivery_state(app: App, delivery_id: str) -> Any:
    from scheduler.db.models import Delivery
    from scheduler.delivery.transitions import transaction

    with transaction(app.sessions) as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        session.expunge(delivery)
        return delivery
