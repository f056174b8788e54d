"""The directory of people: the one API over the ``person`` table.

Every write is checked here (role, languages, libraries known to config.yaml, no secret
in a notification URL), so the CLI, the desk and the notifications cannot disagree.
"""

from __future__ import annotations

import builtins
import hashlib
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from scheduler.clock import Clock
from scheduler.db.models import PersonRow
from scheduler.delivery.transitions import transaction
from scheduler.people.passwords import hash_password, needs_rehash, password_matches
from scheduler.people.person import LANGUAGES, Person, Role

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
_UNSET = object()


class PersonError(ValueError):
    """A person cannot be added or changed as asked; the message says why and what to do."""


@dataclass(frozen=True, kw_only=True)
class Directory:
    sessions: sessionmaker[Session]
    clock: Clock
    # Library keys of config.yaml: a person's libraries must be among them.
    known_libraries: Collection[str]
    default_language: str = "fr"
    # Sessions that only read (the desk's reader engine); the writer's when not given.
    readers: sessionmaker[Session] | None = None

    @property
    def _reads(self) -> sessionmaker[Session]:
        return self.readers or self.sessions

    def list(self) -> builtins.list[Person]:
        with transaction(self._reads) as session:
            rows = session.scalars(select(PersonRow).order_by(PersonRow.name)).all()
            return [_person(row) for row in rows]

    def get(self, name: str) -> Person | None:
        with transaction(self._reads) as session:
            row = _row(session, name)
            return _person(row) if row else None

    def by_role(self, role: Role) -> builtins.list[Person]:
        return [person for person in self.list() if person.role == role]

    def by_library(self, library: str) -> builtins.list[Person]:
        """Who writes for this library by name (editors with no library are not listed)."""
        return [person for person in self.list() if library in person.libraries]

    def add(
        self,
        name: str,
        *,
        role: Role,
        display_name: str | None = None,
        libraries: Collection[str] = (),
        email: str | None = None,
        notify_url: str | None = None,
        language: str | None = None,
        digest: bool = False,
    ) -> Person:
        if not NAME_PATTERN.match(name):
            raise PersonError(
                f"{name!r} is not a login name: use lower-case letters, digits, '.', '_', '-'"
            )
        row = PersonRow(
            name=name,
            display_name=display_name or name,
            role=str(role),
            libraries=[],
            email=None,
            notify_url=None,
            language=self.default_language,
            digest=digest,
            password_hash=None,
            feed_token_hash=None,
            created_at=self.clock.now(),
        )
        self._apply(row, libraries=libraries, email=email, notify_url=notify_url)
        if language is not None:
            row.language = _language(language)
        _check_role_libraries(row)
        try:
            with transaction(self.sessions) as session:
                session.add(row)
        except IntegrityError:
            raise PersonError(f"{name!r} exists already; `relais users list` shows them") from None
        return _person(row)

    def update(
        self,
        name: str,
        *,
        role: Role | None = None,
        display_name: str | None = None,
        libraries: Collection[str] | None = None,
        email: str | object | None = _UNSET,
        notify_url: str | object | None = _UNSET,
        language: str | None = None,
        digest: bool | None = None,
    ) -> Person:
        """Change what is given; ``email=None`` or ``notify_url=None`` clears it."""
        with transaction(self.sessions) as session:
            row = self._existing(session, name)
            if role is not None:
                row.role = str(role)
            if display_name is not None:
                row.display_name = display_name
            if language is not None:
                row.language = _language(language)
            if digest is not None:
                row.digest = digest
            self._apply(row, libraries=libraries, email=email, notify_url=notify_url)
            _check_role_libraries(row)
            return _person(row)

    def remove(self, name: str) -> None:
        with transaction(self.sessions) as session:
            session.delete(self._existing(session, name))

    def set_password(self, name: str, password: str) -> None:
        hashed = hash_password(password)
        with transaction(self.sessions) as session:
            self._existing(session, name).password_hash = hashed

    def verify_password(self, name: str, password: str) -> Person | None:
        """The person if the password is theirs, else None (same time for unknown names).

        The hash is checked outside any transaction: Argon2 takes a while on purpose, and
        the queue's write lock must not wait for it."""
        with transaction(self._reads) as session:
            row = _row(session, name)
            stored = row.password_hash if row else None
            person = _person(row) if row else None
        if not password_matches(stored, password):
            return None
        assert stored is not None and person is not None
        if needs_rehash(stored):
            with transaction(self.sessions) as session:
                self._existing(session, name).password_hash = hash_password(password)
        return person

    def new_feed_token(self, name: str) -> str:
        """A new secret for this person's calendar feed; the previous one stops working."""
        token = secrets.token_urlsafe(24)
        with transaction(self.sessions) as session:
            self._existing(session, name).feed_token_hash = _token_hash(token)
        return token

    def revoke_feed_token(self, name: str) -> None:
        with transaction(self.sessions) as session:
            self._existing(session, name).feed_token_hash = None

    def by_feed_token(self, token: str) -> Person | None:
        with transaction(self._reads) as session:
            row = session.scalars(
                select(PersonRow).where(PersonRow.feed_token_hash == _token_hash(token))
            ).one_or_none()
            return _person(row) if row else None

    def _existing(self, session: Session, name: str) -> PersonRow:
        row = _row(session, name)
        if row is None:
            raise PersonError(f"no person {name!r}; `relais users list` shows them")
        return row

    def _apply(
        self,
        row: PersonRow,
        *,
        libraries: Collection[str] | None,
        email: str | object | None,
        notify_url: str | object | None,
    ) -> None:
        if libraries is not None:
            unknown = sorted(set(libraries) - set(self.known_libraries))
            if unknown:
                raise PersonError(
                    f"unknown library {', '.join(unknown)} "
                    f"(config.yaml has: {', '.join(sorted(self.known_libraries))})"
                )
            row.libraries = sorted(set(libraries))
        if email is not _UNSET:
            assert email is None or isinstance(email, str)
            if email is not None and "@" not in email:
                raise PersonError(f"{email!r} is not an e-mail address")
            row.email = email or None
        if notify_url is not _UNSET:
            assert notify_url is None or isinstance(notify_url, str)
            row.notify_url = _checked_notify_url(notify_url) if notify_url else None


