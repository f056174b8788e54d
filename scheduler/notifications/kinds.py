"""What people are told about: the kinds of notification and who hears each by default."""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    # the author's
    FILE_REJECTED = "file_rejected"  # a post file could not be queued
    POST_REJECTED = "post_rejected"  # the editor said no
    PUBLISHED = "published"  # with the link to share
    FAILED = "failed"
    CANCELLED = "cancelled"
    MISSED = "missed"  # its window closed before it could go out
    # the editors'
    APPROVAL_WAITING = "approval_waiting"
    NEEDS_ATTENTION = "needs_attention"
    ACCOUNT_PAUSED = "account_paused"
    TOKEN_EXPIRING = "token_expiring"
    SERIES_EMPTY = "series_empty"
    # operations'
    DAEMON_RECOVERED = "daemon_recovered"  # restarted after a crash, sends were interrupted
    # made by relais itself
    DIGEST = "digest"
    TEST = "test"


class Audience(StrEnum):
    """The words a route may use besides a person's name."""

    AUTHOR = "author"  # the post file's `author:`
    CONTACTS = "contacts"  # the library's `contacts:` in config.yaml
    EDITORS = "editors"  # every person with the role editor or admin
    ADMINS = "admins"
    OPERATIONS = "operations"  # `notifications.operations`, else the admins


A = Audience
DEFAULT_ROUTES: dict[Kind, tuple[str, ...]] = {
    Kind.FILE_REJECTED: (A.AUTHOR, A.CONTACTS),
    Kind.POST_REJECTED: (A.AUTHOR,),
    Kind.PUBLISHED: (A.AUTHOR,),
    Kind.FAILED: (A.AUTHOR, A.EDITORS),
    Kind.CANCELLED: (A.AUTHOR,),
    Kind.MISSED: (A.AUTHOR, A.EDITORS),
    Kind.APPROVAL_WAITING: (A.EDITORS,),
    Kind.NEEDS_ATTENTION: (A.EDITORS,),
    Kind.ACCOUNT_PAUSED: (A.EDITORS,),
    Kind.TOKEN_EXPIRING: (A.EDITORS,),
    Kind.SERIES_EMPTY: (A.EDITORS,),
    Kind.DAEMON_RECOVERED: (A.OPERATIONS,),
}
# Routed by relais itself, never by config.yaml.
INTERNAL = frozenset({Kind.DIGEST, Kind.TEST})
