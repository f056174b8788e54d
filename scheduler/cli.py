"""The ``relais`` command: contributors, editors and ops all start here."""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import click

from scheduler.app import App, build_app, default_config_path
from scheduler.config import Config, ConfigError, load_config
from scheduler.delivery.editor import Decision, SelectionError
from scheduler.delivery.states import State
from scheduler.intake.file_names import shown_lines
from scheduler.logs import configure_logging, redact_logs
from scheduler.service.instance_lock import AlreadyRunning


def echo(message: str, *, nl: bool = True, err: bool = False) -> None:
    """click.echo, with control characters escaped: names and texts come from post files,
    and an escape sequence in one must not reach the terminal raw."""
    click.echo(shown_lines(message), nl=nl, err=err)


def _config(ctx: click.Context) -> Config:
    try:
        return load_config(ctx.obj["config_path"])
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


def _app(ctx: click.Context) -> App:
    return build_app(_config(ctx))


def _reading_app(ctx: click.Context) -> App:
    """For the commands that only read the queue: no platform library is imported."""
    return build_app(_config(ctx), connectors_on_first_use=True)


# EX_CONFIG (sysexits.h): a person must act before a restart can help; the systemd unit's
# RestartPreventExitStatus=78 stops it from restarting in a loop.
EX_CONFIG = 78


class NeedsAPerson(click.ClickException):
    exit_code = EX_CONFIG


def _who(by: str | None) -> str:
    # Editors may run relais through sudo as the relais user: record the person.
    return by or os.environ.get("SUDO_USER") or getpass.getuser()


def _report_decisions(decide: Callable[[], Sequence[Decision]]) -> None:
    """Run an editor's decision: a reference that names nothing is a plain error, and
    each delivery's outcome is one line."""
    try:
        decisions = decide()
    except SelectionError as error:
        raise click.ClickException(str(error)) from None
    for decision in decisions:
        echo(
            f"{decision.delivery_id[:8]}  {decision.post_key} -> {decision.account}: "
            f"{decision.note}"
        )


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else "-"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="config.yaml to use (default: $RELAIS_CONFIG or ./config.yaml).",
)
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """relais: publish the library network's posts, on time, exactly once."""
    ctx.obj = {"config_path": config_path or default_config_path()}


@main.command()
@click.option("--once", is_flag=True, help="Do the work that is due now, then exit.")
@click.pass_context
def run(ctx: click.Context, once: bool) -> None:
    """Run the daemon in the foreground (SIGTERM or Ctrl-C stops it cleanly)."""
    from scheduler.db.engines import SchemaOutOfDate
    from scheduler.service.daemon import Daemon
    from scheduler.service.queue_health import QueueUnwritable

    configure_logging()
    try:
        app = _app(ctx)
        redact_logs(app.redact)
        daemon = Daemon(app)
    except click.ClickException as error:  # config.yaml cannot be used
        raise NeedsAPerson(error.message) from None
    try:
        if once:
            daemon.run_once()
        else:
            sys.exit(daemon.run_forever())
    except (SchemaOutOfDate, AlreadyRunning, QueueUnwritable) as error:
        raise NeedsAPerson(str(error)) from None


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_context
def check(ctx: click.Context, files: Sequence[Path]) -> None:
    """Check post files: every problem with file and line, or a preview per account."""
    from connectors.registry import build_connectors
    from scheduler.clock import SystemClock
    from scheduler.intake.check import check_files, exit_status, render_reports

    config = _config(ctx)
    clock = SystemClock()
    connectors = build_connectors(config.account_settings(), clock)
    from scheduler.progress import with_progress

    now = clock.now()
    reports = [
        report
        for path in with_progress(list(files), what="checking")
        for report in check_files([path], config=config, connectors=connectors, now=now)
    ]
    echo(render_reports(reports, config.zone), nl=False)
    sys.exit(exit_status(reports))


@main.group()
def db() -> None:
    """The queue database's schema."""


