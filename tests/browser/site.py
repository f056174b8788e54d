"""A real desk for the browser tests: ``relais web`` as a child process on a SQLite queue
seeded with a month of the network's posts, and Debian's chromium driven by Playwright."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

from scheduler.app import App
from scheduler.clock import SystemClock
from scheduler.db.models import Delivery, Post
from scheduler.delivery.transitions import record_creation, transaction
from scheduler.people.directory import Directory
from scheduler.people.person import Role
from tests.support import drop, make_app
from tests.unit.web.desk_support import tiny_png

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
PASSWORD = "mot de passe de test"
ZONE = ZoneInfo("Europe/Zurich")
LIBRARIES = {
    "cite": {"name": "Bibliothèque de la Cité"},
    "eaux-vives": {"name": "Bibliothèque des Eaux-Vives"},
    "paquis": {"name": "Bibliothèque des Pâquis"},
    "servette": {"name": "Bibliothèque de la Servette"},
    "bibliobus": {"name": "Le bibliobus"},
    "redaction": {"name": "Rédaction du réseau"},
}
ACCOUNTS = {
    "facebook": {"kind": "dry_run", "log": "out/facebook.jsonl", "like": "facebook_page",
                 "like_options": {"page_id": "100000000000001"}, "rules": {"daily_cap": 2}},
    "twitter": {"kind": "dry_run", "log": "out/twitter.jsonl", "like": "x",
                "like_options": {"auth": "oauth2"}, "rules": {"daily_cap": 3, "daily_target": 1}},
    "instagram": {"kind": "dry_run", "log": "out/instagram.jsonl"},
}  # fmt: skip
TITLES = (
    "L'heure du conte",
    "Atelier numérique",
    "Club de lecture",
    "Vente de livres",
    "Rencontre avec une autrice",
    "Tournée du bibliobus",
    "Jeux de société",
    "Ciné-goûter",
    "Exposition de photos",
    "Nuit de la lecture",
)


@dataclass(frozen=True)
class Site:
    url: str
    app: App
    directory: Path
    today: date

    def day(self, offset: int) -> date:
        return self.today + timedelta(days=offset)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, clock_time(hour, minute), ZONE).astimezone(UTC)


def add_delivery(
    app: App, *, library: str, account: str, state: str, due: datetime, title: str,
    text: str, key: str | None = None, url: str | None = None, reason: str | None = None,
) -> str:  # fmt: skip
    now = app.clock.now()
    with transaction(app.sessions) as session:
        post = session.query(Post).filter_by(key=key).one_or_none() if key else None
        if post is None:
            post = Post(
                id=str(uuid.uuid4()), key=key or f"{library}/{uuid.uuid4().hex[:8]}",
                source_path="seed.yaml", sha256=uuid.uuid4().hex, library=library,
                author="seed", title=title, created_at=now, updated_at=now,
            )  # fmt: skip
            session.add(post)
        delivery = Delivery(
            id=str(uuid.uuid4()), post_id=post.id, account=account, state=state, due_at=due,
            window_end=None, timing={"kind": "at", "at": due.isoformat()},
            payload={"title": title, "text": text, "link": None, "tags": [], "media": []},
            attempts=0, url=url, reason=reason, created_at=now, updated_at=now,
        )  # fmt: skip
        session.add(delivery)
        record_creation(session, delivery, actor="seed", now=now)
        return delivery.id


def seed(site_app: App, today: date) -> None:
    """A month of the network: published, scheduled, failed, held and waiting posts."""
    libraries = list(LIBRARIES)
    month = today.replace(day=1)
    for index in range(36):
        day = month + timedelta(days=(index * 5) % 28)
        library = libraries[index % len(libraries)]
        account = ("facebook", "twitter", "instagram")[index % 3]
        past = day < today
        state = "published" if past else ("scheduled", "approved", "scheduled")[index % 3]
        if index % 11 == 4:
            state = "failed" if past else "held"
        elif index % 13 == 6 and not past:
            state = "handed_over"  # given to the platform's own scheduling
        title = TITLES[index % len(TITLES)]
        add_delivery(
            site_app, library=library, account=account, state=state,
            due=local(day, 9 + index % 9, 15 * (index % 4)), title=title,
            text=f"{title} : rendez-vous à la {LIBRARIES[library]['name']}.",
            url=f"https://example.org/{account}/{index}" if state == "published" else None,
            reason="daily_cap: the day is full" if state == "held" else None,
        )  # fmt: skip


def full_day(site: Site) -> tuple[date, str]:
    """Facebook (daily_cap 2) full on day +3; a scheduled facebook post on day +5 to move."""
    day = site.day(3)
    for hour, title in ((9, "Atelier numérique"), (11, "Club de lecture")):
        add_delivery(
            site.app, library="cite", account="facebook", state="scheduled",
            due=local(day, hour), title=title, text=f"{title} à la Cité.",
        )  # fmt: skip
    moved = add_delivery(
        site.app, library="paquis", account="facebook", state="scheduled",
        due=local(site.day(5), 14), title="Vente de livres", text="Grande vente de livres.",
    )  # fmt: skip
    return day, moved


def pending_with_picture(site: Site, name: str, text: str, day_offset: int = 2) -> str:
    """A post from eaux-vives waiting for the editor, through the real inbox."""
    config = site.app.config
    picture = config.inbox_dir / "eaux-vives" / "media" / f"{name}.png"
    picture.parent.mkdir(parents=True, exist_ok=True)
    picture.write_bytes(tiny_png(8, 6))
    day = site.day(day_offset)
    drop(
        config,
        f"eaux-vives/{name}.yaml",
        "library: eaux-vives\nauthor: marie\n"
        f"title: {name}\ntext: {text!r}\nto: [facebook, twitter]\n"
        f"media: [{{file: media/{name}.png, alt: Des enfants écoutent une conteuse}}]\n"
        f"at: {day.isoformat()} 16:00\n",
    )
    report = site.app.intake().scan()
    assert report.queued and not report.rejected, report
    return f"eaux-vives/{name}"


def make_site(directory: Path) -> Site:
    today = datetime.now(ZONE).date()
    series = {
        "boudoir": {
            "accounts": ["instagram"],
            "weekday": "wednesday",
            "time": "10:00",
            "from": today.replace(day=1).isoformat(),
            "title": "Le boudoir",
        }
    }
    app = make_app(
        directory, SystemClock(),  # type: ignore[arg-type]
        libraries=LIBRARIES, accounts=ACCOUNTS, web={"secure_cookies": False}, language="fr",
        series=series,
    )  # fmt: skip
    people = Directory(
        sessions=app.sessions, clock=app.clock, known_libraries=tuple(app.config.libraries)
    )
    people.add("marie", role=Role.CONTRIBUTOR, libraries=["eaux-vives"], display_name="Marie")
    people.add("paul", role=Role.EDITOR, display_name="Paul")
    people.add("anne", role=Role.ADMIN, display_name="Anne")
    for name in ("marie", "paul", "anne"):
        people.set_password(name, PASSWORD)
    today = app.clock.now().astimezone(ZONE).date()
    seed(app, today)
    return Site(url="", app=app, directory=directory, today=today)


class DeskProcess:
    """``relais web`` on a free port, stopped with SIGTERM."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        environment = {**os.environ, "RELAIS_WEB_SECRET": "browser test secret"}
        environment.pop("RELAIS_DATABASE_URL", None)
        self.log = (directory / "desk.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scheduler", "--config", str(directory / "config.yaml"),
             "web", "--port", str(self.port)],
            cwd=directory, env=environment, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"relais web exited: {(directory / 'desk.log').read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("relais web did not answer within 60 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
