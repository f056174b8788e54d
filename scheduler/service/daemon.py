"""``relais run``: the main thread owns signals; APScheduler is only the clock.

Jobs: intake (a periodic full scan, sooner when a file event hints at a change) and
dispatch, which is not periodic: after each pass it sets its next run to the earliest
moment something becomes due. Durable state lives in our tables, never in APScheduler.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.background import BackgroundScheduler
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from scheduler.app import App
from scheduler.db.engines import require_head
from scheduler.logs import fields
from scheduler.progress import with_progress
from scheduler.reports.status import reader_sessions
from scheduler.service.clock_steps import ClockStepWatch, describe_step
from scheduler.service.heartbeat import BEAT_EVERY, beat, forget
from scheduler.service.instance_lock import InstanceLock, sqlite_path
from scheduler.service.queue_health import (
    MARKER_NAME,
    DatabaseFileGone,
    DatabaseFileIdentity,
    QueueHealth,
    is_queue_fault,
)
from scheduler.service.systemd_notify import SystemdNotifier, status_line

if TYPE_CHECKING:
    from scheduler.service.http_endpoint import HttpEndpoint

log = logging.getLogger(__name__)

DISPATCH_JOB = "dispatch"
INTAKE_JOB = "intake"
INTAKE_HINT_JOB = "intake-hint"
SERIES_JOB = "series"
HEALTH_JOB = "health"
NOTIFY_JOB = "notify"


class _InboxHint(FileSystemEventHandler):
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    def on_any_event(self, event: FileSystemEvent) -> None:
        self.daemon.hint_intake()


class Daemon:
    def __init__(self, app: App, notifier: SystemdNotifier | None = None) -> None:
        self.app = app
        self.notifier = notifier or SystemdNotifier()
        self.dispatcher = app.dispatcher()
        self.intake = app.intake()
        self.series = app.series()
        self.placement = app.placement()
        self.outbox = app.notifier()
        self.watch = app.watch()
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self._wake_lock = threading.Lock()
        self._lock: InstanceLock | None = None
        self._http: HttpEndpoint | None = None
        config = app.config
        self.health = QueueHealth(
            clock=app.clock, marker=config.path(config.state_dir) / MARKER_NAME
        )
        self._database_file: DatabaseFileIdentity | None = None
        self._stop = threading.Event()
        self._exit_code = 0
        self._started_at = app.clock.now()

    # -- lifecycle -------------------------------------------------------------------

    def prepare(self) -> None:
        """Checks before any work: schema at head, the queue not used by another daemon."""
        require_head(self.app.engine)
        path = sqlite_path(self.app.config.database_url)
        if path is not None:
            # Keyed on the real file: a symbolic link to the same queue finds the same lock.
            path = path.resolve()
            self._lock = InstanceLock(path.with_name(path.name + ".lock"))
            self._lock.acquire()
            self._database_file = DatabaseFileIdentity(path)
        self.health.prepare()
        self.dispatcher.reap()

    def run_once(self) -> None:
        self.prepare()
        try:
            if self.app.config.series:
                self.series.materialise()
                self.series.watch()
            self.intake.scan(progress=lambda files: with_progress(files, what="taking post files"))
            self._dispatch_pass()
            self._notify_job()
        finally:
            self._release()

    def run_forever(self) -> int:
        self.prepare()
        stop = self._stop

        def on_signal(number: int, _frame: FrameType | None) -> None:
            log.info("stopping on %s", signal.Signals(number).name)
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        now = datetime.now(UTC)
        self.scheduler.add_job(
            self._intake_job,
            "interval",
            seconds=self.app.config.intake.scan_interval.total_seconds(),
            next_run_time=now,
            id=INTAKE_JOB,
        )
        self.scheduler.add_job(self._dispatch_job, "date", run_date=now, id=DISPATCH_JOB)
        if self.app.config.series:
            # After the first inbox scan, so an episode waiting there is counted.
            first = now + self.app.config.intake.scan_interval
            self.scheduler.add_job(
                self._series_job, "interval", minutes=10, next_run_time=first, id=SERIES_JOB
            )
        if self.outbox is not None:
            # Its own job, so a slow or dead mail server never holds up dispatch.
            assert self.app.config.notifications is not None
            self.scheduler.add_job(
                self._notify_job,
                "interval",
                seconds=self.app.config.notifications.interval.total_seconds(),
                next_run_time=now,
                id=NOTIFY_JOB,
            )
        observer = self._watch_inbox()
        self._serve_http()
        # The heartbeat (and queue probe) runs always; with a watchdog, twice per period so
        # that one slow database answer does not trip it.
        interval = self.notifier.watchdog_interval() if self.notifier.enabled else None
        period = min(interval / 2, BEAT_EVERY) if interval else BEAT_EVERY
        self.scheduler.add_job(
            self._health_job,
            "interval",
            seconds=period.total_seconds(),
            next_run_time=now,
            id=HEALTH_JOB,
        )
        self.scheduler.start()
        log.info(
            "relais started",
            extra=fields(
                owner=self.app.owner,
                accounts=sorted(self.app.connectors),
                inbox=str(self.app.config.inbox_dir),
                pid=os.getpid(),
            ),
        )
        # Schema checked and queue locked (prepare), jobs running: systemd may start
        # what depends on relais.
        self.notifier.ready()
        steps = ClockStepWatch()
        while not stop.wait(timeout=5):
            step = steps.check()
            if step is not None:
                self.clock_stepped(step)
        return self._shutdown(observer)

    def _shutdown(self, observer: Any) -> int:
        self.notifier.stopping()
        self.app.stopping.set()  # dispatch stops claiming
        if self._http is not None:
            self._http.shutdown()
            self._http = None
        if observer is not None:
            observer.stop()
        finisher = threading.Thread(target=self.scheduler.shutdown, kwargs={"wait": True})
        finisher.start()
        deadline = self.app.config.dispatch.shutdown_deadline.total_seconds()
        finisher.join(timeout=deadline)
        try:
            self.dispatcher.release_claims()
            forget(self.app.sessions, self.app.owner)
        except Exception as error:
            if not is_queue_fault(error):
                raise
            log.warning("claims not released at stop (%s): the reaper frees them", error)
        if finisher.is_alive():
            log.warning(
                "a send was still in flight after %ss; leaving it: it will be reconciled "
                "after restart",
                deadline,
            )
            self._release()
            logging.shutdown()
            os._exit(self._exit_code)
        self._release()
        log.info("relais stopped")
        return self._exit_code

    def clock_stepped(self, seconds: float) -> None:
        """Re-arm every timer from the new wall-clock time (see clock_steps)."""
        if seconds > 0:  # the jobs are simply due; nothing sleeps too long
            log.warning("%s; what fell due meanwhile runs now", describe_step(seconds))
            return
        log.warning("%s; timers re-armed", describe_step(seconds))
        now = datetime.now(UTC)
        for job in self.scheduler.get_jobs():
            if job.id == DISPATCH_JOB:
                continue
            # The series upkeep keeps its pace; the others run now (a scan, a ping).
            later = now + timedelta(minutes=10) if job.id == SERIES_JOB else now
            self.scheduler.modify_job(job.id, next_run_time=later)
        # Dispatch runs now and sets its next wake from the queue, in the new time.
        self._wake_at(now)

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    # -- jobs ------------------------------------------------------------------------

    def _database_file_unchanged(self) -> bool:
        """False, and the daemon stopping, when queue.db was replaced or removed."""
        if self._database_file is None:
            return True
        try:
            self._database_file.check()
        except DatabaseFileGone as gone:
            log.critical("%s", gone)
            self._exit_code = 1
            self.app.stopping.set()
            self._stop.set()
            return False
        return True

    def _intake_job(self) -> None:
        if not self._database_file_unchanged():
            return
        try:
            report = self.intake.scan()
        except Exception as error:
            if is_queue_fault(error):
                self.health.failed(error, doing="inbox scan")
            else:
                log.exception("inbox scan failed; it will run again at the next scan")
            return
        if report.queued:
            self.health.succeeded()
        if report.queued or report.rejected:
            log.info(
                "inbox scanned",
                extra=fields(queued=len(report.queued), rejected=len(report.rejected)),
            )
        # Approvals made from the command line are seen here too.
        self._schedule_dispatch()

    def _series_job(self) -> None:
        """Occurrences of the coming weeks exist; open ones near their time are reported."""
        try:
            self.series.materialise()
            self.series.watch()
        except Exception:
            log.exception("series upkeep failed; it runs again in ten minutes")

    def _notify_job(self) -> None:
        """Tell people what happened: expand the outbox, send what is due (bounded)."""
        if self.outbox is None or self.watch is None:
            return
        try:
            self.watch.run()
            self.outbox.run_pass()
        except Exception:
            log.exception("notification pass failed; it runs again at the next interval")

    def _health_job(self) -> None:
        """The heartbeat row probes writes; a database read earns the watchdog ping, and
        its answer is the STATUS line."""
        if not self._database_file_unchanged():
            return
        try:
            beat(
                self.app.sessions,
                self.app.owner,
                now=self.app.clock.now(),
                started_at=self._started_at,
            )
        except Exception as error:
            if not is_queue_fault(error):
                raise
            self.health.failed(error, doing="heartbeat")
        else:
            self.health.succeeded()
        if not self.notifier.enabled:
            return
        try:
            line = status_line(self.app.sessions, self.app.clock, self.app.config.zone)
        except Exception:
            log.exception(
                "the database did not answer the health check; systemd restarts relais "
                "if this lasts past WatchdogSec"
            )
            return
        self.notifier.status(line)
        self.notifier.watchdog()

    def _dispatch_job(self) -> None:
        if not self._database_file_unchanged():
            return
        try:
            self._dispatch_pass()
        except Exception as error:
            if is_queue_fault(error):
                self.health.failed(error, doing="dispatch")
            else:
                log.exception("dispatch pass failed; retrying in a minute")
            self._wake_at(datetime.now(UTC) + timedelta(minutes=1))
            return
        self._schedule_dispatch()

    def _dispatch_pass(self) -> None:
        """Send what is due; a blog article just published frees the posts announcing it."""
        self.placement.place_approved()
        self.dispatcher.run_due()
        if self.placement.place_approved():
            self.dispatcher.run_due()

    def _schedule_dispatch(self) -> None:
        if self.app.stopping.is_set():
            return
        wake = self.dispatcher.next_wake()
        if wake is not None:
            self._wake_at(wake)

    def _wake_at(self, moment: datetime) -> None:
        moment = max(moment, datetime.now(UTC))
        with self._wake_lock:
            job = self.scheduler.get_job(DISPATCH_JOB)
            if job is not None and job.next_run_time is not None and job.next_run_time <= moment:
                return
            self.scheduler.add_job(
                self._dispatch_job, "date", run_date=moment, id=DISPATCH_JOB, replace_existing=True
            )

    def hint_intake(self) -> None:
        """A file event: scan once the file had time to settle (the scan checks anyway)."""
        if self.app.stopping.is_set():
            return
        settle = self.app.config.intake.settle + timedelta(milliseconds=200)
        self.scheduler.add_job(
            self._intake_job,
            "date",
            run_date=datetime.now(UTC) + settle,
            id=INTAKE_HINT_JOB,
            replace_existing=True,
        )

    def _serve_http(self) -> None:
        """Metrics, health and the calendar on 127.0.0.1, when config.yaml asks for them."""
        settings = self.app.config.http
        if settings is None:
            return
        # Imported only here: prometheus-client and the endpoint are a few MB of an idle
        # daemon's memory that a config without `http:` never uses (issue 16).
        from scheduler.service.http_endpoint import make_http_app, serve_http

        config = self.app.config
        endpoint = make_http_app(
            sessions=reader_sessions(config.database_url),
            clock=self.app.clock,
            zone=config.zone,
            accounts=sorted(config.accounts),
            series=config.series,
            queue_fault=lambda: self.health.fault,
        )
        # A port already taken stops the start here, before READY: the unit restarts it.
        self._http = serve_http(endpoint, settings.host, settings.port)
        if settings.behind_auth_proxy:
            log.warning(
                "the http endpoint on %s has no authentication of its own: config.yaml says an "
                "authenticating proxy is the only way to reach it",
                settings.host,
            )

    def _watch_inbox(self) -> Any:
        inbox = self.app.config.inbox_dir
        inbox.mkdir(parents=True, exist_ok=True)
        try:
            observer = Observer()
            observer.schedule(_InboxHint(self), str(inbox), recursive=True)
            observer.start()
        except OSError as error:
            log.warning(
                "file events unavailable (%s); relying on the periodic scan", error.strerror
            )
            return None
        return observer
