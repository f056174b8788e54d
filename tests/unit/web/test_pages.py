"""The desk's pages: login, calendar, queue, escaping, roles, CSRF, feeds."""

from __future__ import annotations

from pathlib import Path

from scheduler.db.models import Delivery
from scheduler.delivery.transitions import transaction
from tests.support import FakeClock
from tests.unit.web.desk_support import (
    PASSWORD,
    client,
    csrf_of,
    desk_app,
    logged_in,
    pending_post,
)


def test_every_page_but_login_and_health_needs_a_login(tmp_path: Path, clock: FakeClock) -> None:
    web = client(desk_app(tmp_path, clock))
    assert web.get("/healthz").status_code == 200
    assert web.get("/login").status_code == 200
    for path in ("/calendar", "/queue", "/write", "/mine", "/settings", "/delivery/x"):
        answer = web.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_login_is_rate_limited_and_says_nothing_of_names(tmp_path: Path, clock: FakeClock) -> None:
    web = client(desk_app(tmp_path, clock))
    csrf = csrf_of(web)
    for _ in range(5):
        answer = web.post("/login", data={"name": "marie", "password": "wrong!", "csrf": csrf})
        assert answer.status_code == 401
    answer = web.post("/login", data={"name": "marie", "password": PASSWORD, "csrf": csrf})
    assert answer.status_code == 429
    clock.advance(minutes=16)
    answer = web.post("/login", data={"name": "marie", "password": PASSWORD, "csrf": csrf})
    assert answer.status_code == 303


def test_a_form_without_the_csrf_token_is_refused(tmp_path: Path, clock: FakeClock) -> None:
    app = desk_app(tmp_path, clock)
    web = client(app)
    answer = web.post("/login", data={"name": "paul", "password": PASSWORD})
    assert answer.status_code == 403
    editor = logged_in(app, "paul")
    pending_post(app, "conte", "Un conte")
    answer = editor.post("/act/approve", data={"ref": "eaux-vives/conte", "csrf": "forged"})
    assert answer.status_code == 403
    with transaction(app.sessions) as session:
        assert {d.state for d in session.query(Delivery)} == {"pending_approval"}


def test_calendar_shows_the_network_in_french_and_escapes_post_text(
    tmp_path: Path, clock: FakeClock
) -> None:
    app = desk_app(tmp_path, clock)
    pending_post(app, "piege", "<script>alert(1)</script> & <b>gras</b>")
    web = logged_in(app, "marie")
    page = web.get("/calendar?day=2026-12-10")
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    assert "piege" in page.text
    assert 'lang="fr"' in page.text and "décembre 2026" in page.text
    assert "attend" in page.text  # waiting for the editor, in French
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    delivery_id = page.text.split('href="/delivery/')[1].split('"')[0]
    detail = web.get(f"/delivery/{delivery_id}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;gras&lt;/b&gt;" in detail
    assert "<script>alert" not in detail and "<b>gras" not in detail
    week = web.get("/calendar?view=week&day=2026-12-10&library=eaux-vives&state=pending_approval")
    assert week.status_code == 200 and "piege" in week.text


def test_queue_previews_what_each_platform_receives(tmp_path: Path, clock: FakeClock) -> None:
    app = desk_app(tmp_path, clock)
    pending_post(app, "conte", "Des histoires d'hiver pour les 4-8 ans.")
    page = logged_in(app, "paul").get("/queue")
    assert page.status_code == 200
    assert page.text.count("Des histoires d&#39;hiver pour les 4-8 ans.") == 2
    assert "of at most 280" in page.text  # twitter's limit, in English for Paul


def test_editor_approves_contributor_is_refused(tmp_path: Path, clock: FakeClock) -> None:
    app = desk_app(tmp_path, clock)
    pending_post(app, "conte", "Un conte")
    marie = logged_in(app, "marie")
    refused = marie.post(
        "/act/approve", data={"ref": "eaux-vives/conte", "csrf": csrf_of(marie, "/queue")}
    )
    assert refused.status_code == 403 and "éditeur" in refused.text
    paul = logged_in(app, "paul")
    done = paul.post(
        "/act/approve_all?next=/queue",
        data={"ref": "eaux-vives/conte", "csrf": csrf_of(paul, "/queue")},
    )
    assert done.status_code == 303 and done.headers["location"] == "/queue"
    with transaction(app.sessions) as session:
        rows = session.query(Delivery).all()
        assert {d.approved_by for d in rows} == {"paul"}
        assert {d.state for d in rows} == {"scheduled"}


def test_feed_token_gives_the_calendar_and_can_be_revoked(tmp_path: Path, clock: FakeClock) -> None:
    app = desk_app(tmp_path, clock)
    pending_post(app, "conte", "Un conte")
    marie = logged_in(app, "marie")
    csrf = csrf_of(marie, "/settings")
    assert marie.post("/settings/feed", data={"csrf": csrf}).status_code == 303
    page = marie.get("/settings").text
    token = page.split("/feed/")[1].split(".ics")[0]
    anonymous = client(app)
    feed = anonymous.get(f"/feed/{token}.ics")
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    assert "conte" not in feed.text  # pending: only in editors' feeds
    marie.post("/settings/feed/revoke", data={"csrf": csrf})
    assert anonymous.get(f"/feed/{token}.ics").status_code == 404
