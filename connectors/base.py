"""The connector interface: one platform behind four methods.

A connector is built once per configured account by the registry. It receives frozen
``Outgoing`` objects (exactly what will be sent to that account) and answers with frozen
``Published`` results or raises one of :mod:`connectors.errors`. Every HTTP request goes
through :mod:`connectors.http`, which decides whether a failed request may have reached
the platform, reads ``Retry-After`` and maps the generic statuses.

What connectors may use from ``scheduler``, and why only that: three small modules that
depend on nothing else of relais, so a connector can be read, tested and replaced without
the queue, the database or the dispatcher (``tests/unit/test_import_graph.py`` keeps it so):

- :mod:`scheduler.clock`: the injected ``Clock`` (tests move time, they never sleep) and
  ``ensure_utc``;
- :mod:`scheduler.logs`: ``fields`` for the ids every log line about a post carries;
- :mod:`scheduler.durations`: ``Duration``, so an option such as ``upload_ahead: 12h`` is
  written as in the rest of config.yaml.

Dispatch is the only caller and the only one that decides what happens next; a connector
never retries, waits or pauses an account by itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar, Protocol, TypeVar

from pydantic import BaseModel, Field, ValidationError

from connectors.credentials import Credentials, credentials_for
from scheduler.durations import Duration

# The option types every connector uses, so the same key means the same thing everywhere:
# durations are written as in the rest of config.yaml (``30s``, ``10m``, ``12h``; a bare
# number is seconds, as the options took before).
#: ``timeout``: the longest wait for one HTTP request (connect, then each read).
RequestTimeout = Annotated[Duration, Field(gt=timedelta(0), le=timedelta(minutes=10))]
#: Any other wait or lead time (``upload_timeout``, ``upload_ahead``, ``container_wait``).
PositiveDuration = Annotated[Duration, Field(gt=timedelta(0))]


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
    """A platform account, as dispatch, ``relais check`` and ``relais accounts`` use it.

    Attributes:

    - ``kind`` is the config key naming the connector (``kind: dry_run``).
    - ``limits`` describes what the platform accepts.
    - ``lead_time`` is how long before ``due_at`` dispatch may hand a post over (for
      platforms with native scheduling); zero for the others. ``min_lead_time`` is the
      least the platform schedules ahead (Facebook: 10 minutes): a post due sooner than
      that is handed over at ``due_at`` and published at once. ``publish`` therefore sees
      ``due_at`` in the future only when it may schedule natively.

    - ``find_is_authoritative`` (optional class attribute, False when absent): ``find``
      returning ``None`` proves the platform never created the item (a WordPress slug, the
      static blog's file, Flickr's machine tag, YouTube's upload session), so dispatch may
      send an interrupted delivery again by itself, once (see
      :func:`find_is_authoritative`). A search that can miss a fresh item (an index that
      lags) must not claim it.

    Credentials are read on first use, not in the constructor, so a missing secret never
    stops the daemon: it surfaces as ``AuthExpired`` from ``publish``/``find`` and as a
    failed ``Verdict`` from ``verify``.
    """

    kind: ClassVar[str]
    limits: Limits
    lead_time: timedelta
    min_lead_time: timedelta

    def render(self, outgoing: Outgoing) -> RenderedText:
        """The exact text the platform will receive (link, hashtags and all) and its length
        as the platform counts it; ``relais check`` shows it.

        Offline and deterministic: no network, no file writes, no exception for content
        (an over-long text is reported by ``check``, not refused here).
        """
        ...

    def check(self, outgoing: Outgoing) -> list[Problem]:
        """Every reason the platform would refuse ``outgoing``, found offline; empty when
        it would be accepted.

        Never touches the network and never raises for content: each objection is a
        ``Problem`` a contributor can act on, all of them at once.
        """
        ...

    def verify(self) -> Verdict:
        """Whether this account can publish now: credentials and permissions, checked with
        one cheap read call (``relais accounts check``).

        Never raises for a platform failure or a missing secret: the ``Verdict`` says what
        is wrong and what to do, in one sentence without any secret.
        """
        ...

    def publish(self, outgoing: Outgoing) -> Published:
        """Create the item once and return it (with native scheduling when ``due_at`` is
        ahead). Before any request that may create the item, write to ``outgoing.notes``
        what ``find`` needs to look for it.

        Raises only :class:`~connectors.errors.PublishError` subclasses, the platform's
        exception kept as ``__cause__``:

        - ``Retryable``: nothing was created (refused connection, a 5xx to a read, a
          transient platform error); dispatch tries again after its back-off, or after
          ``retry_after`` when the platform said;
        - ``RateLimited``: the platform said "not before ``until``"; the account waits;
        - ``AuthExpired``: the credentials no longer work or are missing; the account is
          paused until a person renews them and resumes it;
        - ``Permanent``: the platform refused this content; retrying cannot help;
        - ``Ambiguous``: the creating request may have reached the platform and its answer
          was lost (:func:`connectors.http.may_have_reached`); never re-sent, ``find``
          decides.
        """
        ...

    def find(self, outgoing: Outgoing) -> Published | None:
        """Look for the item an interrupted ``publish`` may have created (reconciliation).

        Returns it, or ``None`` only when the platform certainly does not have it (then a
        person decides whether to send again). Reads only; never creates, except that a
        platform with resumable uploads may finish an upload it already holds (YouTube).

        Raises, the platform's exception kept as ``__cause__``:

        - ``Retryable`` or ``RateLimited`` for anything temporary (an outage, throttling, a
          lost answer to the look-up): dispatch asks again later, never gives up;
        - ``AuthExpired`` when the credentials no longer work or are missing: dispatch
          pauses the account, as for ``publish``, so a person is told; the delivery stays
          ``unknown`` and is looked for again once the account is resumed. It is neither
          retried silently forever nor handed over as "not found" (that could be re-sent);
        - ``Permanent`` when the search cannot be completed and a person must look (more
          posts to search than the connector reads; a local folder that cannot be read,
          the offline accounts' counterpart of dead credentials).

        Never ``Ambiguous``: a look-up creates nothing.
        """
        ...


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


def find_is_authoritative(connector: object) -> bool:
    """Whether ``connector`` declares that its ``find`` answering ``None`` means "never
    created" (class attribute ``find_is_authoritative = True``)."""
    return bool(getattr(connector, "find_is_authoritative", False))
