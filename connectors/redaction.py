"""One redaction step between what a platform answers and every record relais keeps.

A platform, or a proxy in front of it, may echo the request in its error body or headers:
the WordPress application password as HTTP Basic (base64 of ``user:password``), X's
OAuth 1.0a consumer key and token inside a signed ``Authorization`` header (URL-encoded),
an OAuth 2.0 client secret and refresh token in a form body. Error messages, exception
texts and log lines pass through :class:`Redactor` before they reach a log, a database row,
a ``.error`` file or the terminal.

The redactor knows every secret of every account (all of each account's stores, not only
what a connector asked for), and recognises each in the forms it travels in: as is,
URL-encoded (``quote``, ``quote_plus``), base64, and base64 of ``a:b`` pairs with any other
secret or any text option of the account (a user name), padded or not.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import quote, quote_plus

REDACTED = "[redacted]"
# Shorter strings would redact ordinary words; no platform issues secrets this short.
MIN_SECRET_LENGTH = 6
_REFRESH_SECONDS = 60.0


def _b64(text: str) -> set[str]:
    raw = text.encode()
    encoded = {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    # Unpadded too: a padded form contains the unpadded one.
    return {form.rstrip("=") for form in encoded}


def secret_forms(secret: str, partners: Iterable[str]) -> set[str]:
    """The strings that would betray ``secret`` in a record."""
    forms = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}
    forms |= _b64(secret)
    for partner in partners:
        if partner and partner != secret:
            for pair in (f"{partner}:{secret}", f"{secret}:{partner}"):
                encoded = _b64(pair)
                forms |= encoded | {quote(form, safe="") for form in encoded}
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


class Redactor:
    """``redactor(text)``: ``text`` with every known secret form replaced by ``[redacted]``.

    ``collect`` gives, per account, its secrets and its other text values (partners for
    Basic pairs); it is read again every minute, so a rotated token is known too.
    """

    def __init__(
        self,
        collect: Callable[[], Mapping[str, tuple[list[str], list[str]]]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._collect = collect
        self._clock = clock
        self._forms: tuple[str, ...] = ()
        self._read_at: float | None = None

    def forms(self) -> tuple[str, ...]:
        now = self._clock()
        if self._read_at is None or now - self._read_at >= _REFRESH_SECONDS:
            found: set[str] = set()
            for secrets, values in self._collect().values():
                usable = [s for s in secrets if len(s) >= MIN_SECRET_LENGTH]
                for secret in usable:
                    found |= secret_forms(secret, [*usable, *values])
            # Longest first, so a pair's base64 goes before a shorter form inside it.
            self._forms = tuple(sorted(found, key=len, reverse=True))
            self._read_at = now
        return self._forms

    def __call__(self, text: str) -> str:
        for form in self.forms():
            if form in text:
                text = text.replace(form, REDACTED)
        return text


def nothing_to_redact(text: str) -> str:
    return text
