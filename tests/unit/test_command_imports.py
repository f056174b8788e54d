"""Every ``relais`` command imports scheduler.cli first: what it pulls in, each command
pays before it starts (issue 16: commands answer at once). The libraries below are
imported by the code that uses them, never by the command line itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# Platform clients, migrations, the HTTP endpoint, the calendar feed, the desk's web
# stack, password hashing, the daemon's clock and watcher, media and feed builders.
LOADED_ONLY_BY_THEIR_USER = (
    "alembic",
    "mako",
    "pygments",
    "prometheus_client",
    "icalendar",
    "starlette",
    "uvicorn",
    "jinja2",
    "multipart",
    "python_multipart",
    "itsdangerous",
    "apprise",
    "argon2",
    "apscheduler",
    "watchdog",
    "feedgen",
    "markdown",
    "PIL",
    "requests",
    "requests_oauthlib",
    "httpx",
    "httplib2",
    "atproto",
    "googleapiclient",
    "google",
    "flickrapi",
    "twitter_text",
    "tweepy",
    "psycopg",
)


def test_the_command_line_imports_no_library_it_does_not_use_itself() -> None:
    probe = (
        "import sys, scheduler.cli; "
        f"heavy = set({LOADED_ONLY_BY_THEIR_USER!r}); "
        "print(sorted(heavy & {name.split('.')[0] for name in sys.modules}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"


def test_reading_commands_build_the_connectors_only_when_looked_at(tmp_path: Path) -> None:
    from scheduler.app import ConnectorsOnFirstUse, build_app
    from scheduler.config import load_config
    from tests.support import write_config

    config = load_config(
        write_config(tmp_path, accounts={"x": {"kind": "dry_run", "log": "out/x.jsonl"}})
    )
    app = build_app(config, connectors_on_first_use=True)
    assert isinstance(app.connectors, ConnectorsOnFirstUse)
    assert app.connectors._built is None
    assert list(app.connectors) == ["x"]
    assert app.connectors["x"] is app.connectors["x"]
    app.engine.dispose()
