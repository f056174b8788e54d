from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scheduler.config import AccountConfig, Config, LibraryConfig, SeriesConfig
from scheduler.intake.post_file import (
    FileProblem,
    PostContent,
    PostFile,
    PostFileInvalid,
    Timing,
    parse_post_file,
)
from scheduler.intake.post_schema import post_file_json_schema
from tests.paths import REPOSITORY

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
JPEG = bytes.fromhex("ffd8ffe000104a4649460001") + b"\x00" * 200
SCHEMA_FILE = REPOSITORY / "schema" / "post-file.schema.json"

DESIGN_EXAMPLE = """\
# inbox/eaux-vives/2026-12-09-escalade.yaml
library: eaux-vives             # a library declared in config.yaml
author: marie
title: Goûter de l'Escalade     # used where a platform wants a title
text: |
  Trois collègues déguisées pour le goûter de l'Escalade !
link: https://www.example.org/agenda/escalade   # tagged per platform (UTM) if configured
media:
  - file: escalade.jpg          # relative to the post file; must stay inside the inbox
    alt: Trois bibliothécaires déguisées
to: [facebook, instagram, twitter]   # account names from config.yaml
at: 2026-12-11 16:00            # local time in the configured time zone
# instead of `at`: nothing (next free slot), or a window
# window: {from: 2026-12-10, until: 2026-12-12 18:00}
variants:                       # per-account overrides of any field
  twitter: {text: "Goûter de l'Escalade aux Eaux-Vives !"}
"""

MINIMAL = "library: eaux-vives\nauthor: marie\ntext: Bonjour\nto: [facebook]\n"


BOUDOIR = SeriesConfig.model_validate(
    {"accounts": ["facebook"], "weekday": "wednesday", "time": "10:00", "from": "2026-09-02"}
)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    (tmp_path / "inbox" / "eaux-vives").mkdir(parents=True)
    return Config(
        timezone="Europe/Zurich",
        libraries={
            "eaux-vives": LibraryConfig(name="Eaux-Vives"),
            "paquis": LibraryConfig(name="Pâquis"),
        },
        accounts={
            name: AccountConfig(kind="dry_run") for name in ("facebook", "instagram", "twitter")
        },
        series={"boudoir": BOUDOIR},
        base_dir=tmp_path,
    )


def write(config: Config, text: str | bytes, name: str = "eaux-vives/post.yaml") -> Path:
    path = config.inbox_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def parse(config: Config, text: str | bytes, name: str = "eaux-vives/post.yaml") -> PostFile:
    return parse_post_file(write(config, text, name), config=config, now=NOW)


def problems(config: Config, text: str | bytes) -> list[tuple[int | None, str]]:
    with pytest.raises(PostFileInvalid) as caught:
        parse(config, text)
    return [(problem.line, problem.message) for problem in caught.value.problems]


def test_the_design_example_gives_one_delivery_per_account(config: Config) -> None:
    photo = config.inbox_dir / "eaux-vives" / "escalade.jpg"
    photo.write_bytes(JPEG)

    post = parse(config, DESIGN_EXAMPLE, "eaux-vives/2026-12-09-escalade.yaml")

    assert post.key == "eaux-vives/2026-12-09-escalade"
    assert post.sha256 == hashlib.sha256(DESIGN_EXAMPLE.encode()).hexdigest()
    assert (post.library, post.author, post.title, post.cancel) == (
        "eaux-vives",
        "marie",
        "Goûter de l'Escalade",
        False,
    )
    assert [delivery.account for delivery in post.deliveries] == [
        "facebook",
        "instagram",
        "twitter",
    ]
    facebook, _, twitter = post.deliveries
    assert facebook.timing == Timing("at", at=datetime(2026, 12, 11, 15, 0, tzinfo=UTC))
    assert facebook.content.text == "Trois collègues déguisées pour le goûter de l'Escalade !\n"
    assert facebook.content.link == "https://www.example.org/agenda/escalade"
    [media] = facebook.content.media
    assert (media.source.name, media.alt, media.mime_type) == (
        "escalade.jpg",
        "Trois bibliothécaires déguisées",
        "image/jpeg",
    )
    assert twitter.content == PostContent(
        title="Goûter de l'Escalade",
        text="Goûter de l'Escalade aux Eaux-Vives !",
        link="https://www.example.org/agenda/escalade",
        media=facebook.content.media,
        tags=(),
    )
    assert twitter.timing == facebook.timing