@db.command()
@click.pass_context
def upgrade(ctx: click.Context) -> None:
    """Migrate the database to the latest schema (creates it if needed)."""
    from scheduler.db.engines import current_revision, head_revision, known_revisions
    from scheduler.db.engines import upgrade as run_upgrade

    app = _app(ctx)
    url = app.config.database_url
    before = current_revision(app.engine)
    if before is not None and before not in known_revisions():
        raise NeedsAPerson(
            f"the database is at revision {before}, newer than this relais knows (its newest "
            f"is {head_revision(url)}); nothing was changed. Use the newer relais that "
            "upgraded it"
        )
    run_upgrade(url)
    after = head_revision(url)
    shown = app.engine.url.render_as_string(hide_password=True)
    if before == after:
        echo(f"{shown} is at the latest schema ({after})")
    else:
        echo(f"{shown} upgraded from {before or 'empty'} to {after}")


@db.command()
@click.pass_context
def current(ctx: click.Context) -> None:
    """Print the database's schema revision and the one this relais needs."""
    from scheduler.db.engines import current_revision, head_revision

    app = _app(ctx)
    now, head = current_revision(app.engine), head_revision(app.config.database_url)
    echo(f"database: {now or 'empty'}; needed: {head}")
    sys.exit(0 if now == head else 1)


@main.command()
@click.argument("references", nargs=-1, required=True)
@click.option("--by", help="Who approves (default: your user name).")
@click.pass_context
def approve(ctx: click.Context, references: Sequence[str], by: str | None) -> None:
    """Approve deliveries pending approval (delivery ids, id prefixes, or post ids)."""
    from scheduler.delivery.editor import approve as approve_deliveries

    app = _app(ctx)
    _report_decisions(
        lambda: approve_deliveries(
            app.sessions, app.clock, references, by=_who(by), placement=app.placement()
        )
    )


@main.command()
@click.argument("references", nargs=-1, required=True)
@click.option("--reason", required=True, help="Why: the contributor reads this.")
@click.option("--by", help="Who rejects (default: your user name).")
@click.pass_context
def reject(ctx: click.Context, references: Sequence[str], reason: str, by: str | None) -> None:
    """Reject deliveries pending approval, with a reason."""
    from scheduler.delivery.editor import reject as reject_deliveries

    app = _app(ctx)
    _report_decisions(
        lambda: reject_deliveries(app.sessions, app.clock, references, by=_who(by), reason=reason)
    )


@main.command(name="list")
@click.option(
    "--state", "states", multiple=True, type=click.Choice([s.value for s in State]),
    help="Only deliveries in this state (repeatable).",
)  # fmt: skip
@click.option(
    "--library", "libraries", multiple=True, help="Only these libraries' posts (repeatable)."
)
@click.option("--account", "accounts", multiple=True, help="Only these accounts (repeatable).")
@click.option("--day", type=click.DateTime(formats=["%Y-%m-%d"]), help="Only due that local day.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def list_command(
    ctx: click.Context,
    states: Sequence[str],
    libraries: Sequence[str],
    accounts: Sequence[str],
    day: datetime | None,
    as_json: bool,
) -> None:
    """List deliveries with their state, time, and who decided."""
    from scheduler.delivery.editor import list_deliveries

    app = _reading_app(ctx)
    zone = app.config.zone
    chosen_day: date | None = day.date() if day else None
    rows = list_deliveries(
        app.sessions,
        zone=zone,
        states=states,
        libraries=libraries,
        accounts=accounts,
        day=chosen_day,
    )
    for row in rows:
        if as_json:
            echo(json.dumps(row.__dict__, default=str, ensure_ascii=False))
            continue
        decided = f"{row.approved_by} {_local(row.approved_at, zone)}" if row.approved_by else ""
        echo(
            f"{row.id[:8]}  {_local(row.due_at, zone)}  {row.state:<16} {row.account:<12} "
            f"{row.library:<12} {row.post_key}"
            + (f"  [{decided}]" if decided else "")
            + (f"  {row.reason}" if row.reason else "")
            + (f"  {row.url}" if row.url else "")
        )
    if not rows and not as_json:
        echo("no deliveries match")


