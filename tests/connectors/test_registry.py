"""The registry: every kind builds its connector, whose ``kind`` matches its key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from connectors.base import AccountSettings
from connectors.registry import KINDS, build_connector
from tests.support import FakeClock

OPTIONS = {
    "dry_run": {"log": "out.jsonl"},
    "static_blog": {"output": "blog", "site_url": "http://localhost/"},
    "facebook_page": {"page_id": "1"},
    "instagram": {"ig_user_id": "1", "public_media_base_url": "https://example.org/m/"},
    "flickr": {},
    "wordpress": {"base_url": "http://localhost", "username": "u"},
    "x": {"auth": "oauth2"},
    "youtube": {},
    "mastodon": {"instance": "https://mastodon.example.org"},
    "bluesky": {"handle": "bibliotheques.example.org"},
}


def test_every_kind_builds_its_connector(tmp_path: Path) -> None:
    assert set(KINDS) == set(OPTIONS)
    for kind, options in OPTIONS.items():
        settings = AccountSettings(name="a", kind=kind, base_dir=tmp_path, options=options)
        assert build_connector(settings, FakeClock()).kind == kind


def test_platform_libraries_load_only_when_an_account_needs_them() -> None:
    probe = (
        "import sys, scheduler.app; "
        "platform = {'twitter_text', 'requests_oauthlib', 'googleapiclient', 'flickrapi', "
        "'atproto'}; print(sorted(platform & set(sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"
