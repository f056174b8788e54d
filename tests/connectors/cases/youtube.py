"""YouTube in the shared contract: the connector over google-api-python-client and the fake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connectors.base import AccountSettings
from connectors.credentials import credentials_for
from connectors.youtube import YouTubeConnector
from tests.connectors.contract import PlatformCase
from tests.fakes.wsgi import WsgiHttp
from tests.fakes.youtube import YouTubeFake
from tests.support import FakeClock


def environment(fake: YouTubeFake, account: str = "youtube") -> dict[str, str]:
    prefix = f"RELAIS_{account.upper()}_"
    return {
        prefix + "CLIENT_ID": fake.client_id,
        prefix + "CLIENT_SECRET": fake.client_secret,
        prefix + "REFRESH_TOKEN": next(iter(fake.refresh_tokens)),
    }


def connector_for(
    fake: YouTubeFake, tmp_path: Path, clock: FakeClock, **options: Any
) -> YouTubeConnector:
    settings = AccountSettings(
        name="youtube",
        kind="youtube",
        base_dir=tmp_path,
        options=options,
        credentials=credentials_for(
            "youtube", state_dir=tmp_path / "state", environment=environment(fake)
        ),
    )
    return YouTubeConnector(settings, clock, http=WsgiHttp(fake))


def build(tmp_path: Path, clock: FakeClock) -> tuple[YouTubeConnector, YouTubeFake]:
    fake = YouTubeFake(clock=clock.now)
    return connector_for(fake, tmp_path, clock), fake


CASE = PlatformCase(
    name="youtube",
    kinds=("video",),
    max_text_length=5000,
    build=build,
    finds_without_credentials=True,
)
