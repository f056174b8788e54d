"""config.yaml: one schema, unknown keys are errors, every problem reported at once.

Secrets never live here: connectors read them from the environment or from the
credentials directory (``$CREDENTIALS_DIRECTORY`` under systemd).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from connectors.base import AccountSettings
from connectors.credentials import credentials_for
from scheduler.durations import Duration
from scheduler.notifications.kinds import DEFAULT_ROUTES, INTERNAL, Audience, Kind
from scheduler.rules.house_rules import AccountRules
from scheduler.rules.links import LinksConfig, LinkTagger
from scheduler.rules.weekly import LocalTime, WeekdayName

DATABASE_URL_ENV = "RELAIS_DATABASE_URL"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class LibraryConfig(_Strict):
    name: str
    """The library's name as people read it (plan, calendar, desk)."""
    website: str | None = None
    """The library's web site, if it has one."""
    contacts: tuple[str, ...] = ()
    """People (names from ``relais users list``) told about this library's rejected files."""


class AccountConfig(BaseModel):
    """``kind`` picks the connector; every other key is the connector's own option."""

    model_config = ConfigDict(extra="allow", frozen=True, use_attribute_docstrings=True)

    kind: str
    """The connector: facebook_page, instagram, x, youtube, flickr, wordpress, static_blog or
    dry_run (docs/platforms/ has one page per kind)."""
    label: str | None = None
    """A name for people reading config.yaml; relais does not show it yet."""
    rules: AccountRules = AccountRules()
    """The account's house rules (`accounts.<name>.rules`, below)."""

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class SeriesConfig(_Strict):
    """A recurring slot: every ``weekday`` at ``time`` (local), from a date, until a date."""

    accounts: tuple[str, ...] = Field(min_length=1)
    """The accounts each episode goes to."""
    weekday: WeekdayName
    """The day of the week of each occurrence."""
    time: LocalTime
    """Local wall-clock time of each occurrence, such as "10:00" (quoted): the same hour in summer
    and in winter."""
    starts: date = Field(alias="from")
    """The first day of the series (written `from:`)."""
    until: date | None = None
    """The last day, if the series ends."""
    skip: tuple[date, ...] = ()
    """Days without an occurrence (holidays)."""
    # An occurrence still without an episode this long before it is reported.
    alert_before: Duration = timedelta(hours=48)
    title: str | None = None
    """A name for people reading config.yaml; relais does not show it yet."""


class ApprovalRule(_Strict):
    """A delivery matching every key given here needs no editor's approval."""

    library: str | None = None
    """Matches the posts of this library."""
    account: str | None = None
    """Matches the deliveries to this account."""
    author: str | None = None
    """Matches the posts of this author (`author:` of the post file)."""

    def matches(self, *, library: str, account: str, author: str) -> bool:
        wanted = {"library": self.library, "account": self.account, "author": self.author}
        actual = {"library": library, "account": account, "author": author}
        given = {key: value for key, value in wanted.items() if value is not None}
        return bool(given) and all(actual[key] == value for key, value in given.items())


class ApprovalConfig(_Strict):
    auto: tuple[ApprovalRule, ...] = ()
    """Rules: a delivery that matches one of them is approved at once; the others wait for an
    editor."""


class HttpConfig(_Strict):
    """``http:`` in config.yaml; absent means no endpoint."""

    host: str = "127.0.0.1"
    """The address to listen on: a loopback address unless `behind_auth_proxy` is set."""
    port: int = Field(ge=1, le=65535)
    """The port to listen on, such as 9187 (required when `http:` is given)."""
    behind_auth_proxy: bool = False
    """The endpoint has no authentication and the calendar carries posts awaiting approval:
    set this only when a reverse proxy that authenticates is the one way to reach `host`."""

    @model_validator(mode="after")
    def _loopback_unless_proxied(self) -> HttpConfig:
        if not self.behind_auth_proxy and not _is_loopback(self.host):
            raise ValueError(
                f"http.host {self.host!r} is not a loopback address: the endpoint has no "
                "authentication and its calendar shows posts awaiting approval. Serve on "
                "127.0.0.1 behind a reverse proxy that authenticates, and set "
                "`behind_auth_proxy: true` if the proxy must reach another address"
            )
        return self


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebConfig(_Strict):
    """``web:`` in config.yaml: where ``relais web`` serves the editorial desk."""

    host: str = "127.0.0.1"
    """The address the desk listens on."""
    port: int = Field(default=8080, ge=1, le=65535)
    """The port the desk listens on."""
    # The address people reach the desk at (links in messages and calendar feeds).
    public_url: str | None = None
    # Sessions last this long without a new login.
    session_max_age: Duration = timedelta(hours=12)
    # Cookies only over HTTPS; turn off only for a desk reached on 127.0.0.1 itself.
    secure_cookies: bool = True
    # Single sign-on: the user name from this header, set by a trusted reverse proxy.
    trusted_user_header: str | None = None
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    """The largest file people may upload through the desk."""


