"""A stateful fake of the YouTube Data API v3 and Google's OAuth token endpoint.

Every API request is checked against the discovery document google-api-python-client
ships (``youtube.v3.json``): the method is found by HTTP method and path, its query
parameters must be known (method or global), required ones present and typed, ``part``
values must name the resource's parts, the OAuth scopes of the bearer token must include
one the method lists, and a JSON body must match the method's request schema (an unknown
property is refused as Google refuses it). On top, YouTube's own rules for a video's
metadata, the resumable upload protocol (256 KiB chunk multiples, ``308`` with ``Range``,
``bytes */SIZE`` status queries) and YouTube's error bodies
(``{"error": {"code", "message", "errors": [{"reason", "domain", "message"}]}}``).

It serves in-process (``tests.fakes.wsgi.WsgiHttp``) and over loopback (``serve``): set
``base_url`` to where it is reachable, for the ``Location`` of upload sessions.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

from werkzeug.wrappers import Request, Response

from tests.fakes.wsgi import DropConnection

DISCOVERY: dict[str, Any] = json.loads(
    resources.files("googleapiclient")
    .joinpath("discovery_cache/documents/youtube.v3.json")
    .read_text(encoding="utf-8")
)
SCHEMAS: dict[str, Any] = DISCOVERY["schemas"]
GLOBAL_PARAMETERS: dict[str, Any] = DISCOVERY["parameters"]
YOUTUBE_SCOPE = "https://www.googleapis.com/auth/youtube"
CHUNK_UNIT = 256 * 1024
CATEGORIES = frozenset(
    {"1", "2", "10", "15", "17", "19", "20", "22", "23", "24", "25", "26", "27", "28"}
)


def _methods() -> dict[tuple[str, str], dict[str, Any]]:
    """(HTTP method, path) -> the discovery method, uploads under their media path."""
    table: dict[tuple[str, str], dict[str, Any]] = {}

    def walk(resources_: Mapping[str, Any]) -> None:
        for resource in resources_.values():
            for method in resource.get("methods", {}).values():
                table[(method["httpMethod"], "/" + method["path"])] = method
                upload = method.get("mediaUpload", {}).get("protocols", {}).get("simple")
                if upload:
                    table[(method["httpMethod"], upload["path"])] = method
            walk(resource.get("resources", {}))

    walk(DISCOVERY["resources"])
    return table


METHODS = _methods()


class GoogleError(Exception):
    """An answer in Google's error format."""

    def __init__(
        self, code: int, reason: str, message: str, *, domain: str = "global", **more: str
    ) -> None:
        super().__init__(message)
        self.code = code
        self.body = {
            "error": {
                "code": code,
                "message": message,
                "errors": [{"message": message, "domain": domain, "reason": reason, **more}],
            }
        }

    def response(self) -> Response:
        return _json(self.body, self.code)


def bad_request(reason: str, message: str, **more: str) -> GoogleError:
    return GoogleError(400, reason, message, **more)


def unknown_field(name: str, at: str) -> GoogleError:
    error = GoogleError(
        400,
        "invalid",
        f"Invalid JSON payload received. Unknown name \"{name}\" at '{at}': Cannot find field.",
    )
    error.body["error"]["status"] = "INVALID_ARGUMENT"
    return error


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body),
        status=status,
        headers=dict(headers or {}),
        content_type="application/json; charset=UTF-8",
    )


@dataclass
class UploadSession:
    id: str
    size: int
    mime_type: str
    part: str
    metadata: dict[str, Any]
    received: bytearray = field(default_factory=bytearray)
    chunks: list[tuple[int, int]] = field(default_factory=list)  # (first, last) byte
    video_id: str | None = None
    expired: bool = False
    lose_final_answer: bool = False


