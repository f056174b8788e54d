"""Hostile post files: every one is refused with a clear reason, nothing outside the inbox is
read, nothing is lost, and the good file dropped beside them still goes out.

The corpus lives in ``tests/hostile/`` (one post file per case, plus the small text media
they name). What cannot or should not be committed is made by :func:`build_corpus` at test
time: binary and non-UTF-8 files, a 50 MB file, symbolic links out of the inbox, a named
pipe, a directory posing as a picture.

"Nothing outside the inbox is read" is proven two ways. Files outside the inbox that the
corpus points at hold a sentinel that would show up in an error message if they were
parsed; and an audit hook records every ``open`` of a path outside the inbox during the
scan (and any attempt to start a process, which an object-building YAML tag would do).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import random
import shutil
import signal
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from scheduler.app import App
from scheduler.config import load_config
from scheduler.db.engines import upgrade
from scheduler.delivery.editor import list_deliveries
from scheduler.intake.inbox import IntakeReport
from scheduler.logs import JsonFormatter
from tests.connectors.contract import png_bytes
from tests.paths import TESTS
from tests.process.test_daemon_process import Daemon
from tests.support import FakeClock, ScriptedConnector, drop, make_app, write_config

CORPUS = TESTS / "hostile"
FOLDER = "hostile"  # the corpus's folder inside the inbox
SENTINEL = "OUTSIDE-SENTINEL-7c1e"
MAX_MEDIA_BYTES = 4096

# Committed post files -> a phrase their rejection must contain.
COMMITTED: dict[str, str] = {
    # YAML itself
    "billion-laughs.yaml": "expands to more than 10000 values",
    "recursive-alias.yaml": "nested more than 20 levels deep",
    "python-object-apply.yaml": "the tag !!python/object/apply:os.system is not allowed",
    "python-name.yaml": "the tag !!python/name:os.system is not allowed",
    "python-object-new.yaml": "the tag !!python/object/new:subprocess.Popen is not allowed",
    "binary-tag.yaml": "the tag !!binary is not allowed",
    "custom-tag.yaml": "the tag !include is not allowed",
    "deeply-nested-flow.yaml": "nested more than 20 levels deep",
    "deeply-nested-block.yaml": "nested more than 20 levels deep",
    "merge-not-mapping.yaml": "<< (merge) takes a mapping",
    "list-as-key.yaml": "a mapping key must be a plain word",
    "empty.yaml": "the file is empty",
    "only-comments.yaml": "the file is empty",
    "multiple-documents.yaml": "a second YAML document starts here",
    "top-level-list.yaml": "a post file is a mapping of keys",
    "top-level-scalar.yaml": "a post file is a mapping of keys",
    "duplicate-keys.yaml": "'text' appears twice",
    "syntax-error.yaml": "not valid YAML",
    # the shape
    "unknown-key.yaml": "unknown key 'colour'",
    "misspelt-key.yaml": "unknown key 'titel' (did you mean 'title'?)",
    "wrong-type-to.yaml": "to must be a list",
    "wrong-type-text.yaml": "text must be text",
    "wrong-type-cancel.yaml": "cancel must be true or false",
    "wrong-type-library.yaml": "library must be text",
    "missing-library.yaml": "library is missing",
    "blank-text.yaml": "text is empty",
    "bad-link.yaml": "link must be a web address",
    "bad-id.yaml": "id must be lowercase letters",
    "media-not-a-list.yaml": "media must be a list",
    # what config.yaml declares
    "unknown-library.yaml": "unknown library 'plainpalais'",
    "unknown-account.yaml": "unknown account 'tiktok'",
    "unknown-series.yaml": "series 'boudoir' is not declared in config.yaml",
    "bad-series-name.yaml": "series must be lowercase letters",
    "account-twice.yaml": "'facebook' is listed twice in to",
    "variant-not-in-to.yaml": "variants has 'twitter', which is not in to",
    "variant-empty-text.yaml": "variants.facebook.text is empty",
    "at-and-window.yaml": "give only one of at, window or series",
    "text-too-long.yaml": "twitter: the text is",
    # times
    "impossible-date.yaml": "February 2027 has 28 days",
    "impossible-month.yaml": "there is no month 13",
    "impossible-hour.yaml": "25:00 is not a time of day",
    "dst-gap.yaml": "2027-03-28 02:30 does not exist in Europe/Zurich",
    "dst-fold.yaml": "2027-10-31 02:30 happens twice in Europe/Zurich",
    "dst-gap-variant.yaml": "2027-03-28 02:15 does not exist in Europe/Zurich",
    "bad-offset-hours.yaml": "+25:00 is not a UTC offset",
    "bad-offset-minutes.yaml": "+01:75 is not a UTC offset",
    "decades-ahead.yaml": "is more than 400 days ahead",
    "in-the-past.yaml": "2020-01-01 10:00 is in the past",
    "window-end-before-start.yaml": "swap the two",
    "at-without-time.yaml": "has no time of day",
    "not-a-time.yaml": "'next tuesday' is not a time",
    # media
    "media-dotdot.yaml": "points outside the inbox",
    "media-dotdot-jpg.yaml": "points outside the inbox",
    "media-absolute.yaml": "'/etc/passwd' is an absolute path",
    "media-home.yaml": "'~/photo.jpg' is an absolute path",
    "media-windows-absolute.yaml": "is an absolute path",
    "media-text-as-jpg.yaml": "is named .jpg but holds no image or video data",
    "media-empty.yaml": "'media/empty.png' is empty",
    "media-missing.yaml": "'media/nowhere.jpg' does not exist",
    "media-bad-extension.yaml": ".sh cannot be published",
    "media-symlink-passwd.yaml": "is a symbolic link to a file outside the inbox",
    "media-via-linked-folder.yaml": "is a symbolic link to a file outside the inbox",
    "media-png-as-jpg.yaml": "is named .jpg but holds PNG data; rename it to .png",
    "media-oversized.yaml": "media files may be at most 4.1 kB",
    "media-directory.yaml": "'media/folder.jpg' is a folder, not a regular file",
    "media-fifo.yaml": "'media/pipe.jpg' is a named pipe (FIFO), not a regular file",
    "media-symlink-loop.yaml": "'media/loop.jpg' is a symbolic link",
}
# Post files build_corpus writes (binary, huge, links, special files) -> phrase.
GENERATED: dict[str, str] = {
    "nul-bytes.yaml": "holds a NUL byte",
    "latin-1.yaml": "is not UTF-8 text (byte 0xfb",
    "binary-high-bytes.yaml": "is not UTF-8 text",
    "png-named-yaml.yaml": "it looks like a binary file, not YAML text",
    "huge-50mb.yaml": "post files may be at most 262144 bytes",
    "too-many-values.yaml": "expands to more than 10000 values",
    "linked-post.yaml": "is a link to a file outside the inbox",
    "pipe.yaml": "is a named pipe (FIFO), not a regular file",
}
# Files that once crashed intake instead of being rejected: each must stay rejected.
KNOWN_BUGS: dict[str, str] = {
    "huge-integer.yaml": "yamlsafe._Builder._scalar lets int()'s ValueError (over 4300 "
    "digits) escape instead of a YamlProblem",
    "in-huge-days.yaml": "timespec._resolve: timedelta(days=N) raises OverflowError, "
    "not TimeSpecError",
    "in-huge-hours.yaml": "timespec._resolve: now + timedelta(hours=N) raises "
    "OverflowError, not TimeSpecError",
    "year-zero.yaml": "timespec._date: date(0, 1, 1) raises ValueError, not TimeSpecError",
    "window-until-year-9999.yaml": "timespec._date_bound: 9999-12-31 + 1 day raises "
    "OverflowError, not TimeSpecError",
    "media-nul-in-name.yaml": "media.resolve_media: os.path.realpath raises ValueError "
    "(embedded null byte), not MediaError",
}
KNOWN_BUG_PHRASES: dict[str, str] = {
    "huge-integer.yaml": "too large to read",
    "in-huge-days.yaml": "is out of range",
    "in-huge-hours.yaml": "is out of range",
    "year-zero.yaml": "is out of range",
    "window-until-year-9999.yaml": "is out of range",
    "media-nul-in-name.yaml": "NUL character",
}
CASES: dict[str, str] = {**COMMITTED, **GENERATED}

GOOD = """\
library: redaction
author: communication
title: Bienvenue
text: Le blog des bibliothèques ouvre aujourd'hui.
to: [facebook]
"""


# --- the corpus on disk ----------------------------------------------------------------


def build_corpus(base: Path, *, known_bugs: bool = False) -> Path:
    """Copy the committed corpus into ``base/inbox/hostile`` and make the rest; returns it.

    Also makes ``base/outside``: what the links point at, each holding the sentinel.
    """
    inbox = base / "inbox"
    target = inbox / FOLDER
    shutil.copytree(CORPUS, target)
    if not known_bugs:
        for name in KNOWN_BUGS:
            (target / name).unlink()
    outside = base / "outside"
    (outside / "posts").mkdir(parents=True)
    (outside / "passwd").write_text(f"root:x:0:0:{SENTINEL}:/root:/bin/bash\n", encoding="utf-8")
    (outside / "secret.jpg").write_text(f"{SENTINEL}\n", encoding="utf-8")
    outside_post = GOOD.replace("library: redaction", f"library: {SENTINEL}")
    (outside / "post.yaml").write_text(outside_post, encoding="utf-8")
    (outside / "posts" / "elsewhere.yaml").write_text(outside_post, encoding="utf-8")

    (target / "nul-bytes.yaml").write_bytes(GOOD.encode() + b"campaign: a\x00b\n")
    (target / "latin-1.yaml").write_bytes(GOOD.replace("Bienvenue", "Goûter").encode("latin-1"))
    (target / "binary-high-bytes.yaml").write_bytes(bytes(range(0x80, 0x100)) * 64)
    (target / "png-named-yaml.yaml").write_bytes(png_bytes())
    with (target / "huge-50mb.yaml").open("wb") as handle:
        handle.write(GOOD.encode() + b"campaign: ")
        handle.write(b"x" * (50 * 1024 * 1024))
    values = ", ".join("1" for _ in range(20_000))
    (target / "too-many-values.yaml").write_text(f"{GOOD}tags: [{values}]\n", encoding="utf-8")
    (target / "linked-post.yaml").symlink_to(outside / "post.yaml")
    os.mkfifo(target / "pipe.yaml")
    # A whole folder of the inbox that is a link out: the scan must not walk into it.
    (inbox / "linked-folder").symlink_to(outside / "posts", target_is_directory=True)

    media = target / "media"
    (media / "passwd.jpg").symlink_to(outside / "passwd")
    (media / "elsewhere").symlink_to(outside, target_is_directory=True)
    (media / "png-named.jpg").write_bytes(png_bytes())
    (media / "big.png").write_bytes(png_bytes() + b"\x00" * MAX_MEDIA_BYTES)
    (media / "folder.jpg").mkdir()
    os.mkfifo(media / "pipe.jpg")
    (media / "loop.jpg").symlink_to("loop.jpg")

    # Settled: older than intake.settle (links and pipes too, without following links).
    past = os.stat(target).st_mtime - 600
    for path in [*target.rglob("*"), *inbox.iterdir()]:
        os.utime(path, (past, past), follow_symlinks=False)
    return target


def config_overrides() -> dict[str, Any]:
    return {"intake": {"settle": "1s", "scan_interval": "1s", "max_media_bytes": MAX_MEDIA_BYTES}}


# --- the audit hook ---------------------------------------------------------------------


@dataclass
class Audit:
    """Opens outside the inbox and process starts, recorded while ``watching``."""

    watching: bool = False
    base: str = ""
    inbox: str = ""
    writable: tuple[str, ...] = ()
    opened_outside: list[str] = field(default_factory=list)
    spawned: list[str] = field(default_factory=list)

    def outside(self, path: str) -> bool:
        """In the project but not the inbox nor a folder intake writes to, or in /etc."""
        if path.startswith("/etc/"):
            return True
        return path.startswith(self.base) and not path.startswith((self.inbox, *self.writable))


AUDIT = Audit()
_SPAWNING = ("os.system", "subprocess.Popen", "os.posix_spawn", "os.exec", "os.spawn", "os.fork")


def _audit_hook(event: str, args: tuple[Any, ...]) -> None:
    # Cheap when not watching: the hook stays installed for the whole process.
    if not AUDIT.watching:
        return
    if event.startswith(_SPAWNING):
        AUDIT.spawned.append(f"{event} {args!r}")
    elif event == "open" and isinstance(args[0], str | bytes | os.PathLike):
        given = os.path.abspath(os.fsdecode(args[0]))
        # Both the name used and where it really leads: a link in the inbox that points
        # out is caught by the second.
        for path in {given, os.path.realpath(given)}:
            if AUDIT.outside(path):
                AUDIT.opened_outside.append(path)


_hook_installed = False


def watch(base: Path) -> Audit:
    """Start recording for this project; an audit hook cannot be removed, so one is added
    once per process and switched by the flag."""
    global _hook_installed
    if not _hook_installed:
        sys.addaudithook(_audit_hook)
        _hook_installed = True
    real = os.path.realpath(base)
    AUDIT.base = real + os.sep
    AUDIT.inbox = os.path.join(real, "inbox") + os.sep
    # Where intake writes: rejected/ (with the .error files), processed/, the media store
    # and the dry-run account's log. Reads there are not reads of contributors' links.
    AUDIT.writable = tuple(
        os.path.join(real, name) + os.sep for name in ("rejected", "processed", "state", "out")
    )
    AUDIT.opened_outside.clear()
    AUDIT.spawned.clear()
    AUDIT.watching = True
    return AUDIT


# --- one scan of the whole corpus, in process -------------------------------------------


@dataclass
class Scanned:
    app: App
    report: IntakeReport
    opened_outside: list[str]
    spawned: list[str]
    log_lines: list[str]


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scanned]:
    base = tmp_path_factory.mktemp("hostile")
    app = make_app(base, FakeClock(), **config_overrides())
    build_corpus(base)
    drop(app.config, "redaction/bienvenue.yaml", GOOD)

    records: list[str] = []
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    handler.emit = lambda record: records.append(handler.format(record))  # type: ignore[method-assign]
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    audit = watch(base)
    try:
        report = app.intake().scan()
        app.dispatcher(rng=random.Random(1)).run_due()
    finally:
        audit.watching = False
        root.removeHandler(handler)
        root.setLevel(level)
    yield Scanned(
        app=app,
        report=report,
        opened_outside=list(audit.opened_outside),
        spawned=list(audit.spawned),
        log_lines=records,
    )
    app.engine.dispose()


def test_the_corpus_has_a_reason_for_every_file() -> None:
    committed = {path.name for path in CORPUS.glob("*.yaml")}
    assert committed == set(COMMITTED) | set(KNOWN_BUGS)
    assert not set(GENERATED) & committed
    assert len(CASES) + len(KNOWN_BUGS) >= 40


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_hostile_file_is_rejected_with_its_reason(scanned: Scanned, name: str) -> None:
    config = scanned.app.config
    rejected = config.rejected_dir / FOLDER / name
    assert os.path.lexists(rejected), f"{name} is not in rejected/"
    assert not os.path.lexists(config.inbox_dir / FOLDER / name)
    error = rejected.with_name(name + ".error").read_text(encoding="utf-8")
    assert CASES[name] in error, error
    assert f"{FOLDER}/{name} was not queued" in error


def test_every_bad_file_is_in_rejected_beside_its_error_and_nothing_else_is(
    scanned: Scanned,
) -> None:
    config = scanned.app.config
    folder = config.rejected_dir / FOLDER
    kept = {path.name for path in folder.iterdir() if not path.name.endswith(".error")}
    errors = {path.name.removesuffix(".error") for path in folder.glob("*.error")}
    assert kept == errors == set(CASES)
    assert {Path(path).name for path, _reason in scanned.report.rejected} == set(CASES)
    # The good file, and only it, was taken.
    assert [path.name for path, _result in scanned.report.queued] == ["bienvenue.yaml"]
    assert sorted(p.name for p in config.processed_dir.rglob("*.yaml")) == ["bienvenue.yaml"]
    # The 50 MB file was moved whole, not truncated or rewritten.
    assert (folder / "huge-50mb.yaml").stat().st_size > 50 * 1024 * 1024


def test_the_good_file_in_the_same_scan_is_published(scanned: Scanned) -> None:
    rows = list_deliveries(scanned.app.sessions, zone=scanned.app.config.zone)
    assert [(row.post_key, row.account, row.state) for row in rows] == [
        ("redaction/bienvenue", "facebook", "published")
    ]
    sent = (scanned.app.config.base_dir / "out" / "facebook.jsonl").read_text(encoding="utf-8")
    assert [json.loads(line)["title"] for line in sent.splitlines()] == ["Bienvenue"]


def test_nothing_outside_the_inbox_is_read_or_run(scanned: Scanned) -> None:
    assert scanned.opened_outside == []
    assert scanned.spawned == []
    base = scanned.app.config.base_dir
    # Had any outside file been parsed, its sentinel would be in an error, a log or a row.
    texts = [
        path.read_text(encoding="utf-8") for path in base.joinpath("rejected").rglob("*.error")
    ]
    texts += scanned.log_lines
    connection = sqlite3.connect(base / "queue.db")
    try:
        for (table,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'"):
            texts += [str(row) for row in connection.execute(f'SELECT * FROM "{table}"')]
    finally:
        connection.close()
    assert [text for text in texts if SENTINEL in text] == []
    # The post in the linked folder was neither taken nor moved.
    assert (base / "outside" / "posts" / "elsewhere.yaml").exists()
    assert not any(base.joinpath("processed").rglob("elsewhere.yaml"))


def test_the_audit_hook_sees_a_read_outside_the_inbox(tmp_path: Path) -> None:
    """The hook can fail the test above: a read of an outside file is recorded."""
    (tmp_path / "inbox").mkdir()
    outside = tmp_path / "outside" / "passwd"
    outside.parent.mkdir()
    outside.write_text("x", encoding="utf-8")
    audit = watch(tmp_path)
    link = tmp_path / "inbox" / "link.yaml"
    link.symlink_to(outside)
    try:
        outside.read_text(encoding="utf-8")
        os.close(os.open(outside, os.O_RDONLY))
        link.read_text(encoding="utf-8")  # through a link in the inbox
        (tmp_path / "inbox" / "fine.yaml").write_text("x", encoding="utf-8")
        (tmp_path / "rejected").mkdir()
        (tmp_path / "rejected" / "fine.yaml.error").write_text("x", encoding="utf-8")
    finally:
        audit.watching = False
    assert audit.opened_outside == [os.path.realpath(outside)] * 3


# --- files that once crashed a parser ---------------------------------------------------


@pytest.mark.parametrize("name", sorted(KNOWN_BUG_PHRASES))
def test_a_file_that_breaks_a_parser_is_rejected_too(
    tmp_path: Path, clock: FakeClock, name: str
) -> None:
    app = make_app(tmp_path, clock, **config_overrides())
    drop(app.config, f"{FOLDER}/{name}", (CORPUS / name).read_text(encoding="utf-8"))
    report = app.intake().scan()
    assert [Path(path).name for path, _reason in report.rejected] == [name]
    error = (app.config.rejected_dir / FOLDER / f"{name}.error").read_text(encoding="utf-8")
    assert KNOWN_BUG_PHRASES[name] in error


def test_a_file_that_crashes_validation_does_not_stop_the_others(
    tmp_path: Path, clock: FakeClock
) -> None:
    """A bug met on one file (here a connector whose offline check blows up) sends that
    file to rejected/ with a note for the operator, and the scan goes on."""

    class Broken(ScriptedConnector):
        def check(self, outgoing):  # type: ignore[no-untyped-def]
            if "explode" in outgoing.text:
                raise RuntimeError("a bug in a connector")
            return []

    app = make_app(tmp_path, clock, **config_overrides())
    app = dataclasses.replace(app, connectors={**app.connectors, "facebook": Broken()})
    drop(app.config, "a/explode.yaml", GOOD.replace("text:", "text: explode", 1))
    drop(app.config, "redaction/bienvenue.yaml", GOOD)
    report = app.intake().scan()
    assert [path.name for path, _result in report.queued] == ["bienvenue.yaml"]
    error = (app.config.rejected_dir / "a" / "explode.yaml.error").read_text(encoding="utf-8")
    assert "relais failed on this file (RuntimeError)" in error


# --- the real daemon over the whole corpus ------------------------------------------------


@pytest.mark.slow
def test_the_daemon_rejects_the_corpus_publishes_the_good_file_and_keeps_running(
    tmp_path: Path,
) -> None:
    write_config(tmp_path, **config_overrides())
    config = load_config(tmp_path / "config.yaml")
    upgrade(config.database_url)
    build_corpus(tmp_path)
    drop(config, "redaction/bienvenue.yaml", GOOD)

    daemon = Daemon(tmp_path, "run")
    try:
        # The good file sorts after the corpus (redaction/ > hostile/) and one scan takes
        # files in order, so once it is published every hostile file has been handled.
        daemon.wait_for("relais started")
        published = daemon.wait_for('"to_state": "published"', timeout=45)
        assert published["account"] == "facebook"
        assert daemon.process.poll() is None, "the daemon died"
        errors = {p.name for p in (config.rejected_dir / FOLDER).glob("*.error")}
        assert errors == {f"{name}.error" for name in CASES}
        daemon.process.send_signal(signal.SIGTERM)
        assert daemon.finish() == 0
    finally:
        if daemon.process.poll() is None:
            daemon.process.kill()
            daemon.finish()
    output = "".join(daemon.seen)
    assert "relais stopped" in output
    assert "inbox scan failed" not in output and "Traceback" not in output
    assert SENTINEL not in output
    rejected = [line for line in daemon.seen if "post file rejected" in line]
    assert len(rejected) == len(CASES)
