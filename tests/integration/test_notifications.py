"""People are told, through a real SMTP server (aiosmtpd) and a real webhook receiver:
content, recipients, language, digest, back-off, and no secret anywhere."""

from __future__ import annotations

import base64
import logging
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from scheduler.app import App
from scheduler.db.models import Notification, NotificationSend
from scheduler.delivery.transitions import transaction
from scheduler.notifications.sender import Notifier
from scheduler.people.person import Role
from scheduler.reports.status import build_status, render_status
from tests.mailservers import MailServer, WebhookReceiver, mail_server
from tests.support import FakeClock, drop, make_app

LIBRARIES = {
    "eaux-vives": {"name": "Eaux-Vives", "contacts": ["lea"]},
    "redaction": {"name": "Rédaction"},
}

WELCOME = """\
library: redaction
author: marie
title: Bienvenue
text: Le blog des bibliothèques ouvre aujourd'hui.
to: [blog]
"""

BROKEN = """\
library: eaux-vives
author: marie
title: Escalade
text: Goûter de l'Escalade
to: [facebook, mastodon]
at: 31 février
"""

PENDING = """\
library: eaux-vives
author: marie
title: Heure du conte
text: Des histoires pour les petits, mercredi à 15 h.
to: [facebook, twitter]
"""


def smtp_settings(server: MailServer, **more: Any) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": server.port,
        "security": "none",
        "from": "relais@bibliotheques.example",
        "timeout": "2s",
        **more,
    }


def build(tmp_path: Path, clock: FakeClock, server: MailServer, **notifications: Any) -> App:
    settings = {"smtp": smtp_settings(server), **notifications}
    return make_app(tmp_path, clock, libraries=LIBRARIES, notifications=settings)


def add_people(app: App, *, paul_digest: bool = False) -> None:
    people = app.directory()
    people.add("marie", role=Role.CONTRIBUTOR, libraries=["eaux-vives", "redaction"],
               email="marie@example.org", language="fr")  # fmt: skip
    people.add("lea", role=Role.CONTRIBUTOR, libraries=["eaux-vives"], email="lea@example.org")
    people.add("paul", role=Role.EDITOR, email="paul@example.org", language="en",
               digest=paul_digest)  # fmt: skip


def notifier(app: App) -> Notifier:
    built = app.notifier()
    assert built is not None
    return built


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    with mail_server() as server:
        yield server


def test_the_author_hears_in_french_that_the_post_went_out_with_its_link(
    tmp_path: Path, clock: FakeClock, smtp: MailServer
) -> None:
    app = make_app(
        tmp_path, clock, libraries=LIBRARIES, web={"public_url": "https://desk.example/"},
        notifications={"smtp": smtp_settings(smtp)},
    )  # fmt: skip
    add_people(app)
    drop(app.config, "redaction/bienvenue.yaml", WELCOME)
    app.intake().scan()
    app.dispatcher().run_due()
    assert notifier(app).run_pass() == 1

    [mail] = smtp.received
    assert mail.recipients == ("marie@example.org",)
    assert mail.sender == "relais@bibliotheques.example"
    assert mail.subject == "Publié sur blog : Bienvenue"
    assert "« Bienvenue » a été publié sur blog." in mail.body
    assert "Lien à partager : http://localhost:8000/blog/" in mail.body
    with transaction(app.sessions) as session:
        [delivery_id] = session.scalars(select(Notification.delivery_id)).all()
    assert f"Sur le bureau : https://desk.example/delivery/{delivery_id}" in mail.body
    assert notifier(app).run_pass() == 0, "told once"


def test_a_rejected_file_is_told_to_its_author_and_library_with_every_problem_and_line(
    tmp_path: Path, clock: FakeClock, smtp: MailServer
) -> None:
    app = build(tmp_path, clock, smtp)
    add_people(app)
    drop(app.config, "eaux-vives/escalade.yaml", BROKEN)
    report = app.intake().scan()
    assert len(report.rejected) == 1
    notifier(app).run_pass()

    by_person = {mail.recipients: mail for mail in smtp.received}
    assert set(by_person) == {("marie@example.org",), ("lea@example.org",)}
    french = by_person[("marie@example.org",)]
    assert french.subject == "Fichier refusé : eaux-vives/escalade.yaml"
    assert "eaux-vives/escalade.yaml:5:" in french.body and "mastodon" in french.body
    assert "eaux-vives/escalade.yaml:6:" in french.body and "février" in french.body
    assert "Corrigez chaque problème" in french.body


