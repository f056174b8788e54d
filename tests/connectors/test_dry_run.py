from __future__ import annotations

import dataclasses
import errno
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.base import AccountSettings, MediaItem, Outgoing, Published
from connectors.dry_run import DryRunConnector
from connectors.errors import Ambiguous, Permanent, PublishError, Retryable
from connectors.localfs import translate_os_error
from connectors.registry import build_connector

SENT_AT = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
DUE_AT = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


class FixedClock:
    def now(self) -> datetime:
        return SENT_AT


def make_connector(tmp_path: Path, **options: Any) -> DryRunConnector:
    settings = AccountSettings(
        name="demo",
        kind="dry_run",
        base_dir=tmp_path,
        options={"log": "out/sent.jsonl", **options},
    )
    return build_connector(settings, FixedClock())


def make_outgoing(delivery_id: str = "d-1", **changes: Any) -> Outgoing:
    values: dict[str, Any] = {
        "delivery_id": delivery_id,
        "post_id": "p-1",
        "account": "demo",
        "library": "central",
        "author": "ana",
        "title": "Summer reading",
        "text": "The summer reading club starts on Monday.",
        "link": "https://library.example/summer",
        "media": (
            MediaItem(
                path=Path("/store/ab/poster.jpg"),
                alt="A poster",
                mime_type="image/jpeg",
                size=1234,
                sha256="ab" * 32,
            ),
        ),
        "due_at": DUE_AT,
        "tags": ("reading", "summer"),
    }
    values.update(changes)
    return Outgoing(**values)


def read_lines(tmp_path: Path) -> list[str]:
    return (tmp_path / "out" / "sent.jsonl").read_text(encoding="utf-8").splitlines()


def test_publish_appends_one_line_with_every_field(tmp_path: Path) -> None:
    connector = make_connector(tmp_path)

    published = connector.publish(make_outgoing())

    assert published == Published(platform_id="dry-run:d-1", url=None)
    [line] = read_lines(tmp_path)
    assert json.loads(line) == {
        "delivery_id": "d-1",
        "post_id": "p-1",
        "account": "demo",
        "library": "central",
        "author": "ana",
        "sent_at": "2024-05-01T09:30:00+00:00",
        "due_at": "2024-05-01T10:00:00+00:00",
        "title": "Summer reading",
        "text": "The summer reading club starts on Monday.",
        "sends": "The summer reading club starts on Monday.\nhttps://library.example/summer",
        "link": "https://library.example/summer",
        "tags": ["reading", "summer"],
        "media": [
            {
                "file": "poster.jpg",
                "alt": "A poster",
                "mime_type": "image/jpeg",
                "size": 1234,
                "sha256": "ab" * 32,
            }
        ],
    }


def test_each_publish_adds_a_line_so_double_sends_show(tmp_path: Path) -> None:
    connector = make_connector(tmp_path)

    connector.publish(make_outgoing("d-1"))
    connector.publish(make_outgoing("d-2"))
    connector.publish(make_outgoing("d-1"))

    ids = [json.loads(line)["delivery_id"] for line in read_lines(tmp_path)]
    assert ids == ["d-1", "d-2", "d-1"]


def test_find_returns_the_published_delivery_and_none_for_others(tmp_path: Path) -> None:
    connector = make_connector(tmp_path)
    connector.publish(make_outgoing("d-1"))

    assert connector.find(make_outgoing("d-1")) == Published(platform_id="dry-run:d-1")
    assert connector.find(make_outgoing("d-2")) is None


def test_find_without_a_log_file_returns_none(tmp_path: Path) -> None:
    assert make_connector(tmp_path).find(make_outgoing()) is None


def test_a_truncated_last_line_is_skipped_and_does_not_swallow_the_next(tmp_path: Path) -> None:
    connector = make_connector(tmp_path)
    connector.publish(make_outgoing("d-1"))
    log = tmp_path / "out" / "sent.jsonl"
    with log.open("ab") as handle:  # what a crash halfway through a write leaves
        handle.write(b'{"delivery_id": "d-2", "text": "cut sh')

    assert connector.find(make_outgoing("d-2")) is None
    assert connector.find(make_outgoing("d-1")) is not None

    connector.publish(make_outgoing("d-3"))

    assert connector.find(make_outgoing("d-3")) == Published(platform_id="dry-run:d-3")
    lines = read_lines(tmp_path)
    assert len(lines) == 3
    assert json.loads(lines[-1])["delivery_id"] == "d-3"


def test_check_reports_a_text_over_the_configured_length(tmp_path: Path) -> None:
    connector = make_connector(tmp_path, max_text_length=10)

    problems = connector.check(make_outgoing())

    assert [problem.field for problem in problems] == ["text"]
    assert "at most 10" in problems[0].message


