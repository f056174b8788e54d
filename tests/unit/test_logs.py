"""Structured logs keep every id a call site passes, however it passes it."""

from __future__ import annotations

import io
import json
import logging

from scheduler.logs import HumanFormatter, JsonFormatter, fields


def logged(formatter: logging.Formatter, **extra: object) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("tests.logs")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.info("media uploaded to the blog for %s", "instagram", extra=extra)
    return stream.getvalue()


def test_json_lines_carry_plain_extra_fields_as_well_as_fields() -> None:
    line = json.loads(
        logged(
            JsonFormatter(),
            delivery_id="d-1",
            media_id=42,
            **fields(account="ig", post_id="p-1", attempt=None),
        )
    )
    assert line["message"] == "media uploaded to the blog for instagram"
    assert line["delivery_id"] == "d-1" and line["media_id"] == 42
    assert line["account"] == "ig" and line["post_id"] == "p-1"
    assert "attempt" not in line and "fields" not in line
    assert {"time", "level", "logger"} <= set(line)
    assert "lineno" not in line and "args" not in line  # the record's own attributes stay out


def test_an_extra_field_never_hides_the_message_or_the_level() -> None:
    line = json.loads(logged(JsonFormatter(), **fields(level="shouting", logger="other")))
    assert line["level"] == "info" and line["logger"] == "tests.logs"


def test_the_terminal_format_shows_plain_extra_fields_too() -> None:
    text = logged(HumanFormatter(), media_id=42, **fields(delivery_id="d-1"))
    assert "media_id=42" in text and "delivery_id=d-1" in text
