"""What a connector may raise from ``publish`` and ``find``.

Every platform failure is translated at the connector's boundary into one of these, with
the original exception kept as ``__cause__``. Only dispatch decides what happens next::

    PublishError
     ├── Retryable      transient: try again later (after ``retry_after`` if the platform said)
     ├── RateLimited    the platform said "not before ``until``"; does not count as an attempt
     ├── AuthExpired    credentials no longer work: the account is paused, its posts held
     ├── Permanent      the platform refused this content; retrying cannot help
     └── Ambiguous      the request may or may not have taken effect: never re-sent blindly
"""

from __future__ import annotations

from datetime import datetime, timedelta


class PublishError(Exception):
    """Base class: ``message`` is the platform's own words when it gave any."""

    error_class = "error"

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status


class Retryable(PublishError):
    error_class = "retryable"

    def __init__(
        self,
        message: str,
        *,
        retry_after: timedelta | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message, http_status=http_status)
        self.retry_after = retry_after


class RateLimited(PublishError):
    error_class = "rate_limited"

    def __init__(self, message: str, *, until: datetime, http_status: int | None = None) -> None:
        if until.tzinfo is None:
            raise ValueError("RateLimited.until must be timezone-aware")
        super().__init__(message, http_status=http_status)
        self.until = until


class AuthExpired(PublishError):
    error_class = "auth_expired"


class Permanent(PublishError):
    error_class = "permanent"


class Ambiguous(PublishError):
    error_class = "ambiguous"