def test_an_explicit_id_is_the_key(config: Config) -> None:
    assert parse(config, "id: escalade-2026\n" + MINIMAL).key == "escalade-2026"


def test_without_a_time_the_post_takes_the_next_free_slot(config: Config) -> None:
    [delivery] = parse(config, MINIMAL).deliveries

    assert delivery.timing == Timing("next_free")


def test_a_window_with_bare_dates_covers_whole_days(config: Config) -> None:
    post = parse(config, MINIMAL + "window: {from: 2026-12-10, until: 2026-12-12}\n")

    assert post.deliveries[0].timing == Timing(
        "window",
        window_start=datetime(2026, 12, 9, 23, 0, tzinfo=UTC),
        window_end=datetime(2026, 12, 12, 23, 0, tzinfo=UTC),
    )


def test_a_series_episode_carries_its_series(config: Config) -> None:
    assert parse(config, MINIMAL + "series: boudoir\n").deliveries[0].timing == Timing(
        "series", series="boudoir"
    )


def test_variants_override_only_what_they_give(config: Config) -> None:
    post = parse(
        config,
        "library: eaux-vives\nauthor: marie\ntitle: T\ntext: Long\ntags: [escalade]\n"
        "link: https://example.org\nto: [facebook, twitter]\nat: 2026-12-11 16:00\n"
        "variants:\n  twitter: {text: Court, title: null, tags: [], at: 2026-12-11 18:00}\n",
    )

    facebook, twitter = post.deliveries
    assert facebook.content == PostContent("T", "Long", "https://example.org", (), ("escalade",))
    assert twitter.content == PostContent(None, "Court", "https://example.org", (), ())
    assert twitter.timing.at == datetime(2026, 12, 11, 17, 0, tzinfo=UTC)


def test_cancel_is_carried(config: Config) -> None:
    assert parse(config, MINIMAL + "cancel: true\n").cancel is True


def test_a_file_outside_the_inbox_can_be_checked(config: Config, tmp_path: Path) -> None:
    drafts = tmp_path / "drafts"
    drafts.mkdir()
    (drafts / "photo.jpg").write_bytes(JPEG)
    (tmp_path / "outside.jpg").write_bytes(JPEG)
    draft = drafts / "draft.yaml"
    draft.write_text(MINIMAL + "media:\n  - file: photo.jpg\n")

    post = parse_post_file(draft, config=config, now=NOW)

    assert post.key == "draft"
    assert post.deliveries[0].content.media[0].source == (drafts / "photo.jpg").resolve()

    draft.write_text(MINIMAL + "media:\n  - file: ../outside.jpg\n")
    with pytest.raises(PostFileInvalid) as caught:
        parse_post_file(draft, config=config, now=NOW)
    assert caught.value.problems == [
        FileProblem(
            draft,
            6,
            "'../outside.jpg' points outside the post file's folder; put the file next to the post",
        )
    ]


def test_an_unknown_key_is_named_with_a_suggestion(config: Config) -> None:
    [(line, message)] = problems(config, MINIMAL + "titel: Escalade\n")

    assert line == 5
    assert message.startswith("unknown key 'titel' (did you mean 'title'?); known keys here: id,")


def test_an_unknown_key_in_a_variant_suggests_a_variant_key(config: Config) -> None:
    [(line, message)] = problems(config, MINIMAL + "variants:\n  facebook:\n    txt: x\n")

    assert line == 7
    assert message == (
        "unknown key 'txt' (did you mean 'text'?); known keys here: "
        "title, text, link, media, tags, at"
    )


def test_wrong_types_are_reported_with_what_to_write(config: Config) -> None:
    found = problems(
        config,
        "library: eaux-vives\nauthor: marie\ntext: 1984\nto: facebook\ncancel: yes\n"
        "media: photo.jpg\nwindow: tomorrow\n",
    )

    assert found == [
        (3, "text must be text; put the value in quotes to keep it as written"),
        (4, "to must be a list, such as [a, b]"),
        (5, "cancel must be true or false"),
        (6, "media must be a list, such as [a, b]"),
        (7, "window must be a mapping of keys"),
    ]


def test_missing_required_keys_are_each_reported(config: Config) -> None:
    assert problems(config, "title: only a title\n") == [
        (None, "library is missing"),
        (None, "author is missing"),
        (None, "text is missing"),
        (None, "to is missing"),
    ]


def test_empty_values_are_refused(config: Config) -> None:
    found = problems(config, "library: eaux-vives\nauthor: marie\ntext: '  '\nto: []\n")

    assert found == [(3, "text is empty"), (4, "to is empty")]


