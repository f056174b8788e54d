"""From a dropped file to a published post, on real SQLite files with an injected clock."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

from scheduler.app import App
from scheduler.delivery.editor import approve, list_deliveries, reject
from tests.paths import REPOSITORY
from tests.support import FakeClock, drop

CONTRIBUTION = """\
library: eaux-vives
author: marie
title: Goûter de l'Escalade
text: Trois collègues déguisées pour le goûter de l'Escalade !
link: https://www.example.org/agenda/escalade
to: [facebook, twitter]
at: 2026-12-11 16:00
variants:
  twitter: {text: "Goûter de l'Escalade aux Eaux-Vives !"}
"""

EDITORIAL = """\
library: redaction
author: communication
title: Bienvenue
text: Le blog des bibliothèques ouvre aujourd'hui.
to: [facebook, blog]
"""


def sent_lines(app: App, account: str) -> list[dict[str, object]]:
    path = app.config.base_dir / "out" / f"{account}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def states(app: App) -> dict[str, str]:
    rows = list_deliveries(app.sessions, zone=app.config.zone)
    return {f"{row.post_key}:{row.account}": row.state for row in rows}


def run_daemon_pass(app: App) -> None:
    app.intake().scan()
    app.dispatcher(rng=random.Random(1)).run_due()


def test_dropped_then_approved_then_published_at_its_time(app: App, clock: FakeClock) -> None:
    drop(app.config, "eaux-vives/escalade.yaml", CONTRIBUTION)
    run_daemon_pass(app)
    assert states(app) == {
        "eaux-vives/escalade:facebook": "pending_approval",
        "eaux-vives/escalade:twitter": "pending_approval",
    }
    assert (app.config.processed_dir / "eaux-vives/escalade.yaml").exists()
    assert not (app.config.inbox_dir / "eaux-vives/escalade.yaml").exists()

    decisions = approve(
        app.sessions, clock, ["eaux-vives/escalade"], by="editor", placement=app.placement()
    )
    assert all(decision.done for decision in decisions)
    rows = list_deliveries(app.sessions, zone=app.config.zone, states=["scheduled"])
    assert {(row.approved_by, row.approved_at) for row in rows} == {("editor", clock.now())}

    run_daemon_pass(app)
    assert sent_lines(app, "facebook") == []  # due 2026-12-11 16:00 Zurich, not yet

    clock.moment = rows[0].due_at
    assert rows[0].due_at is not None and rows[0].due_at.hour == 15  # 16:00 CET in UTC
    run_daemon_pass(app)
    assert states(app) == {
        "eaux-vives/escalade:facebook": "published",
        "eaux-vives/escalade:twitter": "published",
    }
    [tweet] = sent_lines(app, "twitter")
    assert tweet["text"] == "Goûter de l'Escalade aux Eaux-Vives !"
    [post] = sent_lines(app, "facebook")
    assert post["text"].startswith("Trois collègues")


def test_a_post_a_rule_approves_goes_straight_through(app: App) -> None:
    drop(app.config, "redaction/bienvenue.yaml", EDITORIAL)
    run_daemon_pass(app)
    assert states(app) == {
        "redaction/bienvenue:facebook": "published",
        "redaction/bienvenue:blog": "published",
    }
    pages = list((app.config.base_dir / "public/blog/posts").glob("*.md"))
    assert len(pages) == 1
    assert (app.config.base_dir / "public/blog/feed.xml").exists()


def test_the_same_file_dropped_twice_is_one_post(app: App) -> None:
    drop(app.config, "eaux-vives/escalade.yaml", CONTRIBUTION)
    run_daemon_pass(app)
    drop(app.config, "eaux-vives/escalade.yaml", CONTRIBUTION)
    report = app.intake().scan()
    assert [result.outcome for _, result in report.queued] == ["unchanged"]
    assert len(states(app)) == 2
    # The second copy does not overwrite the first in processed/.
    assert len(list((app.config.processed_dir / "eaux-vives").iterdir())) == 2


def test_a_changed_file_updates_its_post_and_goes_back_to_the_editor(
    app: App, clock: FakeClock
) -> None:
    drop(app.config, "eaux-vives/escalade.yaml", CONTRIBUTION)
    run_daemon_pass(app)
    approve(app.sessions, clock, ["eaux-vives/escalade"], by="editor", placement=app.placement())
    changed = (
        CONTRIBUTION.replace("to: [facebook, twitter]", "to: [facebook]")
        .replace("at: 2026-12-11 16:00", "at: 2026-12-12 11:00")
        .replace('variants:\n  twitter: {text: "Goûter de l\'Escalade aux Eaux-Vives !"}\n', "")
    )
    drop(app.config, "eaux-vives/escalade.yaml", changed)
    report = app.intake().scan()
    assert [result.outcome for _, result in report.queued] == ["updated"]
    assert states(app) == {
        "eaux-vives/escalade:facebook": "pending_approval",
        "eaux-vives/escalade:twitter": "cancelled",
    }
    [row] = list_deliveries(app.sessions, zone=app.config.zone, accounts=["facebook"])
    assert row.due_at is not None
    assert row.due_at.astimezone(app.config.zone).strftime("%d %H:%M") == "12 11:00"
    assert row.approved_by is None


def test_cancel_withdraws_a_post(app: App, clock: FakeClock) -> None:
    drop(app.config, "eaux-vives/escalade.yaml", CONTRIBUTION)
    run_daemon_pass(app)
    approve(app.sessions, clock, ["eaux-vives/escalade"], by="editor", placement=app.placement())
    drop(app.config, "eaux-vives/escalade.yaml", CONTRIBUTION + "cancel: true\n")
    report = app.intake().scan()
    assert [result.outcome for _, result in report.queued] == ["cancelled"]
    clock.advance(days=5)
    run_daemon_pass(app)
    assert set(states(app).values()) == {"cancelled"}
    assert sent_lines(app, "facebook") == []


def test_a_published_post_cannot_be_changed_by_a_redrop(app: App) -> None:
    drop(app.config, "redaction/bienvenue.yaml", EDITORIAL)
    run_daemon_pass(app)
    drop(app.config, "redaction/bienvenue.yaml", EDITORIAL.replace("aujourd'hui", "demain"))
    report = app.intake().scan()
    [(_, message)] = report.rejected
    assert "already gone out" in message
    error = (app.config.rejected_dir / "redaction/bienvenue.yaml.error").read_text()
    assert "facebook (published)" in error


def test_a_rejected_delivery_says_why_and_a_fixed_file_reopens_it(
    app: App, clock: FakeClock
) -> None:
    drop(app.config, "eaux-vives/escalade.yaml", CONTRIBUTION)
    run_daemon_pass(app)
    reject(app.sessions, clock, ["eaux-vives/escalade"], by="editor", reason="photo missing")
    rows = list_deliveries(app.sessions, zone=app.config.zone)
    assert {(row.state, row.reason, row.approved_by) for row in rows} == {
        ("rejected", "photo missing", "editor")
    }
    drop(app.config, "eaux-vives/escalade.yaml", CONTRIBUTION.replace("Trois", "Quatre"))
    app.intake().scan()
    assert set(states(app).values()) == {"pending_approval"}


def rejected_with(app: App, relative: str, text: str) -> str:
    drop(app.config, relative, text)
    report = app.intake().scan()
    assert report.queued == []
    assert not (app.config.inbox_dir / relative).exists()
    assert (app.config.rejected_dir / relative).read_text(encoding="utf-8") == text
    return (app.config.rejected_dir / (relative + ".error")).read_text(encoding="utf-8")


def test_a_malformed_file_is_rejected_with_its_line(app: App) -> None:
    error = rejected_with(app, "eaux-vives/broken.yaml", "library: eaux-vives\ntext: [oops\n")
    assert "eaux-vives/broken.yaml:" in error
    assert "relais check" in error


def test_unknown_keys_are_rejected_by_name(app: App) -> None:
    error = rejected_with(app, "eaux-vives/typo.yaml", CONTRIBUTION + "titel: Escalade\n")
    assert "titel" in error
    assert "typo.yaml:10" in error


def test_a_naive_date_is_rejected(app: App) -> None:
    # 02:30 happens twice in Zurich on 2026-10-25: the time says nothing without an offset.
    text = CONTRIBUTION.replace("at: 2026-12-11 16:00", "at: 2027-10-31 02:30")
    error = rejected_with(app, "eaux-vives/naive.yaml", text)
    assert "naive.yaml:7" in error
    assert "offset" in error


def test_media_outside_the_inbox_is_rejected(app: App, tmp_path: Path) -> None:
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 100)
    text = CONTRIBUTION + "media:\n  - file: ../../secret.jpg\n"
    error = rejected_with(app, "eaux-vives/escape.yaml", text)
    assert "inbox" in error
    assert "escape.yaml:11" in error


def test_a_file_still_being_written_waits(app: App) -> None:
    drop(app.config, "eaux-vives/escalade.yaml", CONTRIBUTION, age=0)
    report = app.intake().scan()
    assert report.queued == [] and len(report.waiting) == 1
    assert (app.config.inbox_dir / "eaux-vives/escalade.yaml").exists()


def test_editor_temporary_files_and_dotfiles_are_ignored(app: App) -> None:
    for name in (".escalade.yaml.swp", ".hidden.yaml", "escalade.yaml~", "#escalade.yaml#"):
        drop(app.config, f"eaux-vives/{name}", "not: a post")
    drop(app.config, "eaux-vives/notes.txt", "not a post file")
    report = app.intake().scan()
    assert (report.queued, report.rejected, report.waiting) == ([], [], [])


def test_media_is_copied_into_the_store_so_the_inbox_may_change(app: App, clock: FakeClock) -> None:
    image = app.config.inbox_dir / "redaction" / "photo.png"
    image.parent.mkdir(parents=True)
    image.write_bytes((REPOSITORY / "inbox/redaction/escalade.png").read_bytes())
    text = EDITORIAL.replace("to: [facebook, blog]", "to: [facebook]") + (
        "media:\n  - {file: photo.png, alt: Une photo}\n"
    )
    drop(app.config, "redaction/photo-post.yaml", text)
    app.intake().scan()
    image.unlink()
    clock.advance(minutes=1)
    app.dispatcher().run_due()
    [line] = sent_lines(app, "facebook")
    assert line["media"][0]["alt"] == "Une photo"  # type: ignore[index]
    assert set(states(app).values()) == {"published"}


def test_next_free_slot_posts_queue_from_their_approval(app: App, clock: FakeClock) -> None:
    text = CONTRIBUTION.replace("at: 2026-12-11 16:00\n", "")
    drop(app.config, "eaux-vives/asap.yaml", text)
    app.intake().scan()
    clock.advance(hours=3)
    approve(app.sessions, clock, ["eaux-vives/asap"], by="editor", placement=app.placement())
    rows = list_deliveries(app.sessions, zone=app.config.zone)
    assert {row.due_at for row in rows} == {clock.now()}
    app.dispatcher().run_due()
    assert set(states(app).values()) == {"published"}


def test_a_post_can_be_withdrawn_after_its_time_has_passed(app: App, clock: FakeClock) -> None:
    drop(app.config, "eaux-vives/escalade.yaml", CONTRIBUTION)
    app.intake().scan()  # pending approval: nobody approved it in time
    clock.advance(days=5)
    drop(app.config, "eaux-vives/escalade.yaml", CONTRIBUTION + "cancel: true\n")
    report = app.intake().scan()
    assert [result.outcome for _, result in report.queued] == ["cancelled"]
    assert set(states(app).values()) == {"cancelled"}


def test_a_link_to_a_file_outside_the_inbox_is_rejected_unread(app: App, tmp_path: Path) -> None:
    secret = tmp_path / "secret.yaml"
    secret.write_text("library: eaux-vives\n")
    link = app.config.inbox_dir / "eaux-vives" / "link.yaml"
    link.parent.mkdir(parents=True)
    link.symlink_to(secret)
    os.utime(link, (1_000_000_000, 1_000_000_000), follow_symlinks=False)
    report = app.intake().scan()
    [(_, message)] = report.rejected
    # The message is about the link, not about the YAML behind it: it was not parsed.
    assert message == "is a link to a file outside the inbox; drop the file itself"
    assert (app.config.rejected_dir / "eaux-vives" / "link.yaml").is_symlink()
    assert secret.exists()