class SmtpConfig(_Strict):
    """The mail server for e-mail notifications. Its password is a secret: the environment
    variable ``RELAIS_SMTP_PASSWORD`` or the file ``smtp.password`` in the credentials
    directory, never this file."""

    host: str
    """The mail server's host name."""
    port: int | None = Field(default=None, ge=1, le=65535)
    """Its port; by default 587 (starttls), 465 (ssl) or 25 (none)."""
    security: Literal["starttls", "ssl", "none"] = "starttls"
    """How the connection is protected."""
    user: str | None = None
    """The login, if the server asks for one (the password is a secret, see above)."""
    sender: str = Field(alias="from")
    """The address messages come from."""
    sender_name: str = "relais"
    """The name shown beside that address."""
    timeout: Duration = timedelta(seconds=10)
    """Connecting and talking to the server; one send never takes much longer."""


class TokenExpiryConfig(_Strict):
    """When an account's token stops working: a known date (the platform's token debugger
    shows it), or a lifetime counted from when the secret was last written (its file's
    modification time; a secret in the environment has none)."""

    expires: date | None = None
    """The day the token stops working, when the platform told it."""
    lifetime: Duration | None = None
    """How long the token lives after it was written (7d for YouTube in Testing mode)."""
    secret: str = "refresh_token"
    """The secret whose file's date counts for ``lifetime``."""


class NotificationsConfig(_Strict):
    """``notifications:`` in config.yaml; absent, relais tells nobody anything."""

    smtp: SmtpConfig | None = None
    """The mail server; without it nobody is told by e-mail (notification URLs still work)."""
    routes: dict[Kind, tuple[str, ...]] = Field(default_factory=dict)
    """Event -> who hears it: author, contacts, editors, admins, operations or a person's
    name. Events not named keep their default route; an empty list silences one."""
    operations: tuple[str, ...] = ()
    """People who hear what operations must know (the admins when empty)."""
    digest_at: LocalTime = time(8, 0)
    """People with the digest on get one message a day, at this local time."""
    expiry_warning: Duration = timedelta(days=3)
    """Token expiry is warned this long ahead, and again on the day."""
    token_expiry: dict[str, TokenExpiryConfig] = Field(default_factory=dict)
    """Per account, when its token stops working (see below)."""
    interval: Duration = timedelta(seconds=15)
    """How often the daemon looks for something to send."""
    max_attempts: int = Field(default=8, ge=1, le=50)
    """Tries of one message before it is given up."""
    backoff_base: Duration = timedelta(minutes=1)
    """The first retry waits up to this long, each next one up to twice as long."""
    backoff_max: Duration = timedelta(hours=1)
    """The longest wait between two tries."""

    @field_validator("routes")
    @classmethod
    def _no_internal_routes(cls, value: dict[Kind, tuple[str, ...]]) -> dict[Kind, tuple[str, ...]]:
        internal = sorted(str(kind) for kind in value if kind in INTERNAL)
        if internal:
            raise ValueError(f"{', '.join(internal)} cannot be routed: relais sends them itself")
        return value

    def route(self, kind: Kind) -> tuple[str, ...]:
        return self.routes.get(kind, DEFAULT_ROUTES.get(kind, ()))

    def named_people(self) -> set[str]:
        """Every person named by a route (not by an audience word)."""
        words = {str(audience) for audience in Audience}
        named = {who for route in self.routes.values() for who in route if who not in words}
        return named | set(self.operations)