class YouTubeFake:
    """The platform. ``created()`` are its videos; knobs below script its behaviour."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        base_url: str = "https://youtube.googleapis.com",
        client_id: str = "relais-test.apps.googleusercontent.com",
        client_secret: str = "client-secret-value",
        refresh_token: str = "1//refresh-token-value",
        scopes: Iterable[str] = (YOUTUBE_SCOPE,),
    ) -> None:
        self.clock = clock
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_tokens: dict[str, frozenset[str]] = {refresh_token: frozenset(scopes)}
        self.access_tokens: dict[str, frozenset[str]] = {}
        self.channel = {"id": "UCbibliotheques0000000001", "title": "Bibliothèques de Genève"}
        self.videos: list[dict[str, Any]] = []
        self.sessions: dict[str, UploadSession] = {}
        self.playlists: dict[str, list[dict[str, Any]]] = {"PLmercredi": []}
        self.thumbnails: dict[str, bytes] = {}
        self.requests: list[tuple[str, str]] = []
        self.quota_exceeded = False
        self.rotate_refresh_tokens = False
        # YouTube processes an upload before it can be public ("uploaded", then "processed").
        self.processing_time = timedelta(minutes=5)
        # "All videos uploaded via the videos.insert endpoint from unverified API projects
        # created after 28 July 2020 will be restricted to private viewing mode" (YouTube
        # Data API, videos.insert); users see the lock arrive after the upload
        # (tokland/youtube-upload#306): private, its publishAt gone.
        self.lock_uploads_private = False
        self._rejection: str | None = None
        self._fail_next: str | GoogleError | None = None
        self._fail_next_chunk: int | None = None
        self._lose_next_chunk_answer = False
        self._hold = False
        self.first_chunk = threading.Event()
        self.release = threading.Event()
        self._lock = threading.RLock()

    # -- what tests use -------------------------------------------------------------------

    def created(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(video) for video in self.videos]

    def fail_next_create(self, error: str) -> None:
        if error == "auth_expired":
            self.expire_credentials()
        else:
            self._fail_next = error

    def expire_credentials(self) -> None:
        with self._lock:
            self.refresh_tokens.clear()
            self.access_tokens.clear()

    def refuse_next_create(self, error: GoogleError) -> None:
        """The next ``videos.insert`` is answered with this error."""
        self._fail_next = error

    def fail_next_chunk(self, status: int = 503) -> None:
        """The next chunk is not stored and answered with this server error."""
        self._fail_next_chunk = status

    def lose_next_chunk_answer(self) -> None:
        """The next chunk is stored, and its answer lost (a read timeout for the client)."""
        self._lose_next_chunk_answer = True

    def hold_after_first_chunk(self) -> None:
        """The first chunk is stored, then its answer waits for ``release``."""
        self._hold = True

    def reject_next_upload(self, reason: str) -> None:
        """The next video is rejected once processed (``status.rejectionReason``)."""
        self._rejection = reason

    def expire_sessions(self) -> None:
        for session in self.sessions.values():
            session.expired = True

    # -- WSGI --------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self.handle(request)
        except GoogleError as error:
            response = error.response()
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        with self._lock:
            self.requests.append((request.method, request.path))
            self.advance()
        if request.path == "/token":
            return self.token(request)
        if request.method == "PUT" and request.path == "/upload/youtube/v3/videos":
            return self.chunk(request)
        method = METHODS.get((request.method, request.path))
        if method is None:
            return Response("Not Found", status=404, content_type="text/html")
        self.authorise(request, method)
        self.check_parameters(request, method)
        with self._lock:
            if method["id"] == "youtube.videos.insert":
                return self.open_session(request, method)
            if method["id"] == "youtube.thumbnails.set":
                return self.set_thumbnail(request, method)
            handler = {
                "youtube.channels.list": self.list_channels,
                "youtube.videos.list": self.list_videos,
                "youtube.playlistItems.list": self.list_playlist_items,
                "youtube.playlistItems.insert": self.insert_playlist_item,
                "youtube.videos.update": self.update_video,
                "youtube.videos.delete": self.delete_video,
            }.get(method["id"])
            if handler is None:
                return Response("not implemented by the fake", status=501)
            return handler(request, method)

    # -- OAuth ---------------------------------------------------------------------------

    def token(self, request: Request) -> Response:
        if request.mimetype != "application/x-www-form-urlencoded":
            return _json({"error": "invalid_request", "error_description": "Bad Request"}, 400)
        form = request.form
        if form.get("grant_type") != "refresh_token" or not form.get("refresh_token"):
            return _json(
                {"error": "unsupported_grant_type", "error_description": "Invalid grant_type: "},
                400,
            )
        if (form.get("client_id"), form.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return _json({"error": "invalid_client", "error_description": "Unauthorized"}, 401)
        with self._lock:
            scopes = self.refresh_tokens.get(form["refresh_token"])
            if scopes is None:
                return _json(
                    {
                        "error": "invalid_grant",
                        "error_description": "Token has been expired or revoked.",
                    },
                    400,
                )
            token = "ya29.fake-" + secrets.token_urlsafe(16)
            self.access_tokens[token] = scopes
            answer: dict[str, Any] = {
                "access_token": token,
                "expires_in": 3599,
                "scope": " ".join(sorted(scopes)),
                "token_type": "Bearer",
            }
            if self.rotate_refresh_tokens:
                del self.refresh_tokens[form["refresh_token"]]
                rotated = "1//rotated-" + secrets.token_urlsafe(12)
                answer["refresh_token"] = rotated
                self.refresh_tokens[rotated] = scopes
        return _json(answer)

    def authorise(self, request: Request, method: Mapping[str, Any]) -> None:
        header = request.headers.get("Authorization", "")
        more = {"location": "Authorization", "locationType": "header"}
        if not header.startswith("Bearer "):
            raise GoogleError(401, "required", "Login Required.", **more)
        with self._lock:
            scopes = self.access_tokens.get(header.removeprefix("Bearer "))
        if scopes is None:
            raise GoogleError(401, "authError", "Invalid Credentials", **more)
        if not scopes & set(method.get("scopes", ())):
            raise GoogleError(
                403, "insufficientPermissions", "Request had insufficient authentication scopes."
            )

    # -- the discovery contract ----------------------------------------------------------

    def check_parameters(self, request: Request, method: Mapping[str, Any]) -> None:
        declared = method.get("parameters", {})
        for name in request.args:
            spec = declared.get(name) or GLOBAL_PARAMETERS.get(name)
            if spec is None:
                raise bad_request(
                    "unexpectedParameter",
                    f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query '
                    f"parameter. Field '{name}' could not be found in request message.",
                )
            for value in request.args.getlist(name):
                if spec.get("type") == "boolean" and value not in ("true", "false"):
                    raise bad_request("invalidBoolean", f"Invalid boolean value: '{value}'.")
                if spec.get("type") == "integer" and not value.lstrip("-").isdigit():
                    raise bad_request("invalidInteger", f"Invalid integer value: '{value}'.")
                if "enum" in spec and value not in spec["enum"]:
                    raise bad_request("invalidParameter", f"Invalid value '{value}' for {name}.")
        for name, spec in declared.items():
            if spec.get("required") and name not in request.args:
                raise bad_request(
                    "required",
                    f"Required parameter: {name}",
                    location=name,
                    locationType="parameter",
                )
        if "part" in declared:
            response_schema = SCHEMAS[method["response"]["$ref"]]
            resource = (
                response_schema["properties"]
                .get("items", {})
                .get("items", {})
                .get("$ref", method["response"]["$ref"])
            )
            parts = {"id"} | {
                key for key, spec in SCHEMAS[resource]["properties"].items() if "$ref" in spec
            }
            for value in request.args["part"].split(","):
                if value.strip() not in parts:
                    raise GoogleError(
                        400,
                        "unknownPart",
                        f"'{value}'",
                        domain="youtube.part",
                        location="part",
                        locationType="parameter",
                    )

    def json_body(self, request: Request, method: Mapping[str, Any]) -> dict[str, Any]:
        if request.mimetype != "application/json":
            raise bad_request("badContent", f"Unsupported content with type: {request.mimetype}")
        try:
            body = json.loads(request.get_data() or b"{}")
        except ValueError as error:
            raise bad_request("parseError", "Parse Error") from error
        validate(body, method["request"], "resource")
        return body  # type: ignore[no-any-return]

    # -- videos.insert, resumable ----------------------------------------------------------

    def open_session(self, request: Request, method: Mapping[str, Any]) -> Response:
        if request.args.get("uploadType") != "resumable":
            return Response("the fake serves resumable uploads only", status=501)
        body = self.json_body(request, method)
        mime = request.headers.get("X-Upload-Content-Type", "")
        if not _accepts(method, mime):
            raise bad_request(
                "badContent",
                f"Media type '{mime}' is not supported. Valid media types: "
                f"[{', '.join(method['mediaUpload']['accept'])}]",
            )
        size = request.headers.get("X-Upload-Content-Length", "")
        if not size.isdigit():
            raise bad_request("badContent", "X-Upload-Content-Length is required")
        failure, self._fail_next = self._fail_next, None
        if isinstance(failure, GoogleError):
            raise failure
        if failure == "retryable":
            raise GoogleError(503, "backendError", "Backend Error")
        if failure == "rate_limited" or self.quota_exceeded:
            raise GoogleError(
                403,
                "quotaExceeded",
                "The request cannot be completed because you have "
                'exceeded your <a href="/youtube/v3/getting-started#quota">quota</a>.',
                domain="youtube.quota",
            )
        if failure == "permanent":
            raise bad_request("invalidVideoMetadata", "The request metadata is invalid.")
        self.check_video(body)
        session = UploadSession(
            id=secrets.token_urlsafe(24),
            size=int(size),
            mime_type=mime,
            part=request.args["part"],
            metadata=body,
            lose_final_answer=failure == "ambiguous",
        )
        self.sessions[session.id] = session
        location = (
            f"{self.base_url}/upload/youtube/v3/videos?uploadType=resumable"
            f"&part={session.part}&upload_id={session.id}"
        )
        return Response(b"", status=200, headers={"Location": location})

    def check_video(self, body: Mapping[str, Any]) -> None:
        snippet = body.get("snippet", {})
        status = body.get("status", {})
        title = snippet.get("title", "")
        if not title.strip() or len(title) > 100 or "<" in title or ">" in title:
            raise bad_request(
                "invalidTitle", "The request metadata specifies an invalid or empty video title."
            )
        description = snippet.get("description", "")
        if len(description.encode()) > 5000 or "<" in description or ">" in description:
            raise bad_request(
                "invalidDescription", "The request metadata specifies an invalid video description."
            )
        tags = snippet.get("tags", [])
        if sum(len(t) + (2 if " " in t else 0) for t in tags) + max(len(tags) - 1, 0) > 500:
            raise bad_request(
                "invalidTags", "The request metadata specifies invalid video keywords."
            )
        if "categoryId" in snippet and snippet["categoryId"] not in CATEGORIES:
            raise bad_request(
                "invalidCategoryId",
                "The <code>snippet.categoryId</code> property specifies "
                "an invalid category ID. Use the <code>videoCategories.list</code> method to "
                "retrieve supported categories.",
            )
        if "publishAt" in status:
            moment = datetime.fromisoformat(status["publishAt"].replace("Z", "+00:00"))
            if status.get("privacyStatus") != "private" or moment <= self.clock():
                raise bad_request(
                    "invalidPublishAt",
                    "The request metadata specifies an invalid scheduled publishing time.",
                )

    def chunk(self, request: Request) -> Response:
        with self._lock:
            session = self.sessions.get(request.args.get("upload_id", ""))
            if session is None or session.expired:
                raise GoogleError(404, "notFound", "Not Found")
            answered = request.headers.get("Content-Range", "")
            data = request.get_data()
            if answered == f"bytes */{session.size}":
                return self.session_state(session)
            first, last, size = _content_range(answered)
            if size != session.size or first != len(session.received):
                raise bad_request(
                    "badContent",
                    f"Invalid request. Content-Range {answered!r} does not continue the "
                    f"{len(session.received)} bytes received.",
                )
            if len(data) != last - first + 1:
                raise bad_request(
                    "badContent", "Invalid request. Content-Length does not match Content-Range."
                )
            if last + 1 < size and len(data) % CHUNK_UNIT:
                raise bad_request(
                    "badContent",
                    f"Invalid request.  The number of bytes uploaded is required to be equal or "
                    f"greater than {CHUNK_UNIT}, except for the final request (it's recommended "
                    f"to be the exact multiple of {CHUNK_UNIT}).  The received request contained "
                    f"{len(data)} bytes, which does not meet this requirement.",
                )
            if self._fail_next_chunk is not None:
                code, self._fail_next_chunk = self._fail_next_chunk, None
                raise GoogleError(code, "backendError", "Backend Error")
            session.received += data
            session.chunks.append((first, last))
            hold = self._hold and not self.first_chunk.is_set()
            if last + 1 == size:
                self.create_video(session)
                if session.lose_final_answer:
                    raise DropConnection("the video was created; its answer is lost")
            if self._lose_next_chunk_answer:
                self._lose_next_chunk_answer = False
                raise DropConnection("the chunk was stored; its answer is lost")
        if hold:
            self.first_chunk.set()
            self.release.wait(timeout=120)
        with self._lock:
            return self.session_state(session)

    def session_state(self, session: UploadSession) -> Response:
        if session.video_id is not None:
            video = next(v for v in self.videos if v["id"] == session.video_id)
            return _json(_parts(video, session.part), 201)
        headers = {"Range": f"bytes=0-{len(session.received) - 1}"} if session.received else {}
        return Response(b"", status=308, headers=headers)

    def create_video(self, session: UploadSession) -> None:
        video_id = secrets.token_urlsafe(8)[:11]
        status = {
            "uploadStatus": "uploaded",
            "license": "youtube",
            "embeddable": True,
            "publicStatsViewable": True,
            "privacyStatus": "public",
            **session.metadata.get("status", {}),
        }
        snippet = {
            "publishedAt": self.clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "channelId": self.channel["id"],
            "channelTitle": self.channel["title"],
            "liveBroadcastContent": "none",
            **session.metadata.get("snippet", {}),
        }
        video = {
            "kind": "youtube#video",
            "etag": secrets.token_hex(8),
            "id": video_id,
            "snippet": snippet,
            "status": status,
            "bytes": bytes(session.received),
            "processed_at": self.clock() + self.processing_time,
            "rejection": self._rejection,
        }
        self._rejection = None
        session.video_id = video_id
        self.videos.append(video)

    def advance(self) -> None:
        """What YouTube does on its own as time passes: processing, locks, publishAt."""
        now = self.clock()
        for video in self.videos:
            status = video["status"]
            if status["uploadStatus"] == "uploaded" and now >= video["processed_at"]:
                if video["rejection"]:
                    status["uploadStatus"] = "rejected"
                    status["rejectionReason"] = video["rejection"]
                else:
                    status["uploadStatus"] = "processed"
                if self.lock_uploads_private:
                    status["privacyStatus"] = "private"
                    status.pop("publishAt", None)
            publish_at = status.get("publishAt")
            if (
                publish_at
                and status["uploadStatus"] == "processed"
                and datetime.fromisoformat(publish_at.replace("Z", "+00:00")) <= now
            ):
                status["privacyStatus"] = "public"
                del status["publishAt"]

    # -- the other methods ---------------------------------------------------------------

    def update_video(self, request: Request, method: Mapping[str, Any]) -> Response:
        """videos.update: the parts named replace the video's (a status without publishAt
        clears it); uploadStatus and the reasons are YouTube's own and stay."""
        body = self.json_body(request, method)
        video = next((v for v in self.videos if v["id"] == body.get("id")), None)
        if video is None:
            raise GoogleError(404, "videoNotFound", "The video that you are trying to update "
                              "cannot be found.", domain="youtube.video")  # fmt: skip
        if "status" in request.args["part"].split(","):
            status = body.get("status", {})
            self.check_video({"snippet": {"title": video["snippet"]["title"]}, "status": status})
            own = ("uploadStatus", "rejectionReason", "failureReason", "license")
            kept = {k: v for k, v in video["status"].items() if k in own}
            video["status"] = {**kept, **status}
        return _json(_parts(video, request.args["part"]))

    def delete_video(self, request: Request, method: Mapping[str, Any]) -> Response:
        video = next((v for v in self.videos if v["id"] == request.args.get("id")), None)
        if video is None:
            raise GoogleError(404, "videoNotFound", "The video that you are trying to delete "
                              "cannot be found.", domain="youtube.video")  # fmt: skip
        self.videos.remove(video)
        return Response(b"", status=204)

    def set_thumbnail(self, request: Request, method: Mapping[str, Any]) -> Response:
        if not _accepts(method, request.mimetype):
            raise bad_request(
                "badContent",
                f"Media type '{request.mimetype}' is not supported. Valid media types: "
                f"[{', '.join(method['mediaUpload']['accept'])}]",
            )
        with self._lock:
            video_id = request.args["videoId"]
            if not any(video["id"] == video_id for video in self.videos):
                raise GoogleError(
                    404,
                    "videoNotFound",
                    "The video that you are trying to set a thumbnail for cannot be found.",
                    domain="youtube.thumbnail",
                )
            self.thumbnails[video_id] = request.get_data()
        url = f"https://i.ytimg.com/vi/{video_id}/default.jpg"
        return _json(
            {
                "kind": "youtube#thumbnailSetResponse",
                "etag": secrets.token_hex(8),
                "items": [{"default": {"url": url, "width": 120, "height": 90}}],
            }
        )

    def list_channels(self, request: Request, method: Mapping[str, Any]) -> Response:
        channel = {
            "kind": "youtube#channel",
            "etag": "c",
            "id": self.channel["id"],
            "snippet": {"title": self.channel["title"]},
            "contentDetails": {"relatedPlaylists": {"uploads": self.uploads_playlist}},
        }
        items = [_parts(channel, request.args["part"])] if request.args.get("mine") else []
        return _json({"kind": "youtube#channelListResponse", "items": items})

    @property
    def uploads_playlist(self) -> str:
        return "UU" + self.channel["id"][2:]

    def list_videos(self, request: Request, method: Mapping[str, Any]) -> Response:
        wanted = request.args.get("id", "").split(",")
        items = [
            _parts(video, request.args["part"]) for video in self.videos if video["id"] in wanted
        ]
        return _json({"kind": "youtube#videoListResponse", "items": items})

    def list_playlist_items(self, request: Request, method: Mapping[str, Any]) -> Response:
        playlist = request.args.get("playlistId", "")
        if playlist == self.uploads_playlist:
            items = [
                {
                    "kind": "youtube#playlistItem",
                    "id": f"UU{video['id']}",
                    "snippet": {
                        "title": video["snippet"]["title"],
                        "description": video["snippet"].get("description", ""),
                        "playlistId": playlist,
                        "resourceId": {"kind": "youtube#video", "videoId": video["id"]},
                    },
                }
                for video in reversed(self.videos)
            ]
        elif playlist in self.playlists:
            items = self.playlists[playlist]
        else:
            raise GoogleError(
                404,
                "playlistNotFound",
                "The playlist identified with the request's <code>playlistId</code> parameter "
                "cannot be found.",
                domain="youtube.playlistItem",
            )
        limit = int(request.args.get("maxResults", "5"))
        return _json({"kind": "youtube#playlistItemListResponse", "items": items[:limit]})

    def insert_playlist_item(self, request: Request, method: Mapping[str, Any]) -> Response:
        body = self.json_body(request, method)
        snippet = body.get("snippet", {})
        if not snippet.get("playlistId"):
            raise bad_request(
                "playlistIdRequired",
                "The request does not specify a value for the required <code>playlistId</code> "
                "property.",
            )
        if snippet["playlistId"] not in self.playlists:
            raise GoogleError(
                404, "playlistNotFound", "Playlist not found.", domain="youtube.playlistItem"
            )
        video_id = snippet.get("resourceId", {}).get("videoId")
        if not any(video["id"] == video_id for video in self.videos):
            raise GoogleError(
                404, "videoNotFound", "Video not found.", domain="youtube.playlistItem"
            )
        item = {"kind": "youtube#playlistItem", "id": secrets.token_urlsafe(12), "snippet": snippet}
        self.playlists[snippet["playlistId"]].append(item)
        return _json(item)


