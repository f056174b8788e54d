from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest

from connectors.base import (
    Connector,
    Limits,
    Outgoing,
    Problem,
    Published,
    RenderedText,
    Verdict,
    check_limits,
    plain_text,
)
from scheduler.config import AccountConfig, Config, LibraryConfig, SeriesConfig
from scheduler.intake.check import (
    InvalidFile,
    ValidFile,
    check_files,
    exit_status,
    render_reports,
    validate_post_file,
)
from scheduler.intake.post_file import FileProblem, PostFileInvalid

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
JPEG = bytes.fromhex("ffd8ffe000104a4649460001") + b"\x00" * 200


class FakeConnector:
    """Records what it was asked to check; never publishes anything real."""

    kind: ClassVar[str] = "fake"

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.lead_time = timedelta()
        self.min_lead_time = timedelta()
        self.checked: list[Outgoing] = []

    def render(self, outgoing: Outgoing) -> RenderedText:
        return plain_text(outgoing, None)

    def verify(self) -> Verdict:
        return Verdict(ok=True, message="fake")

    def check(self, outgoing: Outgoing) -> list[Problem]:
        self.checked.append(outgoing)
        return check_limits(self.limits, outgoing)

    def publish(self, outgoing: Outgoing) -> Published:
        raise AssertionError("check must never publish")

    def find(self, outgoing: Outgoing) -> Published | None:
        raise AssertionError("check must never look anything up")


BOUDOIR = SeriesConfig.model_validate(
    {"accounts": ["facebook"], "weekday": "wednesday", "time": "10:00", "from": "2026-09-02"}
)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    (tmp_path / "inbox" / "eaux-vives").mkdir(parents=True)
    (tmp_path / "inbox" / "eaux-vives" / "escalade.jpg").write_bytes(JPEG)
    return Config(
        timezone="Europe/Zurich",
        libraries={"eaux-vives": LibraryConfig(name="Eaux-Vives")},
        accounts={name: AccountConfig(kind="fake") for name in ("facebook", "twitter")},
        series={"boudoir": BOUDOIR},
        base_dir=tmp_path,
    )


@pytest.fixture
def connectors() -> dict[str, FakeConnector]:
    return {
        "facebook": FakeConnector(),
        "twitter": FakeConnector(Limits(max_text_length=30)),
    }


def write(config: Config, text: str, name: str = "escalade.yaml") -> Path:
    path = config.inbox_dir / "eaux-vives" / name
    path.write_text(text, encoding="utf-8")
    return path


POST = """\
library: eaux-vives
author: marie
title: Goûter de l'Escalade
text: |
  Trois collègues déguisées
  pour le goûter de l'Escalade !
link: https://www.example.org/agenda/escalade
media:
  - file: escalade.jpg
    alt: Trois bibliothécaires déguisées
tags: [escalade, genève]
to: [facebook, twitter]
at: 2026-12-11 16:00
variants:
  twitter: {text: "L'Escalade aux Eaux-Vives !", tags: []}
"""


def check(
    config: Config, connectors: dict[str, FakeConnector], *paths: Path
) -> list[InvalidFile | ValidFile]:
    as_protocol: dict[str, Connector] = dict(connectors)
    return check_files(paths, config=config, connectors=as_protocol, now=NOW)


def test_a_valid_file_previews_exactly_what_each_account_gets(
    config: Config, connectors: dict[str, FakeConnector]
) -> None:
    path = write(config, POST)

    reports = check(config, connectors, path)
    output = render_reports(reports, config.zone)

    assert exit_status(reports) == 0
    [facebook] = connectors["facebook"].checked
    assert facebook.delivery_id == "preview"
    assert facebook.post_id == "eaux-vives/escalade"
    assert facebook.due_at == datetime(2026, 12, 11, 15, 0, tzinfo=UTC)
    assert facebook.media[0].path.name == "escalade.jpg"
    assert output == (
        f"{path}: ok\n"
        "  post eaux-vives/escalade · library eaux-vives · author marie\n"
        "\n"
        "  facebook\n"
        "    when   Fri 2026-12-11 16:00 Europe/Zurich\n"
        "           (2026-12-11 15:00 UTC)\n"
        "    title  Goûter de l'Escalade\n"
        "    sends  Trois collègues déguisées\n"
        "           pour le goûter de l'Escalade !\n"
        "           https://www.example.org/agenda/escalade\n"
        "    length 96 characters\n"
        "    link   https://www.example.org/agenda/escalade\n"
        "    media  escalade.jpg (image/jpeg, 212 bytes)\n"
        "           alt: Trois bibliothécaires déguisées\n"
        "    tags   escalade, genève\n"
        "\n"
        "  twitter\n"
        "    when   Fri 2026-12-11 16:00 Europe/Zurich\n"
        "           (2026-12-11 15:00 UTC)\n"
        "    title  Goûter de l'Escalade\n"
        "    sends  L'Escalade aux Eaux-Vives !\n"
        "           https://www.example.org/agenda/escalade\n"
        "    length 67 characters\n"
        "    link   https://www.example.org/agenda/escalade\n"
        "    media  escalade.jpg (image/jpeg, 212 bytes)\n"
        "           alt: Trois bibliothécaires déguisées\n"
        "    tags   (none)\n"
        "\n"
        "1 file checked: 1 ok, 0 with problems\n"
    )


