"""The composition root: the one place where config, database, clock and connectors meet."""

from __future__ import annotations

import os
import random
import socket
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from connectors.base import Connector
from connectors.redaction import Redactor, nothing_to_redact
from connectors.registry import build_connectors
from scheduler.clock import Clock, SystemClock
from scheduler.config import Config
from scheduler.db.engines import make_engine
from scheduler.delivery.dispatcher import Dispatcher
from scheduler.delivery.platform_changes import PlatformChanges
from scheduler.delivery.retry import RetryPolicy
from scheduler.delivery.transitions import make_sessions
from scheduler.intake.inbox import Intake
from scheduler.intake.media_store import MediaStore
from scheduler.rules.placement import Placement
from scheduler.rules.series import SeriesCalendar

if TYPE_CHECKING:
    from connectors.credentials import Credentials
    from scheduler.i18n import Translator
    from scheduler.notifications.sender import Notifier
    from scheduler.notifications.watch import Watch
    from scheduler.people.directory import Directory
from scheduler.service.instance_lock import sqlite_path

CONFIG_ENV = "RELAIS_CONFIG"
# Connector kinds whose published URL is a blog article other posts can announce.
BLOG_KINDS = frozenset({"static_blog", "wordpress"})


def default_config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV, "config.yaml"))


@dataclass(frozen=True, kw_only=True)
class App:
    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    connectors: Mapping[str, Connector]
    store: MediaStore
    owner: str
    stopping: threading.Event
    # Every account's secrets, in every form they travel in, out of rows and logs.
    redact: Callable[[str], str] = nothing_to_redact

    @property
    def exclusive(self) -> bool:
        """SQLite queues have one daemon (see instance_lock); PostgreSQL may have several."""
        return sqlite_path(self.config.database_url) is not None

    def dispatcher(self, rng: random.Random | None = None) -> Dispatcher:
        settings = self.config.dispatch
        return Dispatcher(
            sessions=self.sessions,
            clock=self.clock,
            connectors=self.connectors,
            settings=settings,
            policy=RetryPolicy(
                horizon=settings.retry_horizon,
                max_attempts=settings.max_attempts,
                base=settings.backoff_base,
                cap=settings.backoff_max,
                rng=rng or random.Random(),
            ),
            store=self.store,
            owner=self.owner,
            exclusive=self.exclusive,
            stopping=self.stopping,
            rules=self.config.rules(),
            zone=self.config.zone,
            redact=self.redact,
        )

    def placement(self) -> Placement:
        return Placement(
            sessions=self.sessions,
            clock=self.clock,
            rules=self.config.rules(),
            zone=self.config.zone,
            tagger=self.config.link_tagger(),
            blog_accounts=frozenset(
                name
                for name, account in self.config.accounts.items()
                if account.kind in BLOG_KINDS
                or (account.kind == "dry_run" and account.options.get("like") in BLOG_KINDS)
            ),
        )

    def platform_changes(self) -> PlatformChanges:
        return PlatformChanges(
            sessions=self.sessions,
            clock=self.clock,
            connectors=self.connectors,
            media_root=self.store.root,
        )

    def intake(self) -> Intake:
        return Intake(
            config=self.config,
            sessions=self.sessions,
            clock=self.clock,
            connectors=self.connectors,
            store=self.store,
            placement=self.placement(),
            series=self.series(),
        )

    def directory(self) -> Directory:
        from scheduler.people.directory import Directory

        return Directory(
            sessions=self.sessions,
            clock=self.clock,
            known_libraries=tuple(self.config.libraries),
            default_language=self.config.language,
        )

    def notifier(self, rng: random.Random | None = None) -> Notifier | None:
        """The outbox's sender; None when config.yaml has no ``notifications:``."""
        config = self.config
        settings = config.notifications
        if settings is None:
            # Before the imports: Apprise loads its plugins, megabytes of an idle daemon
            # that sends no notification (issue 16).
            return None
        from connectors.credentials import credentials_for
        from scheduler.i18n import LANGUAGES, translator
        from scheduler.notifications.channels import SMTP_SECRETS, URL_SECRETS, Channels
        from scheduler.notifications.sender import Notifier
        from scheduler.reports.status import reader_sessions

        state_dir = config.path(config.state_dir)
        credentials_dir = config.path(config.credentials_dir) if config.credentials_dir else None

        def secrets(name: str) -> Credentials:
            return credentials_for(name, state_dir=state_dir, credentials_dir=credentials_dir)

        def words(language: str) -> Translator:
            return translator(language if language in LANGUAGES else config.language, config.zone)

        return Notifier(
            sessions=self.sessions,
            clock=self.clock,
            config=config,
            people=self.directory().list,
            channels=Channels(
                smtp=settings.smtp,
                smtp_secrets=secrets(SMTP_SECRETS),
                url_secrets=secrets(URL_SECRETS),
            ),
            words=words,
            policy=RetryPolicy(
                max_attempts=settings.max_attempts,
                base=settings.backoff_base,
                cap=settings.backoff_max,
                rng=rng or random.Random(),
            ),
            owner=self.owner,
            exclusive=self.exclusive,
            stopping=self.stopping,
            readers=reader_sessions(config.database_url),
        )

    def watch(self) -> Watch | None:
        from scheduler.notifications.watch import Watch

        if self.config.notifications is None:
            return None
        return Watch(
            sessions=self.sessions,
            clock=self.clock,
            config=self.config,
            accounts=self.config.account_settings(),
        )

    def series(self) -> SeriesCalendar:
        return SeriesCalendar(
            sessions=self.sessions,
            clock=self.clock,
            series=self.config.series,
            zone=self.config.zone,
        )


