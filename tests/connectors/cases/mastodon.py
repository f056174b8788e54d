"""The Mastodon connector against the Mastodon fake."""

from __future__ import annotations

from pathlib import Path

from connectors.base import AccountSettings
from connectors.credentials import credentials_for
from connectors.mastodon import MastodonConnector
from tests.connectors.contract import PlatformCase
from tests.fakes.mastodon import INSTANCE, MAX_CHARACTERS, TOKEN, MastodonFake
from tests.fakes.wsgi import session_for
from tests.support import FakeClock


def settings(tmp_path: Path, **options: object) -> AccountSettings:
    """A ``mastodon`` account named ``mastodon`` whose token is in the environment."""
    return AccountSettings(
        name="mastodon",
        kind="mastodon",
        base_dir=tmp_path,
        options={"instance": INSTANCE} | options,
        credentials=credentials_for(
            "mastodon",
            state_dir=tmp_path / "state",
            environment={"RELAIS_MASTODON_ACCESS_TOKEN": TOKEN},
        ),
    )


def build(tmp_path: Path, clock: FakeClock) -> tuple[MastodonConnector, MastodonFake]:
    fake = MastodonFake(clock)
    connector = MastodonConnector(settings(tmp_path), clock, session=session_for(fake))
    return connector, fake


CASE = PlatformCase(
    name="mastodon",
    # A video is processed by the server after its upload: tests/connectors/test_mastodon.py
    kinds=("text", "link", "image", "images"),
    max_text_length=MAX_CHARACTERS,
    build=build,
)
