"""The daemon's HTTP endpoint on the loopback interface: metrics, health, the calendar.

Off unless config.yaml has ``http: {port: 9187}``. Routes:

- ``/metrics``: Prometheus text, read from the queue at scrape time by a collector of our
  own registry (nothing is counted in process memory, so every daemon sharing a queue
  reports the same figures and a restart loses nothing);
- ``/healthz``: 200 ``ok`` after a database round trip, 503 with the reason otherwise;
- ``/calendar.ics``: the editorial calendar, 30 days back and 90 ahead.

It binds 127.0.0.1 by default: the figures name accounts and the calendar carries the text
of unpublished posts, so a wider audience goes through a reverse proxy that authenticates.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import timedelta
from socketserver import ThreadingMixIn
from typing import Any, NamedTuple
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment
from zoneinfo import ZoneInfo

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from scheduler.clock import Clock
from scheduler.config import SeriesConfig
from scheduler.db.models import AccountState, Attempt, Delivery
from scheduler.delivery.transitions import transaction
from scheduler.reports.status import build_status
from scheduler.service.queue_health import QueueFault

log = logging.getLogger(__name__)

CALENDAR_PAST = timedelta(days=30)
CALENDAR_AHEAD = timedelta(days=90)


class QueueCollector:
    """Prometheus figures computed from the queue's tables when scraped."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        clock: Clock,
        zone: ZoneInfo,
        accounts: Sequence[str],
        series: Mapping[str, SeriesConfig],
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.zone = zone
        self.accounts = accounts
        self.series = series

    def collect(self) -> Iterator[Metric]:
        # The daemon serving this is alive by definition; Prometheus' `up` covers the rest.
        status = build_status(
            self.sessions,
            clock=self.clock,
            zone=self.zone,
            accounts=self.accounts,
            series=self.series,
            daemon_alive=None,
        )
        deliveries = GaugeMetricFamily(
            "relais_deliveries", "Deliveries by state and account.", labels=["state", "account"]
        )
        for item in status.counts:
            deliveries.add_metric([item.state, item.account], item.count)
        yield deliveries
        yield self._attempts()
        age = status.oldest_overdue_age
        yield GaugeMetricFamily(
            "relais_oldest_overdue_seconds",
            "Seconds since the oldest overdue delivery (due over 2 minutes ago, not sent) "
            "was due; 0 when none.",
            value=age.total_seconds() if age is not None else 0.0,
        )
        yield GaugeMetricFamily(
            "relais_unknown_deliveries",
            "Deliveries that may or may not have gone out, waiting for reconciliation.",
            value=status.unknown.count,
        )
        success = GaugeMetricFamily(
            "relais_last_success_timestamp_seconds",
            "When the account last published (Unix time).",
            labels=["account"],
        )
        paused = GaugeMetricFamily(
            "relais_account_paused", "1 when the account is paused.", labels=["account"]
        )
        limited = GaugeMetricFamily(
            "relais_account_rate_limited_until_timestamp_seconds",
            "Until when the platform asked the account to wait (Unix time), if it still waits.",
            labels=["account"],
        )
        for account in status.accounts:
            if account.last_success_at is not None:
                success.add_metric([account.account], account.last_success_at.timestamp())
            paused.add_metric([account.account], 1.0 if account.paused else 0.0)
            until = account.rate_limited_until
            if until is not None and until > status.now:
                limited.add_metric([account.account], until.timestamp())
        yield from (success, paused, limited)
        empty = GaugeMetricFamily(
            "relais_series_occurrences_without_episode",
            "Series occurrences in their alert window (or passed) with no episode.",
            labels=["series"],
        )
        per_series: dict[str, int] = {name: 0 for name in self.series}
        for occurrence in status.open_occurrences:
            per_series[occurrence.series] = per_series.get(occurrence.series, 0) + 1
        for name, count in sorted(per_series.items()):
            empty.add_metric([name], count)
        yield empty

    def _attempts(self) -> Metric:
        attempts = CounterMetricFamily(
            "relais_attempts",
            "Send attempts by outcome (published, or the error class) and account.",
            labels=["outcome", "account"],
        )
        outcome = func.coalesce(Attempt.error_class, Attempt.outcome, "no_answer")
        with transaction(self.sessions) as session:
            rows = session.execute(
                select(outcome, Delivery.account, func.count())
                .join(Delivery, Attempt.delivery_id == Delivery.id)
                .group_by(outcome, Delivery.account)
                .order_by(Delivery.account, outcome)
            ).all()
        for label, account, count in rows:
            attempts.add_metric([label, account], count)
        return attempts


