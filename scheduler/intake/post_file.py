"""The post file: the contract between contributors and relais (DESIGN.md, "The post file").

Reading a post file goes through three layers, and every problem of every layer is
reported at once, each with the line of the key it is about:

1. :mod:`scheduler.intake.safe_yaml` turns bytes into plain data and a line map;
2. the pydantic models below check the shape (unknown keys, types, required keys);
3. the checks here resolve what needs the configuration, the clock or the disk:
   libraries, accounts, times (:mod:`scheduler.intake.times`) and media
   (:mod:`scheduler.intake.media`).

The result is a frozen :class:`PostFile` holding one :class:`PlannedDelivery` per account,
each with its variant already merged. ``python -m scheduler.intake.post_file`` prints the JSON
Schema that editors use to validate and complete post files.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from scheduler.clock import ensure_utc
from scheduler.config import Config
from scheduler.intake.confined_open import UnsafeFile, open_confined, opened_path
from scheduler.intake.file_names import shown
from scheduler.intake.media import MediaError, MediaRef, resolve_media
from scheduler.intake.post_schema import (
    SERIES_PATTERN,
    PostModel,
    VariantModel,
    describe_error,
    post_file_json_schema,
    suggest_key,
)
from scheduler.intake.safe_yaml import LineMap, Loc, YamlInvalid, load_yaml
from scheduler.intake.times import TimeSpecError, parse_time
from scheduler.intake.yaml_pitfalls import find_pitfalls

# The post.key column (String(255)); PostgreSQL refuses longer.
MAX_KEY_LENGTH = 255
TimingKind = Literal["at", "window", "next_free", "series"]


@dataclass(frozen=True)
class FileProblem:
    path: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else str(self.path)
        return f"{where}: {self.message}"


class PostFileInvalid(Exception):
    """The post file cannot be used; ``problems`` lists every reason, in line order."""

    def __init__(self, problems: list[FileProblem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


@dataclass(frozen=True)
class PostContent:
    title: str | None
    text: str
    link: str | None
    media: tuple[MediaRef, ...]
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Timing:
    """When a delivery should go out.

    ``at``: exactly then. ``window``: the placement rules pick a moment in the half-open
    interval ``[window_start, window_end)``. ``next_free``: the next free slot.
    ``series``: the next free occurrence of the named series. All datetimes are UTC.
    """

    kind: TimingKind
    at: datetime | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    series: str | None = None

    def __post_init__(self) -> None:
        for name in ("at", "window_start", "window_end"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, ensure_utc(value))
        needed = {
            "at": self.at is not None,
            "window": self.window_start is not None and self.window_end is not None,
            "series": self.series is not None,
            "next_free": True,
        }
        if not needed[self.kind]:
            raise ValueError(f"a {self.kind!r} timing is missing its value")


@dataclass(frozen=True)
class PlannedDelivery:
    account: str
    content: PostContent
    timing: Timing


@dataclass(frozen=True)
class PostFile:
    key: str
    source: Path
    sha256: str
    library: str
    author: str
    title: str | None
    cancel: bool
    deliveries: tuple[PlannedDelivery, ...]
    campaign: str | None = None
    announces: str | None = None
    # A fixed-time post may move to a later day up to this moment (never past it).
    latest: datetime | None = None
    priority: Literal["normal", "urgent"] = "normal"

    def close_media(self) -> None:
        """Close the descriptors the media were checked through (once stored or dropped)."""
        for planned in self.deliveries:
            for ref in planned.content.media:
                if ref.handle is not None:
                    ref.handle.close()


# --- the raw format: shape only; meaning is checked by _Checker below ----------------


def parse_post_file(path: Path, *, config: Config, now: datetime) -> PostFile:
    """Read and check ``path``; raise :class:`PostFileInvalid` listing every problem."""
    return parse_post_file_with_lines(path, config=config, now=now)[0]


def parse_post_file_with_lines(
    path: Path, *, config: Config, now: datetime
) -> tuple[PostFile, LineMap]:
    """Like :func:`parse_post_file`, also returning where each key is, for later reports."""
    raw, real = _read(path, config)
    # French typography's " : ", a hashtag after a space, a leading @: said in words.
    pitfalls = find_pitfalls(raw.decode("utf-8", errors="replace"))
    try:
        loaded = load_yaml(raw, max_bytes=config.intake.max_file_bytes)
    except YamlInvalid as error:
        # The sentence saying how to write it first, then YAML's own words.
        raise PostFileInvalid(
            [FileProblem(path, pitfall.line, pitfall.message) for pitfall in pitfalls]
            + [FileProblem(path, problem.line, problem.message) for problem in error.problems]
        ) from None
    if not isinstance(loaded.data, dict):
        raise PostFileInvalid(
            [FileProblem(path, 1, "a post file is a mapping of keys such as library:, text:, to:")]
        )
    checker = _Checker(path, real=real, config=config, now=now)
    post = checker.check(loaded.data)
    for pitfall in pitfalls:  # valid YAML that does not say what was meant (a lost #tag)
        checker.problem((pitfall.key,), pitfall.message)
    problems = sorted(
        {
            FileProblem(path, loaded.lines.line_for(loc), message): None
            for loc, message in checker.problems
        },
        key=lambda problem: problem.line or 0,
    )
    if problems or post is None:
        raise PostFileInvalid(problems)
    key = post.id if post.id is not None else checker.default_key
    if len(key) > MAX_KEY_LENGTH:
        raise PostFileInvalid(
            [
                FileProblem(
                    path,
                    None,
                    f"the post's id, taken from its folder and file name, is {len(key)} "
                    f"characters long; give it a shorter `id:` (at most {MAX_KEY_LENGTH})",
                )
            ]
        )
    return (
        PostFile(
            key=key,
            source=path,
            sha256=hashlib.sha256(raw).hexdigest(),
            library=post.library,
            author=post.author,
            title=post.title,
            cancel=post.cancel,
            deliveries=tuple(checker.deliveries(post)),
            campaign=post.campaign or post.series or key.replace("/", "-"),
            announces=post.announces,
            latest=checker.latest,
            priority=post.priority,
        ),
        loaded.lines,
    )


def _read(path: Path, config: Config) -> tuple[bytes, Path]:
    """The file's bytes and its real path, both from one descriptor (confined_open)."""
    max_bytes = config.intake.max_file_bytes
    inbox = Path(os.path.realpath(config.inbox_dir))
    parent = Path(os.path.realpath(path.parent))
    root, label = (inbox, "the inbox") if parent.is_relative_to(inbox) else (parent, "its folder")
    try:
        handle, _ = open_confined(
            path,
            root=root,
            max_bytes=max_bytes,
            name="the file",
            root_label=label,
            too_big=lambda size: (
                f"the file is {size} bytes; post files may be at most {max_bytes} bytes"
            ),
        )
    except UnsafeFile as unsafe:
        raise PostFileInvalid([FileProblem(path, None, str(unsafe))]) from None
    except OSError as error:
        raise PostFileInvalid(
            [FileProblem(path, None, f"cannot read the file: {error.strerror}")]
        ) from None
    with handle:
        real = Path(opened_path(handle.fileno()) or os.path.realpath(path))
        try:
            # One byte more than allowed, so a file that grew since fstat is still caught.
            raw = handle.read(max_bytes + 1)
        except OSError as error:
            raise PostFileInvalid(
                [FileProblem(path, None, f"cannot read the file: {error.strerror}")]
            ) from None
    return raw, real


