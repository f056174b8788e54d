"""The plan as a function of the set: which time each delivery gets, and why.

Pure: given what is already fixed on each account (sent, being sent, due now), the
deliveries to place, the house rules and "now", :func:`make_plan` returns one
:class:`Placed` per delivery. The order in which posts were approved plays no part: the
deliveries are placed in an order that depends only on what they ask for.

1. Fixed-time posts (``at:``, series) that fit at their exact time take it, urgent ones
   first, then by time. Every fixed time that can be kept is kept before anything moves.
2. The fixed-time posts left over move to the nearest free time of the **same local
   day**. When that day has no room they move to a later day only as far as their
   ``latest:`` allows; otherwise they wait for the editor, with the posts holding the day
   named. ``on_cap: hold`` makes them wait for the editor rather than move at all.
3. Posts without a time (or with a window) fill what is left, urgent ones first, then
   the windows that close first, so they never take a time a fixed-time post asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo

from scheduler.rules.house_rules import AccountRules, OnBrokenRule
from scheduler.rules.occupancy import Taken, cap_day
from scheduler.rules.slots import Conflict, broken_rule, next_free_slot, time_on_same_day

Kind = Literal["at", "series", "window", "next_free"]
FIXED_KINDS = frozenset({"at", "series"})


class Priority(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"  # placed before the others of its kind (a closure notice)


class Rule(StrEnum):
    """The rule that placed a delivery, as ``relais why`` names it."""

    FIXED_TIME = "its fixed time"
    SAME_DAY = "moved within its day"
    LATER_DAY = "moved to a later day, as its latest: allows"
    WAITS_FOR_EDITOR = "waits for the editor"
    FREE_SLOT = "the first free slot"
    WINDOW_SLOT = "the first free slot in its window"
    NO_ROOM = "no free slot in its window"


@dataclass(frozen=True, kw_only=True)
class Request:
    """One delivery to place. ``wanted`` is the fixed time, or the earliest moment for a
    flexible post; ``latest`` the bound it may not pass (``latest:`` or its window end)."""

    delivery_id: str
    account: str
    post_key: str
    kind: Kind
    wanted: datetime
    latest: datetime | None = None
    priority: Priority = Priority.NORMAL

    @property
    def fixed(self) -> bool:
        return self.kind in FIXED_KINDS

    @property
    def label(self) -> str:
        """How the other posts' explanations name this one."""
        return f"{self.post_key} (urgent)" if self.priority == Priority.URGENT else self.post_key


@dataclass(frozen=True, kw_only=True)
class Placed:
    delivery_id: str
    at: datetime | None  # None: it waits (for the editor, or for room in its window)
    rule: Rule
    reason: str
    holders: tuple[str, ...] = ()  # the posts that stand in its way, by key


def make_plan(
    requests: Iterable[Request],
    *,
    taken: Mapping[str, Taken],
    rules: Mapping[str, AccountRules],
    zone: ZoneInfo,
    now: datetime,
) -> dict[str, Placed]:
    """Place every request; ``taken`` is updated with what is placed (one per account)."""
    planner = _Planner(taken=dict(taken), rules=rules, zone=zone, now=now)
    ordered = sorted(requests, key=_order)
    fixed = [request for request in ordered if request.fixed]
    # The tightest deadline first: a window that closes soon before a post that can wait.
    flexible = sorted((r for r in ordered if not r.fixed), key=_deadline_order)
    moving = [request for request in fixed if not planner.keep_fixed_time(request)]
    for request in moving:
        planner.move_fixed(request)
    for request in flexible:
        planner.fill(request)
    return planner.placed


def _order(request: Request) -> tuple[int, datetime, str, str, str]:
    urgent = 0 if request.priority == Priority.URGENT else 1
    return (urgent, request.wanted, request.post_key, request.account, request.delivery_id)


def _deadline_order(request: Request) -> tuple[int, bool, datetime, datetime, str, str, str]:
    urgent = 0 if request.priority == Priority.URGENT else 1
    deadline = request.latest or request.wanted
    return (urgent, request.latest is None, deadline, *_order(request)[1:])


