"""A stateful fake of Flickr's REST and upload endpoints, for flickrapi 2.4.

It checks what Flickr checks: the OAuth 1.0a signature (HMAC-SHA1, recomputed here with
the secrets it issued; for uploads over every field except ``photo``, as Flickr's upload
spec says), the consumer key, the access token and its permissions, the method name,
each method's required arguments, the photo's file type. It answers as Flickr does:
REST calls with ``format=json&nojsoncallback=1`` in ``{"stat": "ok" | "fail", ...}``,
uploads in XML ``<rsp stat=...>``, rate limiting as HTTP 429.

Stricter than Flickr on one point, on purpose: Flickr silently ignores arguments it does
not know, which would hide a misspelt one; the fake answers HTTP 400 "fake contract
violation" instead, so the connector's test fails.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import requests
from oauthlib.oauth1.rfc5849 import signature, utils  # type: ignore[import-untyped]
from werkzeug.wrappers import Request, Response

from tests.connectors.contract import ErrorClass
from tests.fakes.wsgi import DropConnection, WsgiAdapter

API_KEY = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
API_SECRET = "0f1e2d3c4b5a6978"
OAUTH_TOKEN = "72157720000000000-abcdef0123456789"
OAUTH_TOKEN_SECRET = "fedcba9876543210"
USER_NSID = "12345678@N00"
USERNAME = "bibliotheques-geneve"

COMMON_ARGS = frozenset({"method", "format", "nojsoncallback", "api_key"})
OAUTH_PROTOCOL = frozenset({
    "oauth_consumer_key", "oauth_nonce", "oauth_signature", "oauth_signature_method",
    "oauth_timestamp", "oauth_version",
})  # fmt: skip
UPLOAD_ARGS = frozenset({
    "title", "description", "tags", "is_public", "is_friend", "is_family", "safety_level",
    "content_type", "hidden", "async", "api_key",
})  # fmt: skip
SEARCH_ARGS = frozenset({
    "user_id", "tags", "tag_mode", "text", "machine_tags", "machine_tag_mode", "extras",
    "per_page", "page", "sort", "privacy_filter", "content_type", "media",
})  # fmt: skip
SEARCH_FILTERS = frozenset({"user_id", "tags", "text", "machine_tags"})
_MACHINE_TAG = re.compile(r"^([A-Za-z][A-Za-z0-9_]*):([A-Za-z][A-Za-z0-9_]*)=(.*)$")
_QUERY_TAG = re.compile(r"^([A-Za-z][A-Za-z0-9_]*):(?:([A-Za-z][A-Za-z0-9_]*)(?:=(.*))?)?$")
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")
XML_HEAD = '<?xml version="1.0" encoding="utf-8" ?>\n'
REST_HOST = "https://api.flickr.com"
UPLOAD_HOST = "https://up.flickr.com"


def clean(tag: str) -> str:
    """Flickr's normalised tag: lower case without punctuation (machine tags keep ':' '=')."""
    match = _MACHINE_TAG.match(tag)
    if match:
        namespace, predicate, value = match.groups()
        value = value.strip('"')
        return f"{namespace.lower()}:{predicate.lower()}=" + re.sub(r"[\W_]+", "", value.lower())
    return re.sub(r"[\W_]+", "", tag.lower())


@dataclass
class Photo:
    id: str
    title: str
    description: str
    raw_tags: list[str]
    is_public: bool
    size: int

    @property
    def machine_tags(self) -> list[str]:
        return [clean(tag) for tag in self.raw_tags if _MACHINE_TAG.match(tag)]

    @property
    def tags(self) -> list[str]:
        return [clean(tag) for tag in self.raw_tags if not _MACHINE_TAG.match(tag)]


@dataclass
class Album:
    id: str
    title: str
    description: str
    photos: list[str] = field(default_factory=list)


class FlickrError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ContractViolation(Exception):
    """A request Flickr would not reject but no correct client sends."""


