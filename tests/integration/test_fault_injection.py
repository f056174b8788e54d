"""Fault injection end to end: real dispatch, real connectors, platform fakes that fail.

The App (SQLite queue, FakeClock) gets real WordPress, X and Facebook connectors whose
sessions reach the platform fakes through :class:`tests.fakes.faults.FaultInjector`. The
queue is drained the way the daemon does it (``run_due``, then sleep until
``next_wake``, the sleep being a jump of the FakeClock) until nothing is left to do.
Then, per delivery, what relais recorded is compared with what is on the platform:

- published exactly once (and with the id the platform gave), or handed to a person
  (``needs_attention``), or ``failed`` with a reason while nothing is on the platform;
- never created twice; never left in a working state;
- at most ``dispatch.max_attempts`` attempts, and at most that many creating requests
  that the platform acted on;
- after a rate-limit answer, nothing reaches that account before the announced reset.

Run with ``-s`` to see the outcome table of every run.
"""

from __future__ import annotations

import dataclasses
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connectors.base import AccountSettings, Connector
from connectors.credentials import credentials_for
from connectors.facebook import FacebookPageConnector
from connectors.wordpress import WordPressConnector
from connectors.x import XConnector
from scheduler.app import App
from scheduler.db.models import Delivery, DeliveryEvent
from scheduler.delivery.dispatcher import Dispatcher
from scheduler.delivery.transitions import transaction
from tests.connectors.cases import wordpress as wordpress_case
from tests.fakes.faults import (
    ACTING_KINDS,
    FACEBOOK,
    FAULT_KINDS,
    WORDPRESS,
    FaultInjector,
    FaultKind,
    Platform,
    X,
    faulty_session,
)
from tests.fakes.graph import GraphFake
from tests.fakes.wordpress import WordPressFake
from tests.fakes.wsgi import WsgiApp
from tests.fakes.x import XFake
from tests.support import START, FakeClock, make_app, queue_delivery

ACCOUNTS = ("blog", "x", "facebook")
# handed_over: in the platform's own schedule, open until seen live.
OPEN_STATES = ("claimed", "sending", "scheduled", "retry_wait", "unknown", "handed_over")
# Far more wake-ups than any run needs; reaching it means dispatch never settles.
MAX_WAKES = 2_000
# run_due() calls in a row that neither change a delivery nor move the clock.
MAX_IDLE_WAKES = 25


# -- the rig: an App whose connectors talk to faulty fakes ---------------------------------


@dataclass(frozen=True, kw_only=True)
class Item:
    """Something that exists on a platform: its id and the text we can find markers in."""

    platform_id: str
    text: str


@dataclass(kw_only=True)
class Rig:
    app: App
    clock: FakeClock
    injectors: dict[str, FaultInjector]
    items: dict[str, Callable[[], list[Item]]]
    markers: dict[str, str] = field(default_factory=dict)  # delivery id -> marker
    accounts: dict[str, str] = field(default_factory=dict)  # delivery id -> account


