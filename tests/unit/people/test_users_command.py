"""``relais users``: add, passwd, change, list, remove, on a fresh queue."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from scheduler.cli import main
from tests.support import write_config


def relais(directory: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["--config", str(directory / "config.yaml"), *args], input=stdin
    )
    return result.exit_code, result.output


def test_users_from_add_to_remove(tmp_path: Path) -> None:
    write_config(tmp_path)  # a fresh queue: no `relais db upgrade` first
    code, output = relais(
        tmp_path, "users", "add", "marie", "--role", "contributor", "--library", "eaux-vives",
        "--email", "marie@example.org", "--language", "en",
    )  # fmt: skip
    assert code == 0, output
    assert relais(tmp_path, "users", "add", "paul", "--role", "editor")[0] == 0
    code, output = relais(tmp_path, "users", "passwd", "marie", "--password-stdin",
                          stdin="a long enough password\n")  # fmt: skip
    assert code == 0, output
    code, output = relais(tmp_path, "users", "passwd", "paul", "--password-stdin", stdin="x\n")
    assert code != 0 and "at least 10 characters" in output
    code, output = relais(tmp_path, "users", "list")
    assert "marie" in output and "eaux-vives" in output and "marie@example.org" in output
    assert "paul" in output and "all libraries" in output and "(no password)" in output
    assert "$argon2" not in output
    assert relais(tmp_path, "users", "change", "paul", "--digest")[0] == 0
    assert relais(tmp_path, "users", "remove", "paul")[0] == 0
    code, output = relais(tmp_path, "users", "remove", "paul")
    assert code != 0 and "no person 'paul'" in output


def test_unknown_library_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    write_config(tmp_path)
    code, output = relais(
        tmp_path, "users", "add", "x", "--role", "contributor", "--library", "atlantis"
    )
    assert code != 0 and "atlantis" in output and "eaux-vives" in output
