"""A stateful fake of a Bluesky PDS's XRPC endpoints, as a WSGI app.

Every procedure's input and every record is validated against the published Lexicon
schemas (:mod:`tests.fakes.lexicon`); the answers and errors are the PDS's
(bluesky-social/atproto ``packages/pds``; docs.bsky.app "Rate Limits"):

- ``createSession`` takes a handle and an app password and gives JWT-shaped access (2 h)
  and refresh (60 days) tokens; an expired access token is refused with 400
  ``ExpiredToken``; ``refreshSession`` rotates both;
- ``createRecord`` refuses a record key that is not a TID for ``app.bsky.feed.post``, a
  key already used, blobs that were not uploaded, and everything the Lexicon refuses
  (300 graphemes, 4 images, blob sizes, facets' shapes);
- ``getRecord`` answers 400 ``RecordNotFound`` for a key that does not exist;
- a rate limit answers 429 with ``ratelimit-reset`` in epoch seconds.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from werkzeug.wrappers import Request, Response

from connectors.bluesky_text import is_tid
from tests.connectors.contract import ErrorClass
from tests.fakes.lexicon import LexiconError, validate_input, validate_record
from tests.fakes.wsgi import DropConnection, ResetBeforeSending
from tests.support import FakeClock

PDS = "https://pds.example.org"
HANDLE = "bibliotheques.example.org"
DID = "did:plc:bibliothequesgeneve01"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"
HANDLES = {HANDLE: DID, "marie.bsky.social": "did:plc:mariebibliotheque"}
ACCESS_LIFETIME = timedelta(hours=2)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, mimetype="application/json")


def _error(status: int, name: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return _json({"error": name, "message": message}, status, headers)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


class BlueskyFake:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.app_password = APP_PASSWORD
        self.records: dict[str, dict[str, Any]] = {}  # rkey -> record
        self.blobs: dict[str, dict[str, Any]] = {}  # cid -> blob ref
        self.sessions_created = 0
        self.requests: list[dict[str, Any]] = []
        self.pages: dict[str, tuple[str, bytes]] = {}  # other sites: url -> (type, body)
        self._tokens: dict[str, tuple[str, Any]] = {}  # token -> (kind, expiry)
        self._fail_next: ErrorClass | None = None

    # -- the contract suite's interface ------------------------------------------------

    def created(self) -> list[dict[str, Any]]:
        return [
            {"id": f"at://{DID}/app.bsky.feed.post/{rkey}", **copy.deepcopy(record)}
            for rkey, record in sorted(self.records.items())
        ]

    def fail_next_create(self, error: ErrorClass) -> None:
        self._fail_next = error

    def expire_credentials(self) -> None:
        self.app_password = "revoked"
        self._tokens.clear()

    # -- WSGI ------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.requests.append({"method": request.method, "path": request.path})
        if not request.path.startswith("/xrpc/"):
            # Other sites' pages (for link cards), by path: the WSGI bridge keeps no host.
            page = next(
                (p for u, p in self.pages.items() if urlsplit(u).path == request.path), None
            )
            response = (
                Response(page[1], mimetype=page[0]) if page else Response("Not found", status=404)
            )
            return response(environ, start_response)
        method = request.path.removeprefix("/xrpc/")
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            response = _error(501, "MethodNotImplemented", f"Method Not Implemented: {method}")
        else:
            try:
                response = handler(request)
            except LexiconError as error:
                response = _error(400, "InvalidRequest", str(error))
        return response(environ, start_response)

    def _issue(self) -> dict[str, Any]:
        now = self.clock.now()
        tokens = {}
        for kind, lifetime in (("access", ACCESS_LIFETIME), ("refresh", timedelta(days=60))):
            expiry = now + lifetime
            payload = {"scope": f"com.atproto.{kind}", "sub": DID, "exp": int(expiry.timestamp())}
            token = f"{_b64({'typ': 'at+jwt', 'alg': 'ES256K'})}.{_b64(payload)}.c2lnbmF0dXJl"
            self._tokens[token] = (kind, expiry)
            tokens[f"{kind}Jwt"] = token
        return {**tokens, "handle": HANDLE, "did": DID, "active": True}

    def _auth(self, request: Request, kind: str = "access") -> Response | None:
        token = (request.headers.get("Authorization") or "").removeprefix("Bearer ")
        known = self._tokens.get(token)
        if known is None or known[0] != kind:
            return _error(401, "InvalidToken", "Bad token scope")
        if known[1] <= self.clock.now():
            return _error(400, "ExpiredToken", "Token has expired")
        return None

    def _com_atproto_server_createSession(self, request: Request) -> Response:
        body = request.get_json()
        validate_input("com.atproto.server.createSession", body)
        self.sessions_created += 1
        if body["identifier"] not in (HANDLE, DID) or body["password"] != self.app_password:
            return _error(401, "AuthenticationRequired", "Invalid identifier or password")
        return _json(self._issue())

    def _com_atproto_server_refreshSession(self, request: Request) -> Response:
        refused = self._auth(request, "refresh")
        if refused is not None:
            return refused
        old = (request.headers.get("Authorization") or "").removeprefix("Bearer ")
        del self._tokens[old]  # refresh tokens are single-use
        return _json(self._issue())

    def _com_atproto_server_getSession(self, request: Request) -> Response:
        refused = self._auth(request)
        if refused is not None:
            return refused
        return _json({"handle": HANDLE, "did": DID, "active": True})

    def _com_atproto_identity_resolveHandle(self, request: Request) -> Response:
        handle = request.args.get("handle", "")
        if handle not in HANDLES:
            return _error(400, "InvalidRequest", "Unable to resolve handle")
        return _json({"did": HANDLES[handle]})

    def _com_atproto_repo_uploadBlob(self, request: Request) -> Response:
        refused = self._auth(request)
        if refused is not None:
            return refused
        data = request.get_data()
        mime = _sniff(data)
        cid = "bafkrei" + hashlib.sha256(data).hexdigest()[:52]
        blob = {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime, "size": len(data)}
        self.blobs[cid] = blob
        return _json({"blob": blob})

    def _com_atproto_repo_getRecord(self, request: Request) -> Response:
        rkey = request.args.get("rkey", "")
        record = self.records.get(rkey)
        uri = f"at://{request.args.get('repo')}/{request.args.get('collection')}/{rkey}"
        if record is None:
            return _error(400, "RecordNotFound", f"Could not locate record: {uri}")
        return _json({"uri": uri, "cid": "bafyrei" + "a" * 52, "value": record})

    def _com_atproto_repo_createRecord(self, request: Request) -> Response:
        refused = self._auth(request)
        if refused is not None:
            return refused
        body = request.get_json()
        validate_input("com.atproto.repo.createRecord", body)
        failure, self._fail_next = self._fail_next, None
        if failure == "retryable":
            raise ResetBeforeSending("connection refused")
        if failure == "rate_limited":
            reset = int((self.clock.now() + timedelta(minutes=5)).timestamp())
            return _error(
                429,
                "RateLimitExceeded",
                "Rate Limit Exceeded",
                {
                    "ratelimit-limit": "5000",
                    "ratelimit-remaining": "0",
                    "ratelimit-reset": str(reset),
                },
            )
        if failure == "auth_expired":
            return _error(401, "InvalidToken", "Token could not be verified")
        if failure == "permanent":
            return _error(400, "InvalidRequest", "Invalid app.bsky.feed.post record: refused")
        if body["repo"] not in (DID, HANDLE):
            return _error(400, "InvalidRequest", "Invalid repo")
        record, rkey = body["record"], body.get("rkey")
        validate_record(body["collection"], record)
        if rkey is not None and not is_tid(rkey):
            return _error(
                400, "InvalidRequest", "Invalid record key for app.bsky.feed.post: must be a TID"
            )
        if rkey in self.records:
            return _error(400, "InvalidRequest", f"Record already exists: {rkey}")
        for blob in _blobs(record):
            if blob["ref"]["$link"] not in self.blobs:
                return _error(400, "InvalidRequest", f"Could not find blob: {blob['ref']['$link']}")
        rkey = rkey or f"3l{len(self.records):011d}"
        self.records[rkey] = record
        uri = f"at://{DID}/{body['collection']}/{rkey}"
        if failure == "ambiguous":
            raise DropConnection("the record was created; the answer is lost")
        return _json({"uri": uri, "cid": "bafyrei" + "b" * 52, "validationStatus": "valid"})


def _blobs(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        if value.get("$type") == "blob":
            return [value]
        return [blob for item in value.values() for blob in _blobs(item)]
    if isinstance(value, list):
        return [blob for item in value for blob in _blobs(item)]
    return []


def _sniff(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return "application/octet-stream"