def build_rig(
    tmp_path: Path,
    clock: FakeClock,
    *,
    seed: int,
    share: float,
    kinds: Collection[FaultKind],
    creates_only: Collection[FaultKind] = frozenset(),
) -> Rig:
    # The config only needs the account names; their connectors are replaced below.
    app = make_app(
        tmp_path,
        clock,
        accounts={name: {"kind": "dry_run", "log": f"out/{name}.jsonl"} for name in ACCOUNTS},
        # The runs check the count bound; the time horizon has tests of its own.
        dispatch={"max_attempts": 5},
    )
    seeds = random.Random(seed)

    def faulty(fake: WsgiApp, platform: Platform) -> FaultInjector:
        # One rng per platform: the draws of one do not shift with the traffic of another.
        return FaultInjector(
            app=fake,
            rng=random.Random(seeds.getrandbits(64)),
            share=share,
            kinds=kinds,
            clock=clock,
            platform=platform,
            creates_only=creates_only,
        )

    wordpress = WordPressFake(clock)
    blog_faults = faulty(wordpress, WORDPRESS)
    blog = WordPressConnector(
        wordpress_case.settings(tmp_path / "blog"), clock, session=faulty_session(blog_faults)
    )

    x_fake = XFake(clock)
    x_faults = faulty(x_fake, X)
    access, refresh = x_fake.issue_tokens()
    x_settings = AccountSettings(
        name="x",
        kind="x",
        base_dir=tmp_path,
        options={"auth": "oauth2"},
        credentials=credentials_for(
            "x",
            state_dir=tmp_path / "x-state",
            environment={
                "RELAIS_X_CLIENT_ID": x_fake.client_id,
                "RELAIS_X_ACCESS_TOKEN": access,
                "RELAIS_X_REFRESH_TOKEN": refresh,
            },
        ),
    )
    x = XConnector(x_settings, clock, session=faulty_session(x_faults), sleep=lambda _: None)

    graph = GraphFake(clock)
    facebook_faults = faulty(graph, FACEBOOK)
    facebook_settings = AccountSettings(
        name="facebook",
        kind=FacebookPageConnector.kind,
        base_dir=tmp_path,
        options={"page_id": graph.page_id},
        credentials=credentials_for(
            "facebook",
            state_dir=tmp_path / "facebook-state",
            environment={"RELAIS_FACEBOOK_PAGE_TOKEN": graph.page_token},
        ),
    )
    facebook = FacebookPageConnector(
        facebook_settings, clock, session=faulty_session(facebook_faults)
    )

    connectors: dict[str, Connector] = {"blog": blog, "x": x, "facebook": facebook}
    return Rig(
        app=dataclasses.replace(app, connectors=connectors),
        clock=clock,
        injectors={"blog": blog_faults, "x": x_faults, "facebook": facebook_faults},
        items={
            "blog": lambda: [
                Item(platform_id=str(post["id"]), text=post["content"]["raw"])
                for post in wordpress.created()
            ],
            "x": lambda: [Item(platform_id=t["id"], text=t["text"]) for t in x_fake.created()],
            "facebook": lambda: [
                Item(platform_id=p["id"], text=p.get("message") or p.get("description") or "")
                for p in graph.created()
            ],
        },
    )


def queue(rig: Rig, count: int) -> None:
    """``count`` text posts, round-robin over the accounts, due 30 s apart from START (so
    WordPress and Facebook schedule some natively, and X sends each when due)."""
    for index in range(count):
        account = ACCOUNTS[index % len(ACCOUNTS)]
        # Fixed width: no marker is a substring of another.
        marker = f"fi-{index:04d}"
        delivery_id = queue_delivery(
            rig.app,
            account=account,
            due_at=START + timedelta(seconds=30 * index),
            text=f"Atelier {marker} : inscriptions ouvertes à la bibliothèque.",
        )
        rig.markers[delivery_id] = marker
        rig.accounts[delivery_id] = account


# -- draining the queue as the daemon would ------------------------------------------------


def open_count(app: App) -> int:
    with transaction(app.sessions) as session:
        return (
            session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.state.in_(OPEN_STATES))
            )
            or 0
        )


def event_count(app: App) -> int:
    with transaction(app.sessions) as session:
        return session.scalar(select(func.count()).select_from(DeliveryEvent)) or 0


def drain(rig: Rig, dispatcher: Dispatcher) -> int:
    """Wake, do what is due, sleep until the next wake; returns the number of wake-ups.
    Fails when dispatch keeps waking without doing anything (a busy loop)."""
    idle = 0
    for wakes in range(1, MAX_WAKES + 1):
        events, moment = event_count(rig.app), rig.clock.now()
        dispatcher.run_due()
        if open_count(rig.app) == 0:
            return wakes
        wake = dispatcher.next_wake()
        if wake is None:
            return wakes  # deliveries left open with nothing to wake for: reported as lost
        rig.clock.moment = max(wake, rig.clock.now())
        progressed = event_count(rig.app) != events or rig.clock.now() != moment
        idle = 0 if progressed else idle + 1
        assert idle < MAX_IDLE_WAKES, (
            f"busy loop: next_wake() is {wake.isoformat()} (now {rig.clock.now().isoformat()})"
            f" but run_due() changes nothing; open: {open_states(rig.app)}"
        )
    raise AssertionError(f"dispatch did not settle in {MAX_WAKES} wake-ups: {open_states(rig.app)}")


def open_states(app: App) -> dict[str, int]:
    with transaction(app.sessions) as session:
        rows = session.execute(
            select(Delivery.state, func.count())
            .where(Delivery.state.in_(OPEN_STATES))
            .group_by(Delivery.state)
        ).all()
    return {state: count for state, count in rows}


# -- the verdict ----------------------------------------------------------------------------