class FlickrFake:
    """The WSGI app. ``created()`` lists photos oldest first."""

    def __init__(self, *, token_perms: str = "write") -> None:
        self.photos: dict[str, Photo] = {}
        # A free account keeps at most 1,000 photos and videos: uploads past it fail (6).
        self.photo_cap: int | None = None
        self.albums: dict[str, Album] = {}
        self.token_perms = token_perms
        self.token_alive = True
        self.retry_after: str | None = None
        self.requests: list[str] = []  # "upload" or the REST method name, in order
        self._next_create: ErrorClass | None = None
        self._next_status: tuple[int, bool] | None = None
        self._next_call_failure: dict[str, tuple[int, str]] = {}
        self._ids = itertools.count(53_300_000_001)
        self._lock = threading.Lock()

    # -- the PlatformFake protocol and test knobs -------------------------------------

    def created(self) -> list[dict[str, Any]]:
        return [
            {
                "id": photo.id,
                "title": photo.title,
                "description": photo.description,
                "tags": photo.tags,
                "machine_tags": photo.machine_tags,
                "is_public": photo.is_public,
            }
            for photo in self.photos.values()
        ]

    def fail_next_create(self, error: ErrorClass) -> None:
        self._next_create = error

    def fail_next_upload_status(self, status: int, *, create: bool) -> None:
        """The next upload answers HTTP ``status`` (a 5xx), after creating it if asked."""
        self._next_status = (status, create)

    def fail_next_call(self, method: str, code: int, message: str) -> None:
        self._next_call_failure[method] = (code, message)

    def expire_credentials(self) -> None:
        self.token_alive = False

    def add_album(self, title: str, photo_ids: list[str] | None = None) -> Album:
        album = Album(
            id=str(next(self._ids) + 72_000_000_000_000_000),
            title=title,
            description="",
            photos=list(photo_ids or []),
        )
        self.albums[album.id] = album
        return album

    # -- WSGI ----------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self._lock:
            response = self._route(request)
        return response(environ, start_response)

    def _route(self, request: Request) -> Response:
        if request.path == "/services/rest/":
            return self._rest(request)
        if request.path == "/services/upload/":
            return self._upload(request)
        return Response("Not Found", status=404, content_type="text/html")

    # -- OAuth ---------------------------------------------------------------------------

    def _authenticate(self, request: Request, body: list[tuple[str, str]], host: str) -> str:
        """The token's permission level, or a FlickrError as Flickr answers it."""
        header = request.headers.get("Authorization", "")
        oauth = (
            {k: utils.unescape(v) for k, v in utils.parse_authorization_header(header)}
            if header.startswith("OAuth ")
            else {}
        )
        oauth.update((k, v) for k, v in [*request.args.items(), *body] if k.startswith("oauth_"))
        if "oauth_signature" not in oauth:
            raise FlickrError(97, "Missing signature")
        if oauth.get("oauth_consumer_key") != API_KEY:
            raise FlickrError(100, "Invalid API Key (Key not found)")
        base_uri = request.host_url.rstrip("/") if request.host != "localhost" else host
        params = signature.collect_parameters(
            uri_query=request.query_string.decode(),
            body=body,
            headers={"Authorization": header} if header else None,
        )
        base = signature.signature_base_string(
            request.method,
            signature.base_string_uri(base_uri + request.path),
            signature.normalize_parameters(params),
        )
        secrets = SimpleNamespace(
            client_secret=API_SECRET, resource_owner_secret=OAUTH_TOKEN_SECRET
        )
        expected = signature.sign_hmac_sha1_with_client(base, secrets)
        if not signature.safe_string_equals(expected, oauth["oauth_signature"]):
            raise FlickrError(96, "Invalid signature")
        if oauth.get("oauth_token") != OAUTH_TOKEN or not self.token_alive:
            raise FlickrError(98, "Invalid auth token")
        return self.token_perms

    # -- uploads ---------------------------------------------------------------------

    def _upload(self, request: Request) -> Response:
        self.requests.append("upload")
        if request.method != "POST" or request.mimetype != "multipart/form-data":
            return _xml_fail(2, "No photo specified")
        form = list(request.form.items(multi=True))
        try:
            if unknown := {name for name, _ in form} - UPLOAD_ARGS - OAUTH_PROTOCOL:
                raise ContractViolation(f"upload has unknown fields {sorted(unknown)}")
            perms = self._authenticate(request, form, UPLOAD_HOST)
            if perms not in ("write", "delete"):
                raise FlickrError(
                    99,
                    f"Insufficient permissions. Method requires write privileges; {perms} granted.",
                )
            photo = request.files.get("photo")
            if photo is None:
                raise FlickrError(2, "No photo specified")
            data = photo.read()
            if not data:
                raise FlickrError(4, "Filesize was zero")
            if not data.startswith(_IMAGE_MAGIC):
                raise FlickrError(5, "Filetype was not recognised")
            if self.photo_cap is not None and len(self.photos) >= self.photo_cap:
                raise FlickrError(6, "User exceeded upload limit")
            scripted = self._scripted_upload_failure()
            if scripted is not None:
                return scripted
            new = self._create_photo(request.form, len(data))
        except FlickrError as error:
            return _xml_fail(error.code, error.message)
        except ContractViolation as violation:
            return Response(f"fake contract violation: {violation}", status=400)
        if self._next_status is not None:
            return self._server_error()
        if self._next_create == "ambiguous":
            self._next_create = None
            raise DropConnection(f"photo {new.id} created, answer lost")
        body = f'{XML_HEAD}<rsp stat="ok">\n<photoid>{new.id}</photoid>\n</rsp>\n'
        return Response(body, content_type="text/xml; charset=utf-8")

    def _scripted_upload_failure(self) -> Response | None:
        if self._next_status is not None and not self._next_status[1]:
            return self._server_error()
        failure, self._next_create = self._next_create, None
        if failure == "ambiguous":
            self._next_create = failure  # created first, then the answer is dropped
            return None
        if failure == "retryable":
            return _xml_fail(105, "Service currently unavailable")
        if failure == "auth_expired":
            return _xml_fail(98, "Invalid auth token")
        if failure == "permanent":
            return _xml_fail(116, "Bad URL found")
        if failure == "rate_limited":
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            return Response(
                "Too Many Requests", status=429, headers=headers, content_type="text/plain"
            )
        return None

    def _server_error(self) -> Response:
        assert self._next_status is not None
        status, self._next_status = self._next_status[0], None
        return Response("<html><body>Bad Gateway</body></html>", status, content_type="text/html")

    def _create_photo(self, form: Any, size: int) -> Photo:
        raw = [
            quoted or bare for quoted, bare in re.findall(r'"([^"]*)"|(\S+)', form.get("tags", ""))
        ]
        photo = Photo(
            id=str(next(self._ids)),
            title=form.get("title", ""),
            description=form.get("description", ""),
            raw_tags=raw,
            is_public=form.get("is_public", "1") == "1",
            size=size,
        )
        self.photos[photo.id] = photo
        return photo

    # -- REST ----------------------------------------------------------------------------

    def _rest(self, request: Request) -> Response:
        body = list(request.form.items(multi=True))
        args = dict(request.args.items()) | dict(body)
        method = args.get("method", "")
        self.requests.append(method)
        if args.get("format") != "json" or args.get("nojsoncallback") != "1":
            return Response("fake: only format=json&nojsoncallback=1 is implemented", status=400)
        try:
            perms = self._authenticate(request, body, REST_HOST)
            handler = getattr(self, "_m_" + method.removeprefix("flickr.").replace(".", "_"), None)
            if not method.startswith("flickr.") or handler is None:
                raise FlickrError(112, f'Method "{method}" not found')
            if method in self._next_call_failure:
                raise FlickrError(*self._next_call_failure.pop(method))
            given = {k: v for k, v in args.items() if k not in COMMON_ARGS | OAUTH_PROTOCOL}
            answer = handler(given, perms)
        except FlickrError as error:
            return _json({"stat": "fail", "code": error.code, "message": error.message})
        except ContractViolation as violation:
            return Response(f"fake contract violation: {violation}", status=400)
        return _json({**answer, "stat": "ok"})

    @staticmethod
    def _only(args: dict[str, str], allowed: frozenset[str] | set[str]) -> None:
        if unknown := set(args) - set(allowed):
            raise ContractViolation(f"unknown arguments {sorted(unknown)}")

    @staticmethod
    def _needs_write(perms: str) -> None:
        if perms not in ("write", "delete"):
            raise FlickrError(
                99, f"Insufficient permissions. Method requires write privileges; {perms} granted."
            )

    def _m_test_login(self, args: dict[str, str], perms: str) -> dict[str, Any]:
        self._only(args, set())
        return {"user": {"id": USER_NSID, "username": {"_content": USERNAME}}}

    def _m_auth_oauth_checkToken(self, args: dict[str, str], perms: str) -> dict[str, Any]:
        self._only(args, {"oauth_token"})
        if args.get("oauth_token") != OAUTH_TOKEN:
            raise FlickrError(98, "Invalid auth token")
        return {
            "oauth": {
                "token": {"_content": OAUTH_TOKEN},
                "perms": {"_content": perms},
                "user": {"nsid": USER_NSID, "username": USERNAME, "fullname": ""},
            }
        }

    def _m_photos_search(self, args: dict[str, str], perms: str) -> dict[str, Any]:
        self._only(args, SEARCH_ARGS)
        if not SEARCH_FILTERS & set(args):
            raise FlickrError(
                3,
                "Parameterless searches have been disabled. "
                "Please use flickr.photos.getRecent instead.",
            )
        if args.get("user_id") not in (None, "me", USER_NSID):
            raise FlickrError(2, "Unknown user")
        if set(args) - {"user_id", "machine_tags", "machine_tag_mode", "extras", "per_page"}:
            raise ContractViolation("the fake only searches by user_id and machine_tags")
        queries = [q.strip() for q in args.get("machine_tags", "").split(",") if q.strip()]
        mode = args.get("machine_tag_mode", "any")
        if len(queries) > (16 if mode == "all" else 8):
            raise FlickrError(12, "Exceeded maximum allowable machine tags")
        parsed = [_QUERY_TAG.match(query) for query in queries]
        if any(match is None for match in parsed):
            raise FlickrError(11, "No valid machine tags")
        hits = [
            p
            for p in reversed(self.photos.values())
            if not parsed or (all if mode == "all" else any)(_matches(m, p) for m in parsed if m)
        ]
        extras = set(args.get("extras", "").split(","))
        rows = [
            {"id": p.id, "owner": USER_NSID, "secret": "1e92283336", "server": "65535",
             "farm": 66, "title": p.title, "ispublic": int(p.is_public), "isfriend": 0,
             "isfamily": 0}
            | ({"machine_tags": " ".join(p.machine_tags)} if "machine_tags" in extras else {})
            | ({"tags": " ".join(p.tags)} if "tags" in extras else {})
            for p in hits
        ]  # fmt: skip
        return {"photos": _page(rows, args, "photo", 100)}

    def _m_photosets_getList(self, args: dict[str, str], perms: str) -> dict[str, Any]:
        self._only(args, {"user_id", "page", "per_page", "primary_photo_extras"})
        rows = [
            {"id": a.id, "primary": a.photos[0] if a.photos else "", "secret": "abc",
             "server": "65535", "farm": 66, "photos": len(a.photos), "videos": 0,
             "title": {"_content": escape(a.title)}, "description": {"_content": a.description}}
            for a in reversed(self.albums.values())
        ]  # fmt: skip
        return {"photosets": {"cancreate": 1} | _page(rows, args, "photoset", 500)}

    def _m_photosets_create(self, args: dict[str, str], perms: str) -> dict[str, Any]:
        self._only(args, {"title", "description", "primary_photo_id"})
        self._needs_write(perms)
        if not args.get("title"):
            raise FlickrError(1, "No title specified")
        if args.get("primary_photo_id") not in self.photos:
            raise FlickrError(2, "Photo not found")
        album = self.add_album(args["title"], [args["primary_photo_id"]])
        album.description = args.get("description", "")
        url = f"https://www.flickr.com/photos/{USER_NSID}/sets/{album.id}/"
        return {"photoset": {"id": album.id, "url": url}}

    def _m_photosets_addPhoto(self, args: dict[str, str], perms: str) -> dict[str, Any]:
        self._only(args, {"photoset_id", "photo_id"})
        self._needs_write(perms)
        album = self.albums.get(args.get("photoset_id", ""))
        if album is None:
            raise FlickrError(1, "Photoset not found")
        if args.get("photo_id") not in self.photos:
            raise FlickrError(2, "Photo not found")
        if args["photo_id"] in album.photos:
            raise FlickrError(3, "Photo already in set")
        album.photos.append(args["photo_id"])
        return {}


