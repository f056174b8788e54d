"""A desk on a real SQLite queue, driven through Starlette's test client (httpx)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

with warnings.catch_warnings():
    # Starlette suggests httpx2 for its test client; httpx still works and is maintained.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from scheduler.app import App
from scheduler.people.directory import Directory
from scheduler.people.person import Role
from scheduler.web.desk import build_desk
from tests.support import FakeClock, drop, make_app

PASSWORD = "a long test password"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def desk_app(tmp_path: Path, clock: FakeClock, **overrides: object) -> App:
    overrides.setdefault("web", {"secure_cookies": False})
    overrides.setdefault(
        "accounts",
        {
            "facebook": {"kind": "dry_run", "log": "out/facebook.jsonl", "rules": {"daily_cap": 2}},
            "twitter": {"kind": "dry_run", "log": "out/twitter.jsonl", "max_text_length": 280},
        },
    )
    app = make_app(tmp_path, clock, **overrides)
    people = Directory(
        sessions=app.sessions, clock=clock, known_libraries=tuple(app.config.libraries)
    )
    people.add("marie", role=Role.CONTRIBUTOR, libraries=["eaux-vives"], display_name="Marie")
    people.add("paul", role=Role.EDITOR, display_name="Paul", language="en")
    for name in ("marie", "paul"):
        people.set_password(name, PASSWORD)
    return app


def client(app: App) -> TestClient:
    return TestClient(build_desk(app, secret_key="test secret"), follow_redirects=False)


def csrf_of(web: TestClient, path: str = "/login") -> str:
    found = CSRF.search(web.get(path).text)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def logged_in(app: App, name: str) -> TestClient:
    web = client(app)
    answer = web.post("/login", data={"name": name, "password": PASSWORD, "csrf": csrf_of(web)})
    assert answer.status_code == 303, answer.text
    return web


def pending_post(app: App, name: str, text: str, at: str = "2026-12-10 10:00") -> None:
    drop(
        app.config,
        f"eaux-vives/{name}.yaml",
        f"library: eaux-vives\nauthor: marie\ntitle: {name}\ntext: {text!r}\n"
        f"to: [facebook, twitter]\nat: {at}\n",
    )
    app.intake().scan()


def tiny_png(width: int = 4, height: int = 3) -> bytes:
    """A real PNG (grey pixels), made without an image library."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