@main.command()
@click.option("--days", default=14, show_default=True, help="How many local days to show.")
@click.option(
    "--from", "first", type=click.DateTime(formats=["%Y-%m-%d"]), help="First day (default: today)."
)
@click.option(
    "--by",
    "order",
    type=click.Choice(["time", "account"]),
    default="time",
    show_default=True,
    help="Each day in time order, or grouped by account.",
)
@click.pass_context
def plan(ctx: click.Context, days: int, first: datetime | None, order: str) -> None:
    """What goes out when, day by day; empty days, empty series dates, days under target
    and posts waiting for the editor or for their blog article are shown."""
    from scheduler.reports.plan import build_plan, render_plan, waiting_for_articles

    app = _reading_app(ctx)
    zone = app.config.zone
    start = first.date() if first else app.clock.now().astimezone(zone).date()
    if days < 1:
        raise click.BadParameter("give at least one day", param_hint="--days")
    days_plan = build_plan(
        app.sessions,
        zone=zone,
        rules=app.config.rules(),
        accounts=sorted(app.config.accounts),
        start=start,
        days=days,
    )
    names = {key: library.name for key, library in app.config.libraries.items()}
    waiting = waiting_for_articles(app.sessions)
    by: Literal["time", "account"] = "account" if order == "account" else "time"
    echo(render_plan(days_plan, zone=zone, libraries=names, by=by, waiting=waiting), nl=False)


@main.command()
@click.option(
    "--ics",
    "target",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The iCalendar file to write (subscribe to it from a calendar app).",
)
@click.option("--days", default=90, show_default=True, help="Days ahead to include.")
@click.option("--past", default=30, show_default=True, help="Days back to include.")
@click.pass_context
def calendar(ctx: click.Context, target: Path, days: int, past: int) -> None:
    """Export the editorial calendar: one event per delivery, with library and state."""
    import os
    import tempfile
    from datetime import timedelta

    from scheduler.reports.calendar import calendar_ics

    app = _reading_app(ctx)
    now = app.clock.now()
    data = calendar_ics(
        app.sessions,
        zone=app.config.zone,
        start=now - timedelta(days=past),
        end=now + timedelta(days=days),
    )
    # Written whole then renamed, so a calendar app never reads half a file.
    handle, temporary = tempfile.mkstemp(dir=target.parent or Path("."), prefix=".relais-")
    with os.fdopen(handle, "wb") as file:
        file.write(data)
    os.replace(temporary, target)
    echo(f"wrote {target} ({data.count(b'BEGIN:VEVENT')} events)")


@main.command()
@click.argument("reference")
@click.pass_context
def why(ctx: click.Context, reference: str) -> None:
    """Why each delivery of a post is where it is: the rule that placed it, the posts
    competing for its day, and what would release it (delivery id, post id, or a prefix)."""
    from scheduler.reports.why import explain_post, render_why

    app = _reading_app(ctx)
    zone = app.config.zone
    try:
        explanations = explain_post(app.sessions, reference, zone=zone)
    except SelectionError as error:
        raise click.ClickException(str(error)) from None
    rules = {
        name: account.model_dump_json(exclude_defaults=True)
        for name, account in app.config.rules().items()
    }
    echo(render_why(explanations, zone=zone, rules=rules).rstrip("\n"))


@main.command()
@click.argument("reference")
@click.argument("when")
@click.option("--by", help="Who moves it (default: your user name).")
@click.pass_context
def move(ctx: click.Context, reference: str, when: str, by: str | None) -> None:
    """Move a delivery to a new time (same forms as `at:` in post files); rules re-checked.
    One in a platform's own schedule (handed over) is moved there."""
    from scheduler.delivery.editor import move as move_delivery
    from scheduler.intake.times import TimeSpecError, parse_time

    app = _app(ctx)
    zone = app.config.zone
    try:
        moment = parse_time(when, zone=zone, now=app.clock.now())
        handed = _handed_over(app, reference)
        if handed is not None:  # in a platform's own schedule: moved there
            outcome = app.platform_changes().move(handed, moment, by=_who(by))
            if outcome is None or not outcome.done:
                raise click.ClickException(outcome.note if outcome else "it changed meanwhile")
            echo(f"{handed[:8]} handed_over, due {_local(moment, zone)}: {outcome.note}")
            return
        moved = move_delivery(
            app.sessions, app.clock, reference, moment, by=_who(by), placement=app.placement()
        )
    except (SelectionError, TimeSpecError) as error:
        raise click.ClickException(str(error)) from None
    note = f" ({moved.reason})" if moved.reason else ""
    echo(f"{moved.id[:8]} {moved.state}, due {_local(moved.due_at, zone)}{note}")