def test_editors_hear_of_waiting_posts_in_their_language_once_per_post(
    tmp_path: Path, clock: FakeClock, smtp: MailServer
) -> None:
    app = build(tmp_path, clock, smtp)
    add_people(app)
    drop(app.config, "eaux-vives/conte.yaml", PENDING)
    app.intake().scan()
    notifier(app).run_pass()

    [mail] = smtp.received  # two accounts wait, one message
    assert mail.recipients == ("paul@example.org",)
    assert mail.subject == "Waiting for your approval: Heure du conte"
    assert "(eaux-vives, by marie) waits for an editor's approval" in mail.body
    assert "relais approve eaux-vives/conte`" in mail.body


def test_an_editor_with_the_digest_gets_one_message_a_day(
    tmp_path: Path, clock: FakeClock, smtp: MailServer
) -> None:
    app = build(tmp_path, clock, smtp, digest_at="08:00")
    add_people(app, paul_digest=True)
    drop(app.config, "eaux-vives/conte.yaml", PENDING)
    drop(app.config, "eaux-vives/autre.yaml", PENDING.replace("Heure du conte", "Lecture"))
    app.intake().scan()
    outbox = notifier(app)
    outbox.run_pass()
    assert smtp.received == []  # 10:00 in Geneva: held until tomorrow 08:00

    clock.advance(hours=22)  # 08:00 the next morning
    outbox.run_pass()
    outbox.run_pass()
    [digest] = smtp.received
    assert digest.recipients == ("paul@example.org",)
    assert digest.subject == "relais: the news of Thursday, December 10, 2026"
    assert "• Waiting for your approval: Heure du conte" in digest.body
    assert "• Waiting for your approval: Lecture" in digest.body


def test_a_refusing_or_absent_mail_server_is_retried_with_backoff_then_told_once(
    tmp_path: Path, clock: FakeClock, smtp: MailServer
) -> None:
    app = build(tmp_path, clock, smtp, backoff_base="1m", backoff_max="10m")
    add_people(app)
    drop(app.config, "redaction/bienvenue.yaml", WELCOME)
    app.intake().scan()
    app.dispatcher().run_due()
    outbox = notifier(app)

    smtp.refuse("451 4.3.0 mailbox busy, try later")
    outbox.run_pass()
    row = only_send(app)
    assert (row.state, row.attempts) == ("retry_wait", 1)
    assert row.due_at > clock.now()
    assert outbox.run_pass() == 0, "not before its back-off"
    status = status_text(app)
    assert "1 notifications failing" in status and "1 waiting (1 failing)" in status

    smtp.stop()  # down: connection refused
    clock.advance(minutes=2)
    outbox.run_pass()
    row = only_send(app)
    assert (row.state, row.attempts) == ("retry_wait", 2)
    assert "Connection error" in (row.last_error or "")

    smtp.refuse(None)
    smtp.start()
    clock.advance(minutes=5)
    outbox.run_pass()
    assert only_send(app).state == "sent"
    assert len(smtp.received) == 1


