"""The documentation says what the code does: its links lead somewhere, its examples load.

- Every relative link in every ``*.md`` of the repository points at a file that exists,
  and an anchor (``page.md#section``) at a heading of that page.
- Every fenced block opened with ```` ```yaml config ```` is a piece of config.yaml: it is
  laid over the bundled config.yaml and must load through the real loader and build its
  connectors, as ``relais run`` would.
- Every block opened with ```` ```yaml post ```` is a post file: ``relais check``'s own
  code must find nothing wrong with it (media it names are made up as tiny files).
- docs/configuration.md is what ``make docs`` writes from the config models.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from connectors.registry import build_connectors
from scheduler.config import load_config
from scheduler.config_reference import REFERENCE, render_reference
from scheduler.intake.check import InvalidFile, check_files
from tests.connectors.contract import jpeg_bytes
from tests.paths import REPOSITORY
from tests.support import FakeClock

# mutants/: the copy of the repository that `make mutate` works in.
SKIPPED_FOLDERS = {
    ".git",
    ".venv",
    "node_modules",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    "mutants",
}
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")

# Examples the docs give on purpose that today's code refuses: each must fail (strict
# xfail), so the test turns red once the code is fixed and the entry has to go.
KNOWN_REFUSALS: dict[tuple[str, str], str] = {}


def markdown_files() -> list[Path]:
    found = []
    for path in sorted(REPOSITORY.rglob("*.md")):
        if not SKIPPED_FOLDERS.intersection(path.relative_to(REPOSITORY).parts):
            found.append(path)
    return found


@dataclass(frozen=True, kw_only=True)
class Block:
    path: Path
    line: int
    info: str
    text: str

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(REPOSITORY)}:{self.line}"


def blocks(path: Path) -> Iterator[Block]:
    """Fenced code blocks, with the line of their opening fence."""
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent, fence, info = opening.groups()
        body = []
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            body.append(lines[end][len(indent) :] if lines[end].startswith(indent) else lines[end])
            end += 1
        yield Block(path=path, line=index + 1, info=info.strip(), text="\n".join(body) + "\n")
        index = end + 1


def prose(path: Path) -> str:
    """The page without its code: links inside code blocks and `code` are not links."""
    kept = []
    inside = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            inside = not inside
            continue
        if not inside:
            kept.append(re.sub(r"`[^`]*`", "", line))
    return "\n".join(kept)


def github_anchors(path: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces
    to dashes, and -1, -2... for repeats."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    inside = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            inside = not inside
            continue
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if inside or not heading:
            continue
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.group(1))
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def relative_links(path: Path) -> Iterator[str]:
    for target in LINK.findall(prose(path)):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
            continue  # https:, mailto: ...
        yield target


@pytest.mark.parametrize(
    "page", markdown_files(), ids=lambda page: str(page.relative_to(REPOSITORY))
)
def test_every_relative_link_leads_to_a_file_and_heading(page: Path) -> None:
    dead = []
    for target in relative_links(page):
        file_part, _, anchor = target.partition("#")
        destination = (page.parent / file_part).resolve() if file_part else page
        if not destination.exists():
            dead.append(f"{target}: no such file")
        elif anchor and destination.suffix == ".md" and anchor not in github_anchors(destination):
            dead.append(f"{target}: no heading #{anchor} in {destination.name}")
    assert not dead, f"{page.relative_to(REPOSITORY)}: " + "; ".join(dead)


REPOSITORY_PATH = re.compile(r"^(?:scheduler|connectors|tests|bench|systemd|schema|docs)/[\w./-]*$")


def named_paths(path: Path) -> Iterator[str]:
    """Repository paths a page names in `code` outside code blocks, such as
    `scheduler/delivery/dispatcher.py`."""
    inside = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            inside = not inside
        elif not inside:
            yield from (
                code for code in re.findall(r"`([^`\s]+)`", line) if REPOSITORY_PATH.match(code)
            )


@pytest.mark.parametrize(
    "page", markdown_files(), ids=lambda page: str(page.relative_to(REPOSITORY))
)
def test_every_repository_path_named_in_code_exists(page: Path) -> None:
    missing = [name for name in named_paths(page) if not (REPOSITORY / name).exists()]
    assert not missing, f"{page.relative_to(REPOSITORY)} names paths that do not exist: {missing}"


def test_the_readme_stays_a_page_a_newcomer_reads_top_to_bottom() -> None:
    lines = (REPOSITORY / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= 200, f"README.md has {lines} lines: move the details into docs/"


def test_the_link_checker_sees_a_dead_link_and_a_dead_anchor(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# A title\n\n[ok](#a-title) [gone](missing.md) [wrong](#nowhere)\n"
        "`[in code](missing.md)`\n```\n[in a block](missing.md)\n```\n",
        encoding="utf-8",
    )
    assert list(relative_links(page)) == ["#a-title", "missing.md", "#nowhere"]
    assert github_anchors(page) == {"a-title"}


def marked_blocks(marker: str) -> list[Any]:
    params = []
    for page in markdown_files():
        for block in blocks(page):
            if block.info.split() != ["yaml", marker]:
                continue
            marks = [
                pytest.mark.xfail(strict=True, reason=reason)
                for (where, text), reason in KNOWN_REFUSALS.items()
                if block.name.startswith(where + ":") and text in block.text
            ]
            params.append(pytest.param(block, id=block.name, marks=marks))
    return params


CONFIG_BLOCKS = marked_blocks("config")
POST_BLOCKS = marked_blocks("post")


def test_the_docs_have_config_and_post_examples_to_check() -> None:
    assert len(CONFIG_BLOCKS) >= 8 and len(POST_BLOCKS) >= 3


def _bundled_config(folder: Path, fragment: dict[str, Any] | None = None) -> Path:
    """The bundled config.yaml in ``folder``, each top-level mapping's entries replaced by
    the fragment's (an account of the fragment replaces the bundled one of that name)."""
    config = yaml.safe_load((REPOSITORY / "config.yaml").read_text(encoding="utf-8"))
    for key, value in (fragment or {}).items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("block", CONFIG_BLOCKS)