def test_connector_objections_make_the_file_invalid_at_the_right_line(
    config: Config, connectors: dict[str, FakeConnector]
) -> None:
    long_variant = POST.replace("L'Escalade aux Eaux-Vives !", "x" * 40)
    path = write(config, long_variant)

    [report] = check(config, connectors, path)

    assert report == InvalidFile(
        path=path,
        problems=(
            FileProblem(
                path, 15, "twitter: the text is 40 characters long; twitter takes at most 30"
            ),
        ),
    )


def test_an_objection_to_the_shared_text_points_at_text(
    config: Config, connectors: dict[str, FakeConnector]
) -> None:
    path = write(config, POST.replace("variants:\n  twitter:", "variants:\n  facebook:"))
    path.write_text(path.read_text().replace("to: [facebook, twitter]", "to: [twitter, facebook]"))

    [report] = check(config, connectors, path)

    assert isinstance(report, InvalidFile)
    assert [problem.line for problem in report.problems] == [4]


def test_an_account_without_a_connector_is_reported_on_its_to_line(config: Config) -> None:
    path = write(config, POST)

    [report] = check(config, {"facebook": FakeConnector()}, path)

    assert report == InvalidFile(
        path=path, problems=(FileProblem(path, 12, "twitter: no connector is set up"),)
    )


def test_invalid_files_print_every_problem_and_exit_1(
    config: Config, connectors: dict[str, FakeConnector]
) -> None:
    good = write(config, POST, "good.yaml")
    bad = write(config, "library: eaux-vives\nauthr: marie\ntext: x\nto: [facebook]\n", "bad.yaml")

    reports = check(config, connectors, good, bad)
    output = render_reports(reports, config.zone)

    assert exit_status(reports) == 1
    assert f"{bad}: author is missing\n" in output
    assert f"{bad}:2: unknown key 'authr' (did you mean 'author'?)" in output
    assert output.endswith("2 files checked: 1 ok, 1 with problems\n")


def test_windows_free_slots_and_series_are_described(
    config: Config, connectors: dict[str, FakeConnector]
) -> None:
    base = "library: eaux-vives\nauthor: marie\ntext: Bonjour\nto: [facebook]\n"
    window = write(config, base + "window: {from: 2026-12-10, until: 2026-12-12 18:00}\n", "w.yaml")
    free = write(config, base, "f.yaml")
    series = write(config, base + "series: boudoir\n", "s.yaml")

    output = render_reports(check(config, connectors, window, free, series), config.zone)

    assert (
        "    when   the first free slot from Thu 2026-12-10 00:00 until before "
        "Sat 2026-12-12 18:00 Europe/Zurich\n"
        "           (2026-12-09 23:00 UTC to 2026-12-12 17:00 UTC)\n"
    ) in output
    assert "    when   the next free slot (the house rules decide)\n" in output
    assert "    when   the next free occurrence of the series boudoir\n" in output
    assert "    title  (none)\n" in output and "    media  (none)\n" in output


def test_a_cancel_file_says_nothing_will_be_sent(
    config: Config, connectors: dict[str, FakeConnector]
) -> None:
    path = write(config, POST + "cancel: true\n")

    output = render_reports(check(config, connectors, path), config.zone)

    assert "cancel: true withdraws this post from facebook, twitter; nothing will be sent" in output
    assert "    when" not in output


def test_validate_post_file_is_what_intake_uses(
    config: Config, connectors: dict[str, FakeConnector]
) -> None:
    as_protocol: dict[str, Connector] = dict(connectors)
    good = write(config, POST, "good.yaml")
    too_long = write(config, POST.replace("L'Escalade aux Eaux-Vives !", "x" * 40), "long.yaml")

    post = validate_post_file(good, config=config, connectors=as_protocol, now=NOW)
    with pytest.raises(PostFileInvalid) as caught:
        validate_post_file(too_long, config=config, connectors=as_protocol, now=NOW)

    assert post.key == "eaux-vives/good"
    assert [problem.line for problem in caught.value.problems] == [15]
