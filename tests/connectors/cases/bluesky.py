"""The Bluesky connector against the fake PDS."""

from __future__ import annotations

from pathlib import Path

from connectors.base import AccountSettings
from connectors.bluesky import MAX_GRAPHEMES, BlueskyConnector
from connectors.credentials import credentials_for
from tests.connectors.contract import PlatformCase
from tests.fakes.bluesky import APP_PASSWORD, HANDLE, PDS, BlueskyFake
from tests.fakes.wsgi import HttpxWsgiTransport
from tests.support import FakeClock


def settings(tmp_path: Path, password: str = APP_PASSWORD, **options: object) -> AccountSettings:
    """A ``bluesky`` account named ``bluesky`` whose app password is in the environment."""
    return AccountSettings(
        name="bluesky",
        kind="bluesky",
        base_dir=tmp_path,
        options={"handle": HANDLE, "pds": PDS} | options,
        credentials=credentials_for(
            "bluesky",
            state_dir=tmp_path / "state",
            environment={"RELAIS_BLUESKY_APP_PASSWORD": password},
        ),
    )


def build(tmp_path: Path, clock: FakeClock) -> tuple[BlueskyConnector, BlueskyFake]:
    fake = BlueskyFake(clock)
    connector = BlueskyConnector(settings(tmp_path), clock, transport=HttpxWsgiTransport(fake))
    return connector, fake


CASE = PlatformCase(
    name="bluesky",
    kinds=("text", "link", "image", "images"),
    max_text_length=MAX_GRAPHEMES,
    build=build,
    # com.atproto.repo.getRecord is public: reconciliation needs no credentials
    finds_without_credentials=True,
)
