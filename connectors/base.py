"""The connector interface: one platform behind four methods.

A connector is built once per configured account by the registry. It receives frozen
``Outgoing`` objects (exactly what will be sent to that account) and answers with frozen
``Published`` results or raises one of :mod:`connectors.errors`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from connectors.credentials import Credentials, credentials_for


@dataclass(frozen=True, kw_only=True)
class MediaItem:
    """A media file already copied into relais' content-addressed store."""

    path: Path
    alt: str | None
    mime_type: str
    size: int
    sha256: str


class DeliveryNotes(Protocol):
    """What a connector remembers about one delivery across attempts and crashes.

    ``put`` is durable when it returns (its own committed transaction), so a connector
    writes a marker *before* the step it protects: YouTube's upload session URI before
    the first byte, Instagram's container id before ``media_publish``.
    """

    def get(self, key: str) -> str | None: ...

    def put(self, key: str, value: str) -> None: ...


class MemoryNotes:
    """Notes kept in memory: for ``relais check`` previews and for tests."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def put(self, key: str, value: str) -> None:
        self.values[key] = value


@dataclass(frozen=True, kw_only=True)
class Outgoing:
    """One delivery as it will leave: the post with the account's variant applied."""

    delivery_id: str
    post_id: str
    account: str
    library: str
    author: str
    title: str | None
    text: str
    link: str | None
    media: tuple[MediaItem, ...]
    due_at: datetime
    tags: tuple[str, ...] = ()
    notes: DeliveryNotes = field(default_factory=MemoryNotes, compare=False)


@dataclass(frozen=True, kw_only=True)
class Published:
    """What the platform created."""

    platform_id: str
    url: str | None = None


@dataclass(frozen=True, kw_only=True)
class Limits:
    """What a platform accepts; ``check`` enforces it offline."""

    max_text_length: int | None = None
    media_kinds: frozenset[str] = frozenset({"image", "video"})
    max_media: int = 10
    max_media_bytes: int | None = None
    requires_media: bool = False
    requires_title: bool = False


@dataclass(frozen=True, kw_only=True)
class RenderedText:
    """The exact text a platform receives, and its length as that platform counts it."""

    text: str
    length: int
    limit: int | None
    counted_as: str = "characters"


def plain_text(outgoing: Outgoing, limit: int | None) -> RenderedText:
    """The text as given, the link on a line of its own, counted in characters."""
    text = outgoing.text.rstrip()
    if outgoing.link and outgoing.link not in text:
        text = f"{text}\n{outgoing.link}"
    return RenderedText(text=text, length=len(text), limit=limit)


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """``relais accounts check``: can this account publish, in one sentence."""

    ok: bool
    message: str


@dataclass(frozen=True, kw_only=True)
class Problem:
    """An offline objection to an outgoing post, in a sentence a contributor understands."""

    field: str
    message: str


class Connector(Protocol):
    """A platform account.

    - ``kind`` is the config key naming the connector (``kind: dry_run``).
    - ``limits`` describes what the platform accepts.
    - ``lead_time`` is how long before ``due_at`` dispatch may hand a post over (for
      platforms with native scheduling); zero for the others. ``min_lead_time`` is the
      least the platform schedules ahead (Facebook: 10 minutes): a post due sooner than
      that is handed over at ``due_at`` and published at once. ``publish`` therefore sees
      ``due_at`` in the future only when it may schedule natively.
    - ``render`` gives the exact text the platform will receive (link, hashtags and all)
      and its length as the platform counts it; ``relais check`` shows it.
    - ``check`` validates offline and never touches the network.
    - ``verify`` checks the credentials and permissions with one cheap read call.
    - ``publish`` creates the item once and returns it, or raises a ``PublishError``.
    - ``find`` looks for an item that an interrupted ``publish`` may have created: returns
      it, or ``None`` when the platform certainly does not have it. It may raise
      ``Retryable`` when the platform cannot be asked right now.
    """

    kind: ClassVar[str]
    limits: Limits
    lead_time: timedelta
    min_lead_time: timedelta

    def render(self, outgoing: Outgoing) -> RenderedText: ...

    def check(self, outgoing: Outgoing) -> list[Problem]: ...

    def verify(self) -> Verdict: ...

    def publish(self, outgoing: Outgoing) -> Published: ...

    def find(self, outgoing: Outgoing) -> Published | None: ...


@dataclass(frozen=True, kw_only=True)
class AccountSettings:
    """One entry of config.yaml's ``accounts``: ``options`` is the connector's own part."""

    name: str
    kind: str
    base_dir: Path
    # The configured zone, for connectors that show local dates (blog slugs, pages).
    timezone: str = "UTC"
    options: Mapping[str, Any] = field(default_factory=dict)
    # relais' own folder (media store, saved tokens); None: base_dir / "state".
    state_dir: Path | None = None
    credentials: Credentials | None = None

    def resolve(self, path: Path) -> Path:
        """A path from the options: relative ones are relative to config.yaml's folder."""
        return path if path.is_absolute() else self.base_dir / path

    def secrets(self) -> Credentials:
        """Where this account's secrets are (see :mod:`connectors.credentials`)."""
        if self.credentials is not None:
            return self.credentials
        return credentials_for(self.name, state_dir=self.state_dir or self.base_dir / "state")


def check_limits(
    limits: Limits, outgoing: Outgoing, rendered: RenderedText | None = None
) -> list[Problem]:
    """The checks every connector shares; connectors add their own after these.

    The length is the rendered text's as the platform counts it, when ``rendered`` is given.
    """
    problems: list[Problem] = []
    length = rendered.length if rendered is not None else len(outgoing.text)
    counted_as = rendered.counted_as if rendered is not None else "characters"
    if limits.max_text_length is not None and length > limits.max_text_length:
        problems.append(
            Problem(
                field="text",
                message=f"the text is {length} {counted_as} long; "
                f"{outgoing.account} takes at most {limits.max_text_length}",
            )
        )
    if limits.requires_title and not outgoing.title:
        problems.append(Problem(field="title", message=f"{outgoing.account} needs a title"))
    if limits.requires_media and not outgoing.media:
        problems.append(
            Problem(field="media", message=f"{outgoing.account} needs at least one media file")
        )
    if len(outgoing.media) > limits.max_media:
        problems.append(
            Problem(
                field="media",
                message=f"{len(outgoing.media)} media files; "
                f"{outgoing.account} takes at most {limits.max_media}",
            )
        )
    for item in outgoing.media:
        kind = item.mime_type.split("/", 1)[0]
        if kind not in limits.media_kinds:
            problems.append(
                Problem(
                    field="media",
                    message=f"{item.path.name} is {kind}; {outgoing.account} takes "
                    f"{', '.join(sorted(limits.media_kinds)) or 'no media'}",
                )
            )
        if limits.max_media_bytes is not None and item.size > limits.max_media_bytes:
            problems.append(
                Problem(
                    field="media",
                    message=f"{item.path.name} is {item.size} bytes; {outgoing.account} "
                    f"takes at most {limits.max_media_bytes}",
                )
            )
    return problems


_Options = TypeVar("_Options", bound=BaseModel)


def parse_options(model: type[_Options], settings: AccountSettings) -> _Options:
    """Validate an account's options, or raise ValueError naming the account and each key."""
    try:
        return model.model_validate(dict(settings.options))
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'options'}: {problem['msg']}"
            for problem in error.errors()
        )
        raise ValueError(
            f"account {settings.name!r} ({settings.kind}) has unusable options: {problems}"
        ) from None