def make_http_app(
    *,
    sessions: sessionmaker[Session],
    clock: Clock,
    zone: ZoneInfo,
    accounts: Sequence[str],
    series: Mapping[str, SeriesConfig],
    queue_fault: Callable[[], QueueFault | None] = lambda: None,
) -> WSGIApplication:
    """The endpoint as a WSGI application (served by :func:`serve_http`, or by a test).

    ``queue_fault`` is the daemon's current write fault: reads may work while writes fail
    (a full disk, a held lock), so ``/healthz`` asks the daemon as well as the database.

    Give it :func:`scheduler.reports.status.reader_sessions`, so a scrape never holds the daemon's
    writes back.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        QueueCollector(sessions=sessions, clock=clock, zone=zone, accounts=accounts, series=series)
    )

    def metrics() -> tuple[str, str, bytes]:
        return "200 OK", CONTENT_TYPE_LATEST, generate_latest(registry)

    def healthz() -> tuple[str, str, bytes]:
        fault = queue_fault()
        if fault is not None:
            return "503 Service Unavailable", _TEXT, f"critical: {fault.describe()}\n".encode()
        try:
            with transaction(sessions) as session:
                # A table, not `SELECT 1`: on SQLite that would not even open the file.
                session.execute(select(AccountState.account).limit(1)).all()
        except SQLAlchemyError as error:
            log.warning("health check failed: the database did not answer: %s", error)
            return "503 Service Unavailable", _TEXT, f"database unreachable: {error}\n".encode()
        return "200 OK", _TEXT, b"ok\n"

    def calendar() -> tuple[str, str, bytes]:
        # icalendar is loaded by the first calendar request, not by every daemon.
        from scheduler.reports.calendar import calendar_ics

        now = clock.now()
        body = calendar_ics(
            sessions, zone=zone, start=now - CALENDAR_PAST, end=now + CALENDAR_AHEAD
        )
        return "200 OK", "text/calendar; charset=utf-8", body

    routes = {"/metrics": metrics, "/healthz": healthz, "/calendar.ics": calendar}

    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        route = routes.get(environ.get("PATH_INFO", "/"))
        method = environ.get("REQUEST_METHOD", "GET")
        if route is None:
            status, kind, body = "404 Not Found", _TEXT, _INDEX
        elif method not in ("GET", "HEAD"):
            status, kind, body = "405 Method Not Allowed", _TEXT, b"GET only\n"
        else:
            try:
                status, kind, body = route()
            except Exception:
                log.exception("the endpoint failed to answer %s", environ.get("PATH_INFO"))
                status, kind, body = "500 Internal Server Error", _TEXT, b"failed; see the log\n"
        headers = [("Content-Type", kind), ("Content-Length", str(len(body)))]
        if status.startswith("405"):
            headers.append(("Allow", "GET, HEAD"))
        start_response(status, headers)
        return [b"" if method == "HEAD" else body]

    return application


_TEXT = "text/plain; charset=utf-8"
_INDEX = b"relais: /metrics, /healthz, /calendar.ics\n"


# At most this many requests at once; a client holding a connection open is cut off after
# CONNECTION_TIMEOUT seconds of silence.
MAX_CONNECTIONS = 8
CONNECTION_TIMEOUT = 10.0


class _Server(ThreadingMixIn, WSGIServer):
    # A slow scrape must not hold up a health check; no thread outlives the process.
    daemon_threads = True
    _slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)  # too many at once: refused, not queued
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class _QuietHandler(WSGIRequestHandler):
    timeout = CONNECTION_TIMEOUT

    def log_message(self, format: str, *args: Any) -> None:
        # Into our logs at debug level, not onto stderr where it would break the JSON lines.
        log.debug("http %s", format % args)


class HttpEndpoint(NamedTuple):
    """The running endpoint; ``port`` is where it listens (asking for port 0 picks one)."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return self.server.server_port

    def shutdown(self) -> None:
        """Stop answering, close the socket, and wait for the serving thread to end."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def serve_http(app: WSGIApplication, host: str, port: int) -> HttpEndpoint:
    """Serve ``app`` on ``host:port`` from a background thread; OSError if it cannot bind."""
    server = make_server(host, port, app, server_class=_Server, handler_class=_QuietHandler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.5}, name="relais-http", daemon=True
    )
    thread.start()
    log.info("http endpoint listening on http://%s:%s/", host, server.server_port)
    return HttpEndpoint(server=server, thread=thread)
