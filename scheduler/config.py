"""config.yaml: one schema, unknown keys are errors, every problem reported at once.

Secrets never live here: connectors read them from the environment or from the
credentials directory (``$CREDENTIALS_DIRECTORY`` under systemd).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from connectors.base import AccountSettings
from connectors.credentials import credentials_for
from scheduler.durations import Duration
from scheduler.rules.house_rules import AccountRules
from scheduler.rules.links import LinksConfig, LinkTagger
from scheduler.rules.weekly import LocalTime, WeekdayName

DATABASE_URL_ENV = "RELAIS_DATABASE_URL"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LibraryConfig(_Strict):
    name: str
    website: str | None = None


class AccountConfig(BaseModel):
    """``kind`` picks the connector; every other key is the connector's own option."""

    model_config = ConfigDict(extra="allow", frozen=True)

    kind: str
    label: str | None = None
    rules: AccountRules = AccountRules()

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class SeriesConfig(_Strict):
    """A recurring slot: every ``weekday`` at ``time`` (local), from a date, until a date."""

    accounts: tuple[str, ...] = Field(min_length=1)
    weekday: WeekdayName
    time: LocalTime
    starts: date = Field(alias="from")
    until: date | None = None
    skip: tuple[date, ...] = ()
    # An occurrence still without an episode this long before it is reported.
    alert_before: Duration = timedelta(hours=48)
    title: str | None = None


class ApprovalRule(_Strict):
    """A delivery matching every key given here needs no editor's approval."""

    library: str | None = None
    account: str | None = None
    author: str | None = None

    def matches(self, *, library: str, account: str, author: str) -> bool:
        wanted = {"library": self.library, "account": self.account, "author": self.author}
        actual = {"library": library, "account": account, "author": author}
        given = {key: value for key, value in wanted.items() if value is not None}
        return bool(given) and all(actual[key] == value for key, value in given.items())


class ApprovalConfig(_Strict):
    auto: tuple[ApprovalRule, ...] = ()


class HttpConfig(_Strict):
    """``http:`` in config.yaml; absent means no endpoint."""

    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)


