"""Admins, single sign-on through a trusted header, and the session cookie's flags."""

from __future__ import annotations

from pathlib import Path

from scheduler.db.models import AccountState
from scheduler.delivery.transitions import transaction
from scheduler.people.directory import Directory
from scheduler.people.person import Role
from scheduler.web.desk import build_desk
from tests.support import FakeClock
from tests.unit.web.desk_support import (
    PASSWORD,
    TestClient,
    client,
    csrf_of,
    desk_app,
    logged_in,
)


def test_only_an_admin_sees_people_and_resumes_an_account(tmp_path: Path, clock: FakeClock) -> None:
    app = desk_app(tmp_path, clock)
    people = Directory(sessions=app.sessions, clock=clock, known_libraries=["eaux-vives"])
    people.add("anne", role=Role.ADMIN)
    people.set_password("anne", PASSWORD)
    with transaction(app.sessions) as session:
        session.add(AccountState(account="facebook", paused=True, paused_reason="token expired"))
    paul = logged_in(app, "paul")
    assert paul.get("/admin").status_code == 403
    refused = paul.post("/act/resume", data={"ref": "facebook", "csrf": csrf_of(paul, "/queue")})
    assert refused.status_code == 403
    anne = logged_in(app, "anne")
    page = anne.get("/admin")
    assert page.status_code == 200 and "token expired" in page.text and "marie" in page.text
    anne.post("/act/resume", data={"ref": "facebook", "csrf": csrf_of(anne, "/admin")})
    with transaction(app.sessions) as session:
        state = session.get(AccountState, "facebook")
        assert state is not None and not state.paused


def test_a_trusted_proxy_header_names_the_person_only_when_configured(
    tmp_path: Path, clock: FakeClock
) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "sso").mkdir()
    plain = client(desk_app(tmp_path / "plain", clock))
    assert plain.get("/calendar", headers={"X-Remote-User": "paul"}).status_code == 303
    app = desk_app(
        tmp_path / "sso",
        clock,
        web={"secure_cookies": False, "trusted_user_header": "X-Remote-User"},
    )
    sso = client(app)
    assert sso.get("/calendar", headers={"X-Remote-User": "paul"}).status_code == 200
    assert sso.get("/calendar", headers={"X-Remote-User": "nobody"}).status_code == 303


def test_session_cookies_are_secure_httponly_and_strict_by_default(
    tmp_path: Path, clock: FakeClock
) -> None:
    app = desk_app(tmp_path, clock, web={})
    web = TestClient(build_desk(app, secret_key="k"), base_url="https://testserver")
    cookie = web.get("/login").headers["set-cookie"]
    assert "secure" in cookie.lower() and "httponly" in cookie.lower()
    assert "samesite=strict" in cookie.lower()
