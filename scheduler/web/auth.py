"""Who is asking: sessions, the login throttle, CSRF tokens and role checks.

Sessions are signed cookies (Starlette's SessionMiddleware: HttpOnly, SameSite=strict,
Secure unless turned off for a desk on 127.0.0.1). The person is read from the directory
on every request, so a removed person or a changed role counts at once. Every form
carries the session's CSRF token; a POST without it is refused before anything happens.
"""

from __future__ import annotations

import hmac
import secrets
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from starlette.datastructures import FormData
from starlette.requests import Request

from scheduler.clock import Clock
from scheduler.people.directory import Directory
from scheduler.people.person import Person

CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


class NotLoggedIn(Exception):
    """The page needs a login: the desk answers with the login page."""


class Forbidden(Exception):
    """The person may not do this; the message says who may."""


class CsrfRefused(Exception):
    """A form came without this session's token (another site, or an old page)."""


@dataclass
class LoginThrottle:
    """At most ``per_name`` failed logins for one name and ``per_address`` from one address
    in ``period``; beyond that, logins are refused until the oldest failure is old enough.
    Kept in memory: a restart of the desk forgets it, which only helps the legitimate."""

    clock: Clock
    per_name: int = 5
    per_address: int = 20
    period: timedelta = timedelta(minutes=15)
    _failures: dict[str, deque[datetime]] = field(default_factory=dict)

    def blocked(self, name: str, address: str) -> bool:
        return (
            self._count(f"name:{name}") >= self.per_name
            or self._count(f"address:{address}") >= self.per_address
        )

    def failed(self, name: str, address: str) -> None:
        now = self.clock.now()
        for key in (f"name:{name}", f"address:{address}"):
            self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, name: str) -> None:
        self._failures.pop(f"name:{name}", None)

    def _count(self, key: str) -> int:
        failures = self._failures.get(key)
        if not failures:
            return 0
        horizon = self.clock.now() - self.period
        while failures and failures[0] < horizon:
            failures.popleft()
        return len(failures)


def csrf_token(request: Request) -> str:
    token = request.session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[CSRF_FIELD] = token
    return token


def check_csrf(request: Request, form: FormData) -> None:
    expected = request.session.get(CSRF_FIELD)
    given = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if not isinstance(expected, str) or not isinstance(given, str):
        raise CsrfRefused()
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise CsrfRefused()


def log_in(request: Request, person: Person) -> None:
    # A new session at login: nothing set before it (by another tab, or an attacker who
    # planted a cookie) carries over.
    request.session.clear()
    request.session["person"] = person.name
    csrf_token(request)


def log_out(request: Request) -> None:
    request.session.clear()


def current_person(
    request: Request, people: Directory, trusted_header: str | None
) -> Person | None:
    if trusted_header:
        name = request.headers.get(trusted_header)
    else:
        stored = request.session.get("person")
        name = stored if isinstance(stored, str) else None
    return people.get(name) if name else None


def logged_in(request: Request, people: Directory, trusted_header: str | None) -> Person:
    person = current_person(request, people, trusted_header)
    if person is None:
        raise NotLoggedIn()
    return person
