"""The typed view of one person, as every other package sees it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

LANGUAGES = ("fr", "en")


class Role(StrEnum):
    """What a person may do on the desk; each role can do what the one before can."""

    CONTRIBUTOR = "contributor"  # writes posts for their libraries, withdraws their own
    EDITOR = "editor"  # approves, rejects, moves, cancels and retries for every library
    ADMIN = "admin"  # also manages people and resumes paused accounts


@dataclass(frozen=True, kw_only=True)
class Person:
    """A person of the network. ``libraries`` empty means every library (editors, admins).

    ``notify_url`` is an Apprise URL whose secrets are ``{NAME}`` placeholders, filled
    from the secrets when a message is sent; the password hash never leaves the directory.
    """

    name: str
    display_name: str
    role: Role
    libraries: tuple[str, ...]
    email: str | None
    notify_url: str | None
    language: str
    digest: bool
    has_password: bool
    created_at: datetime

    @property
    def is_editor(self) -> bool:
        return self.role in (Role.EDITOR, Role.ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def writes_for(self, library: str) -> bool:
        """Contributors write for their libraries; editors and admins for all of them."""
        return self.is_editor or library in self.libraries

    def sees_library(self, library: str) -> bool:
        """The libraries a person's own views and feed default to (everyone sees all)."""
        return not self.libraries or library in self.libraries
