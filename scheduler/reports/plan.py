"""The editorial plan behind ``relais plan --days N``: what goes out on each local day.

The plan is read from the queue as placement left it, so it shows exactly what will go out
when, plus what still waits on the editor (pending approval, held). Each day is checked
against the house rules: a day under an account's ``daily_target`` and a day over its
``daily_cap`` are flagged, and an account with a target appears on every day, even one
where it has nothing, since that empty slot is the gap the editor has to fill.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from scheduler.db.models import Delivery, Post, SeriesOccurrence
from scheduler.delivery.states import State
from scheduler.delivery.transitions import transaction
from scheduler.rules.house_rules import AccountRules
from scheduler.rules.occupancy import OCCUPYING

# Cancelled, rejected, failed and missed deliveries will never go out: not in the plan.
SHOWN = (
    State.PENDING_APPROVAL,
    State.APPROVED,
    State.SCHEDULED,
    State.CLAIMED,
    State.SENDING,
    State.HANDED_OVER,
    State.PUBLISHED,
    State.RETRY_WAIT,
    State.UNKNOWN,
    State.NEEDS_ATTENTION,
    State.HELD,
)
# What will or did go out counts against the target and the cap (the rules' own definition).
COUNTED = OCCUPYING
# Shown without a tag: the normal course of a post.
_QUIET = frozenset({State.SCHEDULED, State.PUBLISHED})
# Fixed, so the plan reads the same whatever the locale of the machine.
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, kw_only=True)
class PlanEntry:
    delivery_id: str
    post_key: str
    library: str
    account: str
    state: str
    due_at: datetime  # aware UTC
    title: str | None
    # A post announcing a blog article not yet published: it has no time yet.
    waiting_for: str | None = None


@dataclass(frozen=True, kw_only=True)
class AccountDay:
    account: str
    entries: tuple[PlanEntry, ...]
    target: int | None
    cap: int | None
    under_target: bool
    over_cap: bool

    @property
    def counted(self) -> int:
        """Entries that will or did go out (what the target and cap are about)."""
        return sum(1 for entry in self.entries if entry.state in COUNTED)


@dataclass(frozen=True, kw_only=True)
class SeriesGap:
    """A series date with no episode: an empty slot the editor has to fill (or a missed one)."""

    series: str
    at: datetime  # aware UTC
    state: str  # open, or missed once it passed


@dataclass(frozen=True, kw_only=True)
class PlanDay:
    day: date  # local day in the plan's zone
    accounts: tuple[AccountDay, ...]
    empty: bool
    series_gaps: tuple[SeriesGap, ...] = ()

    @property
    def waiting_for_editor(self) -> tuple[PlanEntry, ...]:
        """Entries held by the house rules: a person has to choose (``relais why``)."""
        return tuple(
            entry
            for account in self.accounts
            for entry in account.entries
            if entry.state == State.HELD
        )


def build_plan(
    sessions: sessionmaker[Session],
    *,
    zone: ZoneInfo,
    rules: Mapping[str, AccountRules],
    accounts: Sequence[str],
    start: date,
    days: int,
) -> list[PlanDay]:
    """The local days ``start`` .. ``start + days - 1`` in ``zone``, one PlanDay each.

    Each day lists, per account (sorted by name), its deliveries due that local day, ordered
    by time then post key. ``accounts`` are the configured accounts: those among them with a
    ``daily_target`` get an AccountDay on every day, even without entries. A delivery on an
    account outside ``accounts`` is still shown (it is in the queue). One query in all.
    """
    if days < 1:
        raise ValueError(f"a plan covers at least one day, not {days}")
    # Local midnights, so a 23- or 25-hour day (DST change) is one day; compared in UTC.
    first = datetime.combine(start, time(0), zone)
    last = datetime.combine(start + timedelta(days=days), time(0), zone)
    query = (
        select(Delivery, Post)
        .join(Post, Delivery.post_id == Post.id)
        .where(Delivery.state.in_(SHOWN), Delivery.due_at >= first, Delivery.due_at < last)
        .order_by(Delivery.due_at, Delivery.account, Post.key, Delivery.id)
    )
    by_day: dict[date, dict[str, list[PlanEntry]]] = defaultdict(lambda: defaultdict(list))
    gaps: dict[date, list[SeriesGap]] = defaultdict(list)
    with transaction(sessions) as session:
        for occurrence in session.scalars(
            select(SeriesOccurrence)
            .where(
                SeriesOccurrence.state.in_(("open", "missed")),
                SeriesOccurrence.at >= first,
                SeriesOccurrence.at < last,
            )
            .order_by(SeriesOccurrence.at, SeriesOccurrence.series)
        ):
            gap = SeriesGap(series=occurrence.series, at=occurrence.at, state=occurrence.state)
            gaps[occurrence.at.astimezone(zone).date()].append(gap)
        for delivery, post in session.execute(query).all():
            assert delivery.due_at is not None  # the range filter excludes unplaced ones
            if _waits_for_article(delivery):
                continue  # it has no time until its article is out: see waiting_for_articles
            entry = PlanEntry(
                delivery_id=delivery.id,
                post_key=post.key,
                library=post.library,
                account=delivery.account,
                state=delivery.state,
                due_at=delivery.due_at,
                title=post.title,
            )
            by_day[delivery.due_at.astimezone(zone).date()][delivery.account].append(entry)
    with_target = {name for name in accounts if _rules(rules, name).daily_target is not None}
    plan: list[PlanDay] = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        entries = by_day.get(day, {})
        names = sorted(with_target | set(entries))
        plan.append(
            PlanDay(
                day=day,
                accounts=tuple(
                    _account_day(name, entries.get(name, []), _rules(rules, name)) for name in names
                ),
                empty=not entries,
                series_gaps=tuple(gaps.get(day, ())),
            )
        )
    return plan


def waiting_for_articles(sessions: sessionmaker[Session]) -> list[PlanEntry]:
    """Approved posts that announce a blog article not yet published: no time yet."""
    query = (
        select(Delivery, Post)
        .join(Post, Delivery.post_id == Post.id)
        .where(Delivery.state == State.APPROVED)
        .order_by(Post.key, Delivery.account)
    )
    with transaction(sessions) as session:
        return [
            PlanEntry(
                delivery_id=delivery.id,
                post_key=post.key,
                library=post.library,
                account=delivery.account,
                state=delivery.state,
                due_at=delivery.due_at or delivery.created_at,
                title=post.title,
                waiting_for=str(delivery.timing["announces"]),
            )
            for delivery, post in session.execute(query).all()
            if _waits_for_article(delivery)
        ]


def _waits_for_article(delivery: Delivery) -> bool:
    return delivery.state == State.APPROVED and bool(delivery.timing.get("announces"))


def render_plan(
    plan: Sequence[PlanDay],
    *,
    zone: ZoneInfo,
    libraries: Mapping[str, str] | None = None,
    by: Literal["time", "account"] = "time",
    waiting: Sequence[PlanEntry] = (),
) -> str:
    """The plan as terminal text: a header per day, a line per entry, a line per flag.

    ``by="time"`` lists each day's entries in time order across accounts; ``"account"``
    groups them per account. ``libraries`` maps a library key to the name to show.
    ``waiting`` (posts waiting for their blog article) is listed at the end, without a
    time. Columns are aligned over the whole plan. Ends with a newline.
    """
    names = libraries or {}
    rows = [entry for day in plan for account in day.accounts for entry in account.entries]
    rows += list(waiting)
    widths = (
        max((len(entry.account) for entry in rows), default=0),
        max((len(names.get(entry.library, entry.library)) for entry in rows), default=0),
        max((len(entry.post_key) for entry in rows), default=0),
    )

    def line(entry: PlanEntry, moment: str) -> str:
        columns = (
            entry.account.ljust(widths[0]),
            names.get(entry.library, entry.library).ljust(widths[1]),
            entry.post_key.ljust(widths[2]),
            entry.title or "(no title)",
        )
        text = f"  {moment}  " + "   ".join(columns)
        if entry.state not in _QUIET:
            text += f"  [{entry.state.replace('_', ' ')}]"
        return text

    lines: list[str] = []
    for day in plan:
        header = f"{_WEEKDAYS[day.day.weekday()]} {day.day.isoformat()}"
        lines.append(f"{header} — nothing planned" if day.empty else header)
        timed: list[tuple[datetime, str, str]] = [
            (gap.at, "", f"  {gap.at.astimezone(zone):%H:%M}  series {gap.series}: no episode"
             + (" (missed)" if gap.state == "missed" else " yet: an empty slot"))
            for gap in day.series_gaps
        ]  # fmt: skip
        if by == "account":
            lines.extend(text for _, _, text in timed)
            for account in day.accounts:
                lines.extend(
                    line(entry, f"{entry.due_at.astimezone(zone):%H:%M}")
                    for entry in account.entries
                )
                lines.extend(_flags(account))
        else:
            timed += [
                (entry.due_at, entry.account, line(entry, f"{entry.due_at.astimezone(zone):%H:%M}"))
                for account in day.accounts
                for entry in account.entries
            ]
            lines.extend(text for _, _, text in sorted(timed, key=lambda row: row[:2]))
            for account in day.accounts:
                lines.extend(_flags(account))
        if day.waiting_for_editor:
            count = len(day.waiting_for_editor)
            lines.append(
                f"  ! {count} held {_posts(count)} {'waits' if count == 1 else 'wait'} for the "
                "editor (relais why ID names what holds the day and the choices)"
            )
    if waiting:
        lines.append("Waiting for their blog article (no time until it is published)")
        lines.extend(line(entry, "--:--") + f"  <- {entry.waiting_for}" for entry in waiting)
    return "\n".join(lines) + "\n" if lines else ""


def _account_day(name: str, entries: list[PlanEntry], rules: AccountRules) -> AccountDay:
    counted = sum(1 for entry in entries if entry.state in COUNTED)
    target, cap = rules.daily_target, rules.daily_cap
    return AccountDay(
        account=name,
        entries=tuple(entries),
        target=target,
        cap=cap,
        under_target=target is not None and counted < target,
        over_cap=cap is not None and counted > cap,
    )


def _flags(account: AccountDay) -> list[str]:
    flags: list[str] = []
    if account.under_target:
        flags.append(
            f"  ! {account.account}: {account.counted} of {account.target} "
            f"{_posts(account.target)} (daily_target)"
        )
    if account.over_cap:
        flags.append(
            f"  ! {account.account}: {account.counted} posts, above daily_cap {account.cap}"
        )
    return flags


def _posts(count: int | None) -> str:
    return "post" if count == 1 else "posts"


def _rules(rules: Mapping[str, AccountRules], account: str) -> AccountRules:
    # An account without rules in the config has the defaults: no target, no cap.
    return rules.get(account) or AccountRules()
