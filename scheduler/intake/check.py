"""``relais check FILE...``: every problem with its line, or exactly what will be sent.

A file passes only if the post file itself is valid *and* every account's connector
accepts what it would receive (text length, media kinds, ...). Intake uses the same
:func:`validate_post_file`, so a file that passes ``check`` is a file intake queues.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from connectors.base import Connector, MediaItem, Outgoing, RenderedText
from scheduler.config import Config
from scheduler.intake.media import human_size
from scheduler.intake.post_file import (
    FileProblem,
    PlannedDelivery,
    PostFile,
    PostFileInvalid,
    Timing,
    parse_post_file_with_lines,
)
from scheduler.intake.safe_yaml import LineMap, Loc
from scheduler.intake.times import describe_local
from scheduler.rules.links import LinkTagger

PREVIEW_DELIVERY_ID = "preview"


@dataclass(frozen=True)
class AccountPreview:
    """One account's delivery, as its connector would receive it."""

    account: str
    outgoing: Outgoing
    timing: Timing
    # The exact text the platform receives and its counted length (None: no connector).
    rendered: RenderedText | None = None


@dataclass(frozen=True)
class InvalidFile:
    path: Path
    problems: tuple[FileProblem, ...]


@dataclass(frozen=True)
class ValidFile:
    path: Path
    post: PostFile
    previews: tuple[AccountPreview, ...]


FileReport = InvalidFile | ValidFile


def check_files(
    paths: Iterable[Path],
    *,
    config: Config,
    connectors: Mapping[str, Connector],
    now: datetime,
) -> list[FileReport]:
    """One report per path, in order; never raises for a bad file."""
    return [_check(path, config=config, connectors=connectors, now=now) for path in paths]


def validate_post_file(
    path: Path, *, config: Config, connectors: Mapping[str, Connector], now: datetime
) -> PostFile:
    """The post file, if it and every connector's offline check pass; else PostFileInvalid."""
    report = _check(path, config=config, connectors=connectors, now=now)
    if isinstance(report, InvalidFile):
        raise PostFileInvalid(list(report.problems))
    return report.post


def exit_status(reports: Iterable[FileReport]) -> int:
    return 1 if any(isinstance(report, InvalidFile) for report in reports) else 0


def preview_outgoing(
    post: PostFile, planned: PlannedDelivery, *, now: datetime, tagger: LinkTagger | None = None
) -> Outgoing:
    """What the connector would be handed, with media still pointing at the inbox files."""
    content = planned.content
    link = content.link
    if tagger is not None:
        link = tagger.tag(link, account=planned.account, campaign=post.campaign)
    return Outgoing(
        delivery_id=PREVIEW_DELIVERY_ID,
        post_id=post.key,
        account=planned.account,
        library=post.library,
        author=post.author,
        title=content.title,
        text=content.text,
        link=link,
        media=tuple(
            MediaItem(
                path=ref.source,
                alt=ref.alt,
                mime_type=ref.mime_type,
                size=ref.size,
                sha256=ref.sha256,
            )
            for ref in content.media
        ),
        due_at=_earliest(planned.timing, now),
        tags=content.tags,
    )


def _earliest(timing: Timing, now: datetime) -> datetime:
    # Only an estimate for the connector's check: placement picks the real moment later.
    if timing.at is not None:
        return timing.at
    if timing.window_start is not None:
        return max(timing.window_start, now)
    return now


def _check(
    path: Path, *, config: Config, connectors: Mapping[str, Connector], now: datetime
) -> FileReport:
    try:
        post, lines = parse_post_file_with_lines(path, config=config, now=now)
    except PostFileInvalid as invalid:
        return InvalidFile(path=path, problems=tuple(invalid.problems))
    previews: list[AccountPreview] = []
    problems: list[FileProblem] = []
    for index, planned in enumerate(post.deliveries):
        account = planned.account
        outgoing = preview_outgoing(post, planned, now=now, tagger=config.link_tagger())
        connector = connectors.get(account)
        if connector is None:
            line = lines.line_for(("to", index))
            problems.append(FileProblem(path, line, f"{account}: no connector is set up"))
            continue
        previews.append(
            AccountPreview(
                account=account,
                outgoing=outgoing,
                timing=planned.timing,
                rendered=connector.render(outgoing),
            )
        )
        for problem in connector.check(outgoing):
            line = _line_of(lines, account, problem.field, index)
            problems.append(FileProblem(path, line, f"{account}: {problem.message}"))
    if problems:
        return InvalidFile(path=path, problems=tuple(sorted(problems, key=lambda p: p.line or 0)))
    return ValidFile(path=path, post=post, previews=tuple(previews))


