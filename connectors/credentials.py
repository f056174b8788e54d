"""Where connectors find their secrets: the environment or a credentials directory.

Never config.yaml, never the database, never a log line. For account ``facebook`` and the
secret ``page_token`` relais looks, in order, at:

1. a token relais itself saved after a refresh: ``<state_dir>/tokens/facebook/page_token``
   (only for secrets a platform rotates, such as OAuth 2.0 refresh tokens);
2. the environment variable ``RELAIS_FACEBOOK_PAGE_TOKEN``;
3. the file ``facebook.page_token`` in ``$CREDENTIALS_DIRECTORY`` (systemd's
   ``LoadCredential=``) or in ``credentials_dir`` of config.yaml.

A secret is held in a :class:`Secret`, whose ``repr`` and ``str`` never show the value.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CREDENTIALS_DIRECTORY_ENV = "CREDENTIALS_DIRECTORY"


class Secret:
    """A credential value that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class MissingCredential(Exception):
    """A secret the account needs is nowhere to be found; the message says where to put it."""


def environment_name(account: str, name: str) -> str:
    return "RELAIS_" + re.sub(r"[^A-Z0-9]+", "_", f"{account}_{name}".upper())


@dataclass(frozen=True, kw_only=True)
class Credentials:
    """One account's view of the secret stores."""

    account: str
    environment: Mapping[str, str]
    directories: tuple[Path, ...]
    token_dir: Path

    def get(self, name: str) -> Secret:
        value = self.find(name)
        if value is None:
            places = [f"the environment variable {environment_name(self.account, name)}"]
            places += [str(folder / f"{self.account}.{name}") for folder in self.directories]
            raise MissingCredential(
                f"account {self.account!r} needs the secret {name!r}; set "
                + " or put it in ".join(places)
            )
        return value

    def find(self, name: str) -> Secret | None:
        saved = self.token_dir / name
        if saved.is_file():
            return Secret(saved.read_text(encoding="utf-8").strip())
        from_environment = self.environment.get(environment_name(self.account, name))
        if from_environment:
            return Secret(from_environment.strip())
        for folder in self.directories:
            candidate = folder / f"{self.account}.{name}"
            if candidate.is_file():
                return Secret(candidate.read_text(encoding="utf-8").strip())
        return None

    def every_value(self) -> list[Secret]:
        """Every secret this account has in any store, known to a connector or not: what
        :mod:`connectors.redaction` must keep out of every record."""
        found: list[Secret] = []
        prefix = environment_name(self.account, "")
        found += [Secret(v.strip()) for k, v in self.environment.items() if k.startswith(prefix)]
        folders = [(folder, f"{self.account}.") for folder in self.directories]
        for folder, start in [*folders, (self.token_dir, "")]:
            try:
                names = sorted(os.listdir(folder))
            except OSError:
                continue
            for name in names:
                path = folder / name
                if name.startswith(start) and not name.startswith(".") and path.is_file():
                    try:
                        found.append(Secret(path.read_text(encoding="utf-8").strip()))
                    except (OSError, UnicodeDecodeError):
                        continue
        return found

    def save(self, name: str, value: Secret) -> None:
        """Keep a token the platform rotated (readable by relais' user only)."""
        self.token_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, temporary = tempfile.mkstemp(dir=self.token_dir, prefix=f".{name}-")
        try:
            os.fchmod(handle, 0o600)
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(value.reveal())
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.token_dir / name)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def credentials_for(
    account: str,
    *,
    state_dir: Path,
    credentials_dir: Path | None = None,
    environment: Mapping[str, str] | None = None,
) -> Credentials:
    environment = dict(os.environ if environment is None else environment)
    directories: list[Path] = []
    if environment.get(CREDENTIALS_DIRECTORY_ENV):
        directories.append(Path(environment[CREDENTIALS_DIRECTORY_ENV]))
    if credentials_dir is not None:
        directories.append(credentials_dir)
    return Credentials(
        account=account,
        environment=environment,
        directories=tuple(directories),
        token_dir=state_dir / "tokens" / account,
    )
