"""Flickr in the shared contract: one image per post, against :mod:`tests.fakes.flickr`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connectors.base import AccountSettings
from connectors.credentials import credentials_for, environment_name
from connectors.flickr import MAX_DESCRIPTION, FlickrConnector
from tests.connectors.contract import PlatformCase
from tests.fakes import flickr as fake_flickr
from tests.fakes.flickr import FlickrFake, flickr_session
from tests.support import FakeClock

ACCOUNT = "flickr"


def secrets_environment(account: str = ACCOUNT) -> dict[str, str]:
    values = {
        "api_key": fake_flickr.API_KEY,
        "api_secret": fake_flickr.API_SECRET,
        "oauth_token": fake_flickr.OAUTH_TOKEN,
        "oauth_token_secret": fake_flickr.OAUTH_TOKEN_SECRET,
    }
    return {environment_name(account, name): value for name, value in values.items()}


def build_connector(
    tmp_path: Path,
    clock: FakeClock,
    fake: FlickrFake | None = None,
    *,
    environment: dict[str, str] | None = None,
    **options: Any,
) -> tuple[FlickrConnector, FlickrFake]:
    fake = fake or FlickrFake()
    settings = AccountSettings(
        name=ACCOUNT,
        kind="flickr",
        base_dir=tmp_path,
        options=options,
        credentials=credentials_for(
            ACCOUNT,
            state_dir=tmp_path / "state",
            environment=secrets_environment() if environment is None else environment,
        ),
    )
    return FlickrConnector(settings, clock, session=flickr_session(fake)), fake


def build(tmp_path: Path, clock: FakeClock) -> tuple[FlickrConnector, FlickrFake]:
    return build_connector(tmp_path, clock)


CASE = PlatformCase(
    name="flickr",
    kinds=("image",),
    max_text_length=MAX_DESCRIPTION,
    build=build,
)