def _line_of(lines: LineMap, account: str, field: str, index: int) -> int | None:
    """The variant's key if it set this field, else the post's key, else the account in to."""
    for loc in (("variants", account, field), (field,)):
        if loc in lines.lines:
            return lines.lines[loc]
    fallback: Loc = ("to", index)
    return lines.line_for(fallback)


# --- rendering ------------------------------------------------------------------------


def render_reports(reports: Iterable[FileReport], zone: ZoneInfo) -> str:
    """Plain text for a terminal: problems as ``path:line: message``, else a preview."""
    reports = list(reports)
    blocks = [
        "\n".join(str(problem) for problem in report.problems)
        if isinstance(report, InvalidFile)
        else _render_valid(report, zone)
        for report in reports
    ]
    invalid = sum(isinstance(report, InvalidFile) for report in reports)
    checked = f"{len(reports)} file{'s' if len(reports) != 1 else ''} checked"
    blocks.append(f"{checked}: {len(reports) - invalid} ok, {invalid} with problems")
    return "\n\n".join(blocks) + "\n"


def _render_valid(report: ValidFile, zone: ZoneInfo) -> str:
    post = report.post
    accounts = ", ".join(preview.account for preview in report.previews)
    head = [
        f"{report.path}: ok",
        f"  post {post.key} · library {post.library} · author {post.author}",
    ]
    if post.cancel:
        head.append(f"  cancel: true withdraws this post from {accounts}; nothing will be sent")
        return "\n".join(head)
    blocks = ["\n".join(head)]
    blocks.extend(_render_preview(preview, zone) for preview in report.previews)
    return "\n\n".join(blocks)


def _render_preview(preview: AccountPreview, zone: ZoneInfo) -> str:
    outgoing = preview.outgoing
    rows: list[tuple[str, str]] = [("when", _render_timing(preview.timing, zone))]
    rows.append(("title", outgoing.title if outgoing.title else "(none)"))
    if preview.rendered is None:
        rows.append(("text", outgoing.text.rstrip("\n")))
    else:
        rendered = preview.rendered
        rows.append(("sends", rendered.text.rstrip("\n")))
        limit = f" of at most {rendered.limit}" if rendered.limit is not None else ""
        rows.append(("length", f"{rendered.length}{limit} {rendered.counted_as}"))
    rows.append(("link", outgoing.link or "(none)"))
    if outgoing.media:
        for item in outgoing.media:
            described = f"{item.path.name} ({item.mime_type}, {human_size(item.size)})"
            alt = f"\nalt: {item.alt}" if item.alt else "\nalt: (none)"
            rows.append(("media", described + alt))
    else:
        rows.append(("media", "(none)"))
    rows.append(("tags", ", ".join(outgoing.tags) if outgoing.tags else "(none)"))
    lines = [f"  {preview.account}"]
    for label, value in rows:
        first, *rest = value.split("\n")
        lines.append(f"    {label:<6} {first}")
        lines.extend(f"    {'':<6} {line}" for line in rest)
    return "\n".join(lines)


def _render_timing(timing: Timing, zone: ZoneInfo) -> str:
    if timing.kind == "at" and timing.at is not None:
        return f"{describe_local(timing.at, zone)} {zone.key}\n({_utc(timing.at)})"
    if timing.kind == "window" and timing.window_start and timing.window_end:
        start, end = timing.window_start, timing.window_end
        return (
            f"the first free slot from {describe_local(start, zone)} "
            f"until before {describe_local(end, zone)} {zone.key}\n"
            f"({_utc(start)} to {_utc(end)})"
        )
    if timing.kind == "series":
        return f"the next free occurrence of the series {timing.series}"
    return "the next free slot (the house rules decide)"


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
