"""Notifications nobody's state change causes: an account still paused (once a day), a
token about to expire (``expiry_warning`` ahead, and again on the day).

Each is recorded with a key naming the account and the day, so running the watch every
pass, or in several daemons, tells each thing once.

Where the expiry comes from (``notifications.token_expiry`` in config.yaml):

- ``expires: DATE``: a date the platform gave (Meta's access token debugger shows when an
  Instagram or Facebook user token expires: 60 days for a long-lived user token);
- ``lifetime:``: counted from when the secret was last written, i.e. its file in the
  credentials directory or relais' own token folder. Google issues refresh tokens that
  expire after 7 days to apps whose OAuth consent screen is in "Testing" (``lifetime: 7d``
  for such a YouTube account); an X OAuth 2.0 token obtained without the
  ``offline.access`` scope has no refresh token and its access token lasts 2 hours
  (``lifetime: 2h, secret: access_token``). A secret given only in the environment has no
  date: relais cannot know its expiry and says so once in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connectors.base import AccountSettings
from scheduler.clock import Clock
from scheduler.config import Config, TokenExpiryConfig
from scheduler.db.models import AccountState
from scheduler.delivery.transitions import transaction
from scheduler.logs import fields
from scheduler.notifications.events import record
from scheduler.notifications.kinds import Kind

log = logging.getLogger(__name__)


class Watch:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        clock: Clock,
        config: Config,
        accounts: Mapping[str, AccountSettings],
    ) -> None:
        assert config.notifications is not None
        self.sessions = sessions
        self.clock = clock
        self.config = config
        self.settings = config.notifications
        self.accounts = accounts
        self._unknown_said: set[str] = set()

    def run(self) -> int:
        now = self.clock.now()
        today = now.astimezone(self.config.zone).date()
        told = 0
        with transaction(self.sessions) as session:
            for state in session.scalars(select(AccountState).where(AccountState.paused.is_(True))):
                told += (
                    1
                    if record(
                        session,
                        Kind.ACCOUNT_PAUSED,
                        key=f"{state.account}:{today.isoformat()}",
                        now=now,
                        account=state.account,
                        details={"reason": state.paused_reason},
                    )
                    else 0
                )
            for account, expiry in self.settings.token_expiry.items():
                ends = self.expiry_of(account, expiry)
                if ends is None:
                    continue
                if today == ends:
                    moment = "today"
                elif today < ends and ends - today <= self.settings.expiry_warning:
                    moment = "ahead"
                else:
                    continue
                told += (
                    1
                    if record(
                        session,
                        Kind.TOKEN_EXPIRING,
                        key=f"{account}:{ends.isoformat()}:{moment}",
                        now=now,
                        account=account,
                        details={"day": ends.isoformat(), "today": moment == "today"},
                    )
                    else 0
                )
        return told

    def expiry_of(self, account: str, expiry: TokenExpiryConfig) -> date | None:
        if expiry.expires is not None:
            return expiry.expires
        assert expiry.lifetime is not None
        written = self._secret_written(account, expiry.secret)
        if written is None:
            if account not in self._unknown_said:
                self._unknown_said.add(account)
                log.info(
                    "token expiry unknown: the secret has no file to date it by",
                    extra=fields(account=account, secret=expiry.secret),
                )
            return None
        return (written + expiry.lifetime).astimezone(self.config.zone).date()

    def _secret_written(self, account: str, secret: str) -> datetime | None:
        settings = self.accounts.get(account)
        if settings is None:
            return None
        credentials = settings.secrets()
        places = [credentials.token_dir / secret]
        places += [folder / f"{account}.{secret}" for folder in credentials.directories]
        for place in places:
            if place.is_file():
                return datetime.fromtimestamp(place.stat().st_mtime, UTC)
        return None
