from __future__ import annotations

import time

import pytest

from scheduler.intake.safe_yaml import MAX_DEPTH, LineMap, YamlInvalid, load_yaml

LIMIT = 64 * 1024


def load(text: str | bytes, *, max_bytes: int = LIMIT) -> tuple[object, LineMap]:
    raw = text.encode() if isinstance(text, str) else text
    loaded = load_yaml(raw, max_bytes=max_bytes)
    return loaded.data, loaded.lines


def problems(text: str | bytes, *, max_bytes: int = LIMIT) -> list[tuple[int | None, str]]:
    with pytest.raises(YamlInvalid) as caught:
        load(text, max_bytes=max_bytes)
    return [(problem.line, problem.message) for problem in caught.value.problems]


def test_keeps_the_line_of_every_key_and_item() -> None:
    data, lines = load(
        "library: eaux-vives\nto:\n  - facebook\n  - twitter\nvariants:\n  x: {a: 1}\n"
    )

    assert data == {
        "library": "eaux-vives",
        "to": ["facebook", "twitter"],
        "variants": {"x": {"a": 1}},
    }
    assert lines.line_for(("library",)) == 1
    assert lines.line_for(("to", 1)) == 4
    assert lines.line_for(("variants", "x", "a")) == 6


def test_line_for_falls_back_to_the_nearest_known_parent() -> None:
    _, lines = load("media:\n  - file: a.jpg\n")

    assert lines.line_for(("media", 0, "alt")) == 2
    assert lines.line_for(("media", 3)) == 1
    assert lines.line_for(("nothing",)) is None
    assert lines.line_for(()) is None


def test_dates_and_clock_times_stay_text() -> None:
    data, _ = load(
        "at: 2026-12-11 16:00\nday: 2026-12-10\nclock: 16:00\nstamp: 2026-12-11T16:00Z\n"
    )

    assert data == {
        "at": "2026-12-11 16:00",
        "day": "2026-12-10",
        "clock": "16:00",
        "stamp": "2026-12-11T16:00Z",
    }


def test_only_yaml_1_2_booleans_numbers_and_null_are_implicit() -> None:
    data, _ = load("a: yes\nb: no\nc: on\nd: true\ne: 12\nf: 1.5\ng: ~\nh:\ni: 007\nj: 0x1f\n")

    assert data == {
        "a": "yes",
        "b": "no",
        "c": "on",
        "d": True,
        "e": 12,
        "f": 1.5,
        "g": None,
        "h": None,
        "i": "007",
        "j": "0x1f",
    }


def test_merge_keys_are_honoured_and_local_keys_win() -> None:
    data, lines = load("base: &base {text: hello, title: t}\nother:\n  <<: *base\n  text: bye\n")

    assert data == {"base": {"text": "hello", "title": "t"}, "other": {"text": "bye", "title": "t"}}
    assert lines.line_for(("other", "text")) == 4


def test_python_object_tag_is_refused() -> None:
    found = problems("text: !!python/object/apply:os.system ['touch /tmp/relais-pwned']\n")

    assert found == [
        (
            1,
            "the tag !!python/object/apply:os.system is not allowed; "
            "write plain text, numbers, lists and mappings",
        )
    ]


@pytest.mark.parametrize(
    "value", ["!custom 3", "!!binary aGVsbG8=", "!!timestamp 2026-12-11", "!!set {a}"]
)
def test_any_non_standard_tag_is_refused(value: str) -> None:
    [(line, message)] = problems(f"a: 1\nb: {value}\n")

    assert line == 2
    assert "is not allowed" in message


def test_standard_tags_are_allowed() -> None:
    data, _ = load("a: !!str 12\nb: !!int '3'\n")

    assert data == {"a": "12", "b": 3}


def test_billion_laughs_is_refused_fast() -> None:
    lol = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 10)
    )

    started = time.perf_counter()
    [(_, message)] = problems(lol)
    elapsed = time.perf_counter() - started

    assert "expands to more than 10000 values" in message
    assert elapsed < 0.5


def test_a_recursive_alias_is_refused() -> None:
    [(_, message)] = problems("a: &a [*a]\n")

    assert f"nested more than {MAX_DEPTH} levels" in message


def test_deep_nesting_is_refused() -> None:
    [(line, message)] = problems("a: " + "[" * 50 + "]" * 50 + "\n")

    assert line == 1
    assert "nested more than" in message


def test_non_utf8_bytes_are_named_with_their_offset() -> None:
    found = problems(b"text: caf\xe9\n")

    assert found == [
        (1, "the file is not UTF-8 text (byte 0xe9 at offset 9); save it as UTF-8"),
    ]


def test_a_byte_order_mark_is_tolerated() -> None:
    data, _ = load("\ufefftext: café\n".encode())

    assert data == {"text": "café"}


def test_nul_bytes_mean_a_binary_file() -> None:
    [(line, message)] = problems(b"a: 1\nb: \x00\x01\x02\n")

    assert line == 2
    assert "NUL byte at offset 8" in message


def test_an_oversized_file_is_refused_without_parsing() -> None:
    # Invalid YAML: a parse would report a syntax error instead of the size.
    found = problems("a: [\n" + "x" * 2000, max_bytes=1024)

    assert found == [(None, "the file is 2005 bytes; the limit is 1024 bytes")]


def test_several_documents_are_refused() -> None:
    assert problems("a: 1\n---\nb: 2\n") == [
        (2, "a second YAML document starts here (after ---); a post file holds exactly one")
    ]


@pytest.mark.parametrize("text", ["", "# just a comment\n", "---\n", "~\n"])
def test_an_empty_file_is_refused(text: str) -> None:
    assert problems(text) == [(None, "the file is empty")]


def test_syntax_errors_keep_the_line_yaml_gives() -> None:
    [(line, message)] = problems("library: x\nauthor: marie\ntext: a: b\n")

    assert line == 3
    assert message.startswith("not valid YAML: mapping values are not allowed")


def test_duplicate_keys_are_refused_with_both_lines() -> None:
    assert problems("text: a\nto: [x]\ntext: b\n") == [
        (3, "'text' appears twice (first on line 1)")
    ]
