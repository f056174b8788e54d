"""The WordPress connector against the WordPress 6.1 fake."""

from __future__ import annotations

from pathlib import Path

from connectors.base import AccountSettings
from connectors.credentials import credentials_for
from connectors.wordpress import MAX_CONTENT_CHARACTERS, WordPressConnector
from tests.connectors.contract import PlatformCase
from tests.fakes.wordpress import APPLICATION_PASSWORD, SITE, USERNAME, WordPressFake
from tests.fakes.wsgi import session_for
from tests.support import FakeClock


def settings(tmp_path: Path, **options: object) -> AccountSettings:
    """A ``wordpress`` account named ``blog`` whose password is in the environment."""
    return AccountSettings(
        name="blog",
        kind="wordpress",
        base_dir=tmp_path,
        options={"base_url": SITE, "username": USERNAME, "categories": ["Agenda"]} | options,
        credentials=credentials_for(
            "blog",
            state_dir=tmp_path / "state",
            environment={"RELAIS_BLOG_APPLICATION_PASSWORD": APPLICATION_PASSWORD},
        ),
    )


def build(tmp_path: Path, clock: FakeClock) -> tuple[WordPressConnector, WordPressFake]:
    fake = WordPressFake(clock)
    connector = WordPressConnector(settings(tmp_path), clock, session=session_for(fake))
    return connector, fake


CASE = PlatformCase(
    name="wordpress",
    kinds=("text", "link", "image"),
    max_text_length=MAX_CONTENT_CHARACTERS,
    build=build,
)
