"""``relais web``: the desk served by uvicorn, its own process beside the daemon."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

import uvicorn

from scheduler.app import build_app
from scheduler.config import Config
from scheduler.db.engines import require_head
from scheduler.web.desk import build_desk

SECRET_ENV = "RELAIS_WEB_SECRET"
SECRET_FILE = "web.secret_key"
log = logging.getLogger(__name__)


def session_secret(config: Config) -> str:
    """The key signing session cookies: $RELAIS_WEB_SECRET, the credentials directory's
    web.secret_key, or one made once and kept (mode 0600) in state_dir."""
    given = os.environ.get(SECRET_ENV)
    if given:
        return given
    candidates = (
        [Path(os.environ["CREDENTIALS_DIRECTORY"]) / SECRET_FILE]
        if ("CREDENTIALS_DIRECTORY" in os.environ)
        else []
    )
    if config.credentials_dir is not None:
        candidates.append(config.path(config.credentials_dir) / SECRET_FILE)
    for candidate in candidates:
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8").strip()
    kept = config.path(config.state_dir) / SECRET_FILE
    if not kept.is_file():
        kept.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(kept, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(48))
    return kept.read_text(encoding="utf-8").strip()


def serve(config: Config, *, host: str | None = None, port: int | None = None) -> None:
    app = build_app(config)
    require_head(app.engine)
    web = build_desk(app, secret_key=session_secret(config))
    host = host or config.web.host
    port = port or config.web.port
    log.info("the desk is at http://%s:%d/", host, port)
    uvicorn.run(
        web,
        host=host,
        port=port,
        log_level="info",
        proxy_headers=bool(config.web.trusted_user_header),
        server_header=False,
        access_log=True,
    )
