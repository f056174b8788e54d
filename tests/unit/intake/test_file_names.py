"""Every file name the system allows is handled, and what cannot be taken is told once."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from scheduler.app import App
from scheduler.cli import main
from scheduler.intake.file_names import shortened, shown
from tests.support import drop

GOOD = """\
library: redaction
author: communication
text: Le blog des bibliothèques ouvre aujourd'hui.
to: [facebook]
"""
BAD = GOOD.replace("library: redaction", "library: nowhere")


def drop_bytes(app: App, name: bytes, text: str) -> Path:
    folder = os.fsencode(app.config.inbox_dir / "redaction")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    with open(path, "wb") as handle:
        handle.write(text.encode())
    past = os.stat(path).st_mtime - 60
    os.utime(path, (past, past))
    return Path(os.fsdecode(path))


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_names_near_the_limit_are_queued_or_rejected_with_an_error_file_that_fits(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    good = drop_bytes(app, b"g" * 245 + b".yaml", GOOD)
    bad = drop_bytes(app, "é".encode() * 121 + b"-bad.yaml", BAD)
    report = app.intake().scan()
    assert [path for path, _ in report.queued] == [good]
    assert (app.config.processed_dir / "redaction" / good.name).exists()
    assert not bad.exists()
    (error_file,) = (app.config.rejected_dir / "redaction").glob("*.error")
    moved = error_file.with_name(error_file.name.removesuffix(".error"))
    assert moved.exists() and moved.name != bad.name and moved.name.endswith(".yaml")
    text = error_file.read_text(encoding="utf-8")
    assert text.startswith(f"redaction/{bad.name} was not queued")
    assert f"as {moved.name}" in text and "nowhere" in text
    assert not any(record.exc_info for record in caplog.records)


def test_names_that_are_not_utf8_are_taken_shown_escaped_and_do_not_stop_the_scan(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    bad = drop_bytes(app, b"caf\xe9-bad.yaml", BAD)
    good = drop_bytes(app, b"caf\xe9.yaml", GOOD)
    after = drop_bytes(app, b"zz-after.yaml", GOOD)
    report = app.intake().scan()
    assert sorted(path.name for path, _ in report.queued) == sorted([good.name, after.name])
    assert [result.post_id is not None for _, result in report.queued] == [True, True]
    error_file = app.config.rejected_dir / "redaction" / (bad.name + ".error")
    assert error_file.read_text(encoding="utf-8").startswith(
        "redaction/caf\\xe9-bad.yaml was not queued"
    )
    assert not any(record.exc_info for record in caplog.records)
    listed = CliRunner().invoke(
        main, ["--config", str(app.config.base_dir / "config.yaml"), "list"]
    )
    assert listed.exit_code == 0, listed.output
    assert "redaction/caf\\xe9" in listed.output


def test_control_characters_in_a_name_never_reach_the_terminal_raw(app: App) -> None:
    drop(app.config, "redaction/\x1b[2J\x1b[31mred\u202e.yaml", GOOD)
    app.intake().scan()
    listed = CliRunner().invoke(
        main, ["--config", str(app.config.base_dir / "config.yaml"), "list"]
    )
    assert listed.exit_code == 0, listed.output
    assert "\x1b" not in listed.output and "\u202e" not in listed.output
    assert "\\x1b[2J\\x1b[31mred\\u202e" in listed.output


def test_a_path_longer_than_the_system_allows_is_told_once(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    # 25 folders of 200 characters: more than PATH_MAX (4096), made relative to each other.
    fd = os.open(app.config.inbox_dir, os.O_DIRECTORY)
    for _ in range(25):
        os.mkdir("d" * 200, dir_fd=fd)
        deeper = os.open("d" * 200, os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = deeper
    os.close(os.open("deep.yaml", os.O_CREAT | os.O_WRONLY, dir_fd=fd))
    os.close(fd)
    intake = app.intake()  # the daemon's, kept from scan to scan
    intake.scan()
    intake.scan()
    told = [message for message in warnings(caplog) if "cannot be read" in message]
    assert len(told) == 1 and "File name too long" in told[0]


def test_a_file_dated_in_the_future_is_told_once_and_taken_once_it_stays_unchanged(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    path = drop(app.config, "redaction/demain.yaml", GOOD, age=-3600)
    intake = app.intake()
    wall = [os.stat(path).st_mtime - 3600]
    intake.walk.wall_time = lambda: wall[0]
    assert intake.scan().waiting == [path]
    wall[0] += 1
    assert intake.scan().waiting == [path]
    told = [message for message in warnings(caplog) if "in the future" in message]
    assert len(told) == 1
    wall[0] += 2  # settle is 2 s
    assert [queued for queued, _ in intake.scan().queued] == [path]


def test_shortened_names_fit_keep_their_suffix_and_stay_apart() -> None:
    one, two = "é" * 130 + "a.yaml", "é" * 130 + "b.yaml"
    assert len(os.fsencode(shortened(one, 249))) <= 249
    assert shortened(one, 249).endswith(".yaml") and shortened(one, 249) != shortened(two, 249)
    assert shown("caf\udce9\x1b") == "caf\\xe9\\x1b"
