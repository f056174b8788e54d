"""The ``static_blog`` connector against its output folder (tests/fakes/local_files.py)."""

from __future__ import annotations

from pathlib import Path

from connectors.base import AccountSettings
from connectors.errors import Permanent, Retryable
from connectors.static_blog import StaticBlogConnector
from tests.connectors.contract import PlatformCase
from tests.fakes.local_files import StaticBlogFolder
from tests.support import FakeClock


def build(tmp_path: Path, clock: FakeClock) -> tuple[StaticBlogConnector, StaticBlogFolder]:
    settings = AccountSettings(
        name="blog",
        kind="static_blog",
        base_dir=tmp_path,
        options={"output": "site", "site_url": "https://bibliotheques.example.org/blog/"},
    )
    connector = StaticBlogConnector(settings, clock)
    return connector, StaticBlogFolder(tmp_path / "site")


CASE = PlatformCase(
    name="static_blog",
    kinds=("text", "link", "image", "images"),
    max_text_length=None,
    build=build,
    errors=("retryable", "permanent", "ambiguous"),
    raises={"ambiguous": Retryable},
    dead_credentials=Permanent,
)
