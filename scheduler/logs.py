"""Structured logs: one JSON object per line on stdout, human-readable on a terminal.

Call sites pass their ids as ``extra=fields(delivery_id=..., account=...)``, or as plain
``extra={"delivery_id": ...}``: both formatters show every extra field, so an id passed
either way is never lost. Every line about a post carries post, delivery, account and
attempt ids. Secrets are never passed in, so never printed.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

_RESERVED = ("post_id", "delivery_id", "account", "attempt")
# What every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
    "fields",
}


def fields(**values: Any) -> dict[str, Any]:
    """``logger.info(msg, extra=fields(delivery_id=...))`` without None noise."""
    return {"fields": {key: value for key, value in values.items() if value is not None}}


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The record's ``extra=`` values: those of :func:`fields`, then any passed directly."""
    found: dict[str, Any] = dict(getattr(record, "fields", None) or {})
    for key, value in vars(record).items():
        if key not in _STANDARD and not key.startswith("_") and value is not None:
            found.setdefault(key, value)
    return found


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in extra_fields(record).items():
            line.setdefault(key, value)  # an extra field never hides time, level or message
        if record.exc_text:  # set (redacted) by RedactingFilter
            line["exception"] = record.exc_text
        elif record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class HumanFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        extra = extra_fields(record)
        ids = " ".join(f"{key}={extra[key]}" for key in _RESERVED if key in extra)
        rest = " ".join(f"{k}={v}" for k, v in extra.items() if k not in _RESERVED)
        text = f"{moment} {record.levelname:<7} {record.getMessage()}"
        for part in (rest, ids):
            if part:
                text += f"  [{part}]"
        if record.exc_text:  # set (redacted) by RedactingFilter
            text += "\n" + record.exc_text
        elif record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class RedactingFilter(logging.Filter):
    """Passes every record's message, fields and exception text through ``redact`` (see
    :mod:`connectors.redaction`): a platform's echo of a request never reaches a log."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        values = getattr(record, "fields", None)
        if isinstance(values, dict):
            record.fields = {
                key: self.redact(value) if isinstance(value, str) else value
                for key, value in values.items()
            }
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def redact_logs(redact: Callable[[str], str]) -> None:
    """Every handler of the root logger redacts (installed once the accounts are known)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(item, RedactingFilter) for item in handler.filters):
            handler.addFilter(RedactingFilter(redact))


def configure_logging(stream: TextIO | None = None, *, level: int = logging.INFO) -> None:
    stream = stream or sys.stdout
    handler = logging.StreamHandler(stream)
    human = hasattr(stream, "isatty") and stream.isatty()
    handler.setFormatter(HumanFormatter() if human else JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet_chatty_libraries()


def quiet_chatty_libraries() -> None:
    # Library chatter (APScheduler's "Running job ...") is not what ops act on, and some
    # client libraries log tokens and signed requests at DEBUG: never let those through.
    for noisy in (
        "apscheduler",
        "watchdog",
        "alembic",
        "flickrapi",
        "requests_oauthlib",
        "oauthlib",
        "urllib3",
        "googleapiclient",
        "google_auth_httplib2",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