def test_a_config_example_loads_and_builds_its_connectors(block: Block, tmp_path: Path) -> None:
    fragment = yaml.safe_load(block.text)
    assert isinstance(fragment, dict), f"{block.name}: a config example is a mapping"
    config = load_config(_bundled_config(tmp_path, fragment))
    build_connectors(config.account_settings(), FakeClock())


NOW = datetime(2026, 12, 1, 9, 0, tzinfo=ZoneInfo("Europe/Zurich"))
MEDIA_BYTES = {
    ".jpg": jpeg_bytes(400, 500),
    ".png": (REPOSITORY / "inbox" / "redaction" / "escalade.png").read_bytes(),
}


@pytest.mark.parametrize("block", POST_BLOCKS)
def test_a_post_example_passes_relais_check(block: Block, tmp_path: Path) -> None:
    config = load_config(_bundled_config(tmp_path))
    post = yaml.safe_load(block.text)
    folder = config.inbox_dir / str(post["library"])
    folder.mkdir(parents=True)
    for item in post.get("media", []):
        media = folder / item["file"]
        suffix = media.suffix.lower()
        if suffix == ".mp4":
            shutil.copy(REPOSITORY / "inbox" / "redaction" / "boudoir-la-horde.mp4", media)
        else:
            media.write_bytes(MEDIA_BYTES[suffix])
    path = folder / "example.yaml"
    path.write_text(block.text, encoding="utf-8")
    clock = FakeClock(NOW)
    connectors = build_connectors(config.account_settings(), clock)
    [report] = check_files([path], config=config, connectors=connectors, now=NOW)
    assert not isinstance(report, InvalidFile), "\n".join(str(p) for p in report.problems)


def test_the_configuration_reference_is_what_make_docs_writes() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == render_reference(), (
        "docs/configuration.md is out of date: run `make docs` and commit it"
    )
