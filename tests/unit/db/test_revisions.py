"""The schema check reads revisions without Alembic; it must agree with Alembic."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory

from scheduler.db.engines import (
    alembic_config,
    current_revision,
    head_revision,
    make_engine,
    upgrade,
)


def test_the_head_read_from_the_files_is_alembics_head() -> None:
    alembics = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head_revision() == alembics


def test_the_current_revision_is_none_on_an_empty_queue_then_the_head(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    engine = make_engine(url)
    assert current_revision(engine) is None
    upgrade(url)
    assert current_revision(engine) == head_revision()
    engine.dispose()
