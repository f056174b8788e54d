"""A stateful fake of Meta's Graph API serving one Facebook Page and one Instagram account.

It checks every request the way the real API does for the endpoints relais uses: the
pinned version, the access token (header or ``access_token``), unknown parameters and
fields (``(#100)``), media types of uploads and of the URLs Instagram downloads, the
scheduling window, the Page permissions, the Instagram container life cycle and the
publishing quota; and answers with Graph's own error bodies and usage headers.

Instagram downloads media from public URLs: ``public`` stands for the public web (URL ->
bytes and content type); :meth:`GraphFake.serve_folder` puts a folder under a base URL.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Request, Response

from connectors.graph import GRAPH_VERSION
from connectors.image_rules import measure, violations
from connectors.instagram import INSTAGRAM_IMAGES
from tests.connectors.contract import ErrorClass
from tests.fakes.wsgi import DropConnection
from tests.support import FakeClock

PAGE_PERMISSIONS = frozenset({"pages_manage_posts", "pages_read_engagement", "pages_show_list"})
JPEG, PNG, MP4 = b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"ftyp"
_TIME = "%Y-%m-%dT%H:%M:%S+0000"

_FIELDS: dict[str, frozenset[str]] = {
    "page": frozenset({"id", "name", "category", "link", "fan_count"}),
    "post": frozenset({"id", "message", "created_time", "permalink_url", "is_published"}),
    "video": frozenset(
        {"id", "description", "title", "created_time", "permalink_url", "published"}
    ),
    "ig_user": frozenset({"id", "username", "name", "media_count"}),
    "container": frozenset({"id", "status_code", "status", "copyright_check_status"}),
    "media": frozenset({"id", "caption", "timestamp", "permalink", "media_type", "username"}),
    "quota": frozenset({"quota_usage", "config"}),
}


class GraphAnswer(Exception):
    """An error answer, raised from deep inside a handler."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def graph_error(
    status: int,
    code: int,
    message: str,
    *,
    subcode: int | None = None,
    transient: bool = False,
    user_title: str | None = None,
    user_msg: str | None = None,
    headers: dict[str, str] | None = None,
) -> GraphAnswer:
    body: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "is_transient": transient,
        "fbtrace_id": "AZx4Fake9Trace",
    }
    if subcode is not None:
        body["error_subcode"] = subcode
    if user_title:
        body["error_user_title"] = user_title
    if user_msg:
        body["error_user_msg"] = user_msg
    response = Response(json.dumps({"error": body}), status, content_type="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return GraphAnswer(response)


def _missing_posting_permission() -> GraphAnswer:
    return graph_error(
        403,
        200,
        "(#200) If posting to a page, requires both pages_read_engagement and "
        "pages_manage_posts as an admin with sufficient administrative permission",
    )


def _bad_param(message: str) -> GraphAnswer:
    return graph_error(400, 100, f"(#100) {message}")


@dataclass
class GraphFake:
    clock: FakeClock
    page_id: str = "104577281234567"
    page_name: str = "Bibliothèques de Genève"
    page_token: str = "EAAPageTokenFake"
    ig_user_id: str = "17841405822304914"
    ig_username: str = "bibliotheques_geneve"
    ig_token: str = "EAAInstagramTokenFake"
    quota_total: int = 50
    video_polls: int = 2  # status reads a reel container stays IN_PROGRESS
    permissions: set[str] = field(default_factory=lambda: set(PAGE_PERMISSIONS))
    public: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    posts: list[dict[str, Any]] = field(default_factory=list)
    videos: list[dict[str, Any]] = field(default_factory=list)
    photos: dict[str, dict[str, Any]] = field(default_factory=dict)
    containers: dict[str, dict[str, Any]] = field(default_factory=dict)
    media: list[dict[str, Any]] = field(default_factory=list)
    # Called with each request before it is handled (raise ResetBeforeSending, move the clock).
    before: Callable[[Request], None] | None = None
    _folders: dict[str, Path] = field(default_factory=dict)
    _fail: ErrorClass | None = None
    _container_failure: int | None = None
    _fetch_fails: bool = False
    # Tokens of people (user access tokens), accepted by Graph but not as the Page.
    user_tokens: set[str] = field(default_factory=set)
    # media_publish answers 2207027 "not ready" this many more times, container FINISHED.
    not_ready_at_publish: int = 0
    _expired: bool = False
    _next_id: int = 1000

    # -- the contract's PlatformFake ---------------------------------------------------

    def created(self) -> list[dict[str, Any]]:
        items = self.posts + self.videos + self.media
        return sorted(items, key=lambda item: item["serial"])

    def fail_next_create(self, error: ErrorClass) -> None:
        self._fail = error

    def expire_credentials(self) -> None:
        self._expired = True

    # -- test helpers ------------------------------------------------------------------

    def serve_folder(self, base_url: str, folder: Path) -> None:
        self._folders[base_url.rstrip("/") + "/"] = folder

    def fail_next_fetch(self) -> None:
        """The next media download fails (2207052) though the file is fine."""
        self._fetch_fails = True

    def fail_next_container(self, subcode: int) -> None:
        """The next container ends in ERROR with this subcode (e.g. 2207003)."""
        self._container_failure = subcode

    def scheduled(self) -> list[dict[str, Any]]:
        return [post for post in self.posts if not self._is_published(post)]

    # -- WSGI ----------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        try:
            response = self._handle(request)
        except GraphAnswer as answer:
            response = answer.response
        return response(environ, start_response)

    def _handle(self, request: Request) -> Response:
        if self.before is not None:
            self.before(request)
        params = {**request.args.to_dict(), **request.form.to_dict()}
        token = params.pop("access_token", None)
        self.requests.append((request.method, request.path, params))
        parts = request.path.strip("/").split("/")
        if not parts or parts[0] != GRAPH_VERSION:
            raise graph_error(400, 2500, f"Unknown path components: /{parts[0] if parts else ''}")
        auth = request.headers.get("Authorization", "")
        for scheme in ("OAuth ", "Bearer "):
            if auth.startswith(scheme):
                token = auth[len(scheme) :]
        self._authenticate(token)
        node, edge = parts[1], (parts[2] if len(parts) > 2 else None)
        if node == "me" and request.method == "GET" and edge is None:
            # /me is whoever the token belongs to: a person, or the Page for a Page token.
            if token in self.user_tokens:
                return _ok({"id": "10160000000000001", "name": "Anne Bibliothécaire"})
            if token == self.page_token:
                return _ok({"id": self.page_id, "name": self.page_name})
            return _ok({"id": self.ig_user_id, "name": self.ig_username})
        if len(parts) > 3:
            raise graph_error(400, 2500, "Unknown path components")
        files = request.files
        if node == self.page_id:
            self._owner(token, self.page_token)
            return self._page(request.method, edge, params, files)
        if node == self.ig_user_id:
            self._owner(token, self.ig_token)
            return self._ig_user(request.method, edge, params)
        if request.method == "GET" and edge is None:
            return self._read_node(node, params, token)
        if request.method in ("POST", "DELETE") and edge is None:
            return self._change_node(request.method, node, params, token)
        raise graph_error(
            400,
            100,
            f"Unsupported {request.method.lower()} request. Object with ID '{node}' does not "
            "exist, cannot be loaded due to missing permissions, or does not support this "
            "operation.",
            subcode=33,
        )

    def _authenticate(self, token: str | None) -> None:
        if not token:
            raise graph_error(
                400, 2500, "An active access token must be used to query information."
            )
        if self._expired:
            raise graph_error(
                400,
                190,
                "Error validating access token: The session has been invalidated because the "
                "user changed their password or Facebook has changed the session for security "
                "reasons.",
                subcode=460,
            )
        if token not in (self.page_token, self.ig_token) and token not in self.user_tokens:
            raise graph_error(400, 190, "Invalid OAuth access token - Cannot parse access token")

    def _owner(self, token: str | None, expected: str) -> None:
        # A person's token where the Page's is needed is refused as any other (Pages API:
        # posts are published as the Page, with a Page access token).
        if token != expected:
            raise graph_error(403, 200, "(#200) Permissions error")

    # -- the Page ----------------------------------------------------------------------

    def _page(self, method: str, edge: str | None, params: dict[str, str], files: Any) -> Response:
        if method == "GET" and edge is None:
            fields = self._fields(params, "page", "Page", default="id,name")
            return _ok(_pick({"id": self.page_id, "name": self.page_name}, fields))
        if method == "POST" and edge == "feed":
            return self._create_feed_post(params)
        if method == "POST" and edge == "photos":
            return self._upload_photo(params, files)
        if method == "POST" and edge == "videos":
            return self._upload_video(params, files)
        if method == "GET" and edge in ("published_posts", "scheduled_posts"):
            fields = self._fields(params, "post", "Post", default="id,message,created_time")
            published = edge == "published_posts"
            items = [p for p in self.posts if self._is_published(p) == published]
            return self._list(items, fields, params, "created_time")
        if method == "GET" and edge == "videos":
            fields = self._fields(params, "video", "Video", default="id,description")
            return self._list(self.videos, fields, params, "created_time")
        raise graph_error(400, 2500, f"Unknown path components: /{edge}")

    def _require_posting_permission(self) -> None:
        if not {"pages_manage_posts", "pages_read_engagement"} <= self.permissions:
            raise _missing_posting_permission()

    def _create_feed_post(self, params: dict[str, str]) -> Response:
        self._require_posting_permission()
        attached = {k: v for k, v in params.items() if k.startswith("attached_media[")}
        known = {"message", "link", "published", "scheduled_publish_time"}
        self._known(set(params) - set(attached), known)
        if not (params.get("message") or params.get("link") or attached):
            raise _bad_param("Missing message or attachment")
        scheduled = self._schedule(params)
        photo_ids = [self._attachable(value) for _, value in sorted(attached.items())]
        message = params.get("message", "")
        latest = self.posts[-1] if self.posts else None
        if message and latest is not None and latest["message"] == message:
            raise graph_error(
                400,
                506,
                "Duplicate status message",
                user_title="Duplicate Status Update",
                user_msg="This status update is identical to the last one you posted. Try "
                "posting something different, or delete your previous update.",
            )
        self._maybe_fail("feed")
        for photo_id in photo_ids:
            self.photos[photo_id]["attached"] = True
        post = self._new_post(message, scheduled, photos=photo_ids, link=params.get("link"))
        self._after_create()
        return _ok({"id": post["id"]})

    def _upload_photo(self, params: dict[str, str], files: Any) -> Response:
        self._known(
            set(params), {"caption", "published", "temporary", "url", "no_story", "alt_text_custom"}
        )
        self._known(set(files), {"source"})
        source: FileStorage | None = files.get("source")
        data = source.read() if source is not None else b""
        if source is None or not (source.mimetype or "").startswith("image/"):
            raise graph_error(400, 324, "(#324) Requires upload file")
        if not (data.startswith(JPEG) or data.startswith(PNG)):
            raise graph_error(400, 1366046, "Sorry, this file type is not supported.")
        photo_id = self._id()
        published = params.get("published", "true") != "false"
        self.photos[photo_id] = {"id": photo_id, "attached": False, "published": published}
        if not published:
            return _ok({"id": photo_id})
        self._require_posting_permission()
        self._maybe_fail("photo")
        post = self._new_post(params.get("caption", ""), None, photos=[photo_id], link=None)
        self._after_create()
        return _ok({"id": photo_id, "post_id": post["id"]})

    def _upload_video(self, params: dict[str, str], files: Any) -> Response:
        self._require_posting_permission()
        self._known(set(params), {"description", "title", "published", "scheduled_publish_time"})
        self._known(set(files), {"source"})
        source: FileStorage | None = files.get("source")
        data = source.read() if source is not None else b""
        if source is None or not (source.mimetype or "").startswith("video/"):
            raise graph_error(400, 390, "There was a problem uploading your video file.")
        if data[4:8] != MP4:
            raise graph_error(
                400, 352, "Sorry, the video file you selected is in a format that we don't support."
            )
        scheduled = self._schedule(params)
        self._maybe_fail("video")
        video = {
            "id": self._id(),
            "serial": self._id(),
            "description": params.get("description", ""),
            "title": params.get("title"),
            "created_time": self.clock.now(),
            "scheduled_publish_time": scheduled,
            "size": len(data),
        }
        self.videos.append(video)
        self._after_create()
        return _ok({"id": video["id"]})

    def _schedule(self, params: dict[str, str]) -> datetime | None:
        published = params.get("published", "true")
        if published not in ("true", "false", "1", "0"):
            raise _bad_param("Param published must be a boolean")
        raw = params.get("scheduled_publish_time")
        if raw is None:
            return None
        if published not in ("false", "0"):
            raise _bad_param("Cannot specify a scheduled publish time on a published post")
        when = datetime.fromtimestamp(int(raw), tz=self.clock.now().tzinfo)
        ahead = when - self.clock.now()
        if not timedelta(minutes=10) <= ahead <= timedelta(days=30):
            raise _bad_param("The specified scheduled publish time is invalid.")
        return when

    def _attachable(self, raw: str) -> str:
        try:
            photo_id = str(json.loads(raw)["media_fbid"])
        except (ValueError, KeyError, TypeError):
            raise _bad_param("Param attached_media must be an array of objects") from None
        photo = self.photos.get(photo_id)
        if photo is None or photo["published"] or photo["attached"]:
            raise _bad_param(f"Invalid media_fbid {photo_id}")
        return photo_id

    def _new_post(
        self, message: str, scheduled: datetime | None, *, photos: list[str], link: str | None
    ) -> dict[str, Any]:
        post = {
            "id": f"{self.page_id}_{self._id()}",
            "serial": self._id(),
            "message": message,
            "created_time": self.clock.now(),
            "scheduled_publish_time": scheduled,
            "photos": photos,
            "link": link,
        }
        self.posts.append(post)
        return post

    def _is_published(self, post: dict[str, Any]) -> bool:
        scheduled = post.get("scheduled_publish_time")
        return scheduled is None or scheduled <= self.clock.now()

    # -- Instagram ---------------------------------------------------------------------

    def _ig_user(self, method: str, edge: str | None, params: dict[str, str]) -> Response:
        if method == "GET" and edge is None:
            fields = self._fields(params, "ig_user", "IGUser", default="id")
            user = {"id": self.ig_user_id, "username": self.ig_username, "name": self.page_name}
            return _ok(_pick(user, fields))
        if method == "POST" and edge == "media":
            return self._create_container(params)
        if method == "POST" and edge == "media_publish":
            return self._publish_container(params)
        if method == "GET" and edge == "content_publishing_limit":
            fields = self._fields(params, "quota", "ContentPublishingLimit", default="quota_usage")
            entry = {
                "quota_usage": self._quota_usage(),
                "config": {"quota_total": self.quota_total, "quota_duration": 86400},
            }
            return _ok({"data": [_pick(entry, fields)]})
        if method == "GET" and edge == "media":
            fields = self._fields(params, "media", "IGMedia", default="id")
            return self._list(self.media, fields, params, "timestamp")
        raise graph_error(400, 2500, f"Unknown path components: /{edge}")

    def _create_container(self, params: dict[str, str]) -> Response:
        known = {"image_url", "video_url", "media_type", "caption", "alt_text"}
        self._known(set(params), known | {"is_carousel_item", "children"})
        kind = params.get("media_type", "IMAGE")
        if kind == "CAROUSEL":
            children = [c for c in params.get("children", "").split(",") if c]
            if not 2 <= len(children) <= 10 or "image_url" in params or "video_url" in params:
                raise _bad_param("The carousel needs 2 to 10 children and no media URL")
            for child in children:
                if not self.containers.get(child, {}).get("is_carousel_item"):
                    raise _bad_param(f"Invalid carousel child {child}")
            return self._container(kind, params, children=children)
        if kind == "REELS":
            self._download(params.get("video_url"), "video/")
            return self._container(kind, params, polls=self.video_polls)
        if kind != "IMAGE":
            raise _bad_param(f"The media type {kind} is not supported here")
        data = self._download(params.get("image_url"), "image/")
        self._refuse_image(data)
        return self._container(kind, params)

    def _download(self, url: str | None, *types: str) -> bytes:
        found = self._fetch(url) if url else None
        failed, self._fetch_fails = self._fetch_fails, False
        if failed or found is None or not found[1].startswith(types):
            raise graph_error(
                400,
                9004,
                "Only photo or video can be accepted as media type.",
                subcode=2207052,
                user_title="Media download has failed.",
                user_msg="The media URI doesn't meet our requirements.",
            )
        return found[0]

    @staticmethod
    def _refuse_image(data: bytes) -> None:
        """Instagram's image specifications, from the connector's own data (Instagram
        Graph API reference: IG User Media; the subcodes: Error Codes)."""
        found = measure(data)
        rules = INSTAGRAM_IMAGES
        if found.mime_type not in rules.formats:
            raise graph_error(
                400, 36001, "The image format is not supported.", subcode=2207005,
                user_msg=f"Supported formats: {rules.describe()}",
            )  # fmt: skip
        if rules.max_bytes is not None and found.size > rules.max_bytes:
            raise graph_error(
                400, 36000, "The image size is too large.", subcode=2207004,
                user_msg="The image is too large to download. It should be less than 8 MiB.",
            )  # fmt: skip
        if violations(rules, found):
            raise graph_error(
                400, 36003,
                f"The submitted image with aspect ratio ('{found.width}/{found.height}') "
                "cannot be published. Please submit an image with a valid aspect ratio.",
                subcode=2207009,
            )  # fmt: skip

    def _fetch(self, url: str) -> tuple[bytes, str] | None:
        if url in self.public:
            return self.public[url]
        for base, folder in self._folders.items():
            if url.startswith(base):
                path = folder / url[len(base) :]
                if path.is_file():
                    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                    return path.read_bytes(), kind
        return None

    def _container(
        self,
        kind: str,
        params: dict[str, str],
        *,
        polls: int = 0,
        children: list[str] | None = None,
    ) -> Response:
        container_id = self._id()
        failure, self._container_failure = self._container_failure, None
        self.containers[container_id] = {
            "id": container_id,
            "kind": kind,
            "caption": params.get("caption", ""),
            "is_carousel_item": params.get("is_carousel_item") == "true",
            "children": list(children or []),
            "polls_left": polls,
            "failure": failure,
            "created": self.clock.now(),
            "published": False,
        }
        return _ok({"id": container_id})

    def _status(self, container: dict[str, Any]) -> dict[str, str]:
        if container["published"]:
            return {"status_code": "PUBLISHED", "status": "Published"}
        if self.clock.now() - container["created"] > timedelta(hours=24):
            return {"status_code": "EXPIRED", "status": "Expired"}
        if container["failure"] is not None:
            text = f"Error: Media upload has failed with error code {container['failure']}"
            return {"status_code": "ERROR", "status": text}
        if container["polls_left"] > 0:
            return {"status_code": "IN_PROGRESS", "status": "In Progress"}
        return {"status_code": "FINISHED", "status": "Finished"}

    def _publish_container(self, params: dict[str, str]) -> Response:
        self._known(set(params), {"creation_id"})
        container = self.containers.get(params.get("creation_id", ""))
        if container is None or container["is_carousel_item"]:
            raise _bad_param("Param creation_id is not a valid container")
        status = self._status(container)["status_code"]
        if status == "EXPIRED":
            raise graph_error(
                400,
                -2,
                "The media you are trying to access has expired. Please try to upload again.",
                subcode=2207020,
            )
        if status != "FINISHED" or self.not_ready_at_publish > 0:
            self.not_ready_at_publish = max(0, self.not_ready_at_publish - 1)
            raise graph_error(
                400,
                9007,
                "Media ID is not available",
                subcode=2207027,
                user_msg="The media is not ready for publishing, please wait for a moment",
            )
        if self._quota_usage() >= self.quota_total:
            raise graph_error(
                400,
                9,
                "Application request limit reached",
                subcode=2207042,
                user_msg="You have reached the maximum number of posts that is allowed to be "
                "published by Content Publishing API.",
            )
        self._maybe_fail("media_publish")
        container["published"] = True
        media_id = self._id()
        kinds = {"IMAGE": "IMAGE", "CAROUSEL": "CAROUSEL_ALBUM", "REELS": "VIDEO"}
        self.media.append(
            {
                "id": media_id,
                "serial": self._id(),
                "caption": container["caption"],
                "media_type": kinds[container["kind"]],
                "timestamp": self.clock.now(),
                "permalink": f"https://www.instagram.com/p/Fake{media_id}/",
                "username": self.ig_username,
                "children": container["children"],
            }
        )
        self._after_create()
        return _ok({"id": media_id})

    def _quota_usage(self) -> int:
        since = self.clock.now() - timedelta(hours=24)
        return sum(1 for item in self.media if item["timestamp"] > since)

    # -- reading nodes -----------------------------------------------------------------

    def _read_node(self, node: str, params: dict[str, str], token: str | None) -> Response:
        if node in self.containers:
            self._owner(token, self.ig_token)
            container = self.containers[node]
            fields = self._fields(params, "container", "ShadowIGMediaBuilder", default="id")
            answer = {"id": node, **self._status(container)}
            if container["polls_left"] > 0:
                container["polls_left"] -= 1
            return _ok(_pick(answer, fields))
        for post in self.posts:
            if post["id"] == node:
                # Page Post reference: is_published, permalink_url.
                self._owner(token, self.page_token)
                fields = self._fields(params, "post", "Post", default="id,created_time")
                shown = {
                    **_shown(post),
                    "is_published": self._is_published(post),
                    "permalink_url": f"https://www.facebook.com/{post['id']}",
                }
                return _ok(_pick(shown, fields))
        for video in self.videos:
            if video["id"] == node:
                self._owner(token, self.page_token)
                fields = self._fields(params, "video", "Video", default="id")
                shown = {
                    **_shown(video),
                    "published": self._is_published(video),
                    "permalink_url": f"/{self.page_id}/videos/{video['id']}/",
                }
                return _ok(_pick(shown, fields))
        for item in self.media:
            if item["id"] == node:
                self._owner(token, self.ig_token)
                fields = self._fields(params, "media", "IGMedia", default="id")
                return _ok(_pick(_shown(item), fields))
        raise graph_error(
            400,
            100,
            f"Unsupported get request. Object with ID '{node}' does not exist, cannot be "
            "loaded due to missing permissions, or does not support this operation.",
            subcode=33,
        )

    def _change_node(
        self, method: str, node: str, params: dict[str, str], token: str | None
    ) -> Response:
        """Pages API, posts guide: update a post (its scheduled_publish_time, while it is
        scheduled) and delete it; videos alike."""
        for items in (self.posts, self.videos):
            for item in items:
                if item["id"] != node:
                    continue
                self._owner(token, self.page_token)
                if method == "DELETE":
                    items.remove(item)
                    return _ok({"success": True})
                self._known(set(params), {"scheduled_publish_time", "message"})
                if "scheduled_publish_time" in params:
                    if self._is_published(item):
                        raise _bad_param("Cannot reschedule a published post")
                    item["scheduled_publish_time"] = self._schedule(
                        {"published": "false", **params}
                    )
                return _ok({"success": True})
        raise graph_error(
            400,
            100,
            f"Unsupported {method.lower()} request. Object with ID '{node}' does not exist, "
            "cannot be loaded due to missing permissions, or does not support this operation.",
            subcode=33,
        )

    # -- shared --------------------------------------------------------------------------

    def _maybe_fail(self, what: str) -> None:
        error, self._fail = self._fail, None
        if error is None or error == "ambiguous":
            self._fail = error  # acted on after the item exists: see _after_create
            return
        instagram = what == "media_publish"
        if error == "retryable":
            if instagram:
                raise graph_error(400, -1, "Instagram server error. Try again.", subcode=2207001)
            raise graph_error(
                500,
                2,
                "An unexpected error has occurred. Please retry your request later.",
                transient=True,
            )
        if error == "rate_limited":
            if instagram:
                usage = {"call_count": 100, "total_cputime": 20, "total_time": 25}
                raise graph_error(
                    400,
                    4,
                    "(#4) Application request limit reached",
                    transient=True,
                    headers={"X-App-Usage": json.dumps(usage)},
                )
            buc = {
                self.page_id: [
                    {
                        "type": "pages",
                        "call_count": 100,
                        "total_cputime": 40,
                        "total_time": 40,
                        "estimated_time_to_regain_access": 12,
                    }
                ]
            }
            raise graph_error(
                400,
                32,
                "(#32) Page request limit reached",
                headers={"X-Business-Use-Case-Usage": json.dumps(buc)},
            )
        if error == "auth_expired":
            raise graph_error(
                400,
                190,
                "Error validating access token: Session has expired on Tuesday, 08-Dec-26 "
                "23:00:00 PST.",
                subcode=463,
            )
        if instagram:
            raise graph_error(403, 10, "(#10) Application does not have permission for this action")
        raise _missing_posting_permission()

    def _after_create(self) -> None:
        if self._fail == "ambiguous":
            self._fail = None
            raise DropConnection("the answer was lost after the item was created")

    def _fields(
        self, params: dict[str, str], kind: str, node_type: str, *, default: str
    ) -> list[str]:
        self._known(set(params) - {"fields"}, {"limit", "after"})
        fields = [f for f in params.get("fields", default).split(",") if f]
        for name in fields:
            if name not in _FIELDS[kind]:
                raise _bad_param(
                    f"Tried accessing nonexisting field ({name}) on node type ({node_type})"
                )
        return fields

    @staticmethod
    def _known(given: set[str], allowed: set[str]) -> None:
        unknown = sorted(given - allowed)
        if unknown:
            raise _bad_param(f"Param {unknown[0]} is not a valid parameter")

    def _list(
        self, items: list[dict[str, Any]], fields: list[str], params: dict[str, str], key: str
    ) -> Response:
        newest = sorted(items, key=lambda item: item["serial"], reverse=True)
        start = int(params.get("after", "0") or 0)
        limit = min(int(params.get("limit", "25")), 100)
        page = newest[start : start + limit]
        body: dict[str, Any] = {"data": [_pick(_shown(item), fields) for item in page]}
        if page:
            body["paging"] = {"cursors": {"before": str(start), "after": str(start + len(page))}}
            if start + len(page) < len(newest):
                body["paging"]["next"] = f"https://graph.facebook.com/{GRAPH_VERSION}/next"
        return _ok(body)

    def _id(self) -> str:
        self._next_id += 1
        return str(17890000000000000 + self._next_id)


def _shown(item: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value.strftime(_TIME) if isinstance(value, datetime) else value
        for key, value in item.items()
    }


def _pick(item: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    return {name: item[name] for name in fields if item.get(name) is not None}


def _ok(body: dict[str, Any]) -> Response:
    response = Response(json.dumps(body), 200, content_type="application/json")
    usage = {"call_count": 1, "total_cputime": 1, "total_time": 1}
    response.headers["X-App-Usage"] = json.dumps(usage)
    return response