class ConnectorsOnFirstUse(Mapping[str, Connector]):
    """The accounts' connectors, built when first looked at.

    Commands that only read the queue (list, plan, why, calendar) never look: building
    them imports each platform's client library (a dry-run account with ``like:`` loads its
    platform's module), which cost those commands most of their time (issue 16)."""

    def __init__(self, config: Config, clock: Clock) -> None:
        self._config, self._clock = config, clock
        self._built: Mapping[str, Connector] | None = None

    def _connectors(self) -> Mapping[str, Connector]:
        if self._built is None:
            self._built = build_connectors(self._config.account_settings(), self._clock)
        return self._built

    def __getitem__(self, name: str) -> Connector:
        return self._connectors()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._connectors())

    def __len__(self) -> int:
        return len(self._connectors())


def build_app(
    config: Config, *, clock: Clock | None = None, connectors_on_first_use: bool = False
) -> App:
    """``connectors_on_first_use``: for the commands that only read the queue; the daemon
    and the commands that send or check build them at once, so a broken account stops
    them at the start."""
    clock = clock or SystemClock()
    engine = make_engine(config.database_url)
    connectors: Mapping[str, Connector] = (
        ConnectorsOnFirstUse(config, clock)
        if connectors_on_first_use
        else build_connectors(config.account_settings(), clock)
    )
    return App(
        config=config,
        engine=engine,
        sessions=make_sessions(engine, outbox=config.notifications is not None),
        clock=clock,
        connectors=connectors,
        store=MediaStore(config.media_store_dir),
        owner=f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
        stopping=threading.Event(),
        redact=accounts_redactor(config),
    )


def accounts_redactor(config: Config) -> Redactor:
    """A redactor that knows every account's secrets (read again every minute)."""
    accounts = config.account_settings()

    def collect() -> dict[str, tuple[list[str], list[str]]]:
        return {
            name: (
                [secret.reveal() for secret in settings.secrets().every_value()],
                [str(value) for value in settings.options.values() if isinstance(value, str)],
            )
            for name, settings in accounts.items()
        }

    return Redactor(collect)