@main.command()
@click.argument("references", nargs=-1, required=True)
@click.option("--by", help="Who decides (default: your user name).")
@click.pass_context
def retry(ctx: click.Context, references: Sequence[str], by: str | None) -> None:
    """Send again a delivery that failed, or that needs attention and is not on the platform.

    Check the platform first: relais sends it again without looking.
    """
    from scheduler.delivery.editor import retry as retry_deliveries

    app = _app(ctx)
    _report_decisions(
        lambda: retry_deliveries(
            app.sessions, app.clock, references, by=_who(by), placement=app.placement()
        )
    )


@main.command()
@click.argument("references", nargs=-1, required=True)
@click.option("--reason", help="Why (shown in `relais list` and the history).")
@click.option("--by", help="Who cancels (default: your user name).")
@click.pass_context
def cancel(
    ctx: click.Context, references: Sequence[str], reason: str | None, by: str | None
) -> None:
    """Withdraw deliveries not sent yet (delivery ids, id prefixes, or post ids); one in a
    platform's own schedule (handed over) is withdrawn there."""
    from scheduler.delivery.editor import cancel as cancel_deliveries

    app = _app(ctx)
    _report_decisions(
        lambda: app.platform_changes().cancel_decisions(
            cancel_deliveries(
                app.sessions,
                app.clock,
                references,
                by=_who(by),
                reason=reason,
                placement=app.placement(),
            ),
            by=_who(by),
            reason=reason,
        )
    )


def _handed_over(app: App, reference: str) -> str | None:
    """The id of the delivery ``reference`` names when it is handed over to a platform."""
    from scheduler.delivery.editor import select_deliveries
    from scheduler.delivery.transitions import transaction

    with transaction(app.sessions) as session:
        chosen = select_deliveries(session, [reference])
        if len(chosen) == 1 and chosen[0].state == "handed_over":
            return chosen[0].id
    return None


@main.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """The queue at a glance. Exit 0: all well, 1: warning, 2: critical, 3: unreadable."""
    from sqlalchemy.exc import DBAPIError

    from scheduler.clock import SystemClock
    from scheduler.reports.status import (
        build_status,
        daemon_alive,
        reader_sessions,
        render_status,
        status_exit_code,
    )
    from scheduler.service.queue_health import MARKER_NAME, read_marker

    config = _config(ctx)
    try:
        report = build_status(
            reader_sessions(config.database_url),
            clock=SystemClock(),
            zone=config.zone,
            accounts=sorted(config.accounts),
            series=config.series,
            daemon_alive=daemon_alive(config.database_url),
            queue_fault=read_marker(config.path(config.state_dir) / MARKER_NAME),
        )
    except DBAPIError as error:
        echo(
            f"cannot read the queue ({error.__class__.__name__}: {error.orig}); "
            "if it was never migrated, run `relais db upgrade`",
            err=True,
        )
        sys.exit(3)
    echo(render_status(report, config.zone), nl=False)
    sys.exit(status_exit_code(report))


@main.command()
@click.argument("reference")
@click.pass_context
def history(ctx: click.Context, reference: str) -> None:
    """Every state change and send attempt of one delivery, with times and errors."""
    from scheduler.reports.history import delivery_history, render_history
    from scheduler.reports.status import reader_sessions

    config = _config(ctx)
    try:
        found = delivery_history(reader_sessions(config.database_url), reference)
    except SelectionError as error:
        raise click.ClickException(str(error)) from None
    echo(render_history(found, config.zone), nl=False)


