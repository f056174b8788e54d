"""The YAML traps of French typography, told in one sentence with the line, French first."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler.config import Config
from scheduler.intake.yaml_pitfalls import find_pitfalls
from tests.unit.intake.test_post_file import MINIMAL, config, problems  # noqa: F401

HEAD = "library: eaux-vives\nauthor: marie\nto: [facebook]\n"


@pytest.mark.parametrize(
    ("line", "french", "english"),
    [
        ("text: Exposition : les oiseaux", "« : » précédé d'une espace", "' : ' there starts"),
        ("text: @bibliobus passe demain", "« @ », réservé", "'@', reserved"),
        ("text: `code` ici", "« ` », réservé", "'`', reserved"),
        ("title: *Nouveau* atelier", "« * », qui y désigne un alias", "names an alias"),
        ("title: &amp nouveau", "« & »", "anchor"),
        ("title: !important", "« ! »", "names a type"),
        ("title: %promo", "« % »", "starts a directive"),
        ("text: Atelier #lecture dès 10h", "« # »", "is dropped"),
    ],
)
def test_each_trap_is_named_with_its_line_and_how_to_write_it(
    config: Config,  # noqa: F811
    line: str,
    french: str,
    english: str,
) -> None:
    text = HEAD + line + "\n" + ("" if line.startswith("text") else "text: Bonjour\n")
    (number, message), *yaml_own_words = problems(config, text)
    assert number == 4 and all(line in (4, 5) for line, _ in yaml_own_words)
    assert message.index(french) < message.index(" — ") < message.index(english)
    assert "guillemets" in message and "quotes" in message and ": |" in message


def test_quoted_block_and_commented_values_are_left_alone() -> None:
    text = (
        'title: "Exposition : les oiseaux"\n'
        "text: |\n  @bibliobus : atelier #lecture\n"
        "author: marie   # a comment, with a space after the hash\n"
        "at: 2026-12-11 16:00\n"
        "tags: [lecture]\n"
    )
    assert find_pitfalls(text) == []


def test_the_contributor_guide_starts_with_the_traps(tmp_path: Path) -> None:
    from tests.paths import REPOSITORY

    guide = (REPOSITORY / "docs" / "contributors.md").read_text(encoding="utf-8")
    sections = [line for line in guide.splitlines() if line.startswith("## ")]
    assert sections[0].startswith("## Deux-points, dièse, arobase")