def _row(session: Session, name: str) -> PersonRow | None:
    return session.scalars(select(PersonRow).where(PersonRow.name == name)).one_or_none()


def _person(row: PersonRow) -> Person:
    return Person(
        name=row.name,
        display_name=row.display_name,
        role=Role(row.role),
        libraries=tuple(row.libraries),
        email=row.email,
        notify_url=row.notify_url,
        language=row.language,
        digest=row.digest,
        has_password=row.password_hash is not None,
        created_at=row.created_at,
    )


def _language(language: str) -> str:
    if language not in LANGUAGES:
        raise PersonError(f"language {language!r}: relais speaks {', '.join(LANGUAGES)}")
    return language


def _check_role_libraries(row: PersonRow) -> None:
    if row.role == Role.CONTRIBUTOR and not row.libraries:
        raise PersonError(f"{row.name}: a contributor writes for at least one --library")


def _checked_notify_url(url: str) -> str:
    """A notification URL with a password or token written in clear is refused: the
    database and its backups are no place for secrets. ``{NAME}`` placeholders are."""
    parts = urlsplit(url)
    if not parts.scheme:
        raise PersonError(f"{url!r} is not a notification URL (e.g. mailto://, ntfy://)")
    if parts.password and not re.fullmatch(r"\{[A-Za-z0-9_]+\}", parts.password):
        raise PersonError(
            "the notification URL holds a password: write {NAME} in its place and give "
            "the secret NAME in the environment or the credentials directory"
        )
    return url


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