@main.group()
def series() -> None:
    """Recurring series: note a date that passed without an episode."""


@series.command(name="noted")
@click.argument("name")
@click.argument("occurrence_date")
@click.pass_context
def series_noted(ctx: click.Context, name: str, occurrence_date: str) -> None:
    """A person dealt with NAME's OCCURRENCE_DATE (YYYY-MM-DD) that had no episode: `relais
    status` stops reporting it."""
    from scheduler.delivery.transitions import transaction
    from scheduler.rules.series import note_missed

    app = _app(ctx)
    with transaction(app.sessions) as session:
        noted = note_missed(session, name, occurrence_date)
    if not noted:
        raise click.ClickException(
            f"series {name!r} has no missed date {occurrence_date}; `relais status` lists them"
        )
    echo(f"series {name} {occurrence_date}: noted, no longer reported")


@main.group()
def accounts() -> None:
    """The configured platform accounts."""


@accounts.command(name="check")
@click.argument("names", nargs=-1)
@click.pass_context
def check_accounts(ctx: click.Context, names: Sequence[str]) -> None:
    """Verify each account's credentials and permissions with one cheap read call."""
    from connectors.credentials import MissingCredential
    from connectors.registry import build_connector
    from scheduler.clock import SystemClock

    config = _config(ctx)
    settings = config.account_settings()
    unknown = [name for name in names if name not in settings]
    if unknown:
        raise click.ClickException(f"no account {', '.join(unknown)} in {ctx.obj['config_path']}")
    failed = 0
    for name in names or sorted(settings):
        try:
            verdict = build_connector(settings[name], SystemClock(), settings).verify()
            ok, message = verdict.ok, verdict.message
        except (MissingCredential, ValueError) as error:
            ok, message = False, str(error)
        failed += not ok
        echo(f"{'ok  ' if ok else 'FAIL'}  {name:<12} {message}")
    sys.exit(1 if failed else 0)


@accounts.command()
@click.argument("account")
@click.option("--by", help="Who resumes it (default: your user name).")
@click.pass_context
def resume(ctx: click.Context, account: str, by: str | None) -> None:
    """Unpause an account after its credentials were renewed; its held posts go back."""
    from scheduler.delivery.editor import resume_account

    app = _app(ctx)
    if account not in app.connectors:
        raise click.ClickException(f"no account {account!r} in {ctx.obj['config_path']}")
    count = resume_account(app.sessions, app.clock, account, by=_who(by), placement=app.placement())
    echo(f"{account} resumed; {count} held deliveries back in the queue")


@main.command()
def schema() -> None:
    """Print the JSON Schema of post files (for editors' YAML plugins)."""
    from scheduler.intake.post_schema import post_file_json_schema

    echo(json.dumps(post_file_json_schema(), indent=2, ensure_ascii=False))


@main.group()
def notify() -> None:
    """Notifications: who is told what (`notifications:` in config.yaml)."""


@notify.command(name="test")
@click.argument("person")
@click.pass_context
def notify_test(ctx: click.Context, person: str) -> None:
    """Send PERSON a test message on each of their channels, now, and say how it went."""
    app = _app(ctx)
    notifier = app.notifier()
    if notifier is None:
        raise click.ClickException(
            f"{ctx.obj['config_path']} has no `notifications:` section: relais tells nobody"
        )
    someone = app.directory().get(person)
    if someone is None:
        raise click.ClickException(f"no person {person!r}; `relais users list` shows them")
    results = notifier.send_test(person)
    if not results:
        raise click.ClickException(
            f"{person} has no channel: give an e-mail address (with `notifications.smtp` set) "
            "or a notification URL (`relais users change`)"
        )
    for channel, state, error in results:
        click.echo(f"{channel:<6} {state}" + (f": {error}" if error else ""))
    sys.exit(0 if all(state == "sent" for _, state, _ in results) else 1)


def _register_groups() -> None:
    from scheduler.people.cli import users
    from scheduler.web.cli import web

    main.add_command(users)
    main.add_command(web)


_register_groups()