def test_a_date_only_at_is_refused(config: Config) -> None:
    [(line, message)] = problems(config, MINIMAL + "at: 2026-12-11\n")

    assert line == 5
    assert message.startswith("at: 2026-12-11 has no time of day")


def test_an_impossible_date_is_refused(config: Config) -> None:
    assert problems(config, MINIMAL + "at: 2026-02-30 10:00\n") == [
        (5, "at: 2026-02-30 10:00 is not a date: February 2026 has 28 days")
    ]


def test_a_repeated_local_time_asks_for_the_offset(config: Config) -> None:
    autumn = datetime(2026, 10, 1, tzinfo=UTC)
    path = write(config, MINIMAL + "at: 2026-10-25 02:30\n")

    with pytest.raises(PostFileInvalid) as caught:
        parse_post_file(path, config=config, now=autumn)

    [problem] = caught.value.problems
    assert problem.line == 5
    assert "happens twice in Europe/Zurich" in problem.message
    assert "2026-10-25 02:30+02:00" in problem.message


def test_only_one_of_at_window_and_series(config: Config) -> None:
    found = problems(config, MINIMAL + "at: 2026-12-11 16:00\nseries: boudoir\n")

    assert found == [(6, "give only one of at, window or series; this file has at and series")]


def test_a_window_must_end_after_it_starts(config: Config) -> None:
    found = problems(config, MINIMAL + "window:\n  from: 2026-12-12 10:00\n  until: 2026-12-11\n")

    assert found == [
        (
            5,
            "the window ends (until: 2026-12-11) before it starts (from: 2026-12-12 10:00); "
            "swap the two",
        )
    ]


def test_a_variant_for_an_account_not_in_to_is_refused(config: Config) -> None:
    found = problems(config, MINIMAL + "variants:\n  twitter: {text: court}\n")

    assert found == [
        (6, "variants has 'twitter', which is not in to; add it to to or remove the variant")
    ]


def test_unknown_libraries_and_accounts_are_refused_with_suggestions(config: Config) -> None:
    found = problems(
        config,
        "library: eaux-vive\nauthor: marie\ntext: x\n"
        "to:\n  - facebook\n  - facebok\n  - facebook\n",
    )

    assert found == [
        (
            1,
            "unknown library 'eaux-vive' (did you mean 'eaux-vives'?); "
            "config.yaml declares eaux-vives, paquis",
        ),
        (
            6,
            "unknown account 'facebok' (did you mean 'facebook'?); config.yaml declares "
            "facebook, instagram, twitter",
        ),
        (7, "'facebook' is listed twice in to"),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "id: Escalade 2026",
            "id must be lowercase letters, digits and . _ / - (at most 200), such as escalade-2026",
        ),
        (
            "series: Boudoir!",
            "series must be lowercase letters, digits and dashes, such as boudoir",
        ),
        (
            "link: ftp://example.org/x",
            "link must be a web address starting with http:// or https://",
        ),
        (
            "link: https:///agenda",
            "link is not a web address such as https://www.example.org/agenda",
        ),
    ],
)
def test_forms_of_id_series_and_link(config: Config, line: str, message: str) -> None:
    assert problems(config, MINIMAL + line + "\n") == [(5, message)]


def test_every_problem_is_reported_at_once_with_its_line(config: Config) -> None:
    (config.inbox_dir / "eaux-vives" / "fake.jpg").write_text("just text")
    found = problems(
        config,
        "library: eaux-vives\n"  # 1
        "author: marie\n"  # 2
        "txt: Bonjour\n"  # 3
        "media:\n"  # 4
        "  - file: fake.jpg\n"  # 5
        "  - file: ../../../etc/passwd\n"  # 6
        "to: [facebook, instagram]\n"  # 7
        "at: 2027-03-28 02:30\n"  # 8
        "variants:\n"  # 9
        "  instagram:\n"  # 10
        "    at: 2026-02-29 10:00\n"  # 11
        "  youtube: {text: hi}\n",  # 12
    )

    assert [line for line, _ in found] == [None, 3, 5, 6, 8, 11, 12]
    assert found[0] == (None, "text is missing")
    assert found[1][1].startswith("unknown key 'txt' (did you mean 'text'?)")
    assert found[2] == (5, "'fake.jpg' is named .jpg but holds no image or video data")
    assert "points outside the inbox" in found[3][1]
    assert "2027-03-28 02:30 does not exist in Europe/Zurich" in found[4][1]
    assert "February 2026 has 28 days" in found[5][1]
    assert "'youtube', which is not in to" in found[6][1]