def _page(rows: list[dict[str, Any]], args: dict[str, str], key: str, default: int) -> Any:
    """Flickr's paging: ``per_page`` (at most 500) and ``page``, counted from 1."""
    per_page = min(int(args.get("per_page", str(default))), 500)
    page = int(args.get("page", "1"))
    return {"page": page, "pages": max(1, -(-len(rows) // per_page)), "perpage": per_page,
            "total": len(rows), key: rows[(page - 1) * per_page : page * per_page]}  # fmt: skip


def _matches(query: re.Match[str], photo: Photo) -> bool:
    namespace, predicate, value = query.groups()
    for tag in photo.machine_tags:
        ns, _, rest = tag.partition(":")
        pred, _, val = rest.partition("=")
        if ns != namespace.lower() or (predicate and pred != predicate.lower()):
            continue
        if value is None or value == "" or val == clean(f"x:y={value}").partition("=")[2]:
            return True
    return False


def _xml_fail(code: int, message: str) -> Response:
    body = (
        f'{XML_HEAD}<rsp stat="fail">\n'
        f"\t<err code={quoteattr(str(code))} msg={quoteattr(message)} />\n</rsp>\n"
    )
    return Response(body, content_type="text/xml; charset=utf-8")


def _json(payload: dict[str, Any]) -> Response:
    return Response(json.dumps(payload), content_type="application/json")


def flickr_session(fake: FlickrFake) -> requests.Session:
    """A requests session whose every request goes to ``fake`` in-process."""
    session = requests.Session()
    adapter = WsgiAdapter(fake)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
