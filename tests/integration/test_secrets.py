"""Credentials go to the platform and nowhere else: not a log line, not a database row,
not an error message, an ``.error`` file or an exception's text.

The whole cycle runs with real connectors (WordPress and a Facebook Page) against their
contract fakes, inside an App built as the daemon builds it: intake, placement, dispatch,
a revoked token (AuthExpired pauses the account), a platform refusal (Permanent) and a lost
answer settled by reconciliation. The fake credentials are recognisable strings, and every
place relais writes to is searched for them, in clear and as the HTTP Basic header carries
the WordPress password (base64 of ``user:password``).
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import logging
import random
import sqlite3
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.base import AccountSettings, Connector
from connectors.credentials import credentials_for
from connectors.errors import PublishError
from connectors.facebook import FacebookPageConnector
from connectors.wordpress import WordPressConnector
from scheduler.app import App
from scheduler.delivery.editor import list_deliveries
from scheduler.logs import JsonFormatter, quiet_chatty_libraries
from tests.connectors.contract import outgoing
from tests.fakes.graph import GraphFake
from tests.fakes.wordpress import SITE, USERNAME, WordPressFake
from tests.fakes.wsgi import session_for
from tests.support import FakeClock, drop, make_app

APPLICATION_PASSWORD = "SECRET-appPassword-7q3x9z"
PAGE_TOKEN = "SECRET-pageToken-k41w07"
# The forms a secret could leak in: as given, and inside an HTTP Basic Authorization header.
NEEDLES = (
    APPLICATION_PASSWORD,
    PAGE_TOKEN,
    base64.b64encode(f"{USERNAME}:{APPLICATION_PASSWORD}".encode()).decode(),
    # Any distinctive piece of them, in case something truncates or re-encodes the rest.
    "7q3x9z",
    "k41w07",
)

WELCOME = """\
library: redaction
author: communication
title: Bienvenue
text: Le blog des bibliothèques ouvre aujourd'hui.
to: [blog, facebook]
"""


def leaks(text: str) -> list[str]:
    return [needle for needle in NEEDLES if needle in text]


def test_the_leak_search_finds_every_form_of_the_secrets() -> None:
    """The searches below can fail: each needle is found where it is planted."""
    header = "Basic " + base64.b64encode(f"{USERNAME}:{APPLICATION_PASSWORD}".encode()).decode()
    assert leaks(f"Authorization: {header}") == [NEEDLES[2]]
    assert leaks(f"token={PAGE_TOKEN}") == [PAGE_TOKEN, "k41w07"]


@dataclasses.dataclass
class Platforms:
    app: App
    blog: WordPressFake
    facebook: GraphFake
    json_log: io.StringIO


def settings(
    tmp_path: Path, name: str, kind: str, environment: dict[str, str], **options: Any
) -> AccountSettings:
    return AccountSettings(
        name=name,
        kind=kind,
        base_dir=tmp_path,
        timezone="Europe/Zurich",
        options=options,
        state_dir=tmp_path / "state",
        credentials=credentials_for(name, state_dir=tmp_path / "state", environment=environment),
    )


@pytest.fixture
def platforms(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> Iterator[Platforms]:
    """The App with real connectors on fakes, and every log line captured twice: by caplog
    at DEBUG, and as the JSON lines the daemon writes to stdout."""
    blog_fake = WordPressFake(clock)
    blog_fake.password = APPLICATION_PASSWORD
    facebook_fake = GraphFake(clock, page_token=PAGE_TOKEN)
    accounts = {
        "blog": {"kind": "wordpress", "base_url": SITE, "username": USERNAME},
        "facebook": {"kind": "facebook_page", "page_id": facebook_fake.page_id},
    }
    app = make_app(tmp_path, clock, accounts=accounts)
    connectors: dict[str, Connector] = {
        "blog": WordPressConnector(
            settings(
                tmp_path,
                "blog",
                "wordpress",
                {"RELAIS_BLOG_APPLICATION_PASSWORD": APPLICATION_PASSWORD},
                base_url=SITE,
                username=USERNAME,
            ),
            clock,
            session=session_for(blog_fake),
        ),
        "facebook": FacebookPageConnector(
            settings(
                tmp_path,
                "facebook",
                FacebookPageConnector.kind,
                {"RELAIS_FACEBOOK_PAGE_TOKEN": PAGE_TOKEN},
                page_id=facebook_fake.page_id,
            ),
            clock,
            session=session_for(facebook_fake),
        ),
    }
    app = dataclasses.replace(app, connectors=connectors)

    quiet_chatty_libraries()  # as the daemon does; everything else is kept at DEBUG
    caplog.set_level(logging.DEBUG)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield Platforms(app=app, blog=blog_fake, facebook=facebook_fake, json_log=stream)
    finally:
        root.removeHandler(handler)
        app.engine.dispose()


def run_pass(app: App) -> None:
    app.intake().scan()
    app.dispatcher(rng=random.Random(1)).run_due()


def states(app: App) -> dict[str, str]:
    rows = list_deliveries(app.sessions, zone=app.config.zone)
    return {f"{row.post_key}:{row.account}": row.state for row in rows}


def test_no_secret_is_logged_stored_or_shown_through_a_whole_publish_cycle(
    platforms: Platforms, clock: FakeClock, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    app, blog, facebook = platforms.app, platforms.blog, platforms.facebook
    errors: list[str] = []

    # 1. Published on both platforms, with the secrets really used.
    drop(app.config, "redaction/bienvenue.yaml", WELCOME)
    run_pass(app)
    assert states(app) == {
        "redaction/bienvenue:blog": "published",
        "redaction/bienvenue:facebook": "published",
    }
    assert any(request["authorized"] for request in blog.requests)
    assert len(facebook.posts) == 1  # the Graph fake refuses a wrong page token

    # 2. A platform refusal (Permanent) and a lost answer (Ambiguous, then reconciled).
    blog.fail_next_create("permanent")
    drop(app.config, "redaction/refus.yaml", WELCOME.replace("Bienvenue", "Refus") + "id: refus\n")
    run_pass(app)
    assert states(app)["refus:blog"] == "failed"
    blog.fail_next_create("ambiguous")
    drop(app.config, "redaction/perdu.yaml", WELCOME.replace("Bienvenue", "Perdu") + "id: perdu\n")
    run_pass(app)
    assert states(app)["perdu:blog"] == "unknown"
    clock.advance(minutes=5)
    run_pass(app)
    assert states(app)["perdu:blog"] == "published"

    # 3. Revoked credentials on both: the accounts are paused (AuthExpired), posts held.
    blog.expire_credentials()
    facebook.expire_credentials()
    drop(
        app.config,
        "redaction/revoque.yaml",
        WELCOME.replace("Bienvenue", "Revoque") + "id: revoque\n",
    )
    run_pass(app)
    assert states(app)["revoque:blog"] == "held"
    assert states(app)["revoque:facebook"] == "held"

    # 4. A rejected file (its .error is written) and what `relais accounts check` says.
    drop(app.config, "redaction/faux.yaml", WELCOME + "secret: oui\n")
    run_pass(app)
    error_files = list(app.config.rejected_dir.rglob("*.error"))
    assert len(error_files) == 1
    errors.extend(connector.verify().message for connector in app.connectors.values())

    # 5. The exceptions the connectors raise, with their causes and tracebacks.
    for name, connector in app.connectors.items():
        item = outgoing("text", tmp_path, due_at=clock.now(), account=name)
        with pytest.raises(PublishError) as raised:
            connector.publish(item)
        errors.append(str(raised.value))
        errors.append(repr(raised.value))
        errors.append("".join(traceback.format_exception(raised.value)))
        errors.append(raised.value.message)

    # Every message above is about the failure, not empty (else the checks prove little).
    assert all(message.strip() for message in errors)
    assert any("401" in message or "password" in message.lower() for message in errors)

    # Logs: caplog's records (message, fields, exception) and the JSON stream.
    assert caplog.records, "nothing was logged"
    for record in caplog.records:
        rendered = record.getMessage() + json.dumps(getattr(record, "fields", {}), default=str)
        if record.exc_info:
            rendered += "".join(traceback.format_exception(*record.exc_info))
        assert leaks(rendered) == [], rendered
    json_lines = platforms.json_log.getvalue().splitlines()
    assert any('"to_state": "published"' in line for line in json_lines)
    assert [line for line in json_lines if leaks(line)] == []

    # Error messages and exception texts.
    assert [message for message in errors if leaks(message)] == []

    # The database: every value of every table, while the WAL still holds the latest pages.
    database = app.config.base_dir / "queue.db"
    values = every_value(database)
    assert "Bienvenue" in values and "account paused" in values  # the dump sees the data
    assert leaks(values) == []
    raw = {path.name: path.read_bytes() for path in database.parent.glob("queue.db*")}
    assert raw.get("queue.db-wal"), "no WAL file to search"
    assert any(b"Revoque" in content for content in raw.values())  # the grep sees the data
    for name, content in raw.items():
        assert [needle for needle in NEEDLES if needle.encode() in content] == [], name

    # Every file relais wrote: processed/, rejected/ and its .error files, state/, out/.
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert error_files[0] in written
    for path in written:
        content = path.read_bytes()
        assert [needle for needle in NEEDLES if needle.encode() in content] == [], path


def every_value(database: Path) -> str:
    """Every value of every table, one per line, as text."""
    connection = sqlite3.connect(database)
    try:
        tables = [
            name
            for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        assert {"post", "delivery", "attempt", "delivery_event", "account_state"} <= set(tables)
        return "\n".join(
            str(value)
            for table in tables
            for row in connection.execute(f'SELECT * FROM "{table}"')
            for value in row
        )
    finally:
        connection.close()


def test_a_missing_secret_names_where_to_put_it_without_guessing_values(
    tmp_path: Path, clock: FakeClock
) -> None:
    """The message for a missing secret names the variable and files, and shows no value
    (not even another account's)."""
    other = {"RELAIS_FACEBOOK_PAGE_TOKEN": PAGE_TOKEN}
    connector = WordPressConnector(
        settings(tmp_path, "blog", "wordpress", other, base_url=SITE, username=USERNAME),
        clock,
        session=session_for(WordPressFake(clock)),
    )
    verdict = connector.verify()
    assert not verdict.ok
    assert "RELAIS_BLOG_APPLICATION_PASSWORD" in verdict.message
    assert leaks(verdict.message) == []
    with pytest.raises(PublishError) as raised:
        connector.publish(outgoing("text", tmp_path, due_at=clock.now(), account="blog"))
    assert "RELAIS_BLOG_APPLICATION_PASSWORD" in str(raised.value)
    assert leaks("".join(traceback.format_exception(raised.value))) == []
