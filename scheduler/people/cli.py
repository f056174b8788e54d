"""``relais users``: add, change, list and remove the network's people."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Sequence

import click

from scheduler.clock import SystemClock
from scheduler.config import Config
from scheduler.db.engines import (
    SchemaOutOfDate,
    current_revision,
    make_engine,
    require_head,
    upgrade,
)
from scheduler.delivery.transitions import make_sessions
from scheduler.people.directory import Directory, PersonError
from scheduler.people.passwords import WeakPassword
from scheduler.people.person import LANGUAGES, Role


def directory_for(config: Config) -> Directory:
    """The directory on config.yaml's queue; a fresh queue gets its schema first."""
    engine = make_engine(config.database_url)
    if current_revision(engine) is None:
        upgrade(config.database_url)
    try:
        require_head(engine)
    except SchemaOutOfDate as error:
        raise click.ClickException(str(error)) from None
    return Directory(
        sessions=make_sessions(engine),
        clock=SystemClock(),
        known_libraries=tuple(config.libraries),
        default_language=config.language,
    )


def _directory(ctx: click.Context) -> Directory:
    from scheduler.config import ConfigError, load_config

    try:
        return directory_for(load_config(ctx.obj["config_path"]))
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


@click.group()
def users() -> None:
    """The people who use the desk and are told (kept in the queue database)."""


@users.command()
@click.argument("name")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--library", "libraries", multiple=True, help="A library they write for (repeat).")
@click.option("--display-name", help="The name shown on the desk (default: NAME).")
@click.option("--email", help="Where e-mail notifications go.")
@click.option("--notify-url", help="An Apprise URL; write secrets as {NAME} placeholders.")
@click.option("--language", type=click.Choice(LANGUAGES), help="Default: config.yaml's.")
@click.option("--digest", is_flag=True, help="One message a day instead of one per event.")
@click.pass_context
def add(
    ctx: click.Context,
    name: str,
    role: str,
    libraries: Sequence[str],
    display_name: str | None,
    email: str | None,
    notify_url: str | None,
    language: str | None,
    digest: bool,
) -> None:
    """Add a person (then give them a password with `relais users passwd NAME`)."""
    try:
        person = _directory(ctx).add(
            name,
            role=Role(role),
            display_name=display_name,
            libraries=libraries,
            email=email,
            notify_url=notify_url,
            language=language,
            digest=digest,
        )
    except PersonError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"added {person.name} ({person.role}); set a password: relais users passwd {name}")


@users.command()
@click.argument("name")
@click.option("--role", type=click.Choice([r.value for r in Role]))
@click.option("--library", "libraries", multiple=True, help="Replaces their libraries (repeat).")
@click.option("--display-name")
@click.option("--email")
@click.option("--notify-url")
@click.option("--language", type=click.Choice(LANGUAGES))
@click.option("--digest/--no-digest", default=None)
@click.pass_context
def change(
    ctx: click.Context,
    name: str,
    role: str | None,
    libraries: Sequence[str],
    display_name: str | None,
    email: str | None,
    notify_url: str | None,
    language: str | None,
    digest: bool | None,
) -> None:
    """Change what is given of a person; the rest stays."""
    changes: dict[str, object] = {}
    if email is not None:
        changes["email"] = email or None
    if notify_url is not None:
        changes["notify_url"] = notify_url or None
    try:
        person = _directory(ctx).update(
            name,
            role=Role(role) if role else None,
            libraries=libraries or None,
            display_name=display_name,
            language=language,
            digest=digest,
            **changes,
        )
    except PersonError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"changed {person.name}")


@users.command()
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_context
def passwd(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Set a person's password (asked twice at a terminal)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("new password", hide_input=True, confirmation_prompt=True)
    try:
        _directory(ctx).set_password(name, password)
    except (PersonError, WeakPassword) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"password of {name} set")


@users.command()
@click.argument("name")
@click.pass_context
def remove(ctx: click.Context, name: str) -> None:
    """Remove a person: they can no longer log in, and are told nothing more."""
    try:
        _directory(ctx).remove(name)
    except PersonError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"removed {name}")


@users.command(name="list")
@click.pass_context
def list_users(ctx: click.Context) -> None:
    """Every person: role, libraries, how they are told, whether they can log in."""
    people = _directory(ctx).list()
    if not people:
        click.echo("no one yet; add someone: relais users add NAME --role editor")
    for person in people:
        libraries = ",".join(person.libraries) or "all libraries"
        told = " ".join(filter(None, [person.email, person.notify_url])) or "-"
        login = "" if person.has_password else "  (no password)"
        click.echo(
            f"{person.name:<16} {person.role:<12} {libraries:<24} {person.language}  {told}{login}"
        )


@users.command(name="first-admin")
@click.option("--name", default="admin", show_default=True)
@click.pass_context
def first_admin(ctx: click.Context, name: str) -> None:
    """Make a first administrator with a random password, printed once; nothing when
    someone already exists (so `make run` can call it every time)."""
    people = _directory(ctx)
    if people.list():
        click.echo("people exist already: log in as one of them (`relais users list`)")
        return
    password = secrets.token_urlsafe(12)
    people.add(name, role=Role.ADMIN, display_name=name)
    people.set_password(name, password)
    click.echo(
        f"first login: name {name}, password {password} (shown once; change it with "
        f"`relais users passwd {name}`)"
    )