def test_check_reports_media_kinds_and_counts(tmp_path: Path) -> None:
    connector = make_connector(tmp_path, media_kinds=["video"], max_media=0)

    fields = sorted(problem.field for problem in connector.check(make_outgoing()))

    assert fields == ["media", "media"]


def test_check_accepts_a_post_within_the_limits(tmp_path: Path) -> None:
    assert make_connector(tmp_path).check(make_outgoing()) == []


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"log": "sent.jsonl", "colour": "blue"},
        {"log": "sent.jsonl", "max_text_length": "long"},
        {"log": "sent.jsonl", "max_media": -1},
    ],
)
def test_bad_options_raise_a_value_error_naming_the_account(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    settings = AccountSettings(name="demo", kind="dry_run", base_dir=tmp_path, options=options)

    with pytest.raises(ValueError, match="account 'demo'"):
        build_connector(settings, FixedClock())


def test_an_absolute_log_path_is_used_as_given(tmp_path: Path) -> None:
    log = tmp_path / "elsewhere" / "log.jsonl"
    connector = make_connector(tmp_path / "base", log=str(log))

    connector.publish(make_outgoing())

    assert log.is_file()


def test_a_log_under_a_regular_file_is_a_permanent_error(tmp_path: Path) -> None:
    # A file where the folder should be fails for root too, unlike chmod.
    (tmp_path / "blocker").write_text("not a folder")
    connector = make_connector(tmp_path, log="blocker/sent.jsonl")

    with pytest.raises(Permanent, match="blocker") as raised:
        connector.publish(make_outgoing())

    assert isinstance(raised.value.__cause__, OSError)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (errno.ENOSPC, Retryable),
        (errno.EIO, Retryable),
        (errno.EAGAIN, Retryable),
        (errno.EACCES, Permanent),
        (errno.EROFS, Permanent),
        (errno.EPERM, Permanent),
        (errno.ENOTDIR, Permanent),
        (errno.EEXIST, Permanent),
    ],
)
def test_file_system_errors_are_translated(code: int, expected: type[PublishError]) -> None:
    cause = OSError(code, os.strerror(code))

    translated = translate_os_error(cause, Path("/srv/blog"), "demo")

    assert type(translated) is expected
    assert "/srv/blog" in translated.message
    assert "demo" in translated.message
    assert translated.__cause__ is cause


def test_a_failed_sync_after_the_write_is_ambiguous(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_fsync(descriptor: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    connector = make_connector(tmp_path)
    monkeypatch.setattr(os, "fsync", failing_fsync)

    with pytest.raises(Ambiguous):
        connector.publish(make_outgoing())


def test_a_dry_run_account_renders_and_checks_like_the_platform_it_stands_for(
    tmp_path: Path,
) -> None:
    settings = AccountSettings(
        name="twitter",
        kind="dry_run",
        base_dir=tmp_path,
        options={"log": "out/twitter.jsonl", "like": "x", "like_options": {"auth": "oauth2"}},
    )
    connector = build_connector(settings, FixedClock())
    post = dataclasses.replace(
        make_outgoing(), text="Bonjour", link="https://www.example.org/" + "a" * 100, tags=()
    )
    rendered = connector.render(post)
    assert rendered.length == len("Bonjour\n") + 23  # X counts every link as 23
    assert rendered.counted_as == "characters as X counts them"
    too_long = dataclasses.replace(post, text="é" * 270)
    assert any("280" in problem.message for problem in connector.check(too_long))
    connector.publish(post)
    [line] = (tmp_path / "out" / "twitter.jsonl").read_text().splitlines()
    assert json.loads(line)["sends"] == rendered.text


def test_a_dry_run_account_cannot_stand_for_an_unknown_platform(tmp_path: Path) -> None:
    settings = AccountSettings(
        name="x", kind="dry_run", base_dir=tmp_path, options={"log": "l", "like": "myspace"}
    )
    with pytest.raises(ValueError, match="myspace"):
        build_connector(settings, FixedClock())


@pytest.mark.parametrize(
    ("like", "options", "counted_as"),
    [
        (
            "mastodon",
            {"instance": "https://mastodon.example.org"},
            "characters as Mastodon counts them",
        ),
        ("bluesky", {"handle": "bibliotheques.example.org"}, "graphemes as Bluesky counts them"),
    ],
)
def test_a_dry_run_account_counts_as_the_fediverse_platform_it_stands_for(
    tmp_path: Path, like: str, options: dict[str, Any], counted_as: str
) -> None:
    stand_in = build_connector(
        AccountSettings(
            name=like,
            kind="dry_run",
            base_dir=tmp_path,
            options={"log": f"out/{like}.jsonl", "like": like, "like_options": options},
        ),
        FixedClock(),
    )
    post = dataclasses.replace(make_outgoing(), link="https://www.example.org/agenda")
    assert stand_in.render(post).counted_as == counted_as