@dataclass(kw_only=True)
class Report:
    title: str
    outcomes: dict[str, Counter[str]]  # account -> outcome -> count
    problems: list[str]
    reasons: Counter[str]  # "account state: last error" of what went to a person or failed
    faults: dict[str, Counter[str]]  # account -> fault kind -> count
    requests: dict[str, int]
    wakes: int
    fake_time: timedelta
    seconds: float

    def table(self) -> str:
        columns = ("published", "needs_attention", "failed", "duplicates", "lost", "early",
                   "defects")  # fmt: skip
        lines = [
            f"== {self.title}: {self.wakes} wake-ups, {self.fake_time} of fake time, "
            f"{self.seconds:.1f} s",
            f"{'account':<10}" + "".join(f"{c:>16}" for c in columns) + f"{'requests':>10}",
        ]
        total: Counter[str] = Counter()
        for account, counts in self.outcomes.items():
            total.update(counts)
            row = "".join(f"{counts[c]:>16}" for c in columns)
            lines.append(f"{account:<10}{row}{self.requests[account]:>10}")
        row = "".join(f"{total[c]:>16}" for c in columns)
        lines.append(f"{'total':<10}{row}{sum(self.requests.values()):>10}")
        for account, counts in self.faults.items():
            shown = ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items())) or "none"
            lines.append(f"  faults on {account}: {shown}")
        for reason, n in self.reasons.most_common():
            lines.append(f"  {n:>4} x {reason}")
        lines.extend(f"  ! {problem}" for problem in self.problems[:40])
        if len(self.problems) > 40:
            lines.append(f"  ! ... and {len(self.problems) - 40} more")
        return "\n".join(lines)

    def total(self, outcome: str) -> int:
        return sum(counts[outcome] for counts in self.outcomes.values())


def verdict(rig: Rig, *, title: str, wakes: int, started: float) -> Report:
    max_attempts = rig.app.config.dispatch.max_attempts
    assert max_attempts is not None  # the rig sets it
    with transaction(rig.app.sessions) as session:
        deliveries = {d.id: d for d in session.scalars(select(Delivery))}
        for delivery in deliveries.values():
            session.expunge(delivery)
    on_platform = {account: items() for account, items in rig.items.items()}
    outcomes: dict[str, Counter[str]] = {account: Counter() for account in ACCOUNTS}
    problems: list[str] = []
    reasons: Counter[str] = Counter()
    for delivery_id, marker in rig.markers.items():
        delivery = deliveries[delivery_id]
        account = rig.accounts[delivery_id]
        counts = outcomes[account]
        found = [item for item in on_platform[account] if marker in item.text]
        where = f"{account} {marker} ({delivery_id[:8]}, {delivery.state})"
        if len(found) > 1:
            counts["duplicates"] += 1
            problems.append(f"{where}: created {len(found)} times on the platform")
        if delivery.state == "published":
            counts["published"] += 1
            if not found:
                counts["lost"] += 1
                problems.append(f"{where}: recorded as published, but not on the platform")
            elif delivery.platform_id not in {item.platform_id for item in found}:
                counts["defects"] += 1
                problems.append(
                    f"{where}: recorded id {delivery.platform_id}, the platform has "
                    f"{[item.platform_id for item in found]}"
                )
        elif delivery.state in ("needs_attention", "failed"):
            counts[delivery.state] += 1
            # Numbers and ids out, so that alike reasons count together.
            said = re.sub(r"\d+", "N", delivery.last_error or "")
            reasons[f"{account} {delivery.state}: {said[:140]}"] += 1
            if not delivery.last_error:
                counts["defects"] += 1
                problems.append(f"{where}: handed over without a reason")
            if delivery.state == "failed" and found:
                # "failed" tells the editor nothing went out; re-posting it by hand would
                # make the double post this service exists to prevent.
                counts["defects"] += 1
                problems.append(
                    f"{where}: recorded as failed ({delivery.last_error}), but it IS on the "
                    f"platform as {found[0].platform_id}"
                )
        else:
            counts["lost"] += 1
            problems.append(f"{where}: left in {delivery.state} ({delivery.last_error})")
        if delivery.attempts > max_attempts:
            counts["defects"] += 1
            problems.append(f"{where}: {delivery.attempts} attempts > {max_attempts}")
        acted_creates = [
            exchange
            for exchange in rig.injectors[account].exchanges
            if exchange.creates
            and exchange.acted
            and marker.encode() in exchange.body
            and (exchange.status is None or exchange.status < 400 or exchange.status >= 500)
        ]
        if len(acted_creates) > max_attempts:
            counts["defects"] += 1
            problems.append(
                f"{where}: the platform acted on {len(acted_creates)} creating requests "
                f"> max_attempts {max_attempts}"
            )
    for account, injector in rig.injectors.items():
        early = injector.early_requests()
        outcomes[account]["early"] += len(early)
        problems.extend(early)
    return Report(
        title=title,
        outcomes=outcomes,
        problems=problems,
        reasons=reasons,
        faults={account: injector.fault_counts() for account, injector in rig.injectors.items()},
        requests={account: len(injector.exchanges) for account, injector in rig.injectors.items()},
        wakes=wakes,
        fake_time=rig.clock.now() - START,
        seconds=time.monotonic() - started,
    )