def test_no_secret_reaches_a_message_a_row_or_a_log_line(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    password, token = "smtp-Pa55word-7c1e", "hook-T0ken-99ab"
    monkeypatch.setenv("RELAIS_SMTP_PASSWORD", password)
    monkeypatch.setenv("RELAIS_NOTIFY_HOOKTOKEN", token)
    caplog.set_level(logging.DEBUG)
    with mail_server(password=password) as smtp, WebhookReceiver() as hooks:
        app = make_app(
            tmp_path, clock, libraries=LIBRARIES,
            notifications={"smtp": smtp_settings(smtp, user="relais"), "backoff_base": "1s"},
        )  # fmt: skip
        add_people(app)
        app.directory().update(
            "paul", notify_url=f"json://relais:{{HOOKTOKEN}}@127.0.0.1:{hooks.port}/relais"
        )
        drop(app.config, "eaux-vives/conte.yaml", PENDING)
        app.intake().scan()
        outbox = notifier(app)
        smtp.stop()  # a failure first: its error text is recorded
        outbox.run_pass()
        errors = rows_text(tmp_path)
        smtp.start()
        clock.advance(minutes=5)
        outbox.run_pass()

        [mail] = smtp.received
        assert mail.authenticated and mail.recipients == ("paul@example.org",)
        [hook] = hooks.hooks
        assert hook.body["title"] == "Waiting for your approval: Heure du conte"
        assert "Authorization" in hook.headers  # the token went where it belongs
    database = (tmp_path / "queue.db").read_bytes()
    rows = errors + rows_text(tmp_path)
    assert "Connection error" in errors
    for secret in (password, token):
        assert secret not in mail.raw and secret not in repr(hook.body)
        assert secret.encode() not in database and secret not in rows
        relais_logs = "".join(
            r.getMessage() + repr(r.__dict__)
            for r in caplog.records
            if not r.name.startswith("mail.log")
        )  # the test server's own
        assert secret not in relais_logs
        assert base64.b64encode(secret.encode()).decode() not in relais_logs


def test_an_account_still_paused_is_told_once_a_day(
    tmp_path: Path, clock: FakeClock, smtp: MailServer
) -> None:
    from scheduler.db.models import AccountState

    app = build(tmp_path, clock, smtp)
    add_people(app)
    with transaction(app.sessions) as session:
        session.add(AccountState(account="facebook", paused=True, paused_reason="token revoked"))
    watch, outbox = app.watch(), notifier(app)
    assert watch is not None
    for _ in range(3):
        watch.run()
        outbox.run_pass()
        clock.advance(hours=1)
    assert [m.subject for m in smtp.received] == ["Account paused: facebook"]
    clock.advance(days=1)
    watch.run()
    outbox.run_pass()
    assert len(smtp.received) == 2
    assert "token revoked" in smtp.received[1].body


def test_token_expiry_is_warned_ahead_and_on_the_day(
    tmp_path: Path, clock: FakeClock, smtp: MailServer
) -> None:
    import os

    secrets = tmp_path / "credentials"
    secrets.mkdir()
    token = secrets / "facebook.page_token"
    token.write_text("secret-value", encoding="utf-8")
    issued = (clock.now() - timedelta(days=5)).timestamp()  # a 7-day token: 2 days left
    os.utime(token, (issued, issued))
    app = make_app(
        tmp_path, clock, libraries=LIBRARIES, credentials_dir=str(secrets),
        notifications={
            "smtp": smtp_settings(smtp),
            "token_expiry": {"facebook": {"lifetime": "7d", "secret": "page_token"}},
        },
    )  # fmt: skip
    add_people(app)
    watch, outbox = app.watch(), notifier(app)
    assert watch is not None
    watch.run()
    watch.run()
    outbox.run_pass()
    assert [m.subject for m in smtp.received] == [
        "The access of facebook ends on Friday, December 11, 2026"
    ]
    clock.advance(days=2)
    watch.run()
    outbox.run_pass()
    assert smtp.received[-1].subject == "The access of facebook ends today"
    assert len(smtp.received) == 2


def test_nothing_is_recorded_or_sent_without_notifications_in_the_config(
    tmp_path: Path, clock: FakeClock
) -> None:
    app = make_app(tmp_path, clock, libraries=LIBRARIES)
    drop(app.config, "eaux-vives/conte.yaml", PENDING)
    app.intake().scan()
    assert app.notifier() is None
    with transaction(app.sessions) as session:
        assert session.scalars(select(Notification)).all() == []


def test_the_outbox_row_rolls_back_with_the_state_change(
    tmp_path: Path, clock: FakeClock, smtp: MailServer
) -> None:
    from scheduler.db.models import Delivery
    from scheduler.delivery.states import State
    from scheduler.delivery.transitions import change_state
    from tests.support import queue_delivery

    app = build(tmp_path, clock, smtp)
    delivery_id = queue_delivery(app)
    with pytest.raises(RuntimeError), transaction(app.sessions) as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        change_state(session, delivery, State.CANCELLED, actor="paul", now=clock.now())
        session.flush()
        assert session.scalars(select(Notification)).all() != []
        raise RuntimeError("the transaction fails")
    with transaction(app.sessions) as session:
        assert session.scalars(select(Notification)).all() == []


def rows_text(directory: Path) -> str:
    with sqlite3.connect(directory / "queue.db") as connection:
        return "".join(
            repr(connection.execute(f"SELECT * FROM {table}").fetchall())
            for table in ("notification_send", "notification", "person")
        )


def only_send(app: App) -> NotificationSend:
    with transaction(app.sessions) as session:
        [row] = session.scalars(select(NotificationSend)).all()
        session.expunge(row)
        return row


def status_text(app: App) -> str:
    status = build_status(
        app.sessions, clock=app.clock, zone=app.config.zone, accounts=sorted(app.config.accounts),
        series={}, daemon_alive=True,
    )  # fmt: skip
    return render_status(status, app.config.zone)


@pytest.mark.postgresql
def test_two_daemons_on_postgresql_send_each_notification_once(
    tmp_path: Path, clock: FakeClock, smtp: MailServer
) -> None:
    import threading

    from tests.databases import fresh_postgres_database

    with fresh_postgres_database() as url:
        app = make_app(
            tmp_path, clock, database=url, libraries=LIBRARIES,
            notifications={"smtp": smtp_settings(smtp)},
        )  # fmt: skip
        add_people(app)
        for index in range(12):
            drop(app.config, f"eaux-vives/conte-{index}.yaml",
                 PENDING.replace("Heure du conte", f"Conte {index}"))  # fmt: skip
        app.intake().scan()
        daemons = [notifier(app) for _ in range(2)]
        for index, daemon in enumerate(daemons):
            daemon.owner = f"daemon-{index}"
        start = threading.Barrier(2)

        def run(daemon: Notifier) -> None:
            start.wait()
            daemon.run_pass()

        threads = [threading.Thread(target=run, args=(d,)) for d in daemons]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        subjects = sorted(mail.subject for mail in smtp.received)
        assert subjects == sorted(f"Waiting for your approval: Conte {i}" for i in range(12))
        with transaction(app.sessions) as session:
            owners = {row.state for row in session.scalars(select(NotificationSend))}
        assert owners == {"sent"}
        app.engine.dispose()


def test_relais_notify_test_sends_a_test_message_now(
    tmp_path: Path, clock: FakeClock, smtp: MailServer
) -> None:
    from click.testing import CliRunner

    from scheduler.cli import main

    app = build(tmp_path, clock, smtp)
    add_people(app)
    config = str(tmp_path / "config.yaml")
    result = CliRunner().invoke(main, ["--config", config, "notify", "test", "marie"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "email  sent"
    [mail] = smtp.received
    assert mail.subject == "relais : message de test"
    assert "Ceci est un message de test pour marie." in mail.body
    smtp.stop()
    result = CliRunner().invoke(main, ["--config", config, "notify", "test", "paul"])
    assert result.exit_code == 1 and "retry_wait" in result.output
    assert "Connection error" in result.output
    result = CliRunner().invoke(main, ["--config", config, "notify", "test", "nobody"])
    assert result.exit_code != 0 and "no person 'nobody'" in result.output


def test_editors_hear_of_a_series_date_without_an_episode_once(
    tmp_path: Path, clock: FakeClock, smtp: MailServer
) -> None:
    boudoir = {
        "accounts": ["facebook"], "weekday": "wednesday", "time": "10:00",
        "from": "2026-12-01", "alert_before": "48h", "title": "Le boudoir",
    }  # fmt: skip
    app = make_app(
        tmp_path, clock, libraries=LIBRARIES, series={"boudoir": boudoir},
        notifications={"smtp": smtp_settings(smtp)},
    )  # fmt: skip
    add_people(app)
    series = app.series()
    series.materialise()
    clock.advance(days=5, hours=1)  # Monday 14 December, 11:00 in Geneva: 47 h before
    series.watch()
    series.watch()
    notifier(app).run_pass()
    [mail] = smtp.received
    assert mail.recipients == ("paul@example.org",)
    assert mail.subject == "No episode yet: boudoir, Wednesday, December 16, 2026, 10:00 AM"
    assert "`series: boudoir`" in mail.body


def test_routes_silence_an_event_and_operations_hear_of_a_daemon_that_died_mid_send(
    tmp_path: Path, clock: FakeClock, smtp: MailServer
) -> None:
    from scheduler.db.models import Delivery
    from tests.support import queue_delivery

    app = make_app(
        tmp_path, clock, libraries=LIBRARIES,
        notifications={"smtp": smtp_settings(smtp), "routes": {"published": []},
                       "operations": ["lea"]},
    )  # fmt: skip
    add_people(app)
    interrupted = queue_delivery(app)
    with transaction(app.sessions) as session:
        delivery = session.get(Delivery, interrupted)
        assert delivery is not None
        delivery.state, delivery.lease_owner = "sending", "dead-host:99:0badc0de"
        delivery.lease_until = clock.now() + timedelta(minutes=5)
    drop(app.config, "redaction/bienvenue.yaml", WELCOME)
    app.intake().scan()
    app.dispatcher().run_due()  # reaps the dead daemon's send, publishes the post
    notifier(app).run_pass()
    [mail] = smtp.received  # nothing for `published`: its route is empty
    assert mail.recipients == ("lea@example.org",)
    assert mail.subject == "relais a redémarré après un arrêt brutal"
    assert "relais a trouvé 1 envoi interrompu ; il le recherche" in mail.body
