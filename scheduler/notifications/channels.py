"""One message through Apprise: e-mail built from the SMTP settings, or a person's
notification URL (Microsoft Teams, Matrix, Slack, ntfy, a webhook...).

Secrets are filled in here and nowhere else: the SMTP password (``RELAIS_SMTP_PASSWORD`` or
``smtp.password`` in the credentials directory) and the ``{NAME}`` placeholders of a
notification URL (``RELAIS_NOTIFY_NAME`` or ``notify.NAME``). Whatever Apprise says about a
failure is kept only after every secret value has been masked out of it.

Apprise answers a send with a status, not a reason (STYLE.md notes it): a refusal and a
server that is down look the same, so every failure is retried with backoff and a
permanent one fails after the last attempt; only a URL Apprise cannot read fails at once.
A send cut off by Apprise's deadline may still be delivered: it is reported as ambiguous.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import quote, urlencode

import apprise
from apprise import AppriseAsset, NotifyFormat, PersistentStoreMode
from apprise.result import AppriseResultStatus

from connectors.credentials import Credentials, MissingCredential, Secret
from scheduler.config import SmtpConfig

log = logging.getLogger(__name__)

SMTP_SECRETS = "smtp"  # RELAIS_SMTP_PASSWORD, smtp.password
URL_SECRETS = "notify"  # RELAIS_NOTIFY_<NAME>, notify.<NAME>
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_]+)\}")
# Apprise's names for the SMTP security modes.
_MODES = {"starttls": "starttls", "ssl": "ssl", "none": "insecure"}
_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
_PROBLEM_LEVELS = frozenset({"WARNING", "ERROR", "CRITICAL"})


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"  # refused or unreachable: nothing was delivered
    PERMANENT = "permanent"  # cannot be sent as configured
    AMBIGUOUS = "ambiguous"  # cut off while in flight: it may have arrived


@dataclass(frozen=True, kw_only=True)
class Message:
    subject: str
    body: str


@dataclass(frozen=True, kw_only=True)
class SendResult:
    outcome: Outcome
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class Target:
    """Where one message goes; ``secrets`` are masked out of anything recorded."""

    url: str = field(repr=False)
    shown: str
    secrets: tuple[Secret, ...] = ()


class ChannelUnusable(Exception):
    """This person cannot be reached on this channel (no SMTP settings, a missing secret)."""


@dataclass(frozen=True, kw_only=True)
class Channels:
    smtp: SmtpConfig | None
    smtp_secrets: Credentials
    url_secrets: Credentials

    def email(self, address: str) -> Target:
        smtp = self.smtp
        if smtp is None:
            raise ChannelUnusable("no `notifications.smtp` in config.yaml to send e-mail with")
        port = smtp.port or _PORTS[smtp.security]
        secrets: tuple[Secret, ...] = ()
        credentials = ""
        if smtp.user:
            password = self.smtp_secrets.find("password")
            if password is None:
                raise ChannelUnusable(
                    "the SMTP password is missing: set RELAIS_SMTP_PASSWORD or put it in "
                    "smtp.password in the credentials directory"
                )
            secrets = (password,)
            credentials = f"{quote(smtp.user, safe='')}:{quote(password.reveal(), safe='')}@"
        timeout = max(1, int(smtp.timeout.total_seconds()))
        query = urlencode(
            {
                "smtp": smtp.host,
                "mode": _MODES[smtp.security],
                "from": f"{smtp.sender_name} <{smtp.sender}>",
                "to": address,
                "format": "text",
                "cto": timeout,
                "rto": timeout,
            }
        )
        return Target(
            url=f"mailto://{credentials}{smtp.host}:{port}?{query}",
            shown=f"e-mail to {address}",
            secrets=secrets,
        )

    def url(self, notify_url: str) -> Target:
        secrets: list[Secret] = []

        def fill(match: re.Match[str]) -> str:
            try:
                secret = self.url_secrets.get(match.group(1))
            except MissingCredential as error:
                raise ChannelUnusable(str(error)) from None
            secrets.append(secret)
            return quote(secret.reveal(), safe="")

        filled = _PLACEHOLDER.sub(fill, notify_url)
        scheme = notify_url.split("://", 1)[0]
        return Target(url=filled, shown=f"{scheme}:// URL", secrets=tuple(secrets))


def send(target: Target, message: Message, *, deadline: float) -> SendResult:
    """Hand ``message`` to Apprise; ``deadline`` bounds the whole call (seconds)."""
    # Memory only: Apprise must not keep its own record of what was delivered on disk.
    sender = apprise.Apprise(asset=AppriseAsset(storage_mode=PersistentStoreMode.MEMORY))
    if not sender.add(target.url):
        return SendResult(
            outcome=Outcome.PERMANENT,
            error=f"Apprise cannot read the {target.shown}; check the address or URL",
        )
    result = sender.notify(
        body=message.body,
        title=message.subject,
        body_format=NotifyFormat.TEXT,
        timeout=deadline,
    )
    if result.status == AppriseResultStatus.SUCCESS:
        return SendResult(outcome=Outcome.SENT)
    said = "; ".join(entry.message for entry in result.logs() if entry.level in _PROBLEM_LEVELS)
    error = _masked(f"{target.shown}: {said or result.status.name.lower()}", target.secrets)
    if result.status == AppriseResultStatus.TIMEOUT:
        return SendResult(outcome=Outcome.AMBIGUOUS, error=error)
    return SendResult(outcome=Outcome.RETRY, error=error)


def _masked(text: str, secrets: tuple[Secret, ...]) -> str:
    for secret in secrets:
        value = secret.reveal()
        if value:
            text = text.replace(value, "****").replace(quote(value, safe=""), "****")
    return text[:1000]