class _Planner:
    def __init__(
        self,
        *,
        taken: dict[str, Taken],
        rules: Mapping[str, AccountRules],
        zone: ZoneInfo,
        now: datetime,
    ) -> None:
        self.taken = taken
        self.rules = rules
        self.zone = zone
        self.now = now
        self.placed: dict[str, Placed] = {}
        # Why each fixed-time post could not keep its time, for its explanation later.
        self.broken: dict[str, Conflict] = {}

    def _account(self, request: Request) -> tuple[AccountRules, Taken]:
        rules = self.rules.get(request.account) or AccountRules()
        return rules, self.taken.setdefault(request.account, Taken())

    def _put(self, request: Request, at: datetime | None, rule: Rule, reason: str,
             holders: tuple[str, ...] = ()) -> None:  # fmt: skip
        if at is not None:
            self.taken.setdefault(request.account, Taken()).add(at, request.label)
        self.placed[request.delivery_id] = Placed(
            delivery_id=request.delivery_id, at=at, rule=rule, reason=reason, holders=holders
        )

    def keep_fixed_time(self, request: Request) -> bool:
        rules, taken = self._account(request)
        conflict = broken_rule(rules, self.zone, taken, request.wanted)
        if conflict is None:
            self._put(request, request.wanted, Rule.FIXED_TIME, "kept at its fixed time")
            return True
        self.broken[request.delivery_id] = conflict
        return False

    def move_fixed(self, request: Request) -> None:
        rules, taken = self._account(request)
        conflict = self.broken[request.delivery_id]
        # Asked again: an earlier move of this pass may have changed the answer.
        conflict = broken_rule(rules, self.zone, taken, request.wanted) or conflict
        wanted_local = request.wanted.astimezone(self.zone)
        asked = f"{wanted_local:%a %Y-%m-%d %H:%M}"
        if rules.on_cap != OnBrokenRule.HOLD:
            same_day = time_on_same_day(
                rules, self.zone, taken, request.wanted, not_before=self.now
            )
            held_by = f"; held by {', '.join(conflict.holders)}" if conflict.holders else ""
            if same_day is not None:
                reason = (
                    f"{asked} breaks a rule ({conflict.text}{held_by}); nearest free time that day"
                )
                self._put(request, same_day, Rule.SAME_DAY, reason, conflict.holders)
                return
            if request.latest is not None:
                day = cap_day(request.wanted, self.zone)
                next_day = datetime.combine(day + timedelta(days=1), rules.hours.start, self.zone)
                slot = next_free_slot(
                    rules, self.zone, taken, earliest=next_day, latest=request.latest
                )
                if slot.at is not None:
                    reason = f"{asked} has no free time left ({conflict.text}{held_by})"
                    self._put(request, slot.at, Rule.LATER_DAY, reason, conflict.holders)
                    return
        day_text = f"{wanted_local:%a %Y-%m-%d}"
        holding = [holder for _, holder in taken.on(cap_day(request.wanted, self.zone), self.zone)]
        holders = tuple(dict.fromkeys([*conflict.holders, *holding]))
        choices = (
            "move one of them (relais move), raise daily_cap for the account, or let this "
            "one go later (latest: in its file, or relais move)"
        )
        why = "on_cap: hold keeps it for the editor" if rules.on_cap == OnBrokenRule.HOLD else (
            f"{day_text} has no other free time on {request.account}"
        )  # fmt: skip
        reason = (
            f"{asked} breaks a rule ({conflict.text}); {why}; the day is held by "
            f"{', '.join(holders) or 'nothing placed by relais'}. Choices: {choices}"
        )
        self._put(request, None, Rule.WAITS_FOR_EDITOR, reason, holders)

    def fill(self, request: Request) -> None:
        rules, taken = self._account(request)
        earliest = max(request.wanted, self.now)
        slot = next_free_slot(rules, self.zone, taken, earliest=earliest, latest=request.latest)
        why = "; ".join(slot.why)
        if slot.at is None:
            self._put(request, None, Rule.NO_ROOM, why, slot.holders)
            return
        rule = Rule.WINDOW_SLOT if request.kind == "window" else Rule.FREE_SLOT
        self._put(request, slot.at, rule, why or "free when asked", slot.holders)
