"""Who hears a notification: the route of its kind, read against the people directory."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from scheduler.config import Config
from scheduler.notifications.kinds import Audience, Kind


class Reachable(Protocol):
    """A person as the notifications need one (scheduler.people.Person)."""

    @property
    def name(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def email(self) -> str | None: ...
    @property
    def notify_url(self) -> str | None: ...
    @property
    def language(self) -> str: ...
    @property
    def digest(self) -> bool: ...


@dataclass(frozen=True, kw_only=True)
class Address:
    person: str
    channel: str  # email | url


EDITOR_ROLES = frozenset({"editor", "admin"})


def recipients(
    kind: Kind,
    *,
    config: Config,
    people: Sequence[Reachable],
    author: str | None,
    library: str | None,
    person: str | None = None,
) -> list[Reachable]:
    """The people the route of ``kind`` names, each once, in the route's order."""
    by_name = {someone.name: someone for someone in people}
    if kind in (Kind.DIGEST, Kind.TEST):
        names = [person] if person else []
    else:
        settings = config.notifications
        names = []
        for who in settings.route(kind) if settings else ():
            names.extend(_names(who, config=config, people=people, author=author, library=library))
    chosen: dict[str, Reachable] = {}
    for name in names:
        if name in by_name and name not in chosen:
            chosen[name] = by_name[name]
    return list(chosen.values())


def _names(
    who: str,
    *,
    config: Config,
    people: Sequence[Reachable],
    author: str | None,
    library: str | None,
) -> list[str]:
    if who == Audience.AUTHOR:
        return [author] if author else []
    if who == Audience.CONTACTS:
        known = config.libraries.get(library or "")
        return list(known.contacts) if known else []
    if who == Audience.EDITORS:
        return [p.name for p in people if str(p.role) in EDITOR_ROLES]
    if who == Audience.ADMINS:
        return [p.name for p in people if str(p.role) == "admin"]
    if who == Audience.OPERATIONS:
        operations = config.notifications.operations if config.notifications else ()
        return list(operations) or [p.name for p in people if str(p.role) == "admin"]
    return [who]


def addresses(someone: Reachable, *, email_possible: bool) -> list[Address]:
    """A person's channels: e-mail when an address is known and SMTP is set up, and their
    notification URL when they gave one."""
    found = []
    if someone.email and email_possible:
        found.append(Address(person=someone.name, channel="email"))
    if someone.notify_url:
        found.append(Address(person=someone.name, channel="url"))
    return found


def next_digest(now: datetime, at: time, zone: ZoneInfo) -> datetime:
    """The first digest time after ``now`` (local ``at``, today or tomorrow)."""
    local = now.astimezone(zone)
    moment = datetime.combine(local.date(), at, zone)
    if moment <= local:
        moment = datetime.combine(local.date() + timedelta(days=1), at, zone)
    return moment.astimezone(ZoneInfo("UTC"))
