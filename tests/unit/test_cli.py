"""The ``relais`` command as people use it: check, approve, reject, list, db."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from scheduler.cli import main
from scheduler.db.engines import head_revision
from tests.paths import REPOSITORY
from tests.support import FakeClock, drop, make_app

GOOD = """\
library: eaux-vives
author: marie
title: L'heure du conte
text: Des histoires d'hiver pour les 4-8 ans.
to: [facebook, twitter]
at: tomorrow 16:00
"""


def relais(directory: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(directory / "config.yaml"), *args])
    return result.exit_code, result.output


def test_check_prints_file_line_and_problem_and_exits_non_zero(tmp_path: Path) -> None:
    make_app(tmp_path, FakeClock())
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("to: [facebook, twitter]", "to: [facebook, mastodon]"))
    code, output = relais(tmp_path, "check", str(bad))
    assert code == 1
    assert f"{bad}:5:" in output
    assert "mastodon" in output


def test_check_previews_what_each_account_receives(tmp_path: Path) -> None:
    make_app(tmp_path, FakeClock())
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    code, output = relais(tmp_path, "check", str(good))
    assert code == 0, output
    assert "facebook" in output and "twitter" in output
    assert "Des histoires d'hiver" in output


def test_check_reports_every_file(tmp_path: Path) -> None:
    make_app(tmp_path, FakeClock())
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(GOOD)
    bad.write_text("library: [")
    code, output = relais(tmp_path, "check", str(good), str(bad))
    assert code == 1
    assert "good.yaml" in output and f"{bad}:" in output


def test_editor_lists_approves_and_rejects(tmp_path: Path) -> None:
    app = make_app(tmp_path, FakeClock())
    drop(app.config, "eaux-vives/conte.yaml", GOOD.replace("tomorrow 16:00", "2026-12-11 16:00"))
    app.intake().scan()
    code, output = relais(tmp_path, "list", "--state", "pending_approval")
    assert code == 0
    assert output.count("pending_approval") == 2
    facebook_id = next(line.split()[0] for line in output.splitlines() if "facebook" in line)

    code, output = relais(tmp_path, "reject", facebook_id, "--reason", "doublon", "--by", "lea")
    assert code == 0 and "rejected" in output
    code, output = relais(tmp_path, "approve", "eaux-vives/conte", "--by", "lea")
    assert code == 0
    assert "approved" in output and "left as rejected" in output

    code, output = relais(tmp_path, "list", "--account", "facebook")
    assert "rejected" in output and "doublon" in output and "[lea " in output
    code, output = relais(tmp_path, "list", "--day", "2026-12-11", "--library", "eaux-vives")
    assert len(output.splitlines()) == 2
    code, output = relais(tmp_path, "list", "--day", "2026-12-12")
    assert "no deliveries match" in output


def test_unknown_ids_are_explained(tmp_path: Path) -> None:
    make_app(tmp_path, FakeClock())
    code, output = relais(tmp_path, "approve", "abc")
    assert code == 1 and "too short" in output
    code, output = relais(tmp_path, "approve", "abcdef12")
    assert code == 1 and "relais list" in output


def test_db_current_tells_whether_an_upgrade_is_needed(tmp_path: Path) -> None:
    make_app(tmp_path, FakeClock())
    code, output = relais(tmp_path, "db", "current")
    head = head_revision("sqlite://")
    assert code == 0 and f"database: {head}; needed: {head}" in output
    (tmp_path / "other").mkdir()
    from tests.support import write_config

    write_config(tmp_path / "other")
    code, output = relais(tmp_path / "other", "db", "current")
    assert code == 1 and "database: empty" in output


def test_a_broken_config_is_reported_with_every_problem(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        "timezone: Mars/Olympus\nlibraries: {}\naccounts: {x: {kind: carrier_pigeon}}\nfoo: 1\n"
    )
    code, output = relais(tmp_path, "list")
    assert code == 1
    assert "Mars/Olympus" in output and "foo" in output


def test_the_schema_command_prints_the_published_schema() -> None:
    import json

    result = CliRunner().invoke(main, ["schema"])
    published = REPOSITORY / "schema" / "post-file.schema.json"
    assert json.loads(result.output) == json.loads(published.read_text())


def test_accounts_check_gives_a_verdict_per_account(tmp_path: Path) -> None:
    make_app(tmp_path, FakeClock())
    code, output = relais(tmp_path, "accounts", "check")
    assert code == 0, output
    assert [line.split()[:2] for line in output.splitlines()] == [
        ["ok", "blog"],
        ["ok", "facebook"],
        ["ok", "twitter"],
    ]
    (tmp_path / "public").write_text("a file where the blog folder should be")
    code, output = relais(tmp_path, "accounts", "check", "blog")
    assert code == 1 and output.startswith("FAIL  blog")


def test_the_editor_plans_explains_moves_cancels_and_exports(tmp_path: Path) -> None:
    app = make_app(tmp_path, FakeClock())
    drop(app.config, "eaux-vives/conte.yaml", GOOD.replace("tomorrow 16:00", "2026-12-11 16:00"))
    app.intake().scan()
    code, output = relais(tmp_path, "plan", "--from", "2026-12-10", "--days", "2")
    assert code == 0
    assert output.startswith("Thu 2026-12-10 — nothing planned\nFri 2026-12-11\n  16:00  facebook")
    assert "[pending approval]" in output
    facebook_id = next(
        line.split()[0] for line in relais(tmp_path, "list")[1].splitlines() if "facebook" in line
    )
    code, output = relais(tmp_path, "move", facebook_id, "2026-12-12 09:30", "--by", "lea")
    assert code == 0 and "2026-12-12 09:30" in output
    code, output = relais(tmp_path, "why", facebook_id)
    assert code == 0 and "created as pending_approval" in output and "rules" in output
    code, output = relais(tmp_path, "cancel", facebook_id, "--reason", "doublon", "--by", "lea")
    assert code == 0 and "cancelled" in output
    code, output = relais(tmp_path, "why", facebook_id)
    assert "pending_approval -> cancelled" in output and "by lea: doublon" in output
    code, output = relais(tmp_path, "calendar", "--ics", str(tmp_path / "cal.ics"))
    assert code == 0 and (tmp_path / "cal.ics").read_bytes().startswith(b"BEGIN:VCALENDAR")


def test_list_takes_several_accounts_and_libraries(tmp_path: Path) -> None:
    app = make_app(tmp_path, FakeClock())
    drop(
        app.config,
        "eaux-vives/conte.yaml",
        GOOD.replace("[facebook, twitter]", "[facebook, twitter, blog]"),
    )
    app.intake().scan()
    code, output = relais(tmp_path, "list", "--account", "facebook", "--account", "twitter")
    assert code == 0
    assert sorted(line.split()[4] for line in output.splitlines()) == ["facebook", "twitter"]
    code, output = relais(tmp_path, "list", "--library", "redaction", "--library", "eaux-vives")
    assert len(output.splitlines()) == 3
