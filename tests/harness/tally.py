"""What the queue says against what the blog received: published once, twice, lost, or with
a person (and why)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from scheduler.db.models import Delivery, Post
from scheduler.delivery.states import State
from tests.harness.project import IN_FLIGHT, WITH_A_PERSON, ZONE, Project

# -- the count -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Tally:
    given: int
    published_once: int
    published_twice: list[str]  # delivery ids (or titles when never queued)
    lost: list[str]
    with_a_person: Counter[str]  # "state: reason" -> how many
    on_blog_though_with_a_person: int
    waiting: Counter[str]  # not settled, not due within reach (full days ahead)
    creations: int
    strangers: int  # creations whose title no post file had
    busiest_day: tuple[str, int] | None  # the local day with the most posts on the blog

    @property
    def ok(self) -> bool:
        return not self.published_twice and not self.lost


def tally(project: Project, titles: Sequence[str], creations: Sequence[dict[str, Any]]) -> Tally:
    by_title = Counter(str(item["title"]) for item in creations)
    given = set(titles)
    with project.sessions()() as session:
        rows = {
            title: (delivery_id, state, error, reason, due_at)
            for title, delivery_id, state, error, reason, due_at in session.execute(
                select(
                    Post.title,
                    Delivery.id,
                    Delivery.state,
                    Delivery.last_error,
                    Delivery.reason,
                    Delivery.due_at,
                ).join(Post, Delivery.post_id == Post.id)
            )
        }
    rejected = {path.stem for path in (project.directory / "rejected").rglob("*.yaml")}
    horizon = datetime.now(UTC) + timedelta(days=7)
    once, twice, lost = 0, [], []
    person: Counter[str] = Counter()
    waiting: Counter[str] = Counter()
    on_blog_anyway = 0
    for title in titles:
        made = by_title.get(title, 0)
        row = rows.get(title)
        if row is None:
            file_stem = f"essai-{title.split()[-1]}"
            if made > 1:
                twice.append(title)
            elif file_stem in rejected:
                person["rejected: the post file was refused"] += 1
            else:
                lost.append(f"{title} (never queued)")
            continue
        delivery_id, state, error, reason, due_at = row
        if made > 1:
            twice.append(delivery_id)
        elif state in (State.PUBLISHED, State.HANDED_OVER):
            if made == 1:
                once += 1
            else:
                lost.append(f"{delivery_id} ({state} in the queue, not on the blog)")
        elif state in WITH_A_PERSON:
            person[f"{state}: {error or reason or 'no reason recorded'}"] += 1
            on_blog_anyway += made
        elif state not in IN_FLIGHT and due_at is not None and due_at > horizon:
            waiting[f"{state} until {due_at:%Y-%m-%d}"] += 1
        else:
            lost.append(f"{delivery_id} (still {state})")
    per_day = Counter(
        datetime.fromisoformat(str(item["date_gmt"]))
        .replace(tzinfo=UTC)
        .astimezone(ZoneInfo(ZONE))
        .date()
        .isoformat()
        for item in creations
    )
    return Tally(
        given=len(titles),
        published_once=once,
        published_twice=twice,
        lost=lost,
        with_a_person=person,
        on_blog_though_with_a_person=on_blog_anyway,
        waiting=waiting,
        creations=len(creations),
        strangers=sum(count for title, count in by_title.items() if title not in given),
        busiest_day=per_day.most_common(1)[0] if per_day else None,
    )


def why(project: Project, delivery_id: str) -> str:
    """``relais why``: what a person reads about a delivery."""
    done = subprocess.run(
        [sys.executable, "-m", "scheduler", "--config", str(project.config), "why", delivery_id],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "RELAIS_DATABASE_URL"},
    )
    return done.stdout + done.stderr
