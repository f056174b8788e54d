"""The Facebook Page connector against the fake Graph API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connectors.base import AccountSettings
from connectors.credentials import credentials_for
from connectors.facebook import FacebookPageConnector
from tests.connectors.contract import PlatformCase
from tests.fakes.graph import GraphFake
from tests.fakes.wsgi import session_for
from tests.support import FakeClock


def build_facebook(
    tmp_path: Path, clock: FakeClock, **options: Any
) -> tuple[FacebookPageConnector, GraphFake]:
    fake = GraphFake(clock)
    settings = AccountSettings(
        name="facebook",
        kind=FacebookPageConnector.kind,
        base_dir=tmp_path,
        options={"page_id": fake.page_id, **options},
        credentials=credentials_for(
            "facebook",
            state_dir=tmp_path / "state",
            environment={"RELAIS_FACEBOOK_PAGE_TOKEN": fake.page_token},
        ),
    )
    return FacebookPageConnector(settings, clock, session=session_for(fake)), fake


CASE = PlatformCase(
    name="facebook",
    kinds=("text", "link", "image", "images", "video"),
    max_text_length=63206,
    build=build_facebook,
)
