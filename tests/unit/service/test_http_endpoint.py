"""The HTTP endpoint: metrics read from the queue at scrape time, health, the calendar."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError
from sqlalchemy.orm import sessionmaker
from werkzeug.test import Client

from scheduler.app import App
from scheduler.config import HttpConfig
from scheduler.db.engines import make_engine
from scheduler.delivery.transitions import make_sessions
from scheduler.reports.status import reader_sessions
from scheduler.service.http_endpoint import make_http_app, serve_http
from tests.support import START, FakeClock, make_app, queue_delivery
from tests.unit.reports.test_status import Troubles, make_troubles, run_due, sent_through

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def endpoint(app: App, sessions: sessionmaker | None = None) -> Client:  # type: ignore[type-arg]
    return Client(
        make_http_app(
            sessions=sessions or reader_sessions(app.config.database_url),
            clock=app.clock,
            zone=app.config.zone,
            accounts=sorted(app.config.accounts),
            series=app.config.series,
        )
    )


def scrape(client: Client) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


@pytest.fixture
def troubles(tmp_path: Path, clock: FakeClock) -> Troubles:
    return make_troubles(tmp_path, clock)


def test_metrics_count_deliveries_by_state_and_account(troubles: Troubles) -> None:
    samples = scrape(endpoint(troubles.app))
    deliveries = {
        labels: value for (name, labels), value in samples.items() if name == "relais_deliveries"
    }
    assert deliveries[(("account", "blog"), ("state", "needs_attention"))] == 1
    assert deliveries[(("account", "facebook"), ("state", "held"))] == 1
    assert deliveries[(("account", "twitter"), ("state", "failed"))] == 1
    assert sum(deliveries.values()) == 7


def test_metrics_count_attempts_by_outcome_and_account(troubles: Troubles) -> None:
    samples = scrape(endpoint(troubles.app))
    attempts = {
        labels: value
        for (name, labels), value in samples.items()
        if name == "relais_attempts_total"
    }
    assert attempts == {
        (("account", "blog"), ("outcome", "ambiguous")): 2,
        (("account", "facebook"), ("outcome", "auth_expired")): 1,
        (("account", "twitter"), ("outcome", "permanent")): 1,
        (("account", "twitter"), ("outcome", "rate_limited")): 1,
    }


def test_metrics_report_each_problem(troubles: Troubles) -> None:
    samples = scrape(endpoint(troubles.app))
    assert samples[("relais_oldest_overdue_seconds", ())] == 600
    assert samples[("relais_unknown_deliveries", ())] == 1
    assert samples[("relais_account_paused", (("account", "facebook"),))] == 1
    assert samples[("relais_account_paused", (("account", "twitter"),))] == 0
    until = START + timedelta(hours=1)  # what the platform said when it refused
    assert samples[
        ("relais_account_rate_limited_until_timestamp_seconds", (("account", "twitter"),))
    ] == pytest.approx(until.timestamp())
    assert samples[("relais_series_occurrences_without_episode", (("series", "jeudi"),))] == 1


def test_metrics_follow_the_queue_between_scrapes(tmp_path: Path, clock: FakeClock) -> None:
    app = sent_through(make_app(tmp_path, clock), facebook=[])
    client = endpoint(app)
    assert scrape(client)[("relais_oldest_overdue_seconds", ())] == 0
    assert not any(name == "relais_last_success_timestamp_seconds" for name, _ in scrape(client))
    queue_delivery(app, due_at=clock.now() - timedelta(minutes=5))
    assert scrape(client)[("relais_oldest_overdue_seconds", ())] == 300
    run_due(app)
    samples = scrape(client)
    assert samples[("relais_oldest_overdue_seconds", ())] == 0
    success = ("relais_last_success_timestamp_seconds", (("account", "facebook"),))
    assert samples[success] == clock.now().timestamp()
    assert samples[("relais_attempts_total", (("account", "facebook"), ("outcome", "published")))]


def test_healthz_answers_ok_after_a_database_round_trip(app: App) -> None:
    response = endpoint(app).get("/healthz")
    assert (response.status_code, response.get_data()) == (200, b"ok\n")


def test_healthz_answers_503_when_the_database_is_unreachable(app: App, tmp_path: Path) -> None:
    gone = make_sessions(make_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'queue.db'}"))
    response = endpoint(app, gone).get("/healthz")
    assert response.status_code == 503
    assert response.get_data(as_text=True).startswith("database unreachable:")


def test_the_calendar_feed_lists_the_deliveries(troubles: Troubles) -> None:
    response = endpoint(troubles.app).get("/calendar.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    body = response.get_data()
    assert body.startswith(b"BEGIN:VCALENDAR")
    assert body.count(b"BEGIN:VEVENT") == 7
    assert f"UID:{troubles.overdue}@relais".encode() in body


def test_other_paths_and_methods_are_refused(app: App) -> None:
    client = endpoint(app)
    assert client.get("/").status_code == 404
    assert client.get("/metrics/extra").status_code == 404
    refused = client.post("/metrics")
    assert refused.status_code == 405 and refused.headers["Allow"] == "GET, HEAD"
    head = client.head("/healthz")
    assert head.status_code == 200 and head.get_data() == b""


def test_a_real_loopback_server_serves_and_shuts_down_cleanly(app: App) -> None:
    running = serve_http(endpoint(app).application, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{running.port}"
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:
            assert response.read() == b"ok\n"
        with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
            assert b"relais_deliveries" in response.read()
    finally:
        running.shutdown()
    assert not running.thread.is_alive()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/healthz", timeout=2)


def test_the_config_section_defaults_to_loopback_and_checks_the_port() -> None:
    assert HttpConfig.model_validate({"port": 9187}) == HttpConfig(host="127.0.0.1", port=9187)
    for wrong in ({}, {"port": 0}, {"port": 70000}, {"port": 9187, "bind": "0.0.0.0"}):
        with pytest.raises(ValidationError):
            HttpConfig.model_validate(wrong)
