"""The post form writes a post file into the inbox; the editor's buttons act as the CLI."""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

from scheduler.db.models import Delivery, DeliveryEvent
from scheduler.delivery.transitions import transaction
from tests.support import FakeClock
from tests.unit.web.desk_support import (
    csrf_of,
    desk_app,
    logged_in,
    pending_post,
    tiny_png,
)

DRAFT = re.compile(r'name="draft" value="([^"]+)"')


def test_a_contributor_writes_a_post_with_a_picture(tmp_path: Path, clock: FakeClock) -> None:
    app = desk_app(tmp_path, clock)
    marie = logged_in(app, "marie")
    page = marie.get("/write").text
    csrf, draft = csrf_of(marie, "/write"), DRAFT.search(page).group(1)  # type: ignore[union-attr]
    fields = {
        "csrf": csrf, "draft": draft, "library": "eaux-vives", "title": "Conte d'hiver",
        "text": "Des histoires pour les 4-8 ans.", "to": ["facebook", "twitter"],
        "when": "at", "at": "2026-12-10T16:00", "alt_0": "Une conteuse et des enfants",
    }  # fmt: skip
    files = {"picture_0": ("conteuse.png", tiny_png(), "image/png")}
    checked = marie.post("/write", data={**fields, "action": "check"}, files=files)
    assert checked.status_code == 200, checked.text
    assert "Ce que chaque compte recevra" in checked.text and "conteuse.png" in checked.text
    saved = marie.post("/write", data={**fields, "action": "save"})
    assert saved.status_code == 303 and saved.headers["location"] == "/mine"
    [post_file] = (app.config.inbox_dir / "eaux-vives").glob("*.yaml")
    post = yaml.safe_load(post_file.read_text())
    assert post["author"] == "marie" and post["at"] == "2026-12-10 16:00"
    assert post["media"][0]["alt"] == "Une conteuse et des enfants"
    assert (post_file.parent / post["media"][0]["file"]).read_bytes() == tiny_png()
    old = post_file.stat().st_mtime - 60  # settled, as intake wants it
    os.utime(post_file, (old, old))
    report = app.intake().scan()
    assert len(report.queued) == 1 and not report.rejected
    mine = marie.get("/mine").text
    assert "Conte d&#39;hiver" in mine and "attend l&#39;éditeur" in mine


def test_the_form_shows_relais_checks_problems_next_to_the_fields(
    tmp_path: Path, clock: FakeClock
) -> None:
    app = desk_app(tmp_path, clock)
    marie = logged_in(app, "marie")
    page = marie.get("/write").text
    fields = {
        "csrf": csrf_of(marie, "/write"), "draft": DRAFT.search(page).group(1),  # type: ignore[union-attr]
        "library": "eaux-vives", "text": "x" * 300, "to": ["twitter"], "when": "next",
        "action": "save",
    }  # fmt: skip
    answer = marie.post("/write", data=fields, files={"picture_1": ("a.png", b"not a png")})
    assert answer.status_code == 422
    assert "280" in answer.text  # twitter's limit, from the connector's check
    assert "n&#39;est pas une image" in answer.text
    assert not list((app.config.inbox_dir / "eaux-vives").glob("*.yaml"))


def test_a_contributor_writes_only_for_their_libraries(tmp_path: Path, clock: FakeClock) -> None:
    app = desk_app(tmp_path, clock)
    marie = logged_in(app, "marie")
    page = marie.get("/write").text
    fields = {
        "csrf": csrf_of(marie, "/write"), "draft": DRAFT.search(page).group(1),  # type: ignore[union-attr]
        "library": "redaction", "text": "x", "to": ["twitter"], "action": "save",
    }  # fmt: skip
    assert marie.post("/write", data=fields).status_code == 403


def test_moving_onto_a_full_day_says_why(tmp_path: Path, clock: FakeClock) -> None:
    app = desk_app(tmp_path, clock)  # facebook: daily_cap 2
    for name in ("un", "deux", "trois"):
        pending_post(app, name, f"Post {name}", at="2026-12-11 10:00")
    paul = logged_in(app, "paul")
    csrf = csrf_of(paul, "/queue")
    for name in ("un", "deux"):
        paul.post("/act/approve_all", data={"ref": f"eaux-vives/{name}", "csrf": csrf})
        paul.get("/queue")  # as a browser follows the redirect (and reads the messages)
    with transaction(app.sessions) as session:
        third_id = (
            session.query(Delivery).filter_by(account="facebook", state="pending_approval").one().id
        )
    paul.post("/act/approve", data={"ref": third_id, "csrf": csrf})
    paul.get("/queue")
    moved = paul.post(
        "/act/move?next=/delivery/" + third_id,
        data={"ref": third_id, "csrf": csrf, "when": "2026-12-11T15:00"},
    )
    assert moved.status_code == 303
    page = paul.get(moved.headers["location"]).text
    flashed = page.split('class="flash"')[1].split("</div>")[0]
    assert "facebook" in flashed and "is full" in flashed, flashed
    with transaction(app.sessions) as session:
        events = session.query(DeliveryEvent).filter_by(delivery_id=third_id).all()
        assert {"paul"} <= {event.actor for event in events}
