"""Two weeks of the whole network, as a communication officer lives them (issue 11).

Seven libraries and the bibliobus drop 42 post files: several branches ask for the same
Saturday hour, one Tuesday wants twice Facebook's cap, posts come with and without times,
the Boudoir has an episode for one Wednesday only, a blog article is announced on social
media, and a closure notice is urgent. The editor approves them in batches, in an order
given by ``seed``; then the clock (injected) walks the two weeks and the daemon's passes
run. :func:`plan_figures` counts what became of the fixed-time deliveries.

Also run by hand to compare plans: ``python -m tests.network_scenario`` prints the figures.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from scheduler.app import App
from scheduler.db.models import Delivery, Post, SeriesOccurrence
from scheduler.delivery.editor import approve
from scheduler.delivery.transitions import transaction
from tests.support import FakeClock, drop, make_app

ZONE = ZoneInfo("Europe/Zurich")
LIBRARIES = ("cite", "eaux-vives", "paquis", "servette", "minoteries", "jonction", "saint-jean")
FACEBOOK_RULES = {"daily_cap": 3, "daily_target": 1, "min_gap": "2h", "hours": "08:00-20:00"}
ACCOUNTS = {
    "facebook": {"kind": "dry_run", "log": "out/facebook.jsonl", "rules": FACEBOOK_RULES},
    "twitter": {"kind": "dry_run", "log": "out/twitter.jsonl",
                "rules": {"daily_cap": 3, "daily_target": 2, "min_gap": "1h",
                          "hours": "07:00-22:00"}},
    "instagram": {"kind": "dry_run", "log": "out/instagram.jsonl",
                  "rules": {"daily_cap": 2, "min_gap": "3h", "hours": "09:00-21:00"}},
    "blog": {"kind": "static_blog", "output": "public/blog",
             "site_url": "http://localhost:8000/blog/"},
}  # fmt: skip


@dataclass(frozen=True)
class Fortnight:
    """Two weeks starting on a Friday evening; a DST change falls inside."""

    name: str
    friday: date


SPRING = Fortnight("spring", date(2027, 3, 19))  # clocks go forward on Sunday 2027-03-28
AUTUMN = Fortnight("autumn", date(2027, 10, 22))  # clocks go back on Sunday 2027-10-31


def _day(fortnight: Fortnight, offset: int, clock: str) -> str:
    return f"{fortnight.friday + timedelta(days=offset)} {clock}"


def post_files(fortnight: Fortnight, *, new_keys: bool = True) -> dict[str, str]:
    """The 42 post files of the fortnight, by path in the inbox. ``new_keys=False`` leaves
    out ``latest:`` and ``priority:`` (for running the scenario on older code)."""
    files: dict[str, str] = {}
    wednesday = 5  # offsets from the Friday: Sat 1, Sun 2, Mon 3, Tue 4, Wed 5, ...

    def post(library: str, name: str, text: str, to: str, **keys: str) -> None:
        body = f"library: {library}\nauthor: equipe\ntitle: {name}\ntext: {text}\nto: [{to}]\n"
        for key, value in keys.items():
            if new_keys or key not in ("latest", "priority"):
                body += f"{key}: {value}\n"
        files[f"{library}/{name}.yaml"] = body

    # Saturday 10:00 asked by three branches (workshops that start then).
    for library in ("eaux-vives", "paquis", "servette"):
        post(library, "atelier-samedi", "Atelier du samedi matin.", "facebook, twitter",
             at=_day(fortnight, 1, "10:00"))  # fmt: skip
    # Posts with no time approved the same Friday evening.
    for library in ("cite", "jonction"):
        post(library, "nouveautes", "Les nouveautés du mois.", "facebook, twitter")
    # Tuesday: six branches want Facebook (cap 3), evening events announced the same day.
    for hour, library in zip((9, 11, 12, 14, 16, 18), LIBRARIES[:6], strict=True):
        extra = {"latest": _day(fortnight, 5, "20:00")} if library == "paquis" else {}
        post(library, "ce-soir", "Ce soir à la bibliothèque.", "facebook",
             at=_day(fortnight, 4, f"{hour:02d}:00"), **extra)  # fmt: skip
    # Wednesday's own fixed-time post (the bibliobus stop), before the Boudoir at 10:00.
    post("bibliobus", "arret-mercredi", "Le bibliobus passe à 14 h.", "facebook, twitter",
         at=_day(fortnight, wednesday, "13:00"))  # fmt: skip
    # One Boudoir episode only: the second Wednesday stays empty.
    post("cite", "boudoir-1", "Un livre, une minute.", "facebook", series="boudoir")
    # A blog article and its announcements, which wait for its permalink.
    post("cite", "article-printemps", "Le Printemps des poètes.", "blog",
         at=_day(fortnight, 3, "09:00"), campaign='"Printemps des poètes 2027"')  # fmt: skip
    for account in ("facebook", "twitter"):
        post("cite", f"annonce-{account}", "Lisez notre article !", account,
             announces="cite/article-printemps")  # fmt: skip
    # An urgent closure notice, no time.
    post("minoteries", "fermeture", "Fermeture exceptionnelle demain.", "facebook, twitter",
         priority="urgent")  # fmt: skip
    # The rest of the fortnight: each library's ordinary posts, times and windows mixed.
    rng = random.Random(fortnight.name)
    while len(files) < 42:
        library = rng.choice((*LIBRARIES, "bibliobus"))
        offset = rng.randint(2, 13)
        name = f"post-{len(files):02d}"
        to = rng.choice(("facebook", "twitter", "instagram", "facebook, instagram"))
        kind = rng.random()
        if kind < 0.5:
            post(library, name, "Un rendez-vous.", to,
                 at=_day(fortnight, offset, f"{rng.randint(8, 19):02d}:{rng.choice((0, 30)):02d}"))  # fmt: skip  # noqa: E501
        elif kind < 0.8:
            post(library, name, "Une suggestion de lecture.", to)
        else:
            window = f"{{from: {fortnight.friday + timedelta(days=offset)}, until: " \
                     f"{fortnight.friday + timedelta(days=offset + 2)}}}"  # fmt: skip
            post(library, name, "Cette semaine.", to, window=window)
    return files


def network_app(directory: Path, fortnight: Fortnight, **overrides: Any) -> App:
    directory.mkdir(parents=True, exist_ok=True)
    start = datetime.combine(fortnight.friday, datetime.min.time(), ZONE).replace(hour=19)
    clock = FakeClock(start.astimezone(UTC))
    libraries = {name: {"name": name.title()} for name in (*LIBRARIES, "bibliobus")}
    series = {"boudoir": {"accounts": ["facebook"], "weekday": "wednesday", "time": "10:00",
                          "from": str(fortnight.friday), "alert_before": "48h"}}  # fmt: skip
    return make_app(
        directory, clock, libraries=libraries, accounts=ACCOUNTS, series=series,
        approval={"auto": [{"account": "blog"}]}, **overrides,
    )  # fmt: skip


def drop_and_approve(app: App, files: dict[str, str], *, seed: int, batches: int = 4) -> None:
    """Intake, then the editor approves every post in ``batches`` in a shuffled order."""
    for path, text in files.items():
        drop(app.config, path, text)
    app.intake().scan()
    with transaction(app.sessions) as session:
        keys = sorted(session.scalars(select(Post.key)))
    random.Random(seed).shuffle(keys)
    size = max(1, len(keys) // batches)
    for first in range(0, len(keys), size):
        approve(app.sessions, app.clock, keys[first : first + size], by="editor",
                placement=app.placement())  # fmt: skip


def run_fortnight(app: App, *, step: timedelta = timedelta(minutes=30)) -> None:
    """The daemon's passes over two weeks of injected time."""
    placement, dispatcher = app.placement(), app.dispatcher()
    series = app.series()
    end = app.clock.now() + timedelta(days=15)
    while app.clock.now() < end:
        series.materialise()
        series.watch()
        placement.place_approved()
        dispatcher.run_due()
        if placement.place_approved():
            dispatcher.run_due()
        app.clock.moment += step  # type: ignore[attr-defined]


