"""Password hashes: Argon2id through argon2-cffi, with its recommended parameters.

argon2-cffi is imported on the first hash or check, not with this module: every ``relais``
command registers ``relais users`` and so imports this file, and only the desk's login and
``relais users`` need a hash."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from argon2 import PasswordHasher

MIN_LENGTH = 10


class WeakPassword(ValueError):
    """A new password that is too short to be kept."""


@cache
def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher

    return PasswordHasher()


@cache
def _decoy() -> str:
    """Verified against when the name is unknown, so that a wrong name takes as long as a
    wrong password and the login page does not tell which names exist. Made on first use,
    not at import (an Argon2 hash with 64 MiB of memory for every command)."""
    return _hasher().hash("relais decoy password")


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_LENGTH} characters")
    return _hasher().hash(password)


def password_matches(stored: str | None, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    try:
        return _hasher().verify(stored or _decoy(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher().check_needs_rehash(stored)
