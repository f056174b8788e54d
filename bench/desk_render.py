"""The desk's pages, rendered server-side: a month view with 2,000 deliveries and the
editor's queue with 200 pending posts, against a bare template render of the same rows.

Each page is asked through Starlette's test client (routing, session, login check, the
queries, the connectors' render of every preview, the Jinja2 templates: everything but
the socket). The baseline renders the same rows, already in memory, with a bare Jinja2
template (autoescaped, one line per row). Targets: each page under 150 ms (issue 14,
point 9); the ratio is printed to show where the time goes.

    .venv/bin/python bench/desk_render.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, select_autoescape
from sqlalchemy import insert, select

from bench.common import Outcome, print_header, print_outcomes, write_project
from scheduler.app import build_app
from scheduler.config import load_config
from scheduler.db.models import Delivery, Post
from scheduler.people.directory import Directory
from scheduler.people.person import Role
from scheduler.web.desk import build_desk

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

TARGET_MS = 150.0
ZONE = ZoneInfo("Europe/Zurich")
LIBRARIES = ("cite", "eaux-vives", "paquis", "servette", "bibliobus", "redaction")
ACCOUNTS = ("facebook", "twitter", "instagram", "blog", "flickr", "youtube")
STATES = ("scheduled", "published", "approved", "needs_attention", "held", "failed")
TEXT = (
    "Trois collègues déguisées pour le goûter de l'Escalade ! Venez nombreux à la "
    "bibliothèque, avec vos enfants, de 16 h à 18 h. https://www.example.org/agenda"
)
BARE = """<ul>{% for r in rows %}<li>{{ r.due }} {{ r.library }} {{ r.account }} {{ r.title }}
{{ r.state }} {{ r.text }}</li>{% endfor %}</ul>"""


def fill(url: str, *, month: date, deliveries: int, pending_posts: int) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    now = datetime.now(UTC)
    first = datetime.combine(month, datetime.min.time(), ZONE).astimezone(UTC)
    posts: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []

    def add(number: int, due: datetime, state: str, accounts: tuple[str, ...]) -> None:
        post_id = str(uuid.uuid4())
        library = LIBRARIES[number % len(LIBRARIES)]
        title = f"Goûter de l'Escalade n° {number}"
        posts.append({
            "id": post_id, "key": f"{library}/post-{number}", "source_path": "bench.yaml",
            "sha256": post_id.replace("-", ""), "library": library, "author": "marie",
            "title": title, "created_at": now, "updated_at": now, "cancelled_at": None,
        })  # fmt: skip
        for account in accounts:
            rows.append({
                "id": str(uuid.uuid4()), "post_id": post_id, "account": account,
                "state": state, "due_at": due, "window_end": None,
                "timing": {"kind": "at", "at": due.isoformat()},
                "payload": {"title": title, "text": TEXT, "link": None, "tags": [],
                            "media": []},
                "version": 1, "attempts": 0, "created_at": now, "updated_at": now,
            })  # fmt: skip

    span = timedelta(days=28) / deliveries
    for number in range(deliveries):
        add(number, first + span * number, STATES[number % len(STATES)], (ACCOUNTS[number % 6],))
    later = first + timedelta(days=40)
    for number in range(pending_posts):
        add(deliveries + number, later + timedelta(hours=number), "pending_approval",
            ("facebook", "twitter"))  # fmt: skip
    with engine.begin() as connection:
        connection.execute(insert(Post), posts)
        connection.execute(insert(Delivery), rows)
    engine.dispose()


def timed(action: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median and worst of ``repeat`` runs, in milliseconds (after one warm-up run)."""
    action()
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs), max(runs)


def bare_rows(app: Any, query: Any) -> list[dict[str, str]]:
    with app.sessions() as session:
        return [
            {
                "due": delivery.due_at.astimezone(ZONE).strftime("%H:%M"),
                "library": post.library,
                "account": delivery.account,
                "title": post.title,
                "state": delivery.state,
                "text": delivery.payload["text"],
            }
            for delivery, post in session.execute(query).all()
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--pending", type=int, default=200)
    arguments = parser.parse_args()
    print_header(
        f"desk render: month with {arguments.deliveries} deliveries, queue with "
        f"{arguments.pending} pending posts (2 accounts each)"
    )
    month = date.today().replace(day=1) + timedelta(days=62)
    month = month.replace(day=1)
    with tempfile.TemporaryDirectory() as directory:
        accounts = {name: {"kind": "dry_run", "log": f"out/{name}.jsonl"} for name in ACCOUNTS}
        accounts["twitter"] = {"kind": "dry_run", "log": "out/twitter.jsonl", "like": "x",
                               "like_options": {"auth": "oauth2"}}  # fmt: skip
        path = write_project(
            Path(directory),
            libraries={key: {"name": key.title()} for key in LIBRARIES},
            accounts=accounts,
            web={"secure_cookies": False},
        )
        config = load_config(path)
        fill(config.database_url, month=month, deliveries=arguments.deliveries,
             pending_posts=arguments.pending)  # fmt: skip
        app = build_app(config)
        people = Directory(sessions=app.sessions, clock=app.clock, known_libraries=LIBRARIES)
        people.add("paul", role=Role.EDITOR)
        people.set_password("paul", "bench password")
        client = TestClient(build_desk(app, secret_key="bench"), follow_redirects=False)
        login = client.get("/login").text
        csrf = login.split('name="csrf" value="')[1].split('"')[0]
        client.post("/login", data={"name": "paul", "password": "bench password", "csrf": csrf})

        def month_page() -> None:
            answer = client.get(f"/calendar?day={month.isoformat()}")
            assert answer.status_code == 200 and answer.text.count('class="entry ') >= 2000

        def queue_page() -> None:
            answer = client.get("/queue")
            assert answer.status_code == 200
            assert answer.text.count('class="post ') == arguments.pending

        environment = Environment(autoescape=select_autoescape(default_for_string=True))
        bare = environment.from_string(BARE)
        start = datetime.combine(month, datetime.min.time(), ZONE)
        month_rows = bare_rows(app, select(Delivery, Post).join(Post).where(
            Delivery.due_at >= start, Delivery.due_at < start + timedelta(days=35)))  # fmt: skip
        queue_rows = bare_rows(app, select(Delivery, Post).join(Post).where(
            Delivery.state == "pending_approval"))  # fmt: skip
        outcomes = []
        for name, page, rows in (
            ("month view", month_page, month_rows),
            ("approval queue", queue_page, queue_rows),
        ):
            median, worst = timed(page, arguments.repeat)
            baseline, _ = timed(lambda rows=rows: bare.render(rows=rows), arguments.repeat)
            print(f"{name}: {len(rows)} rows, median {median:.1f} ms (worst {worst:.1f}), "
                  f"bare template {baseline:.1f} ms")  # fmt: skip
            outcomes.append(
                Outcome(
                    benchmark=f"desk {name} ({len(rows)} rows)",
                    figure=f"{median:.0f} ms median, {worst:.0f} ms worst",
                    baseline=f"bare template {baseline:.1f} ms",
                    ratio=f"{median / baseline:.1f}x",
                    target=f"< {TARGET_MS:.0f} ms",
                    met=median < TARGET_MS,
                )
            )
        app.engine.dispose()
    print_outcomes(outcomes)


if __name__ == "__main__":
    main()