class DispatchConfig(_Strict):
    retry_horizon: Duration = timedelta(hours=24)
    """A delivery without a window keeps retrying transient failures (a platform down, a
    timeout) this long after the first one; one with a window, until the window closes. Then it
    fails and a person is told, with the last error. Permanent errors fail at once."""
    max_attempts: int | None = Field(default=None, ge=1, le=10_000)
    """Optional: also stop after this many tries (off: the horizon alone decides)."""
    backoff_base: Duration = timedelta(seconds=30)
    """The first retry waits up to this long, each next one up to twice as long (full jitter); a
    wait the platform asks for wins."""
    backoff_max: Duration = timedelta(minutes=15)
    """The longest wait between two tries: once a platform is back, waiting posts go out within
    about this long."""
    lease: Duration = timedelta(minutes=5)
    """A claim not finished by then (its daemon died) is taken back; renewed while a long upload
    runs."""
    reconcile_after: Duration = timedelta(minutes=2)
    """An interrupted send is looked up on the platform after this."""
    confirm_after: Duration = timedelta(minutes=15)
    """A post handed to a platform's own scheduling (Facebook, YouTube, WordPress) is looked
    at this long after its time, then again every as long while it is not live yet."""
    confirm_within: Duration = timedelta(hours=6)
    """Still not live this long after its time: a person is told."""
    shutdown_deadline: Duration = timedelta(seconds=20)
    """On SIGTERM, sends in flight get this long to finish."""


class IntakeConfig(_Strict):
    scan_interval: Duration = timedelta(seconds=10)
    """The full inbox scan; file events make it come sooner."""
    settle: Duration = timedelta(seconds=2)
    """A post file must be unchanged this long before it is taken."""
    max_file_bytes: int = Field(default=256 * 1024, ge=1024)
    """The largest post file; a larger one is rejected."""
    max_media_bytes: int = Field(default=512 * 1024 * 1024, ge=1024)
    """The largest media file a post may attach."""


class Config(_Strict):
    timezone: str
    """Local days, posting times and post files use this zone: an IANA name (Europe/Zurich)."""
    # What contributors and editors read: the desk, `relais check`, the .error files.
    language: Literal["fr", "en"] = "fr"
    database: str = "sqlite:///queue.db"
    """The queue's SQLAlchemy URL: sqlite:///queue.db, or postgresql+psycopg://user@host/name for
    several daemons. RELAIS_DATABASE_URL overrides it."""
    inbox: Path = Path("inbox")
    """Where contributors drop post files, one folder per library."""
    processed: Path = Path("processed")
    """Taken post files are moved here."""
    rejected: Path = Path("rejected")
    """Bad post files land here, beside a .error file that says why."""
    state_dir: Path = Path("state")
    """relais' own files: the media store, tokens a platform rotated."""
    # Secrets as files named ACCOUNT.SECRET (besides $CREDENTIALS_DIRECTORY and the
    # environment); never the secrets themselves.
    credentials_dir: Path | None = None
    libraries: dict[str, LibraryConfig]
    """The network's libraries, by the key post files give in `library:`."""
    accounts: dict[str, AccountConfig]
    """The platform accounts, by the name post files give in `to:`."""
    series: dict[str, SeriesConfig] = Field(default_factory=dict)
    """Recurring slots, by the name episodes give in `series:`."""
    approval: ApprovalConfig = ApprovalConfig()
    """Which deliveries need no editor's approval."""
    links: LinksConfig = LinksConfig()
    """UTM tagging of links to the network's own sites."""
    dispatch: DispatchConfig = DispatchConfig()
    """How deliveries are sent, retried and recovered."""
    intake: IntakeConfig = IntakeConfig()
    """How the inbox is read."""
    # The metrics/health/calendar endpoint on 127.0.0.1; off unless given.
    http: HttpConfig | None = None
    # The editorial desk (`relais web`); its defaults apply when absent.
    web: WebConfig = WebConfig()
    notifications: NotificationsConfig | None = None
    """Who is told what, and how; off unless given (then relais tells nobody)."""
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
    if config.notifications is not None:
        problems.extend(
            f"{path}: notifications.token_expiry.{name}: unknown account {name!r}"
            for name in config.notifications.token_expiry
            if name not in config.accounts
        )
        problems.extend(
            f"{path}: notifications.token_expiry.{name}: give expires or lifetime"
            for name, expiry in config.notifications.token_expiry.items()
            if expiry.expires is None and expiry.lifetime is None
        )
    if problems:
        raise ConfigError("\n".join(problems))