def run(
    tmp_path: Path,
    clock: FakeClock,
    *,
    title: str,
    count: int,
    seed: int,
    share: float,
    kinds: Collection[FaultKind],
    creates_only: Collection[FaultKind] = frozenset(),
) -> Report:
    started = time.monotonic()
    rig = build_rig(tmp_path, clock, seed=seed, share=share, kinds=kinds, creates_only=creates_only)
    queue(rig, count)
    wakes = drain(rig, rig.app.dispatcher(rng=random.Random(seed)))
    report = verdict(rig, title=title, wakes=wakes, started=started)
    print("\n" + report.table())
    return report


def assert_safe(report: Report) -> None:
    """What must hold whatever the faults: no double post, nothing lost, no defect."""
    assert report.total("duplicates") == 0, report.table()
    assert report.total("lost") == 0, report.table()
    assert report.total("early") == 0, report.table()
    assert report.total("defects") == 0, report.table()
    assert report.problems == [], report.table()


# -- the tests --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_each_fault_alone_ends_published_once_or_with_a_person(
    tmp_path: Path, clock: FakeClock, kind: FaultKind
) -> None:
    # A third of all requests (reads, term lookups, reconciliation too) fail this way.
    report = run(
        tmp_path, clock, title=f"{kind} alone, 1/3 of requests", count=45, seed=1, share=1 / 3,
        kinds=[kind],
    )  # fmt: skip
    assert sum(sum(c.values()) for c in report.faults.values()) > 0, report.table()
    assert_safe(report)
    assert report.total("published") > 0, report.table()
    if kind == "rate_limit":
        # A rate limit is a wait, never a failed try.
        assert report.total("published") == 45, report.table()
    if kind in ("refused", "timeout_before"):
        # Nothing reached the platform: plain retries, never a question for a person.
        assert report.total("needs_attention") == 0, report.table()
    if kind in ACTING_KINDS:
        # The platform acted each time, so whatever became unknown is found again.
        assert report.total("needs_attention") == 0, report.table()


def test_when_every_create_loses_its_answer_reconciliation_publishes_each_once(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Each post is created, and each time the answer is lost (read timeout, reset, a 500
    after the insert): all become unknown, and all are found again, none sent twice."""
    lost_answers: list[FaultKind] = ["timeout_after", "reset_after", "http_500"]
    report = run(
        tmp_path, clock, title="every create's answer lost", count=45, seed=2, share=1.0,
        kinds=lost_answers, creates_only=lost_answers,
    )  # fmt: skip
    assert_safe(report)
    assert report.total("published") == 45, report.table()
    # One creating request per post, each faulted: none was ever sent a second time.
    faulted_creates = sum(sum(counts.values()) for counts in report.faults.values())
    assert faulted_creates == 45, report.table()


def test_rate_limits_hold_while_lost_answers_wait_for_reconciliation(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Lost answers leave deliveries unknown; rate limits hit the publishing and the
    looking-up alike. The wait a platform announced holds for the reconciliation too."""
    report = run(
        tmp_path, clock, title="rate_limit + timeout_after, 1/3 of requests", count=45,
        seed=4, share=1 / 3, kinds=["rate_limit", "timeout_after"],
    )  # fmt: skip
    assert_safe(report)
    # Every unknown was created (the answer only was lost), so a person is never needed.
    assert report.total("needs_attention") == 0, report.table()


def test_a_mixed_storm_of_faults_ends_published_once_or_with_a_person(
    tmp_path: Path, clock: FakeClock
) -> None:
    report = run(
        tmp_path, clock, title="mixed, 30% of requests", count=200, seed=20261209, share=0.3,
        kinds=FAULT_KINDS,
    )  # fmt: skip
    faults: Counter[str] = Counter()
    for counts in report.faults.values():
        faults.update(counts)
    assert set(faults) == set(FAULT_KINDS), report.table()
    assert_safe(report)
    assert report.total("published") >= 100, report.table()