class WebConfig(_Strict):
    """``web:`` in config.yaml: where ``relais web`` serves the editorial desk."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    # The address people reach the desk at (links in messages and calendar feeds).
    public_url: str | None = None
    # Sessions last this long without a new login.
    session_max_age: Duration = timedelta(hours=12)
    # Cookies only over HTTPS; turn off only for a desk reached on 127.0.0.1 itself.
    secure_cookies: bool = True
    # Single sign-on: the user name from this header, set by a trusted reverse proxy.
    trusted_user_header: str | None = None
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)


class DispatchConfig(_Strict):
    max_attempts: int = Field(default=5, ge=1, le=50)
    backoff_base: Duration = timedelta(seconds=30)
    backoff_max: Duration = timedelta(hours=1)
    lease: Duration = timedelta(minutes=5)
    reconcile_after: Duration = timedelta(minutes=2)
    shutdown_deadline: Duration = timedelta(seconds=20)


class IntakeConfig(_Strict):
    scan_interval: Duration = timedelta(seconds=10)
    settle: Duration = timedelta(seconds=2)
    max_file_bytes: int = Field(default=256 * 1024, ge=1024)
    max_media_bytes: int = Field(default=512 * 1024 * 1024, ge=1024)


class Config(_Strict):
    timezone: str
    # What contributors and editors read: the desk, `relais check`, the .error files.
    language: Literal["fr", "en"] = "fr"
    database: str = "sqlite:///queue.db"
    inbox: Path = Path("inbox")
    processed: Path = Path("processed")
    rejected: Path = Path("rejected")
    state_dir: Path = Path("state")
    # Secrets as files named ACCOUNT.SECRET (besides $CREDENTIALS_DIRECTORY and the
    # environment); never the secrets themselves.
    credentials_dir: Path | None = None
    libraries: dict[str, LibraryConfig]
    accounts: dict[str, AccountConfig]
    series: dict[str, SeriesConfig] = Field(default_factory=dict)
    approval: ApprovalConfig = ApprovalConfig()
    links: LinksConfig = LinksConfig()
    dispatch: DispatchConfig = DispatchConfig()
    intake: IntakeConfig = IntakeConfig()
    # The metrics/health/calendar endpoint on 127.0.0.1; off unless given.
    http: HttpConfig | None = None
    # The editorial desk (`relais web`); its defaults apply when absent.
    web: WebConfig = WebConfig()
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone name such as Europe/Zurich") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def path(self, relative: Path) -> Path:
        return relative if relative.is_absolute() else self.base_dir / relative

    @property
    def inbox_dir(self) -> Path:
        return self.path(self.inbox)

    @property
    def processed_dir(self) -> Path:
        return self.path(self.processed)

    @property
    def rejected_dir(self) -> Path:
        return self.path(self.rejected)

    @property
    def media_store_dir(self) -> Path:
        return self.path(self.state_dir) / "media"

    @property
    def database_url(self) -> str:
        """The environment wins, so a password never has to be written into config.yaml."""
        url = os.environ.get(DATABASE_URL_ENV) or self.database
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            url = prefix + str(self.path(Path(url[len(prefix) :])))
        return url

    def account_settings(self) -> Mapping[str, AccountSettings]:
        return {
            name: AccountSettings(
                name=name,
                kind=account.kind,
                base_dir=self.base_dir,
                timezone=self.timezone,
                options=account.options,
                state_dir=self.path(self.state_dir),
                credentials=credentials_for(
                    name,
                    state_dir=self.path(self.state_dir),
                    credentials_dir=self.path(self.credentials_dir)
                    if self.credentials_dir
                    else None,
                ),
            )
            for name, account in self.accounts.items()
        }

    def link_tagger(self) -> LinkTagger:
        return LinkTagger(config=self.links)

    def rules(self) -> Mapping[str, AccountRules]:
        return {name: account.rules for name, account in self.accounts.items()}

    def needs_approval(self, *, library: str, account: str, author: str) -> bool:
        return not any(
            rule.matches(library=library, account=account, author=author)
            for rule in self.approval.auto
        )


class ConfigError(Exception):
    """config.yaml cannot be used; the message lists every problem."""


def load_config(path: Path) -> Config:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must be a mapping of settings")
    raw["base_dir"] = path.resolve().parent
    try:
        config = Config.model_validate(raw)
    except ValidationError as error:
        lines = [
            f"{path}: {'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors()
        ]
        raise ConfigError("\n".join(lines)) from None
    _check_references(path, config)
    return config


def _check_references(path: Path, config: Config) -> None:
    from connectors.registry import KINDS

    problems = [
        f"{path}: accounts.{name}.kind: unknown connector {account.kind!r} "
        f"(known: {', '.join(sorted(KINDS))})"
        for name, account in config.accounts.items()
        if account.kind not in KINDS
    ]
    for name, series in config.series.items():
        problems.extend(
            f"{path}: series.{name}.accounts: unknown account {account!r}"
            for account in series.accounts
            if account not in config.accounts
        )
        if series.until is not None and series.until < series.starts:
            problems.append(f"{path}: series.{name}: until is before from")
    for index, rule in enumerate(config.approval.auto):
        if rule.library is not None and rule.library not in config.libraries:
            problems.append(f"{path}: approval.auto.{index}.library: unknown {rule.library!r}")
        if rule.account is not None and rule.account not in config.accounts:
            problems.append(f"{path}: approval.auto.{index}.account: unknown {rule.account!r}")
        if rule.library is None and rule.account is None and rule.author is None:
            problems.append(
                f"{path}: approval.auto.{index}: a rule needs library, account or author"
            )
    if problems:
        raise ConfigError("\n".join(problems))