class _Checker:
    """Collects (location, message) problems while resolving one post file."""

    def __init__(self, path: Path, *, real: Path, config: Config, now: datetime) -> None:
        self.config = config
        self.now = ensure_utc(now)
        self.problems: list[tuple[Loc, str]] = []
        inbox = Path(os.path.realpath(config.inbox_dir))
        # The key comes from the path the scan found, not from where the descriptor is now:
        # another daemon sharing the inbox may have moved the file to processed/ meanwhile,
        # and a key taken from the new place ("essai" for "redaction/essai") would queue the
        # same post a second time under another identity (a double post).
        # (Confinement was checked on the descriptor when it was opened.)
        asked = Path(os.path.realpath(path.parent)) / path.name
        if asked.is_relative_to(inbox):
            real = asked
        if real.is_relative_to(inbox):
            self.root, self.root_label = inbox, "the inbox"
            # Shown escaped: a name that is not UTF-8 cannot be stored as text otherwise.
            self.default_key = shown(real.relative_to(inbox).with_suffix("").as_posix())
        else:
            # `relais check ~/draft.yaml`: allowed, confined to the file's own folder.
            self.root, self.root_label = real.parent, "the post file's folder"
            self.default_key = shown(real.stem)
        self.base_dir = real.parent
        self.media: dict[Loc, tuple[MediaRef, ...]] = {}
        self.timings: dict[str, Timing] = {}
        self._media_cache: dict[str, MediaRef] = {}
        # A withdrawal must go through even when the post's time has passed meanwhile.
        self.past_ok = False
        self.latest: datetime | None = None

    def problem(self, loc: Loc, message: str) -> None:
        self.problems.append((loc, message))

    def check(self, data: dict[str, Any]) -> PostModel | None:
        """Check everything; returns the validated model, or ``None`` if its shape is wrong."""
        model: PostModel | None = None
        self.past_ok = data.get("cancel") is True
        try:
            model = PostModel.model_validate(data)
        except ValidationError as error:
            for detail in error.errors():
                self.problem(tuple(detail["loc"]), describe_error(detail))
        self._check_library(data.get("library"))
        self._check_id(data.get("id"))
        accounts = self._check_to(data.get("to"))
        self._check_timing(data)
        self.media[()] = self._resolve_media(data.get("media"), ("media",))
        variants = data.get("variants")
        if isinstance(variants, dict):
            for account, variant in variants.items():
                self._check_variant(account, variant, accounts)
        return model

    def _check_id(self, post_id: object) -> None:
        # An id looks like a path; it must never be able to act as one.
        if isinstance(post_id, str) and {".", ".."} & set(post_id.split("/")):
            self.problem(("id",), "id may not have . or .. parts; write it like escalade-2026")

    def _check_library(self, library: object) -> None:
        if isinstance(library, str) and library not in self.config.libraries:
            self.problem(
                ("library",),
                f"unknown library {library!r}{suggest_key(library, self.config.libraries)}; "
                f"config.yaml declares {', '.join(sorted(self.config.libraries))}",
            )

    def _check_to(self, to: object) -> list[str] | None:
        if not isinstance(to, list):
            return None
        seen: set[str] = set()
        for index, account in enumerate(to):
            if not isinstance(account, str):
                continue
            if account not in self.config.accounts:
                self.problem(
                    ("to", index),
                    f"unknown account {account!r}{suggest_key(account, self.config.accounts)}; "
                    f"config.yaml declares {', '.join(sorted(self.config.accounts))}",
                )
            elif account in seen:
                self.problem(("to", index), f"{account!r} is listed twice in to")
            seen.add(account)
        return [account for account in to if isinstance(account, str)]

    def _check_timing(self, data: dict[str, Any]) -> None:
        given = [key for key in ("at", "window", "series") if data.get(key) is not None]
        for extra in given[1:]:
            self.problem(
                (extra,),
                f"give only one of at, window or series; this file has {' and '.join(given)}",
            )
        series = data.get("series")
        well_formed = isinstance(series, str) and re.fullmatch(SERIES_PATTERN, series)
        if isinstance(series, str) and well_formed and series not in self.config.series:
            declared = ", ".join(sorted(self.config.series)) or "none"
            self.problem(
                ("series",),
                f"series {series!r} is not declared in config.yaml"
                f"{suggest_key(series, self.config.series)} (declared: {declared})",
            )
        at = data.get("at")
        if isinstance(at, str):
            moment = self._time(at, ("at",), "at")
            if moment is not None:
                self.timings[""] = Timing("at", at=moment)
        window = data.get("window")
        if isinstance(window, dict):
            start, end = window.get("from"), window.get("until")
            start_at = self._time(start, ("window", "from"), "from")
            end_at = self._time(end, ("window", "until"), "until")
            if start_at is not None and end_at is not None:
                if end_at <= start_at:
                    self.problem(
                        ("window",),
                        f"the window ends (until: {end}) before it starts (from: {start}); "
                        "swap the two",
                    )
                else:
                    self.timings[""] = Timing("window", window_start=start_at, window_end=end_at)
        self._check_latest(data, at=self.timings.get(""))

    def _check_latest(self, data: dict[str, Any], *, at: Timing | None) -> None:
        latest = data.get("latest")
        if not isinstance(latest, str):
            return
        if data.get("at") is None and data.get("series") is None:
            self.problem(
                ("latest",),
                "latest only goes with at or series (a window already has its end); "
                "remove it, or give the post a time",
            )
            return
        self.latest = self._time(latest, ("latest",), "until")
        if (
            self.latest is not None
            and at is not None
            and at.at is not None
            and self.latest <= at.at
        ):
            self.problem(("latest",), f"latest ({latest}) is not after at; give a later time")
            self.latest = None

    def _time(
        self, text: object, loc: Loc, role: Literal["at", "from", "until"]
    ) -> datetime | None:
        if not isinstance(text, str):
            return None  # the model reports the wrong type
        try:
            return parse_time(
                text, zone=self.config.zone, now=self.now, role=role, past_ok=self.past_ok
            )
        except TimeSpecError as error:
            self.problem(loc, f"{'.'.join(map(str, loc))}: {error}")
            return None

    def _resolve_media(self, items: object, loc: Loc) -> tuple[MediaRef, ...]:
        if not isinstance(items, list):
            return ()
        refs: list[MediaRef] = []
        for index, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("file"), str):
                continue
            alt = item.get("alt") if isinstance(item.get("alt"), str) else None
            try:
                ref = self._media_cache.get(item["file"]) or resolve_media(
                    item["file"],
                    alt=alt,
                    base_dir=self.base_dir,
                    root=self.root,
                    max_bytes=self.config.intake.max_media_bytes,
                    root_label=self.root_label,
                )
            except MediaError as error:
                self.problem((*loc, index, "file"), str(error))
                continue
            self._media_cache[item["file"]] = ref
            refs.append(
                MediaRef(
                    source=ref.source,
                    alt=alt,
                    mime_type=ref.mime_type,
                    size=ref.size,
                    sha256=ref.sha256,
                    handle=ref.handle,
                )
            )
        return tuple(refs)

    def _check_variant(self, account: str, variant: object, accounts: list[str] | None) -> None:
        loc: Loc = ("variants", account)
        if accounts is not None and account not in accounts:
            self.problem(
                loc,
                f"variants has {account!r}, which is not in to; add it to to or remove the variant",
            )
        if not isinstance(variant, dict):
            return
        for key in ("text", "at"):
            if key in variant and variant[key] is None:
                self.problem(
                    (*loc, key), f"variants.{account}.{key} is empty; give a value or remove it"
                )
        at = variant.get("at")
        if isinstance(at, str):
            moment = self._time(at, (*loc, "at"), "at")
            if moment is not None:
                self.timings[account] = Timing("at", at=moment)
        self.media[loc] = self._resolve_media(variant.get("media"), (*loc, "media"))

    def deliveries(self, post: PostModel) -> list[PlannedDelivery]:
        base_timing = self.timings.get("") or (
            Timing("series", series=post.series) if post.series else Timing("next_free")
        )
        base = PostContent(
            title=post.title,
            text=post.text,
            link=post.link,
            media=self.media[()],
            tags=tuple(post.tags),
        )
        planned = []
        for account in post.to:
            variant = post.variants.get(account)
            content = base if variant is None else self._merge(base, variant, account)
            timing = self.timings.get(account, base_timing)
            planned.append(PlannedDelivery(account=account, content=content, timing=timing))
        return planned

    def _merge(self, base: PostContent, variant: VariantModel, account: str) -> PostContent:
        given = variant.model_fields_set
        return PostContent(
            title=variant.title if "title" in given else base.title,
            text=variant.text if "text" in given and variant.text is not None else base.text,
            link=variant.link if "link" in given else base.link,
            media=self.media[("variants", account)] if "media" in given else base.media,
            tags=tuple(variant.tags or ()) if "tags" in given else base.tags,
        )


def main() -> None:
    sys.stdout.write(json.dumps(post_file_json_schema(), indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