def validate(value: Any, schema: Mapping[str, Any], at: str) -> None:
    """Check ``value`` against a discovery schema; raise Google's 400 as it words it."""
    if "$ref" in schema:
        schema = SCHEMAS[schema["$ref"]]
    kind = schema.get("type")
    invalid = bad_request("invalid", f"Invalid value at '{at}', {json.dumps(value)}")
    if kind == "object":
        if not isinstance(value, dict):
            raise invalid
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key in properties:
                validate(item, properties[key], f"{at}.{_snake(key)}")
            elif "additionalProperties" in schema:
                validate(item, schema["additionalProperties"], f"{at}[{key}]")
            else:
                raise unknown_field(key, at)
    elif kind == "array":
        if not isinstance(value, list):
            raise invalid
        for index, item in enumerate(value):
            validate(item, schema["items"], f"{at}[{index}]")
    elif kind == "string":
        if not isinstance(value, str) or ("enum" in schema and value not in schema["enum"]):
            raise invalid
        if schema.get("format") == "date-time":
            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError as error:
                raise invalid from error
    elif (kind == "boolean" and not isinstance(value, bool)) or (
        kind in ("integer", "number")
        and (isinstance(value, bool) or not isinstance(value, int | float))
    ):
        raise invalid


def _accepts(method: Mapping[str, Any], mime: str) -> bool:
    for pattern in method["mediaUpload"]["accept"]:
        if pattern == mime or (pattern.endswith("/*") and mime.startswith(pattern[:-1])):
            return True
    return False


def _content_range(header: str) -> tuple[int, int, int]:
    try:
        span, size = header.removeprefix("bytes ").split("/")
        first, last = span.split("-")
        return int(first), int(last), int(size)
    except ValueError as error:
        raise bad_request("badContent", f"Invalid Content-Range: {header!r}") from error


def _parts(resource: Mapping[str, Any], part: str) -> dict[str, Any]:
    wanted = {name.strip() for name in part.split(",")}
    return {
        key: value
        for key, value in resource.items()
        if key in ("kind", "etag", "id") or key in wanted
    }


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
