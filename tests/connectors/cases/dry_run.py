"""The ``dry_run`` connector against its log file (tests/fakes/local_files.py)."""

from __future__ import annotations

from pathlib import Path

from connectors.base import AccountSettings
from connectors.dry_run import DryRunConnector
from connectors.errors import Permanent
from tests.connectors.contract import PlatformCase
from tests.fakes.local_files import DryRunLog
from tests.support import FakeClock

MAX_TEXT_LENGTH = 500


def build(tmp_path: Path, clock: FakeClock) -> tuple[DryRunConnector, DryRunLog]:
    settings = AccountSettings(
        name="demo",
        kind="dry_run",
        base_dir=tmp_path,
        options={"log": "out/demo.jsonl", "max_text_length": MAX_TEXT_LENGTH},
    )
    connector = DryRunConnector(settings, clock)
    return connector, DryRunLog(connector.log_path)


CASE = PlatformCase(
    name="dry_run",
    kinds=("text", "link", "image", "images", "video"),
    max_text_length=MAX_TEXT_LENGTH,
    build=build,
    errors=("retryable", "permanent", "ambiguous"),
    dead_credentials=Permanent,
)