def test_yaml_level_problems_become_file_problems(config: Config) -> None:
    path = write(config, b"library: eaux-vives\ntext: caf\xe9\n")

    with pytest.raises(PostFileInvalid) as caught:
        parse_post_file(path, config=config, now=NOW)

    [problem] = caught.value.problems
    assert str(problem) == (
        f"{path}:2: the file is not UTF-8 text (byte 0xe9 at offset 29); save it as UTF-8"
    )


def test_an_object_building_tag_is_refused(config: Config) -> None:
    [(line, message)] = problems(config, MINIMAL + "title: !!python/object/apply:os.getcwd []\n")

    assert line == 5
    assert "!!python/object/apply:os.getcwd is not allowed" in message


def test_an_oversized_post_file_is_refused(config: Config) -> None:
    big = MINIMAL + "title: " + "x" * config.intake.max_file_bytes + "\n"

    [(line, message)] = problems(config, big)

    assert line is None
    assert message.endswith(f"post files may be at most {config.intake.max_file_bytes} bytes")


def test_a_post_file_must_be_a_mapping(config: Config) -> None:
    assert problems(config, "- a\n- b\n") == [
        (1, "a post file is a mapping of keys such as library:, text:, to:")
    ]


def test_a_missing_file_is_a_problem_not_a_crash(config: Config) -> None:
    path = config.inbox_dir / "nope.yaml"

    with pytest.raises(PostFileInvalid) as caught:
        parse_post_file(path, config=config, now=NOW)

    assert str(caught.value) == f"{path}: cannot read the file: No such file or directory"


def test_file_problem_reads_like_a_compiler_message() -> None:
    assert str(FileProblem(Path("inbox/a.yaml"), 3, "oops")) == "inbox/a.yaml:3: oops"
    assert str(FileProblem(Path("inbox/a.yaml"), None, "oops")) == "inbox/a.yaml: oops"


def test_the_committed_schema_is_up_to_date() -> None:
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))

    assert committed == post_file_json_schema(), (
        "schema/post-file.schema.json is stale; run "
        "`python -m scheduler.intake.post_file > schema/post-file.schema.json`"
    )


def test_the_schema_describes_every_field() -> None:
    schema = post_file_json_schema()

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] and schema["title"]
    objects = [schema, *schema["$defs"].values()]
    for obj in objects:
        assert obj["additionalProperties"] is False
        for name, field in obj["properties"].items():
            assert field.get("description"), name
    assert set(schema["required"]) == {"library", "author", "text", "to"}


def test_the_module_prints_the_schema() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "scheduler.intake.post_file"],
        check=True,
        capture_output=True,
        text=True,
        cwd=SCHEMA_FILE.parent.parent,
    ).stdout

    assert json.loads(printed) == post_file_json_schema()


def test_latest_and_priority_are_read_and_checked(config: Config) -> None:
    post = parse(config, MINIMAL + "at: 2026-12-12 10:00\nlatest: 2026-12-13\npriority: urgent\n")
    assert post.priority == "urgent"
    assert post.latest == datetime(2026, 12, 13, 23, 0, tzinfo=UTC)  # the end of that day
    assert problems(config, MINIMAL + "latest: 2026-12-13\n") == [
        (5, "latest only goes with at or series (a window already has its end); remove it, "
            "or give the post a time"),
    ]  # fmt: skip
    assert problems(config, MINIMAL + "at: 2026-12-12 10:00\nlatest: 2026-12-11\n") == [
        (6, "latest (2026-12-11) is not after at; give a later time")
    ]
    assert problems(config, MINIMAL + "priority: high\n") == [
        (5, "priority must be one of 'normal' or 'urgent'")
    ]


def test_the_key_is_the_scanned_path_even_when_another_daemon_moved_the_file(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two daemons share an inbox: one opens the file, the other moves it to processed/
    before the first reads where its descriptor points. The key must stay the inbox path
    (a key from the new place queued the same post twice: bench/scale_out.py, 4 daemons)."""
    import scheduler.intake.post_file as post_file_module

    moved = config.base_dir / "processed" / "eaux-vives" / "post.yaml"
    monkeypatch.setattr(post_file_module, "opened_path", lambda _fd: str(moved))
    post = parse(config, "library: eaux-vives\nauthor: marie\ntext: Bonjour\nto: [facebook]\n")
    assert post.key == "eaux-vives/post"
