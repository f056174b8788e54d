"""X / Twitter (API v2) in the shared contract, over OAuth 2.0 user tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connectors.base import AccountSettings
from connectors.credentials import credentials_for
from connectors.x import XConnector
from tests.connectors.contract import PlatformCase
from tests.fakes.wsgi import session_for
from tests.fakes.x import XFake
from tests.support import FakeClock


def x_account(
    tmp_path: Path,
    clock: FakeClock,
    *,
    auth: str = "oauth2",
    options: dict[str, Any] | None = None,
    fake: XFake | None = None,
    client_secret: str | None = None,
) -> tuple[XConnector, XFake]:
    """A connector for account ``x`` wired to a fresh fake, its secrets in the environment."""
    fake = fake or XFake(clock, client_secret=client_secret)
    if auth == "oauth1":
        keys = fake.oauth1
        environment = {
            "RELAIS_X_CONSUMER_KEY": keys.consumer_key,
            "RELAIS_X_CONSUMER_SECRET": keys.consumer_secret,
            "RELAIS_X_ACCESS_TOKEN": keys.access_token,
            "RELAIS_X_ACCESS_TOKEN_SECRET": keys.access_token_secret,
        }
    else:
        access, refresh = fake.issue_tokens()
        environment = {
            "RELAIS_X_CLIENT_ID": fake.client_id,
            "RELAIS_X_ACCESS_TOKEN": access,
            "RELAIS_X_REFRESH_TOKEN": refresh,
        }
        if fake.client_secret is not None:
            environment["RELAIS_X_CLIENT_SECRET"] = fake.client_secret
    settings = AccountSettings(
        name="x",
        kind="x",
        base_dir=tmp_path,
        options={"auth": auth, **(options or {})},
        credentials=credentials_for("x", state_dir=tmp_path / "state", environment=environment),
    )
    sleeps: list[float] = []
    connector = XConnector(settings, clock, session=session_for(fake), sleep=sleeps.append)
    return connector, fake


CASE = PlatformCase(
    name="x",
    kinds=("text", "link", "image", "images", "video"),
    max_text_length=280,
    build=x_account,
)
