"""One cancel for post files and `relais cancel`, with one series rule."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from scheduler.app import App
from scheduler.db.models import Delivery, Post, SeriesOccurrence
from scheduler.delivery.editor import cancel
from scheduler.delivery.states import State
from scheduler.delivery.transitions import change_state, transaction
from tests.support import FakeClock, drop, make_app
from tests.unit.rules.test_series import BOUDOIR

EPISODE = """\
library: redaction
author: communication
title: Le boudoir
text: Un livre, une minute.
to: [facebook, twitter]
series: boudoir
"""
SERIES = {"boudoir": {**BOUDOIR, "accounts": ["facebook", "twitter"]}}


def episode_app(tmp_path: Path) -> App:
    app = make_app(tmp_path, FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC)), series=SERIES)
    drop(app.config, "redaction/episode-1.yaml", EPISODE)
    app.intake().scan()
    return app


def publish_on(app: App, account: str) -> None:
    with transaction(app.sessions) as session:
        delivery = session.scalars(select(Delivery).where(Delivery.account == account)).one()
        for state in (State.CLAIMED, State.SENDING, State.PUBLISHED):
            change_state(session, delivery, state, actor="test", now=app.clock.now())


def first_date(app: App) -> tuple[str, str | None]:
    with transaction(app.sessions) as session:
        row = session.scalars(
            select(SeriesOccurrence).where(SeriesOccurrence.occurrence_date == "2026-03-04")
        ).one()
        return row.state, row.post_id


def cancel_by_file(app: App) -> None:
    drop(app.config, "redaction/episode-1.yaml", EPISODE + "cancel: true\n")
    app.intake().scan()


def cancel_by_command(app: App) -> None:
    cancel(app.sessions, app.clock, ["redaction/episode-1"], by="editor", reason="plus tard")


WAYS = pytest.mark.parametrize("withdraw", [cancel_by_file, cancel_by_command])


@WAYS
def test_an_episode_withdrawn_before_anything_went_out_frees_its_date(
    tmp_path: Path, withdraw: object
) -> None:
    app = episode_app(tmp_path)
    assert first_date(app)[0] == "filled"
    withdraw(app)  # type: ignore[operator]
    assert first_date(app) == ("open", None)
    with transaction(app.sessions) as session:
        assert {d.state for d in session.scalars(select(Delivery))} == {State.CANCELLED}


@WAYS
def test_an_episode_published_on_one_account_keeps_its_date_when_withdrawn(
    tmp_path: Path, withdraw: object
) -> None:
    app = episode_app(tmp_path)
    publish_on(app, "facebook")
    withdraw(app)  # type: ignore[operator]
    state, post_id = first_date(app)
    assert state == "filled"  # the Wednesday had its episode: no other may take it
    with transaction(app.sessions) as session:
        post = session.scalars(select(Post)).one()
        assert post_id == post.id
        states = {d.account: d.state for d in post.deliveries}
    assert states == {"facebook": State.PUBLISHED, "twitter": State.CANCELLED}
