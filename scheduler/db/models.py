"""The queue's tables (SQLAlchemy 2.x). Times are aware UTC in Python, naive UTC on disk."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC and gives back aware UTC datetimes, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}  # noqa: RUF012


class Post(Base):
    __tablename__ = "post"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    source_path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    library: Mapped[str] = mapped_column(String(100))
    author: Mapped[str] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]

    deliveries: Mapped[list[Delivery]] = relationship(back_populates="post")


class Delivery(Base):
    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("post_id", "account", name="uq_delivery_post_account"),
        Index("ix_delivery_state_due", "state", "due_at"),
        # `relais status` counts by state and account from the index alone.
        Index("ix_delivery_state_account", "state", "account"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    post_id: Mapped[str] = mapped_column(ForeignKey("post.id"))
    account: Mapped[str] = mapped_column(String(100), index=True)
    state: Mapped[str] = mapped_column(String(20))
    # When it should go out; None until placed (pending approval without a fixed time).
    due_at: Mapped[datetime | None]
    window_end: Mapped[datetime | None]
    timing: Mapped[dict[str, Any]]
    payload: Mapped[dict[str, Any]]
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    # Bumped on every change: result updates are fenced on it, so a stale worker cannot
    # overwrite what another worker (or a person) did in the meantime.
    version: Mapped[int] = mapped_column(Integer, default=1)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    platform_id: Mapped[str | None] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_class: Mapped[str | None] = mapped_column(String(20))
    # First transient failure of the current run of retries; the retry horizon counts
    # from it. None when not retrying.
    retrying_since: Mapped[datetime | None]
    # When relais sent it again by itself after an authoritative "never created": it does
    # so once; a second interruption goes to a person.
    resent_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    post: Mapped[Post] = relationship(back_populates="deliveries")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Attempt(Base):
    __tablename__ = "attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("delivery.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(20))
    http_status: Mapped[int | None] = mapped_column(Integer)
    error_class: Mapped[str | None] = mapped_column(String(20))
    message: Mapped[str | None] = mapped_column(Text)
    wait_seconds: Mapped[int | None] = mapped_column(Integer)

    delivery: Mapped[Delivery] = relationship()


class DeliveryEvent(Base):
    """Every state change, with who made it: the history an editor or ops can read back."""

    __tablename__ = "delivery_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("delivery.id"), index=True)
    at: Mapped[datetime]
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)

    # Declared so the unit of work inserts a new delivery before its first event.
    delivery: Mapped[Delivery] = relationship()


class DeliveryNote(Base):
    """What a connector remembers about a delivery (upload session, container id).

    A table of its own, so that writing a note does not bump the delivery's version,
    which fences the outcome of the send in progress.
    """

    __tablename__ = "delivery_note"

    delivery_id: Mapped[str] = mapped_column(ForeignKey("delivery.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class SeriesOccurrence(Base):
    """One date of a recurring series; unique per (series, date), so materialising the
    same occurrence twice (a restart, a second daemon) creates nothing."""

    __tablename__ = "series_occurrence"
    __table_args__ = (UniqueConstraint("series", "occurrence_date", name="uq_series_occurrence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    series: Mapped[str] = mapped_column(String(100))
    occurrence_date: Mapped[str] = mapped_column(String(10))
    at: Mapped[datetime]
    # open (waiting for an episode), filled, missed (passed without one)
    state: Mapped[str] = mapped_column(String(10), default="open")
    post_id: Mapped[str | None] = mapped_column(ForeignKey("post.id"))
    alerted_at: Mapped[datetime | None]


class DailyUsage(Base):
    """The cap counter: one row per account and local day, reserved atomically at claim."""

    __tablename__ = "daily_usage"

    account: Mapped[str] = mapped_column(String(100), primary_key=True)
    local_day: Mapped[str] = mapped_column(String(10), primary_key=True)
    used: Mapped[int] = mapped_column(Integer, default=0)


class AccountState(Base):
    __tablename__ = "account_state"

    account: Mapped[str] = mapped_column(String(100), primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_reason: Mapped[str | None] = mapped_column(Text)
    paused_at: Mapped[datetime | None]
    rate_limited_until: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]


class PersonRow(Base):
    """A person of the network: who logs in to the desk and who is told (scheduler.people).

    ``notify_url`` is an Apprise URL (``mailto://``, ``msteams://``, ``ntfy://``...). A
    token or password never goes in it: write a ``{NAME}`` placeholder instead, filled
    from the secrets (environment or credentials directory) when a message is sent.
    """

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    # contributor | editor | admin
    role: Mapped[str] = mapped_column(String(20))
    # Library keys of config.yaml; empty means every library (editors and admins).
    libraries: Mapped[list[str]] = mapped_column(JSON, default=list)
    email: Mapped[str | None] = mapped_column(String(320))
    notify_url: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(5))
    digest: Mapped[bool] = mapped_column(Boolean, default=False)
    # Argon2id (argon2-cffi); None: this person cannot log in (told only).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # SHA-256 of the calendar feed's secret token; None: no feed (or revoked).
    feed_token_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


class DaemonHeartbeat(Base):
    """One row per running daemon, written each health cycle: liveness readers can see on
    PostgreSQL (no lock file there), and the probe that tells the queue can be written."""

    __tablename__ = "daemon_heartbeat"

    owner: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    beat_at: Mapped[datetime]


class Notification(Base):
    """The outbox: something a person must hear about, written in the same transaction as
    the change that causes it (scheduler.notifications). ``dedupe_key`` is unique, so the
    same event recorded twice (a second daemon, an account still paused on the same day)
    is one row. Who hears it is decided later, when the daemon expands it into sends."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime]
    # What it is about; no foreign keys, so a notification outlives what it names.
    post_id: Mapped[str | None] = mapped_column(String(36))
    delivery_id: Mapped[str | None] = mapped_column(String(36))
    account: Mapped[str | None] = mapped_column(String(100))
    library: Mapped[str | None] = mapped_column(String(100))
    author: Mapped[str | None] = mapped_column(String(100))
    details: Mapped[dict[str, Any]]
    # Set once its recipients' sends exist; None: still to be expanded.
    expanded_at: Mapped[datetime | None] = mapped_column(index=True)


class NotificationSend(Base):
    """One notification to one person on one channel, claimed and sent like a delivery."""

    __tablename__ = "notification_send"
    __table_args__ = (
        UniqueConstraint("notification_id", "person", "channel", name="uq_notification_send"),
        Index("ix_notification_send_state_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notification.id"))
    person: Mapped[str] = mapped_column(String(100))
    # email (built from the SMTP settings) or url (the person's notify_url)
    channel: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(12))
    due_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    notification: Mapped[Notification] = relationship()
