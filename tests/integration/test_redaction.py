"""No secret in any record, whatever a platform answers.

The scripted platform answers with errors that echo the request the way servers and
proxies do: the application password as is and as HTTP Basic (base64 of user:password),
an OAuth client secret URL-encoded in a form body, a token inside an exception text.
Afterwards no form of any secret is in the database, the logs, ``relais status`` or
``relais history``.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import random
import sqlite3
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from click.testing import CliRunner

from connectors.errors import Ambiguous, Permanent, Retryable
from connectors.redaction import secret_forms
from scheduler.app import App
from scheduler.cli import main
from scheduler.logs import RedactingFilter
from scheduler.service.instance_lock import sqlite_path
from tests.support import FakeClock, ScriptedConnector, make_app, queue_delivery

PASSWORD = "abcd EFGH ijkl MNOP qrst UVWX"  # a WordPress application password
CLIENT_SECRET = "s3cr3t/with+odd=chars&more"
TOKEN = "ya29.a0AfH6SMBx-refresh-token-value"
USER = "marie.dupont"


def echo_of_the_request() -> str:
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    return (
        f"502 from proxy; request was: Authorization: Basic {basic}\r\n"
        f"body: grant_type=refresh_token&client_secret={quote_plus(CLIENT_SECRET)}"
        f"&refresh_token={quote(TOKEN, safe='')}; password={PASSWORD}"
    )


class EchoingPlatform(ScriptedConnector):
    def find(self, outgoing: object) -> None:
        raise RuntimeError(f"lookup failed: {echo_of_the_request()}")


@pytest.fixture
def app(tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> App:
    monkeypatch.setenv("RELAIS_BLOG_APP_PASSWORD", PASSWORD)
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "blog.client_secret").write_text(CLIENT_SECRET + "\n")
    tokens = tmp_path / "state" / "tokens" / "blog"
    tokens.mkdir(parents=True)
    (tokens / "refresh_token").write_text(TOKEN)
    built = make_app(
        tmp_path,
        clock,
        credentials_dir="credentials",
        accounts={
            "blog": {"kind": "wordpress", "base_url": "https://blog.example.org", "username": USER}
        },
    )
    return built


def every_form() -> set[str]:
    secrets = [PASSWORD, CLIENT_SECRET, TOKEN]
    forms: set[str] = set()
    for secret in secrets:
        forms |= secret_forms(secret, [*secrets, USER])
    return forms


def test_echoed_secrets_reach_no_row_no_log_no_report(
    app: App, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    platform = EchoingPlatform(
        answers=[
            Retryable(echo_of_the_request(), http_status=502),
            Permanent(echo_of_the_request(), http_status=400),
            Ambiguous(echo_of_the_request()),
        ]
    )
    scripted = dataclasses.replace(app, connectors={"blog": platform})
    caplog.handler.addFilter(RedactingFilter(app.redact))
    caplog.set_level(logging.DEBUG)
    for _ in range(3):
        queue_delivery(scripted, account="blog")
    dispatcher = scripted.dispatcher(rng=random.Random(1))
    dispatcher.run_due()
    clock.advance(minutes=5)
    dispatcher.run_due()  # the unknown one is looked up: the look-up fails, echoing too
    try:
        raise RuntimeError(echo_of_the_request())
    except RuntimeError:
        logging.getLogger("connectors.test").exception("a connector's own log line")

    path = sqlite_path(app.config.database_url)
    assert path is not None
    with sqlite3.connect(path) as connection:
        tables = [
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        dump = "\n".join(
            repr(row) for table in tables for row in connection.execute(f'SELECT * FROM "{table}"')
        )
    config = str(app.config.base_dir / "config.yaml")
    outputs = [
        CliRunner().invoke(main, ["--config", config, "status"]).output,
        CliRunner().invoke(main, ["--config", config, "list"]).output,
    ]
    ids = [line.split()[0] for line in outputs[1].splitlines() if line.strip()][:3]
    outputs += [
        CliRunner().invoke(main, ["--config", config, "history", ref]).output for ref in ids
    ]
    logs = caplog.text + "\n".join(record.exc_text or "" for record in caplog.records)

    assert "[redacted]" in dump and "[redacted]" in logs
    for where, text in [("database", dump), ("logs", logs), ("reports", "\n".join(outputs))]:
        leaked = sorted(form for form in every_form() if form in text)
        assert leaked == [], f"{where} holds secret forms: {leaked}"
