"""Plumbing that lets real client libraries talk to our WSGI fakes of the platforms.

A fake platform is a WSGI application (werkzeug makes that short). It is reached either
in-process, through a transport the real client accepts (a requests adapter mounted on
its session; an httplib2-shaped object for google-api-python-client), or over real HTTP
on loopback (:func:`serve`) when the client runs in another process. Nothing of ours and
nothing of the client libraries is patched.

A fake simulates a lost answer by raising :class:`DropConnection` from its handler (the
request was received and acted on, the response never arrives: a read timeout for the
client), or :class:`ResetBeforeSending` (the request never arrived: a connection error).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from io import BytesIO
from typing import Any

import httplib2
import httpx
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from werkzeug.serving import make_server
from werkzeug.test import EnvironBuilder, run_wsgi_app

WsgiApp = Callable[..., Any]


class DropConnection(Exception):
    """The fake acted on the request but the client never sees an answer."""


class ResetBeforeSending(Exception):
    """The connection broke before the request reached the platform."""


def call_app(
    app: WsgiApp, method: str, url: str, headers: Mapping[str, str], body: bytes | None
) -> tuple[int, list[tuple[str, str]], bytes]:
    builder = EnvironBuilder(
        method=method,
        base_url=None,
        path=url,
        headers=dict(headers),
        data=body or b"",
    )
    environ = builder.get_environ()
    iterable, status, response_headers = run_wsgi_app(app, environ, buffered=True)
    content = b"".join(iterable)
    return int(status.split(" ", 1)[0]), list(response_headers.items()), content


class WsgiAdapter(BaseAdapter):
    """A requests transport that hands every request to a WSGI app."""

    def __init__(self, app: WsgiApp) -> None:
        super().__init__()
        self.app = app

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **_kwargs: Any
    ) -> requests.Response:
        body: Any = request.body
        if body is not None and hasattr(body, "read"):
            body = body.read()  # a streamed multipart upload (requests-toolbelt)
        if isinstance(body, str):
            body = body.encode("utf-8")
        elif body is not None and not isinstance(body, bytes):
            body = b"".join(chunk if isinstance(chunk, bytes) else chunk.encode() for chunk in body)
        assert request.url is not None and request.method is not None
        # requests-oauthlib sends some header values as bytes; on the wire they are text.
        headers_sent = {
            name: value.decode("latin-1") if isinstance(value, bytes) else value
            for name, value in request.headers.items()
        }
        try:
            status, headers, content = call_app(
                self.app, request.method, request.url, headers_sent, body
            )
        except DropConnection as error:
            raise requests.exceptions.ReadTimeout(str(error), request=request) from error
        except ResetBeforeSending as error:
            raise requests.exceptions.ConnectionError(str(error), request=request) from error
        response = requests.Response()
        response.status_code = status
        response.headers = CaseInsensitiveDict(headers)
        response.raw = BytesIO(content)
        response._content = content
        response.url = request.url
        response.request = request
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        return response

    def close(self) -> None:
        pass


def session_for(app: WsgiApp, session: requests.Session | None = None) -> requests.Session:
    session = session or requests.Session()
    adapter = WsgiAdapter(app)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class WsgiHttp:
    """The part of ``httplib2.Http`` that google-api-python-client uses, over a WSGI app."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.timeout = 30

    def request(
        self,
        uri: str,
        method: str = "GET",
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        redirections: int = 5,
        connection_type: Any = None,
    ) -> tuple[httplib2.Response, bytes]:
        if isinstance(body, str):
            body = body.encode("utf-8")
        try:
            status, response_headers, content = call_app(self.app, method, uri, headers or {}, body)
        except DropConnection as error:
            raise TimeoutError(str(error)) from error
        except ResetBeforeSending as error:
            raise ConnectionResetError(str(error)) from error
        info: dict[str, Any] = {name.lower(): value for name, value in response_headers}
        info["status"] = str(status)
        return httplib2.Response(info), content


@contextmanager
def serve(app: WsgiApp) -> Iterator[str]:
    """Serve ``app`` over real HTTP on 127.0.0.1; yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


class HttpxWsgiTransport(httpx.BaseTransport):
    """An httpx transport that hands every request to a WSGI app (for httpx-based
    clients such as the atproto SDK), with the same lost-answer simulation."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            status, headers, content = call_app(
                self.app, request.method, str(request.url), dict(request.headers), request.read()
            )
        except DropConnection as error:
            raise httpx.ReadTimeout(str(error), request=request) from error
        except ResetBeforeSending as error:
            raise httpx.ConnectError(str(error), request=request) from error
        return httpx.Response(status, headers=headers, content=content, request=request)
