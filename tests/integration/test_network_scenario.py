"""Two weeks of the whole network (tests/network_scenario.py), checked by invariants: caps,
gaps, hours, no fixed-time post on a later day than it allows, nothing lost, every
delivery not published with its reason, and the same plan whatever the approval order."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from scheduler.cli import main
from scheduler.db.models import Delivery, Post
from scheduler.delivery.transitions import transaction
from tests.invariants import assert_sound
from tests.network_scenario import (
    AUTUMN,
    SPRING,
    ZONE,
    Fortnight,
    drop_and_approve,
    network_app,
    plan_figures,
    post_files,
    run_fortnight,
    the_plan,
    wanted_times,
)

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("fortnight", [SPRING, AUTUMN], ids=lambda f: f.name)
def test_two_weeks_of_the_network_keep_every_rule_and_lose_nothing(
    tmp_path: Path, fortnight: Fortnight
) -> None:
    files = post_files(fortnight)
    app = network_app(tmp_path / "a", fortnight)
    drop_and_approve(app, files, seed=1)
    planned = the_plan(app)
    other = network_app(tmp_path / "b", fortnight)
    drop_and_approve(other, files, seed=2, batches=7)
    assert the_plan(other) == planned  # the order and batching of approvals do not matter
    other.engine.dispose()

    wanted = wanted_times(app)
    figures = plan_figures(app, wanted)
    assert figures["moved to another day"] == 1  # only the post whose latest: allows it
    assert figures["wait for the editor"] >= 3  # Tuesday: six asked, three fit

    run_fortnight(app)
    rules = app.config.rules()
    with transaction(app.sessions) as session:
        rows = session.execute(select(Delivery, Post.key).join(Delivery.post)).all()
    assert len({key for _, key in rows}) == len(files)  # every file became a post
    published: dict[str, list[datetime]] = defaultdict(list)
    for delivery, key in rows:
        if delivery.state == "published":
            assert delivery.due_at is not None
            published[delivery.account].append(delivery.due_at)
            local = delivery.due_at.astimezone(ZONE)
            assert rules[delivery.account].hours.contains(local.time()), key
            if delivery.id in wanted and not delivery.timing.get("latest"):
                assert local.date() == wanted[delivery.id].astimezone(ZONE).date(), key
        else:
            # Nothing lost: what did not go out waits, for the editor or its article, and
            # says why.
            assert delivery.state in ("held", "approved"), (key, delivery.state)
            assert delivery.reason, (key, delivery.account)
    for account, moments in published.items():
        per_day = Counter(moment.astimezone(ZONE).date() for moment in moments)
        cap = rules[account].daily_cap
        assert cap is None or max(per_day.values()) <= cap
        for earlier, later in itertools.pairwise(sorted(moments)):
            assert later - earlier >= rules[account].min_gap
    assert_sound(app.sessions, rules=rules, zone=app.config.zone, now=app.clock.now())
    app.engine.dispose()


def test_why_names_the_posts_that_hold_a_full_day_and_the_choices(tmp_path: Path) -> None:
    app = network_app(tmp_path, SPRING)
    drop_and_approve(app, post_files(SPRING), seed=1)
    with transaction(app.sessions) as session:
        held = session.scalars(
            select(Post.key).join(Delivery.post).where(Delivery.state == "held")
        ).all()
    waiting = next(key for key in held if key.endswith("/ce-soir"))
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "config.yaml"), "why", waiting])
    assert result.exit_code == 0, result.output
    assert "waits for the editor" in result.output and "is full" in result.output
    assert result.output.count("/ce-soir") >= 4  # itself and the three that hold Tuesday
    assert "release  a free slot that day" in result.output
    app.engine.dispose()
