"""``relais web``: serve the editorial desk."""

from __future__ import annotations

import click

from scheduler.config import ConfigError, load_config


@click.command()
@click.option("--host", help="Address to listen on (default: web.host, 127.0.0.1).")
@click.option("--port", type=int, help="Port (default: web.port, 8080).")
@click.pass_context
def web(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the editorial desk (calendar, approval queue, post form) in the foreground."""
    from scheduler.db.engines import SchemaOutOfDate
    from scheduler.logs import configure_logging
    from scheduler.web.server import serve

    configure_logging()
    try:
        config = load_config(ctx.obj["config_path"])
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    shown_host = host or config.web.host
    click.echo(f"relais desk: http://{shown_host}:{port or config.web.port}/", err=True)
    try:
        serve(config, host=host, port=port)
    except SchemaOutOfDate as error:
        raise click.ClickException(str(error)) from None
