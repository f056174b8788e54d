"""Named places where a crash test can freeze the daemon, like fail-rs' failpoints.

Inactive unless ``RELAIS_FAILPOINTS`` names them (comma-separated). A frozen daemon logs
``failpoint reached`` and waits forever, so the test can kill it with SIGKILL exactly
between two steps (after the claim commit, after the ``sending`` commit, ...).
"""

from __future__ import annotations

import logging
import os
import threading

from scheduler.logs import fields

ENVIRONMENT_VARIABLE = "RELAIS_FAILPOINTS"
log = logging.getLogger(__name__)


def failpoint(name: str, **ids: str) -> None:
    active = os.environ.get(ENVIRONMENT_VARIABLE, "")
    if name not in {part.strip() for part in active.split(",")}:
        return
    log.warning("failpoint reached", extra=fields(failpoint=name, **ids))
    for handler in logging.getLogger().handlers:
        handler.flush()
    threading.Event().wait()
