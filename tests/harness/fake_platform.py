"""The WordPress fake as a real HTTP server on loopback, in a process of its own.

The crash harness kills ``relais run`` with SIGKILL again and again; the platform must
outlive every one of those processes and remember every post it was asked to create, so
it runs here, apart. It serves ``tests.fakes.wordpress.WordPressFake`` on a real clock, and
one extra route that no WordPress has:

- ``GET /__relais/created``: every creation, in order, as a JSON list of
  ``{"id", "slug", "requested_slug", "title", "content", "status", "date_gmt"}``.
  ``requested_slug`` is the slug relais asked for: the fake, like WordPress, appends
  ``-2`` to a slug already taken, so a second creation of one delivery shows there.

It prints one JSON line, ``{"url": "http://127.0.0.1:PORT"}``, once it listens, and stops by
itself after ``--time-limit`` seconds (or on SIGTERM), so a crashed harness leaves no
server behind.

    .venv/bin/python -m tests.harness.fake_platform [--port 0] [--time-limit 900] [--latency 0.01]
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterable
from types import FrameType
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from scheduler.clock import SystemClock
from tests.fakes.wordpress import WordPressFake

CREATED_ROUTE = "/__relais/created"


class RecordingWordPress(WordPressFake):
    """The fake blog, which also keeps a log of every post creation it performed."""

    def __init__(self) -> None:
        # The fake only ever calls ``clock.now()``; a real clock makes "now" and "future"
        # posts behave as on a real blog while relais runs on the system clock.
        super().__init__(SystemClock())  # type: ignore[arg-type]
        self.creations: list[dict[str, Any]] = []

    def _insert_post(self, fields: dict[str, Any], status: str) -> dict[str, Any]:
        post = super()._insert_post(fields, status)
        self.creations.append(
            {
                "id": post["id"],
                "slug": post["slug"],
                "requested_slug": fields.get("slug"),
                "title": post["title"]["raw"],
                "content": post["content"]["raw"],
                "status": post["status"],
                "date_gmt": post["date_gmt"],
            }
        )
        return post

    def created(self) -> list[dict[str, Any]]:
        # The base class deep-copies every post on each slug lookup, which makes a run of
        # thousands of posts quadratic in copies; nothing here mutates what it returns.
        return [self.posts[key] for key in sorted(self.posts)]


class PlatformServer:
    """The WSGI app: the fake behind one lock (it is not thread-safe), plus the admin route.

    ``latency`` is added to every answer outside the lock, like a real blog's response time:
    it widens the moments at which a kill lands between "created" and "answer received".
    """

    def __init__(self, blog: RecordingWordPress, *, latency: float = 0.0) -> None:
        self.blog = blog
        self.latency = latency
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == CREATED_ROUTE:
            with self.lock:
                body = json.dumps(self.blog.creations)
            return Response(body, content_type="application/json")(environ, start_response)
        # The body is read and the answer built under the lock; only the wait is outside.
        with self.lock:
            answered: list[Any] = []

            def keep(status: str, headers: list[tuple[str, str]], *exc: Any) -> None:
                answered.append((status, headers))

            content = b"".join(self.blog(environ, keep))
        if self.latency:
            time.sleep(self.latency)
        status, headers = answered[0]
        start_response(status, headers)
        return [content]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--time-limit", type=float, default=900.0, help="seconds, then stop")
    parser.add_argument("--latency", type=float, default=0.01, help="seconds added per answer")
    arguments = parser.parse_args(argv)
    # One access-log line per request would be most of the output of a long run.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = PlatformServer(RecordingWordPress(), latency=arguments.latency)
    server = make_server("127.0.0.1", arguments.port, app, threaded=True)

    def stop(*_args: object) -> None:
        # shutdown() waits for serve_forever to return, so never call it on its thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    def on_signal(_number: int, _frame: FrameType | None) -> None:
        stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    timer = threading.Timer(arguments.time_limit, stop)
    timer.daemon = True
    timer.start()
    print(json.dumps({"url": f"http://127.0.0.1:{server.server_port}"}), flush=True)
    server.serve_forever()
    timer.cancel()
    print(json.dumps({"stopped": True, "creations": len(app.blog.creations)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
