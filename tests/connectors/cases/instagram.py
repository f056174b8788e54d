"""The Instagram connector against the fake Graph API; media served from a public base URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connectors.base import AccountSettings
from connectors.credentials import credentials_for
from connectors.instagram import InstagramConnector
from tests.connectors.contract import PlatformCase
from tests.fakes.graph import GraphFake
from tests.fakes.wsgi import session_for
from tests.support import FakeClock

PUBLIC_BASE = "https://media.bibliotheques.example/relais/"


def build_instagram(
    tmp_path: Path, clock: FakeClock, *, sleeps: list[float] | None = None, **kwargs: Any
) -> tuple[InstagramConnector, GraphFake]:
    fake = GraphFake(clock)
    # The library's web server publishes the media store; here the store is tmp_path.
    fake.serve_folder(PUBLIC_BASE, tmp_path)
    options: dict[str, Any] = {"ig_user_id": fake.ig_user_id}
    if "media_host" not in kwargs:
        options["public_media_base_url"] = PUBLIC_BASE
    else:
        options["media_host_account"] = "blog"
    options.update(kwargs.pop("options", {}))
    settings = AccountSettings(
        name="instagram",
        kind=InstagramConnector.kind,
        base_dir=tmp_path,
        options=options,
        credentials=credentials_for(
            "instagram",
            state_dir=tmp_path / "state",
            environment={"RELAIS_INSTAGRAM_ACCESS_TOKEN": fake.ig_token},
        ),
    )
    slept = sleeps if sleeps is not None else []
    connector = InstagramConnector(
        settings, clock, session=session_for(fake), sleep=slept.append, **kwargs
    )
    return connector, fake


def _build(tmp_path: Path, clock: FakeClock) -> tuple[InstagramConnector, GraphFake]:
    return build_instagram(tmp_path, clock)


CASE = PlatformCase(
    name="instagram",
    kinds=("image", "images", "video"),
    max_text_length=2200,
    build=_build,
)