def wanted_times(app: App) -> dict[str, datetime]:
    """Per fixed-time delivery id, the time its file asked for."""
    wanted: dict[str, datetime] = {}
    with transaction(app.sessions) as session:
        occurrences = {o.post_id: o.at for o in session.scalars(select(SeriesOccurrence))}
        for delivery in session.scalars(select(Delivery)):
            kind = delivery.timing.get("kind")
            if kind == "at":
                wanted[delivery.id] = datetime.fromisoformat(delivery.timing["at"])
            elif kind == "series" and delivery.post_id in occurrences:
                wanted[delivery.id] = occurrences[delivery.post_id]
    return wanted


def plan_figures(app: App, wanted: dict[str, datetime]) -> Counter[str]:
    """What became of the fixed-time deliveries: kept, moved that day, moved to another
    day, waiting for the editor."""
    figures: Counter[str] = Counter()
    with transaction(app.sessions) as session:
        for delivery in session.scalars(select(Delivery).where(Delivery.id.in_(wanted))):
            asked = wanted[delivery.id]
            figures["fixed-time deliveries"] += 1
            if delivery.state == "held":
                figures["wait for the editor"] += 1
            elif delivery.due_at == asked:
                figures["kept their time"] += 1
            elif delivery.due_at is not None and (
                delivery.due_at.astimezone(ZONE).date() == asked.astimezone(ZONE).date()
            ):
                figures["moved within their day"] += 1
            else:
                figures["moved to another day"] += 1
    return figures


def the_plan(app: App) -> dict[tuple[str, str], tuple[str, datetime | None]]:
    with transaction(app.sessions) as session:
        rows = session.execute(select(Post.key, Delivery).join(Delivery.post)).all()
        return {(key, d.account): (d.state, d.due_at) for key, d in rows}


if __name__ == "__main__":
    import sys
    import tempfile

    new_keys = "--old" not in sys.argv
    for fortnight in (SPRING, AUTUMN):
        with tempfile.TemporaryDirectory() as folder:
            app = network_app(Path(folder), fortnight)
            drop_and_approve(app, post_files(fortnight, new_keys=new_keys), seed=1)
            wanted = wanted_times(app)
            print(fortnight.name, "planned:", dict(plan_figures(app, wanted)))
            run_fortnight(app)
            print(fortnight.name, "after two weeks:", dict(plan_figures(app, wanted)))
            app.engine.dispose()
